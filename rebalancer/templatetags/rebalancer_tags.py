"""Template helpers: money and quantity formatting, role checks, query strings for paging."""

from __future__ import annotations

import json
from decimal import Decimal
from typing import Any

from django import template
from django.http import QueryDict
from django.utils.html import format_html

from rebalancer.models import Membership
from rebalancer.roles import Action, Resource, role_can

register = template.Library()

DASH = "\u2014"


@register.filter
def money(value: Decimal | int | None) -> str:
    """``Decimal('-1234.5')`` -> ``-$1,234.50``; None -> an em dash."""
    if value is None or value == "":
        return DASH
    amount = Decimal(value)
    sign = "-" if amount < 0 else ""
    return f"{sign}${abs(amount):,.2f}"


@register.filter
def count(value: int | str | None) -> str:
    """A whole number with thousands separators, the same on every page: ``2000`` -> ``2,000``."""
    if value is None or value == "":
        return DASH
    return f"{int(value):,}"


@register.filter
def percent(value: Decimal | float | None) -> str:
    """A fraction as a percentage with one decimal: ``0.4213`` -> ``42.1 %``."""
    if value is None or value == "":
        return DASH
    return f"{Decimal(value) * 100:,.1f} %"


@register.simple_tag(takes_context=True)
def sort_header(context: dict[str, Any], key: str, label: str, numeric: bool = False) -> str:
    """A table header that sorts the list by ``key`` (the FilterSet's ``ordering`` name).

    The first click sorts ascending, the next descending; the arrow shows the current order.
    Paging restarts at page 1; every other filter is kept.
    """
    if context.get("filter") is None:  # not a filtered list (e.g. a household's accounts)
        return format_html('<th class="{}">{}</th>', "num" if numeric else "", label)
    query: QueryDict = context["request"].GET.copy()
    current = query.get("ordering", "")
    query.pop("page", None)
    query["ordering"] = f"-{key}" if current == key else key
    arrow = " \u25b2" if current == key else " \u25bc" if current == f"-{key}" else ""
    sort = "ascending" if current == key else "descending" if current == f"-{key}" else "none"
    return format_html(
        '<th class="{}" aria-sort="{}"><a class="sort" href="?{}" hx-get="?{}" '
        'hx-target="#results" hx-swap="outerHTML" hx-push-url="true">{}{}</a></th>',
        "num" if numeric else "",
        sort,
        query.urlencode(),
        query.urlencode(),
        label,
        arrow,
    )


@register.filter
def price(value: Decimal | None) -> str:
    """A per-share price in dollars with cents (the API gives full precision)."""
    if value is None or value == "":
        return DASH
    return f"{Decimal(value):,.2f}"


@register.filter
def qty(value: Decimal | None) -> str:
    """A share quantity without trailing zeros: ``Decimal('1500.250000')`` -> ``1,500.25``."""
    if value is None or value == "":
        return DASH
    amount = Decimal(value).normalize()
    if amount == amount.to_integral_value():
        return f"{amount:,.0f}"
    return f"{amount:,f}"


@register.filter
def as_json(value: Any) -> str:
    """A stored JSON value as compact JSON text (keys sorted), for the audit log."""
    return json.dumps(value, sort_keys=True, separators=(", ", ": "))


@register.filter
def signed_class(value: Decimal | None) -> str:
    """CSS class for a gain (``gain``), a loss (``loss``) or nothing."""
    if value is None or value == "":
        return ""
    return "gain" if Decimal(value) > 0 else "loss" if Decimal(value) < 0 else ""


@register.filter
def can(membership: Membership | None, permission: str) -> bool:
    """``{% if membership|can:"audit.view" %}``: the role table, for navigation links."""
    if membership is None:
        return False
    resource, _, action = permission.partition(".")
    return role_can(membership.role, Resource(resource), Action(action))


@register.simple_tag(takes_context=True)
def query_with(context: dict[str, Any], **changes: Any) -> str:
    """The current query string with ``changes`` applied: ``?q=abc&page=2``."""
    query: QueryDict = context["request"].GET.copy()
    for key, value in sorted(changes.items()):
        query[key] = str(value)
    return "?" + query.urlencode()

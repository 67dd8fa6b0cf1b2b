"""Template helpers: money and quantity formatting, role checks, query strings for paging."""

from __future__ import annotations

import json
from decimal import Decimal
from typing import Any

from django import template
from django.http import QueryDict

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

"""One filter mechanism: a django-filter ``FilterSet`` per listed model, used by the pages, the API
and (later) saved filters, queues and bulk changes alike.

Every filter takes cleaned input only (one place cleans query parameters):

* ids (:class:`IdFilter`): ASCII digits only, 1 to 2**63 - 1; ``?household=²`` or an id above the
  64-bit range is a clear 400, not a 500;
* text (:class:`TextFilter`, :class:`SearchFilter`): NUL and other control characters are refused
  with a 400 (PostgreSQL refuses NUL bytes in text);
* choices (:class:`django_filters.ChoiceFilter`): one of the listed values, else a 400 naming
  them.

Foreign keys are filtered by id (:class:`IdFilter`), never by a ``ModelChoiceFilter``, whose
default queryset would be the unscoped ``objects.all()``: the rows being filtered are already
scoped by ``for_user``, so an id of another firm simply matches nothing.

Each FilterSet declares ``Meta.model``, ``Meta.fields = []`` (filters are declared explicitly) and
``Meta.not_filtered``: the model fields users do not filter on, each with the reason. A test fails
when a model field is in neither (``tests/filters/test_filtersets.py``).
"""

from __future__ import annotations

import re
import unicodedata
from typing import Any, ClassVar

import django_filters
from django import forms
from django.db.models import Q, QuerySet
from drf_spectacular.utils import extend_schema_field

from rebalancer.models import AuditEvent, Membership
from rebalancer.roles import Role

#: Largest id a filter accepts: the top of a signed 64-bit integer (PostgreSQL's bigint).
MAX_ID = 2**63 - 1
_DIGITS = re.compile(r"[0-9]{1,19}")


def reject_control_characters(value: str) -> str:
    """The value, or a ValidationError when it holds NUL or another control character."""
    if any(unicodedata.category(ch) == "Cc" for ch in value):
        raise forms.ValidationError("must not contain control characters (such as NUL)")
    return value


class TextField(forms.CharField):
    """A text parameter without control characters, stripped."""

    def clean(self, value: Any) -> Any:
        cleaned = super().clean(value)
        return reject_control_characters(cleaned) if isinstance(cleaned, str) else cleaned


class IdField(forms.CharField):
    """A positive id written in ASCII digits, within the 64-bit range."""

    def clean(self, value: Any) -> int | None:
        text = super().clean(value)
        if text in (None, ""):
            return None
        if not _DIGITS.fullmatch(text) or not 1 <= int(text) <= MAX_ID:
            raise forms.ValidationError(
                f"must be a positive integer id (ASCII digits, at most {MAX_ID}), got {text!r}"
            )
        return int(text)


class TextFilter(django_filters.CharFilter):
    field_class = TextField


@extend_schema_field({"type": "integer", "minimum": 1, "maximum": MAX_ID})
class IdFilter(django_filters.Filter):
    """Rows whose ``field_name`` (an id column, e.g. ``household_id``) equals the id."""

    field_class = IdField


class SearchFilter(TextFilter):
    """``q``: a case-insensitive search over ``icontains`` and ``iexact`` fields."""

    def __init__(
        self, *, icontains: tuple[str, ...] = (), iexact: tuple[str, ...] = (), **kwargs: Any
    ) -> None:
        kwargs.setdefault("label", "Search")
        super().__init__(**kwargs)
        self.icontains = icontains
        self.iexact = iexact

    def filter(self, qs: QuerySet[Any], value: Any) -> QuerySet[Any]:
        term = (value or "").strip()
        if not term:
            return qs
        condition = Q()
        for name in self.icontains:
            condition |= Q(**{f"{name}__icontains": term})
        for name in self.iexact:
            condition |= Q(**{f"{name}__iexact": term})
        return qs.filter(condition)


class FirmFilterSet(django_filters.FilterSet):
    """Base of every FilterSet: see the module docstring.

    ``ordering`` (an :class:`django_filters.OrderingFilter` declared by subclasses) names the
    sortable columns; the list's default order applies when it is absent.
    """

    #: Model fields users do not filter on, with the reason (checked by a test).
    not_filtered: ClassVar[dict[str, str]] = {}

    @property
    def error_text(self) -> str:
        """The form errors as one line: ``name: message; ...``."""
        return "; ".join(
            f"{name}: {' '.join(str(e) for e in errors)}"
            for name, errors in sorted(self.errors.items())
        )


class StableOrderingFilter(django_filters.OrderingFilter):
    """Sorts by the chosen columns, then by id: rows that tie keep one order, so paging never
    shows a row twice or skips one (and a page can be read from either end)."""

    def filter(self, qs: QuerySet[Any], value: Any) -> QuerySet[Any]:
        sorted_qs: QuerySet[Any] = super().filter(qs, value)
        if value:
            return sorted_qs.order_by(*sorted_qs.query.order_by, "pk")
        return sorted_qs


def ordering(*fields: tuple[str, str]) -> django_filters.OrderingFilter:
    """An ``ordering`` filter over ``(model lookup, parameter name)`` pairs."""
    return StableOrderingFilter(fields=fields, label="Sort by")


class MembershipFilterSet(FirmFilterSet):
    q = SearchFilter(icontains=("user__username", "user__email"))
    role = django_filters.ChoiceFilter(choices=Role.choices)
    is_active = django_filters.BooleanFilter(field_name="user__is_active")
    user = IdFilter(field_name="user_id")
    ordering = ordering(("user__username", "username"), ("role", "role"))

    not_filtered: ClassVar[dict[str, str]] = {
        "id": "rows are opened by their page, not filtered by id",
        "firm": "scoped: always the user's firm",
        "created_at": "not shown in the members list",
    }

    class Meta:
        model = Membership
        fields: list[str] = []


class AuditEventFilterSet(FirmFilterSet):
    action = TextFilter(field_name="action")
    actor = TextFilter(field_name="actor_label", label="Actor")
    object_type = TextFilter(field_name="object_type")
    object_id = TextFilter(field_name="object_id")
    occurred_after = django_filters.DateFilter(field_name="occurred_at", lookup_expr="date__gte")
    occurred_before = django_filters.DateFilter(field_name="occurred_at", lookup_expr="date__lte")
    q = SearchFilter(icontains=("object_repr", "reason"))
    ordering = ordering(("occurred_at", "occurred_at"), ("action", "action"))

    not_filtered: ClassVar[dict[str, str]] = {
        "id": "rows are opened by their page, not filtered by id",
        "firm": "scoped: always the user's firm",
        "actor_label": "filtered as 'actor'",
        "occurred_at": "filtered as 'occurred_after' / 'occurred_before'",
        "object_repr": "searched by 'q'",
        "reason": "searched by 'q'",
        "before": "JSON snapshot, shown not filtered",
        "after": "JSON snapshot, shown not filtered",
    }

    class Meta:
        model = AuditEvent
        fields: list[str] = []

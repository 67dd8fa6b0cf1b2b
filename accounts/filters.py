"""FilterSets of households, accounts, positions and lots: the pages and the API use these.

See :mod:`rebalancer.filters` for the conventions (ids by :class:`IdFilter`, cleaned text,
``not_filtered`` with reasons). Saved filters, queues and bulk changes will build on
:class:`AccountFilterSet`.
"""

from __future__ import annotations

from typing import Any, ClassVar

import django_filters
from django.db.models import DecimalField, ExpressionWrapper, F, Q, QuerySet
from django.db.models.functions import NullIf

from accounts.models import (
    Account,
    AccountStatus,
    BulkChange,
    Household,
    Position,
    RegistrationType,
    SavedFilter,
    TaxLot,
    TaxSensitivity,
)
from rebalancer.filters import FirmFilterSet, IdFilter, SearchFilter, TextFilter, ordering

_SCOPED = "scoped: always the user's firm"
_BY_PAGE = "rows are opened by their page, not filtered by id"


class HouseholdFilterSet(FirmFilterSet):
    q = SearchFilter(icontains=("name",), iexact=("external_id",))
    external_id = TextFilter(field_name="external_id", lookup_expr="iexact")
    ordering = ordering(("name", "name"), ("external_id", "external_id"))

    not_filtered: ClassVar[dict[str, str]] = {
        "id": _BY_PAGE,
        "firm": _SCOPED,
        "name": "searched by 'q'",
        "created_at": "not shown in the list",
        "settings_version": "a household's settings are shown on its page, not filtered",
    }

    class Meta:
        model = Household
        fields: list[str] = []


class AccountFilterSet(FirmFilterSet):
    q = SearchFilter(icontains=("name", "account_number", "household__name"))
    household = IdFilter(field_name="household_id")
    advisor = IdFilter(field_name="advisor_id")
    custodian = TextFilter(field_name="custodian", lookup_expr="iexact")
    account_number = TextFilter(field_name="account_number", lookup_expr="iexact")
    registration_type = django_filters.ChoiceFilter(choices=RegistrationType.choices)
    status = django_filters.ChoiceFilter(choices=AccountStatus.choices)
    discretionary = django_filters.BooleanFilter()
    flag = TextFilter(field_name="flags__name", label="Flag", distinct=True)
    cash_min = django_filters.NumberFilter(field_name="cash_balance", lookup_expr="gte")
    cash_max = django_filters.NumberFilter(field_name="cash_balance", lookup_expr="lte")
    value_min = django_filters.NumberFilter(
        field_name="securities_value", lookup_expr="gte", label="Securities value at least"
    )
    value_max = django_filters.NumberFilter(
        field_name="securities_value", lookup_expr="lte", label="Securities value at most"
    )
    cash_pct_min = django_filters.NumberFilter(method="_cash_pct", label="Cash % at least")
    cash_pct_max = django_filters.NumberFilter(method="_cash_pct", label="Cash % at most")
    # Customization (the account's own settings level).
    customized = django_filters.BooleanFilter(
        field_name="settings_version",
        lookup_expr="isnull",
        exclude=True,
        label="Has its own settings",
    )
    strategy = IdFilter(field_name="settings_version__strategy_id", label="Strategy")
    tax_sensitivity = django_filters.ChoiceFilter(
        field_name="settings_version__tax_sensitivity", choices=TaxSensitivity.choices
    )
    has_restrictions = django_filters.BooleanFilter(method="_has_restrictions")
    restricted = TextFilter(
        field_name="settings_version__restricted_securities__ticker",
        lookup_expr="iexact",
        distinct=True,
        label="Has a restriction on (ticker)",
    )
    screen = IdFilter(field_name="settings_version__screens", distinct=True, label="Uses screen")
    holds = TextFilter(
        field_name="positions__security__ticker",
        lookup_expr="iexact",
        distinct=True,
        label="Holds (ticker)",
    )
    saved = IdFilter(method="_saved", label="Saved filter")
    ordering = ordering(
        ("household__name", "household"),
        ("account_number", "account_number"),
        ("name", "name"),
        ("registration_type", "registration_type"),
        ("status", "status"),
        ("cash_balance", "cash"),
        ("securities_value", "value"),
    )

    not_filtered: ClassVar[dict[str, str]] = {
        "id": _BY_PAGE,
        "firm": _SCOPED,
        "name": "searched by 'q'",
        "flags": "filtered as 'flag' (by name)",
        "cash_balance": "filtered as 'cash_min' / 'cash_max'",
        "securities_value": "filtered as 'value_min' / 'value_max'",
        "created_at": "not shown in the list",
        "settings_version": "filtered by its choices: customized, strategy, tax_sensitivity, "
        "has_restrictions, restricted, screen",
    }

    class Meta:
        model = Account
        fields: list[str] = []

    def _cash_pct(self, qs: QuerySet[Any], name: str, value: Any) -> QuerySet[Any]:
        total = F("cash_balance") + F("securities_value")
        qs = qs.annotate(
            cash_pct=ExpressionWrapper(
                F("cash_balance") * 100 / NullIf(total, 0),
                output_field=DecimalField(max_digits=12, decimal_places=4),
            )
        )
        lookup = "gte" if name == "cash_pct_min" else "lte"
        return qs.filter(**{f"cash_pct__{lookup}": value})

    def _has_restrictions(self, qs: QuerySet[Any], name: str, value: Any) -> QuerySet[Any]:
        condition = Q(settings_version__restriction_count__gt=0)
        return qs.filter(condition) if value else qs.exclude(condition)

    def _saved(self, qs: QuerySet[Any], name: str, value: Any) -> QuerySet[Any]:
        """Apply a saved filter's criteria (one the user owns or that is shared)."""
        from accounts.saved_filters import saved_filter_visible

        saved = saved_filter_visible(user=getattr(self.request, "user", None), pk=value)
        if saved is None:
            return qs.none()
        criteria = {k: v for k, v in saved.criteria.items() if k != "saved"}
        inner = AccountFilterSet(criteria, queryset=qs, request=self.request)
        return inner.qs if inner.is_valid() else qs.none()


def saved_filter_fields() -> list[str]:
    """The criteria a saved filter may hold: every AccountFilterSet filter except 'saved'."""
    return sorted(n for n in AccountFilterSet.base_filters if n not in ("saved", "ordering"))


class PositionFilterSet(FirmFilterSet):
    account = IdFilter(field_name="account_id")
    security = IdFilter(field_name="security_id")
    household = IdFilter(field_name="account__household_id")
    ticker = TextFilter(field_name="security__ticker", lookup_expr="iexact")

    not_filtered: ClassVar[dict[str, str]] = {
        "id": _BY_PAGE,
        "firm": _SCOPED,
        "quantity": "a measure, shown not filtered",
    }

    class Meta:
        model = Position
        fields: list[str] = []


class TaxLotFilterSet(FirmFilterSet):
    account = IdFilter(field_name="account_id")
    position = IdFilter(field_name="position_id")
    security = IdFilter(field_name="security_id")
    ticker = TextFilter(field_name="security__ticker", lookup_expr="iexact")
    lot_id = TextFilter(field_name="lot_id", lookup_expr="exact")
    acquired_after = django_filters.DateFilter(field_name="acquired_on", lookup_expr="gte")
    acquired_before = django_filters.DateFilter(field_name="acquired_on", lookup_expr="lte")

    not_filtered: ClassVar[dict[str, str]] = {
        "id": _BY_PAGE,
        "firm": _SCOPED,
        "acquired_on": "filtered as 'acquired_after' / 'acquired_before'",
        "quantity": "a measure, shown not filtered",
        "cost_basis": "a measure, shown not filtered",
    }

    class Meta:
        model = TaxLot
        fields: list[str] = []


class SavedFilterFilterSet(FirmFilterSet):
    q = SearchFilter(icontains=("name",))
    shared = django_filters.BooleanFilter()
    owner = IdFilter(field_name="owner_id")

    not_filtered: ClassVar[dict[str, str]] = {
        "id": _BY_PAGE,
        "firm": _SCOPED,
        "name": "searched by 'q'",
        "criteria": "JSON criteria, applied by ?saved= on the account list",
        "created_at": "not shown in the list",
        "updated_at": "not shown in the list",
    }

    class Meta:
        model = SavedFilter
        fields: list[str] = []


class BulkChangeFilterSet(FirmFilterSet):
    created_by = IdFilter(field_name="created_by_id")
    reverses = IdFilter(field_name="reverses_id")
    created_after = django_filters.DateFilter(field_name="created_at", lookup_expr="date__gte")

    not_filtered: ClassVar[dict[str, str]] = {
        "id": _BY_PAGE,
        "firm": _SCOPED,
        "criteria": "the filter as applied, shown",
        "operation": "shown, not filtered",
        "description": "shown, not filtered",
        "exemptions": "shown, not filtered",
        "matched": "a count, shown",
        "changed": "a count, shown",
        "created_at": "filtered as 'created_after'",
        "actor_label": "filtered by 'created_by'",
        "reason": "shown, not filtered",
    }

    class Meta:
        model = BulkChange
        fields: list[str] = []

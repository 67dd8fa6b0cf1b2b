"""FilterSet of the security master (pages and API). Conventions: :mod:`rebalancer.filters`."""

from __future__ import annotations

from typing import ClassVar

import django_filters

from models_hub.models import (
    AssetClass,
    Definition,
    DefinitionKind,
    ModelSubscription,
    Security,
    SecurityStatus,
    SecurityType,
)
from rebalancer.filters import FirmFilterSet, IdFilter, SearchFilter, TextFilter, ordering


class SecurityFilterSet(FirmFilterSet):
    q = SearchFilter(icontains=("name",), iexact=("ticker",))
    ticker = TextFilter(field_name="ticker", lookup_expr="iexact")
    security_type = django_filters.ChoiceFilter(choices=SecurityType.choices)
    status = django_filters.ChoiceFilter(choices=SecurityStatus.choices)
    sector = TextFilter(field_name="sector", lookup_expr="iexact")
    industry = TextFilter(field_name="industry", lookup_expr="iexact")
    asset_class = TextFilter(field_name="asset_class__path", lookup_expr="iexact")
    asset_class_within = TextFilter(
        field_name="asset_class__path", lookup_expr="istartswith", label="Asset class or below"
    )
    is_synthetic = django_filters.BooleanFilter()
    priced = django_filters.BooleanFilter(
        field_name="last_close_date", lookup_expr="isnull", exclude=True, label="Has a price"
    )
    ordering = ordering(
        ("ticker", "ticker"), ("name", "name"), ("sector", "sector"), ("last_close_date", "as_of")
    )

    not_filtered: ClassVar[dict[str, str]] = {
        "id": "rows are opened by their page, not filtered by id",
        "firm": "scoped: always the user's firm",
        "name": "searched by 'q'",
        "source": "provenance note, shown on the security's page",
        "last_close": "a measure, shown not filtered ('priced' filters on its presence)",
    }

    class Meta:
        model = Security
        fields: list[str] = []


_SCOPED = "scoped: always the user's firm"
_BY_PAGE = "rows are opened by their page, not filtered by id"


class AssetClassFilterSet(FirmFilterSet):
    path_within = TextFilter(field_name="path", lookup_expr="istartswith", label="Path starts with")
    is_cash = django_filters.BooleanFilter()

    not_filtered: ClassVar[dict[str, str]] = {
        "id": _BY_PAGE,
        "firm": _SCOPED,
        "parent": "the tree is read whole (path_within narrows it)",
        "name": "filtered by its path",
        "path": "filtered as 'path_within'",
    }

    class Meta:
        model = AssetClass
        fields: list[str] = []


class DefinitionFilterSet(FirmFilterSet):
    q = SearchFilter(icontains=("name",))
    kind = django_filters.ChoiceFilter(choices=DefinitionKind.choices)
    parent = IdFilter(field_name="parent_id")
    published = django_filters.BooleanFilter()
    is_synthetic = django_filters.BooleanFilter()
    ordering = ordering(("kind", "kind"), ("name", "name"))

    not_filtered: ClassVar[dict[str, str]] = {
        "id": _BY_PAGE,
        "firm": "the firm's own and its providers' published definitions (definition_list)",
        "name": "searched by 'q'",
        "current_version": "shown, not filtered",
        "created_at": "shown in the history, not filtered",
    }

    class Meta:
        model = Definition
        fields: list[str] = []


class ModelSubscriptionFilterSet(FirmFilterSet):
    provider = IdFilter(field_name="provider_id")
    active = django_filters.BooleanFilter(
        field_name="ended_at", lookup_expr="isnull", label="Not ended"
    )

    not_filtered: ClassVar[dict[str, str]] = {
        "id": _BY_PAGE,
        "firm": _SCOPED,
        "started_at": "a few rows per firm, shown whole",
        "ended_at": "filtered as 'active'",
    }

    class Meta:
        model = ModelSubscription
        fields: list[str] = []

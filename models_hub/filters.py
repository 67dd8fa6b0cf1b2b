"""FilterSet of the security master (pages and API). Conventions: :mod:`rebalancer.filters`."""

from __future__ import annotations

from typing import ClassVar

import django_filters

from models_hub.models import Security, SecurityStatus, SecurityType
from rebalancer.filters import FirmFilterSet, SearchFilter, TextFilter, ordering


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

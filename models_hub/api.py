"""Read API of the security master and price history. All scoped to the caller's firm."""

from __future__ import annotations

from typing import Any

from django.db.models import QuerySet
from drf_spectacular.utils import extend_schema
from rest_framework.decorators import action
from rest_framework.request import Request
from rest_framework.response import Response

from models_hub.filters import SecurityFilterSet
from models_hub.models import Security
from models_hub.selectors import last_close, last_close_date, security_prices_list
from models_hub.serializers import PriceSerializer, SecuritySerializer
from rebalancer.api import FirmScopedViewSet


class SecurityViewSet(FirmScopedViewSet[Security]):
    """Your firm's security master with each security's latest close. ``is_synthetic`` marks
    generated demo data."""

    queryset = Security.objects.all()
    serializer_class = SecuritySerializer
    filterset_class = SecurityFilterSet
    ordering = ("ticker", "pk")

    def refine_queryset(self, queryset: QuerySet[Security]) -> QuerySet[Security]:
        return queryset.select_related("asset_class").annotate(
            latest_close=last_close(),
            latest_date=last_close_date(),
        )

    @extend_schema(responses=PriceSerializer(many=True))
    @action(detail=True, methods=["get"])
    def prices(self, request: Request, pk: str | None = None) -> Response:
        """Daily closes of one security, newest first, paginated."""
        security = self.get_object()
        prices: Any = security_prices_list(user=request.user, security=security)
        page: Any = self.paginate_queryset(prices)
        return self.get_paginated_response(PriceSerializer(page, many=True).data)

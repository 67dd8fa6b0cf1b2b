"""Read API of households, accounts, positions (with nested lots) and lots. All scoped."""

from __future__ import annotations

from django.db.models import Prefetch, QuerySet
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiParameter, extend_schema, extend_schema_view

from accounts.models import Account, AccountFlag, Household, Position, TaxLot
from accounts.selectors import with_valuation
from accounts.serializers import (
    AccountSerializer,
    HouseholdSerializer,
    LotSerializer,
    PositionSerializer,
)
from rebalancer.api import FirmScopedViewSet


def _id_params(*names: str) -> list[OpenApiParameter]:
    return [
        OpenApiParameter(name, OpenApiTypes.INT, description=f"Only rows of this {name} id.")
        for name in names
    ]


class HouseholdViewSet(FirmScopedViewSet[Household]):
    queryset = Household.objects.all()
    serializer_class = HouseholdSerializer
    ordering = ("name", "pk")


@extend_schema_view(list=extend_schema(parameters=_id_params("household")))
class AccountViewSet(FirmScopedViewSet[Account]):
    queryset = Account.objects.all()
    serializer_class = AccountSerializer
    int_filters = {"household": "household_id"}

    def refine_queryset(self, queryset: QuerySet[Account]) -> QuerySet[Account]:
        flags = AccountFlag.objects.for_user(self.request.user).order_by("name")
        return queryset.select_related("advisor").prefetch_related(
            Prefetch("flags", queryset=flags)
        )


@extend_schema_view(list=extend_schema(parameters=_id_params("account", "security")))
class PositionViewSet(FirmScopedViewSet[Position]):
    """Positions valued at the latest close, with their tax lots nested."""

    queryset = Position.objects.all()
    serializer_class = PositionSerializer
    int_filters = {"account": "account_id", "security": "security_id"}
    ordering = ("account_id", "security_id")

    def refine_queryset(self, queryset: QuerySet[Position]) -> QuerySet[Position]:
        return with_valuation(queryset, user=self.request.user)


@extend_schema_view(list=extend_schema(parameters=_id_params("account", "position", "security")))
class LotViewSet(FirmScopedViewSet[TaxLot]):
    queryset = TaxLot.objects.all()
    serializer_class = LotSerializer
    int_filters = {"account": "account_id", "position": "position_id", "security": "security_id"}
    ordering = ("account_id", "position_id", "acquired_on", "pk")

    def refine_queryset(self, queryset: QuerySet[TaxLot]) -> QuerySet[TaxLot]:
        return queryset.select_related("security")

"""Read API of households, accounts, positions (with nested lots) and lots. All scoped."""

from __future__ import annotations

from django.db.models import Prefetch, QuerySet

from accounts.filters import (
    AccountFilterSet,
    HouseholdFilterSet,
    PositionFilterSet,
    TaxLotFilterSet,
)
from accounts.models import Account, AccountFlag, Household, Position, TaxLot
from accounts.selectors import positions_value_annotate
from accounts.serializers import (
    AccountSerializer,
    HouseholdSerializer,
    LotSerializer,
    PositionSerializer,
)
from rebalancer.api import FirmScopedViewSet
from rebalancer.drf import KeysetPagination


class HouseholdViewSet(FirmScopedViewSet[Household]):
    """Households of your firm (an advisor: the households assigned to you)."""

    queryset = Household.objects.all()
    serializer_class = HouseholdSerializer
    filterset_class = HouseholdFilterSet
    ordering = ("name", "pk")


class AccountViewSet(FirmScopedViewSet[Account]):
    """Client accounts with their household, advisor, registration, status, cash and flags."""

    queryset = Account.objects.all()
    serializer_class = AccountSerializer
    filterset_class = AccountFilterSet
    ordering = ("custodian", "account_number", "pk")

    def refine_queryset(self, queryset: QuerySet[Account]) -> QuerySet[Account]:
        flags = AccountFlag.objects.for_user(self.request.user).order_by("name")
        return queryset.select_related("advisor").prefetch_related(
            Prefetch("flags", queryset=flags)
        )


class PositionViewSet(FirmScopedViewSet[Position]):
    """Positions valued at the latest close, with their tax lots nested. Paged by cursor in id
    order (``next`` / ``previous`` links, no total count): filter by account or household to
    read one client's."""

    queryset = Position.objects.all()
    serializer_class = PositionSerializer
    filterset_class = PositionFilterSet
    pagination_class = KeysetPagination
    ordering = ("pk",)

    def refine_queryset(self, queryset: QuerySet[Position]) -> QuerySet[Position]:
        return positions_value_annotate(queryset, user=self.request.user)


class LotViewSet(FirmScopedViewSet[TaxLot]):
    """Tax lots: shares bought on one date at one cost (total dollars). Paged by cursor in id
    order (``next`` / ``previous`` links, no total count): filter by account or position to read
    one client's."""

    queryset = TaxLot.objects.all()
    serializer_class = LotSerializer
    filterset_class = TaxLotFilterSet
    pagination_class = KeysetPagination
    ordering = ("pk",)

    def refine_queryset(self, queryset: QuerySet[TaxLot]) -> QuerySet[TaxLot]:
        return queryset.select_related("security")

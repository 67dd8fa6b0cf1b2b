"""Read side of the security master and prices.

"Latest price" is always the close on the most recent date a security has a price. It is kept on
the security itself (``Security.last_close`` / ``last_close_date``, written by
:func:`models_hub.services.security_last_close_refresh` whenever prices are written), so a list or a
valuation reads it with a join instead of probing the price history per row.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable
from dataclasses import dataclass
from decimal import Decimal

from django.db.models import Count, DecimalField, F, Max, Q, QuerySet

from models_hub.models import Price, Security
from rebalancer.tenancy import AnyUser

CLOSE_FIELD = DecimalField(max_digits=18, decimal_places=6)


def last_close(security_path: str = "") -> F:
    """The latest close of a security: ``Security.last_close`` of the row itself (``""``) or of
    the security at ``security_path`` (e.g. ``"security"`` on a position or lot row)."""
    return F(f"{security_path}__last_close" if security_path else "last_close")


def last_close_date(security_path: str = "") -> F:
    """The date of :func:`last_close`."""
    return F(f"{security_path}__last_close_date" if security_path else "last_close_date")


@dataclass(frozen=True)
class LatestPrice:
    security_id: int
    date: dt.date
    close: Decimal


def prices_latest_get(
    *, user: AnyUser, security_ids: Iterable[int] | None = None
) -> dict[int, LatestPrice]:
    """Latest close per security visible to ``user``, in one query; unpriced ones are absent."""
    securities = Security.objects.for_user(user)
    if security_ids is not None:
        securities = securities.filter(pk__in=sorted(set(security_ids)))
    rows = (
        securities.filter(last_close_date__isnull=False)
        .order_by("pk")
        .values_list("pk", "last_close_date", "last_close")
    )
    return {
        pk: LatestPrice(pk, date, close)
        for pk, date, close in rows
        if date is not None and close is not None
    }


def security_list(*, user: AnyUser) -> QuerySet[Security]:
    """Securities visible to ``user`` with ``latest_date`` and ``latest_close`` annotated."""
    return (
        Security.objects.for_user(user)
        .select_related("asset_class")
        .annotate(latest_date=last_close_date(), latest_close=last_close())
        .order_by("ticker", "pk")
    )


def security_prices_list(*, user: AnyUser, security: Security) -> QuerySet[Price]:
    """Price history of one (already scoped) security, newest first."""
    return Price.objects.for_user(user).filter(security_id=security.pk).order_by("-date")


@dataclass(frozen=True)
class MarketDataSummary:
    """What a data manager checks first: how big the master is and how fresh the prices are."""

    securities: int
    synthetic_securities: int
    prices_as_of: dt.date | None
    priced_on_as_of: int


def market_data_summarize(*, user: AnyUser) -> MarketDataSummary:
    counts = Security.objects.for_user(user).aggregate(
        total=Count("pk"), synthetic=Count("pk", filter=Q(is_synthetic=True))
    )
    prices = Price.objects.for_user(user)
    # MAX(date) and the count on that date both use the (firm, date) index.
    as_of: dt.date | None = prices.aggregate(as_of=Max("date"))["as_of"]
    priced = prices.filter(date=as_of).count() if as_of is not None else 0
    return MarketDataSummary(
        securities=counts["total"],
        synthetic_securities=counts["synthetic"],
        prices_as_of=as_of,
        priced_on_as_of=priced,
    )

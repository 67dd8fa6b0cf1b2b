"""Read side of the security master and prices.

"Latest price" is always the close on the most recent date a security has a price, found with a
correlated ``ORDER BY date DESC LIMIT 1`` subquery that walks the unique ``(security, date)`` index
backwards: one index probe per security, however long the price history is.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable
from dataclasses import dataclass
from decimal import Decimal

from django.db.models import Count, DecimalField, Max, OuterRef, Q, QuerySet, Subquery

from models_hub.models import Price, Security
from rebalancer.tenancy import AnyUser

CLOSE_FIELD = DecimalField(max_digits=18, decimal_places=6)


def latest_close_subquery(*, security_ref: str, firm_ref: str = "firm_id") -> Subquery:
    """The latest close of the security named by the outer row's ``security_ref`` column.

    Only for use inside a query whose outer rows are already scoped (``for_user``/``for_firm``);
    the firm is pinned to the outer row's firm so a price can never cross tenants.
    """
    prices = Price.objects.filter(
        security_id=OuterRef(security_ref), firm_id=OuterRef(firm_ref)
    ).order_by("-date")
    return Subquery(prices.values("close")[:1], output_field=CLOSE_FIELD)


def latest_date_subquery(*, security_ref: str, firm_ref: str = "firm_id") -> Subquery:
    """The date of the latest close; see :func:`latest_close_subquery`."""
    prices = Price.objects.filter(
        security_id=OuterRef(security_ref), firm_id=OuterRef(firm_ref)
    ).order_by("-date")
    return Subquery(prices.values("date")[:1])


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
        securities.annotate(
            latest_date=latest_date_subquery(security_ref="pk"),
            latest_close=latest_close_subquery(security_ref="pk"),
        )
        .filter(latest_date__isnull=False)
        .order_by("pk")
        .values_list("pk", "latest_date", "latest_close")
    )
    return {pk: LatestPrice(pk, date, close) for pk, date, close in rows}


def security_list(*, user: AnyUser) -> QuerySet[Security]:
    """Securities visible to ``user`` with ``latest_date`` and ``latest_close`` annotated."""
    return (
        Security.objects.for_user(user)
        .annotate(
            latest_date=latest_date_subquery(security_ref="pk"),
            latest_close=latest_close_subquery(security_ref="pk"),
        )
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

"""Read side of households, accounts, positions and lots.

Values are computed in SQL: a position is worth ``quantity x latest close`` (the latest close is a
correlated ``LIMIT 1`` probe of the unique ``(security, date)`` price index, see
:mod:`models_hub.selectors`); an account adds its cash. Money is ``Decimal`` throughout and rounded
to cents only where it is shown or summed for display.

Holding periods follow the IRS rule used by :func:`optimizer.tax.is_long_term`: a lot is long term
when the valuation date is after the first anniversary of its acquisition (29 February maps to 28
February), i.e. held more than one year; otherwise (held one year or less) it is short term.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable
from dataclasses import dataclass, replace
from decimal import ROUND_HALF_UP, Decimal
from typing import Any, TypeVar

from django.db.models import (
    Count,
    DecimalField,
    ExpressionWrapper,
    F,
    Prefetch,
    QuerySet,
    Sum,
)

from accounts.models import Account, AccountFlag, Household, Position, RegistrationType, TaxLot
from models_hub.models import Price, Security
from models_hub.selectors import last_close, last_close_date
from rebalancer.roles import Action, Resource, role_can
from rebalancer.tenancy import AnyUser, membership_of

_Row = TypeVar("_Row", Account, Household)

ZERO = Decimal("0")
CENT = Decimal("0.01")
#: Output type of every SQL money/value expression (quantity 6dp x close 6dp, summed).
VALUE_FIELD = DecimalField(max_digits=30, decimal_places=6)
#: Weight from which a position is highlighted on the holdings table (a concentration).
CONCENTRATION_WEIGHT = Decimal("0.10")


def cents(value: Decimal) -> Decimal:
    """Round a dollar amount to cents, half up (how statements show money)."""
    return value.quantize(CENT, rounding=ROUND_HALF_UP)


def anniversary(acquired_on: dt.date) -> dt.date:
    """First anniversary of an acquisition; 29 February maps to 28 February."""
    try:
        return acquired_on.replace(year=acquired_on.year + 1)
    except ValueError:
        return acquired_on.replace(year=acquired_on.year + 1, day=28)


def is_long_term(acquired_on: dt.date, as_of: dt.date) -> bool:
    """Whether a sale on ``as_of`` is long term (held more than one year)."""
    return as_of > anniversary(acquired_on)


# --- SQL value expressions -------------------------------------------------------------------


def _market_value_expression() -> ExpressionWrapper[Any]:
    """``quantity x latest close`` of the outer Position row."""
    return ExpressionWrapper(F("quantity") * last_close("security"), output_field=VALUE_FIELD)


def _can_view(user: AnyUser, resource: Resource) -> bool:
    membership = membership_of(user)
    return membership is not None and role_can(membership.role, resource, Action.VIEW)


def account_list(*, user: AnyUser, household_id: int | None = None) -> QuerySet[Account]:
    """Accounts visible to ``user`` in display order (custodian, account number: the unique index,
    so the first page of 100,000 accounts is read from the index, not sorted).

    Not valued: list pages value only the rows they show, with :func:`page_value`.
    """
    flags = Prefetch("flags", queryset=AccountFlag.objects.order_by("name"))
    accounts = (
        Account.objects.for_user(user)
        .select_related("household", "advisor")
        .prefetch_related(flags)
    )
    if household_id is not None:
        accounts = accounts.filter(household_id=household_id)
    return accounts.order_by("custodian", "account_number", "pk")


def account_largest_get(*, user: AnyUser) -> int | None:
    """Id of the visible account with the highest value (positions at latest closes plus cash).

    One pass over the visible accounts' stored values (``Account.securities_value``); ties go
    to the lowest id.
    """
    total = ExpressionWrapper(F("securities_value") + F("cash_balance"), output_field=VALUE_FIELD)
    largest: int | None = (
        Account.objects.for_user(user)
        .annotate(total=total)
        .order_by("-total", "pk")
        .values_list("pk", flat=True)
        .first()
    )
    return largest


def household_list(*, user: AnyUser) -> QuerySet[Household]:
    """Households visible to ``user`` by name; value the shown rows with :func:`page_value`."""
    return Household.objects.for_user(user).order_by("name", "pk")


def page_value(rows: Iterable[_Row], *, user: AnyUser) -> list[_Row]:
    """One page of a list (rows already loaded, in their order), valued in place:
    ``securities_value`` and ``total_value`` (securities plus cash; None when not visible);
    households also get ``account_count`` and ``cash``.

    Accounts carry their value (``Account.securities_value``, kept by the lot and price writers);
    a page of households adds up its accounts in one grouped query, however long the list.
    """
    page: list[Any] = list(rows)  # annotated below with figures the models do not declare
    if not page:
        return page
    model = type(page[0])
    if model not in (Account, Household):
        raise TypeError(f"cannot value {model.__name__} rows")
    visible = _can_view(user, Resource.POSITION)
    if model is Household:
        accounts_visible = _can_view(user, Resource.ACCOUNT)
        figures = {
            found["household_id"]: found
            for found in Account.objects.filter(household_id__in=[row.pk for row in page])
            .order_by()
            .values("household_id")
            .annotate(n=Count("pk"), cash=Sum("cash_balance"), value=Sum("securities_value"))
        }
        for row in page:
            found: Any = figures.get(row.pk, {})
            row.account_count = found.get("n", 0) if accounts_visible else None
            row.cash = (found.get("cash") or ZERO) if accounts_visible else None
            row.securities_value = (found.get("value") or ZERO) if visible else None
    elif not visible:
        for row in page:
            row.securities_value = None
    for row in page:
        cash = row.cash_balance if model is Account else row.cash
        value = row.securities_value
        row.total_value = None if value is None or cash is None else value + cash
    return page


def price_date_latest(*, user: AnyUser) -> dt.date | None:
    """The valuation date: the most recent date with any price in the user's firm."""
    return Price.objects.for_user(user).order_by("-date").values_list("date", flat=True).first()


# --- Totals ------------------------------------------------------------------------------------


def securities_value_get(*, user: AnyUser) -> Decimal:
    """Market value of every position visible to ``user`` at latest prices: the sum of the
    visible accounts' stored values (one pass over accounts, not over positions)."""
    if not _can_view(user, Resource.POSITION):
        return ZERO
    total = Account.objects.for_user(user).aggregate(value=Sum("securities_value"))["value"]
    return cents(total) if total is not None else ZERO


def firm_aum_get(*, user: AnyUser) -> Decimal:
    """Assets under management visible to ``user``: positions at latest closes plus cash.

    Firm-wide for roles that see the whole firm; an advisor's own book for an advisor.
    """
    cash = Account.objects.for_user(user).aggregate(cash=Sum("cash_balance"))["cash"] or ZERO
    return cents(securities_value_get(user=user) + cash)


@dataclass(frozen=True)
class BookSummary:
    """Headline figures of the households/accounts a user can see, and the same per
    registration type (``registrations``: one dict per type present, in the type's order)."""

    households: int
    accounts: int
    securities_value: Decimal
    cash: Decimal
    aum: Decimal
    prices_as_of: dt.date | None
    registrations: tuple[dict[str, Any], ...] = ()


def book_summary_get(*, user: AnyUser) -> BookSummary:
    """One grouped pass over the visible accounts (count, cash and stored value per registration
    type) gives both the totals and the per-type table; plus the household count and the price
    date (index lookups)."""
    rows = list(
        Account.objects.for_user(user)
        .order_by("registration_type")
        .values("registration_type")
        .annotate(n=Count("pk"), cash=Sum("cash_balance"), value=Sum("securities_value"))
    )
    visible = _can_view(user, Resource.POSITION)
    cash = cents(sum((r["cash"] or ZERO for r in rows), ZERO))
    value = cents(sum((r["value"] or ZERO for r in rows), ZERO)) if visible else ZERO
    registrations = tuple(
        {
            "registration_type": r["registration_type"],
            "label": RegistrationType(r["registration_type"]).label,
            "accounts": r["n"],
            "cash": cents(r["cash"] or ZERO),
        }
        for r in rows
    )
    return BookSummary(
        households=Household.objects.for_user(user).count(),
        accounts=sum(r["n"] for r in rows),
        securities_value=value,
        cash=cash,
        aum=cents(value + cash),
        prices_as_of=price_date_latest(user=user),
        registrations=registrations,
    )


# --- Holdings of one account -------------------------------------------------------------------


@dataclass(frozen=True)
class LotHolding:
    """One tax lot valued at the latest close. Gains are ``None`` when the security has no price."""

    lot: TaxLot
    market_value: Decimal | None
    unrealized: Decimal | None
    long_term: bool
    days_held: int


@dataclass(frozen=True)
class PositionHolding:
    """One position with its lots; unrealized gain split short term / long term by lot."""

    position: Position
    security: Security
    as_of: dt.date
    quantity: Decimal
    latest_close: Decimal | None
    price_date: dt.date | None
    market_value: Decimal | None
    cost_basis: Decimal
    unrealized_st: Decimal | None
    unrealized_lt: Decimal | None
    lots: list[LotHolding]
    #: Share of the account's total value (cash included); None when unpriced or unknown.
    weight: Decimal | None = None

    @property
    def unrealized(self) -> Decimal | None:
        if self.unrealized_st is None or self.unrealized_lt is None:
            return None
        return self.unrealized_st + self.unrealized_lt

    @property
    def stale(self) -> bool:
        """Priced, but not on the valuation date."""
        return self.price_date is not None and self.price_date != self.as_of


@dataclass(frozen=True)
class AccountHoldings:
    """An account's holdings valued at latest closes, as of the firm's latest price date."""

    account: Account
    as_of: dt.date
    positions: list[PositionHolding]
    securities_value: Decimal
    cash: Decimal
    total_value: Decimal
    cost_basis: Decimal
    unrealized_st: Decimal
    unrealized_lt: Decimal
    unpriced: list[str]
    #: Positions of the account when ``positions`` shows only some of them (a summary).
    positions_total: int | None = None

    @property
    def has_synthetic(self) -> bool:
        return any(p.security.is_synthetic for p in self.positions)

    @property
    def concentration(self) -> Decimal:
        """A position at or above this weight is highlighted as a concentration."""
        return CONCENTRATION_WEIGHT


def positions_value_annotate(positions: QuerySet[Position], *, user: AnyUser) -> QuerySet[Position]:
    """Annotate scoped positions with ``latest_close``, ``latest_date`` and ``market_value``
    (unrounded, ``None`` when unpriced) and prefetch their scoped lots, oldest first."""
    lots = TaxLot.objects.for_user(user).order_by("acquired_on", "lot_id", "pk")
    return (
        positions.select_related("security")
        .annotate(
            latest_close=last_close("security"),
            latest_date=last_close_date("security"),
            market_value=_market_value_expression(),
        )
        .prefetch_related(Prefetch("lots", queryset=lots))
    )


def _position_queryset(*, user: AnyUser) -> QuerySet[Position]:
    return positions_value_annotate(Position.objects.for_user(user), user=user)


def _position_holding(position: Any, as_of: dt.date) -> PositionHolding:
    close: Decimal | None = position.latest_close
    lots: list[LotHolding] = []
    st = lt = ZERO
    basis = ZERO
    for lot in position.lots.all():
        value = cents(lot.quantity * close) if close is not None else None
        long_term = is_long_term(lot.acquired_on, as_of)
        gain = value - lot.cost_basis if value is not None else None
        if gain is not None:
            if long_term:
                lt += gain
            else:
                st += gain
        basis += lot.cost_basis
        lots.append(
            LotHolding(
                lot=lot,
                market_value=value,
                unrealized=gain,
                long_term=long_term,
                days_held=(as_of - lot.acquired_on).days,
            )
        )
    return PositionHolding(
        position=position,
        security=position.security,
        as_of=as_of,
        quantity=position.quantity,
        latest_close=close,
        price_date=position.latest_date,
        market_value=cents(position.quantity * close) if close is not None else None,
        cost_basis=basis,
        unrealized_st=st if close is not None else None,
        unrealized_lt=lt if close is not None else None,
        lots=lots,
    )


def account_holdings_get(
    *, user: AnyUser, account_id: int, as_of: dt.date | None = None
) -> AccountHoldings:
    """Holdings of one account with lots and unrealized short/long-term gains.

    Raises ``Account.DoesNotExist`` when the account is not visible to ``user`` (another firm, or
    an advisor's unassigned household): views turn that into a 404.
    """
    account = (
        Account.objects.for_user(user).select_related("household", "advisor").get(pk=account_id)
    )
    as_of = as_of or price_date_latest(user=user) or dt.date.today()
    positions = [
        _position_holding(p, as_of)
        for p in _position_queryset(user=user)
        .filter(account_id=account.pk)
        .order_by("security__ticker", "pk")
    ]
    value = sum((p.market_value for p in positions if p.market_value is not None), ZERO)
    cash = account.cash_balance
    total = value + cash
    if total > 0:
        positions = [
            replace(p, weight=p.market_value / total if p.market_value is not None else None)
            for p in positions
        ]
    return AccountHoldings(
        account=account,
        as_of=as_of,
        positions=positions,
        securities_value=value,
        cash=cash,
        total_value=total,
        cost_basis=sum((p.cost_basis for p in positions), ZERO),
        unrealized_st=sum(
            (p.unrealized_st for p in positions if p.unrealized_st is not None), ZERO
        ),
        unrealized_lt=sum(
            (p.unrealized_lt for p in positions if p.unrealized_lt is not None), ZERO
        ),
        unpriced=[p.security.ticker for p in positions if p.latest_close is None],
    )


def position_holding_get(
    *, user: AnyUser, position_id: int, as_of: dt.date | None = None
) -> PositionHolding:
    """One position with its lots (the account page's expandable row).

    Raises ``Position.DoesNotExist`` when the position is not visible to ``user``.
    """
    position = _position_queryset(user=user).select_related("account").get(pk=position_id)
    return _position_holding(position, as_of or price_date_latest(user=user) or dt.date.today())

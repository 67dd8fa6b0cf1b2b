"""The read side behind the pages: AUM in SQL at latest closes, holding periods, latest prices."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal
from typing import Any

import numpy as np
import pytest

from accounts.selectors import (
    account_holdings_get,
    account_largest_get,
    anniversary,
    book_summary_get,
    firm_aum_get,
    is_long_term,
    securities_value_get,
)
from models_hub.selectors import market_data_summarize, prices_latest_get
from optimizer.tax import is_long_term as optimizer_is_long_term
from rebalancer.roles import Role
from tests.conftest import Cast
from tests.factories import AccountFactory, PriceFactory, SecurityFactory, holding

pytestmark = pytest.mark.django_db


def test_firm_aum_is_positions_at_latest_close_plus_cash(cast: Cast) -> None:
    assert firm_aum_get(user=cast.user(Role.MANAGEMENT)) == Decimal("24404.75")
    assert firm_aum_get(user=cast.user(Role.ADVISOR)) == Decimal("14404.75")
    assert firm_aum_get(user=cast.admin_b) == Decimal("12055.55")


def test_aum_uses_the_latest_close_not_an_older_or_other_firms(cast: Cast) -> None:
    PriceFactory.create(security=cast.security_a, date=dt.date(2019, 12, 30), close=Decimal("1"))
    PriceFactory.create(security=cast.security_b, date=dt.date(2020, 1, 2), close=Decimal("999"))
    PriceFactory.create(security=cast.security_a, date=dt.date(2020, 1, 2), close=Decimal("300"))
    # 15 shares x 300 (2020-01-02 close of firm A's own AAPL row).
    assert securities_value_get(user=cast.user(Role.MANAGEMENT)) == Decimal("4500.00")


def test_aum_is_one_query_whatever_the_book_size(
    cast: Cast, django_assert_max_num_queries: Any
) -> None:
    for n in range(20):
        security = SecurityFactory.create(firm=cast.firm_a)
        PriceFactory.create(security=security, close=Decimal("10"))
        holding(
            cast.account_a2, security, [(f"X{n}", Decimal("1"), Decimal("5"), dt.date(2018, 1, 2))]
        )
    user = cast.user(Role.MANAGEMENT)
    firm_aum_get(user=user)  # warm the membership cache
    with django_assert_max_num_queries(2):  # positions value + cash
        assert firm_aum_get(user=user) == Decimal("24604.75")


def test_book_summary_counts_and_values(cast: Cast) -> None:
    summary = book_summary_get(user=cast.user(Role.ADVISOR))
    assert (summary.households, summary.accounts) == (1, 1)
    assert summary.securities_value == Decimal("4404.75")
    assert summary.cash == Decimal("10000.00")
    assert summary.aum == Decimal("14404.75")
    assert summary.prices_as_of == dt.date(2019, 12, 31)


def test_account_holdings_of_another_firm_raise_not_found(cast: Cast) -> None:
    from accounts.models import Account

    with pytest.raises(Account.DoesNotExist):
        account_holdings_get(user=cast.admin_b, account_id=cast.account_a1.pk)
    with pytest.raises(Account.DoesNotExist):
        account_holdings_get(user=cast.user(Role.ADVISOR), account_id=cast.account_a2.pk)


def test_account_holdings_split_gains_by_lot_term(cast: Cast) -> None:
    holdings = account_holdings_get(user=cast.user(Role.ADVISOR), account_id=cast.account_a1.pk)
    (position,) = holdings.positions
    assert [lot.long_term for lot in position.lots] == [True, False]
    assert [lot.unrealized for lot in position.lots] == [Decimal("1936.50"), Decimal("-131.75")]
    assert (holdings.unrealized_st, holdings.unrealized_lt) == (
        Decimal("-131.75"),
        Decimal("1936.50"),
    )
    assert holdings.total_value == Decimal("14404.75")
    assert holdings.cost_basis == Decimal("2600.00")


@pytest.mark.parametrize(
    ("acquired", "expected"),
    [
        (dt.date(2019, 3, 15), dt.date(2020, 3, 15)),
        (dt.date(2016, 2, 29), dt.date(2017, 2, 28)),
        (dt.date(2019, 12, 31), dt.date(2020, 12, 31)),
    ],
)
def test_anniversary(acquired: dt.date, expected: dt.date) -> None:
    assert anniversary(acquired) == expected


def test_holding_period_agrees_with_the_optimizer() -> None:
    """The page and the optimizer must call the same lot long term on every day."""
    as_of = dt.date(2020, 3, 1)
    acquired = [dt.date(2019, 1, 1) + dt.timedelta(days=d) for d in range(0, 430)]
    acquired += [dt.date(2016, 2, 29), dt.date(2019, 2, 28), dt.date(2019, 3, 1)]
    ours = [is_long_term(a, as_of) for a in acquired]
    theirs = optimizer_is_long_term(np.array(acquired, dtype="datetime64[D]"), as_of)
    assert ours == [bool(x) for x in theirs]
    assert is_long_term(dt.date(2019, 3, 1), dt.date(2020, 3, 1)) is False
    assert is_long_term(dt.date(2019, 2, 28), dt.date(2020, 3, 1)) is True


def test_latest_prices_is_one_query_and_skips_unpriced(
    cast: Cast, django_assert_num_queries: Any
) -> None:
    unpriced = SecurityFactory.create(firm=cast.firm_a)
    PriceFactory.create(security=cast.security_a, date=dt.date(2020, 1, 2), close=Decimal("301.5"))
    user = cast.user(Role.DATA_MANAGER)
    prices_latest_get(user=user)  # warm the membership cache
    with django_assert_num_queries(1):
        prices = prices_latest_get(user=user)
    assert set(prices) == {cast.security_a.pk}
    assert unpriced.pk not in prices
    assert prices[cast.security_a.pk].date == dt.date(2020, 1, 2)
    assert prices[cast.security_a.pk].close == Decimal("301.5")
    assert prices_latest_get(user=cast.admin_b)[cast.security_b.pk].close == Decimal("293.65")


def test_market_data_summary(cast: Cast) -> None:
    SecurityFactory.create(firm=cast.firm_a, is_synthetic=True)
    summary = market_data_summarize(user=cast.user(Role.DATA_MANAGER))
    assert (summary.securities, summary.synthetic_securities) == (2, 1)
    assert summary.prices_as_of == dt.date(2019, 12, 31)
    assert summary.priced_on_as_of == 1


def test_largest_account_counts_positions_cash_and_stale_prices(cast: Cast) -> None:
    manager = cast.user(Role.MANAGEMENT)
    assert account_largest_get(user=manager) == cast.account_a1.pk
    # A security last priced before the valuation date (2019-12-31) still counts, at its
    # latest close.
    stale = SecurityFactory.create(firm=cast.firm_a, ticker="OLD")
    PriceFactory.create(security=stale, date=dt.date(2019, 6, 28), close=Decimal("100"))
    holding(cast.account_a2, stale, [("S-1", Decimal("50"), Decimal("10"), dt.date(2018, 1, 2))])
    # 15,000 > 14,404.75
    assert account_largest_get(user=manager) == cast.account_a2.pk
    # An all-cash account can be the largest.
    rich = AccountFactory.create(household=cast.hh_a2, cash_balance=Decimal("20000.00"))
    assert account_largest_get(user=manager) == rich.pk
    # An advisor only ranks their own accounts.
    assert account_largest_get(user=cast.user(Role.ADVISOR)) == cast.account_a1.pk

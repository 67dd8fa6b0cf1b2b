"""Realized sales import: inserted, corrected in place, idempotent, every bad row reported; the
nightly adapter turns them into the account's tax year and the household's wash-sale look-back."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal

import pytest

from accounts.models import RealizedSale
from tests.conftest import Cast
from tests.feeds.conftest import assert_rejected, run
from workflow.models import ImportStatus

pytestmark = pytest.mark.django_db

HEADER = "custodian,account_number,ticker,lot_id,trade_date,quantity,proceeds,cost_basis,term\n"


def _file(cast: Cast, *rows: str) -> str:
    return HEADER + "".join(r.format(a1=cast.account_a1.account_number) + "\n" for r in rows)


def test_sales_are_recorded_once_and_corrected_in_place(cast: Cast) -> None:
    text = _file(
        cast,
        "Schwab,{a1},AAPL,A1-1,2019-03-04,2,300.00,200.00,LT",
        "Schwab,{a1},aapl,A1-2,2019-11-20,1,250.00,320.00,st",
    )
    record = run(cast, "transactions", text)
    assert record.status == ImportStatus.APPLIED, record.message
    assert (record.created, record.updated) == (2, 0)
    again = run(cast, "transactions", text)
    assert again.status == ImportStatus.UNCHANGED
    corrected = run(
        cast, "transactions", _file(cast, "Schwab,{a1},AAPL,A1-2,2019-11-20,1,260.00,320.00,ST")
    )
    assert (corrected.created, corrected.updated, corrected.unchanged) == (0, 1, 0)
    sale = RealizedSale.objects.get(lot_id="A1-2")
    assert (sale.term, sale.gain) == ("ST", Decimal("-60.00"))
    assert RealizedSale.objects.count() == 2


def test_every_bad_row_is_reported_and_nothing_written(cast: Cast) -> None:
    future = (dt.date.today() + dt.timedelta(days=3)).isoformat()
    text = _file(
        cast,
        "Schwab,{a1},AAPL,A1-1,2019-03-04,2,300.00,200.00,XT",
        "Schwab,NOPE,AAPL,A1-1,2019-03-04,2,300.00,200.00,LT",
        "Schwab,{a1},ZZZZ,A1-1,2019-03-05,2,300.00,200.00,LT",
        "Schwab,{a1},AAPL,A1-9,2019-03-06,0,300.00,200.00,LT",
        "Schwab,{a1},AAPL,A1-8," + future + ",1,1.00,1.00,LT",
        "Schwab,{a1},AAPL,A1-7,2019-03-07,1,1.00,1.00,LT",
        "Schwab,{a1},AAPL,A1-7,2019-03-07,1,1.00,1.00,LT",
    )
    record = run(cast, "transactions", text)
    assert_rejected(
        record,
        [
            (2, "term", "must be ST or LT"),
            (3, "account_number", ""),
            (4, "ticker", "unknown ticker"),
            (5, "quantity", ""),
            (6, "trade_date", ""),
            (8, "lot_id", "the same lot sold twice on one date (first on line 7)"),
        ],
    )
    assert not RealizedSale.objects.exists()


def test_the_adapter_builds_the_tax_year_and_the_household_look_back(cast: Cast) -> None:
    from accounts.resolve import resolve_accounts
    from accounts.services import book_revalue
    from models_hub.services import security_last_close_refresh
    from rebalancer.authz import SystemActor
    from tests.factories import AccountFactory
    from tests.program.conftest import program_build
    from workflow.nightly import accounts_data_load, market_data_load
    from workflow.optimizer_adapter import Problem, problem_build

    program = program_build(cast)
    firm_id = cast.firm_a.pk
    security_last_close_refresh(firm_id=firm_id, actor=SystemActor.COMMAND)
    book_revalue(firm_id=firm_id, actor=SystemActor.COMMAND)
    program.choose(cast.account_a1, {"strategy": program.strategy.pk})
    sibling = AccountFactory.create(household=cast.hh_a1, account_number="SIB-1")
    as_of = dt.date(2020, 1, 20)
    text = (
        HEADER
        + f"Schwab,{cast.account_a1.account_number},AAPL,X-1,2020-01-06,1,900.00,400.00,ST\n"
        + f"Schwab,{cast.account_a1.account_number},AAPL,X-2,2019-12-27,1,100.00,400.00,LT\n"
        + "Schwab,SIB-1,AAPL,S-1,2020-01-10,1,100.00,300.00,LT\n"
    )
    assert run(cast, "transactions", text).status == ImportStatus.APPLIED
    data = accounts_data_load(firm_id, [cast.account_a1.pk], as_of)[cast.account_a1.pk]
    resolved = resolve_accounts(firm_id, [cast.account_a1.pk])[cast.account_a1.pk]
    problem = problem_build(data, resolved, market_data_load(firm_id), as_of)
    assert isinstance(problem, Problem), problem
    assert problem.tax_year is not None
    assert problem.tax_year.gain_ytd_short == 500.0
    assert problem.tax_year.gain_ytd_long == 0.0  # last year's sale is not this year's
    losses = [t for t in problem.recent_trades if t.realized_loss]
    # Both loss sales within 30 days: the account's own (2019-12-27) and the sibling's.
    assert sorted((t.trade_date, t.household) for t in losses) == [
        (dt.date(2019, 12, 27), False),
        (dt.date(2020, 1, 10), True),
    ]
    assert sibling.pk

"""A small hand-made problem (for ``python -m optimizer example`` and the docs).

Three ETFs, one of them a substitute for another, five lots with gains and losses, a recent
loss sale that opens a wash-sale window, and a contribution in cash.
"""

from __future__ import annotations

import datetime as dt

import numpy as np

from optimizer.types import (
    EquivalenceGroup,
    Lots,
    Problem,
    RecentTrade,
    Settings,
    Side,
    TaxRates,
)


def example_problem() -> Problem:
    """VOO (primary) / IVV (substitute) for US equity, AGG for bonds; VOO was loss-sold on
    2019-02-02, so its wash-sale window runs until 2019-03-04 and IVV is bought instead."""
    return Problem(
        account_id="example-1",
        as_of=dt.date(2019, 2, 15),
        security_ids=("VOO", "IVV", "AGG"),
        prices=np.array([250.0, 272.0, 106.0]),
        targets=np.array([0.59, 0.0, 0.39]),
        lots=Lots(
            lot_id=np.array([101, 102, 103, 104, 105], dtype=np.int64),
            security=np.array([0, 0, 2, 2, 2], dtype=np.int64),
            shares=np.array([100.0, 40.0, 200.0, 150.0, 50.0]),
            cost_basis=np.array([18_000.0, 11_000.0, 21_600.0, 16_200.0, 5_100.0]),
            acquired=np.array(
                ["2016-03-01", "2018-09-20", "2017-05-02", "2018-10-01", "2019-01-10"],
                dtype="datetime64[D]",
            ),
        ),
        cash=20_000.0,
        settings=Settings(risk_aversion=10.0, cash_target=0.02, min_trade=100.0),
        tax_rates=TaxRates(short_term=0.40, long_term=0.238),
        cost_rates=np.array([0.0003, 0.0003, 0.0005]),
        recent_trades=(
            RecentTrade(
                security=0, trade_date=dt.date(2019, 2, 2), side=Side.SELL, realized_loss=True
            ),
        ),
        equivalence_groups=(EquivalenceGroup(members=(0, 1), name="US large cap"),),
    )

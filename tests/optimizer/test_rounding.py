"""Issue 17, defect 4: rounding neither turns solver noise into trades nor loses a real trade
to noise on the other side."""

from __future__ import annotations

import numpy as np

from optimizer import Settings, solve
from optimizer.rounding import round_trades
from optimizer.rules import prepare
from tests.optimizer.factories import tiny


def test_loss_lots_sold_by_a_hair_are_not_rounded_up_to_a_share() -> None:
    # Direct-index shape: many loss lots; the continuous optimum sells 1e-8 of each (solver
    # noise). They used to become one-share sales each (1,861 of them on one account,
    # turnover 4.25 % against a 0.5 % cap).
    n = 200
    prices = [50.0] * n
    lots = [(i, 100.0, 6_000.0, "2018-06-01") for i in range(n)]  # each lot at a loss
    p = tiny(
        prices,
        [1.0 / n] * n,
        lots,
        cash=10_000.0,
        ids=tuple(f"S{i:03d}" for i in range(n)),
        settings=Settings(turnover_max=0.005),
    )
    prep = prepare(p)
    x = np.full(p.lots.count, 1e-8)
    rounded = round_trades(
        prep, x, np.zeros(n), budgets_on=True, fixed_lots=np.zeros(p.lots.count, dtype=bool)
    )
    assert rounded.failure == ""
    assert float(rounded.sell_shares.sum()) == 0.0
    # A real loss sale (half a share and more) is still rounded up to the share.
    x2 = x.copy()
    x2[0] = 0.6 / 100.0
    rounded2 = round_trades(
        prep, x2, np.zeros(n), budgets_on=True, fixed_lots=np.zeros(p.lots.count, dtype=bool)
    )
    assert rounded2.sell_shares[0] == 1.0 and float(rounded2.sell_shares[1:].sum()) == 0.0


def test_a_large_buy_is_not_lost_to_a_tiny_sale_of_the_same_security() -> None:
    # Two securities, fractional shares: the continuous optimum buys 13 % of the account in the
    # target security and sells 1e-7 of it (below the direction-fixing threshold). Rounding
    # kept the 0.0003-share sale and dropped the buy: status optimal with nothing done.
    p = tiny(
        [100.0, 50.0],
        [0.9, 0.0],
        [(0, 770.0, 90_000.0, "2018-06-01"), (1, 400.0, 10_000.0, "2015-01-02")],
        cash=3_000.0,
        settings=Settings(fractional_shares=True, risk_aversion=10.0),
    )
    prep = prepare(p)
    b = np.array([0.13, 0.0])
    x = np.array([0.9e-7 / prep.lot_weight[0], 0.65])
    rounded = round_trades(
        prep, x, b, budgets_on=True, fixed_lots=np.zeros(p.lots.count, dtype=bool)
    )
    assert rounded.failure == ""
    assert rounded.sell_shares[0] == 0.0
    assert rounded.buy_shares[0] * 100.0 / prep.base > 0.12
    # A same-security conflict left by rounding keeps the larger side in $, not always the sale.
    x_big = np.array([0.5e-6 / prep.lot_weight[0] * 10, 0.65])
    rounded_big = round_trades(
        prep, x_big, b, budgets_on=True, fixed_lots=np.zeros(p.lots.count, dtype=bool)
    )
    assert rounded_big.sell_shares[0] == 0.0 and rounded_big.buy_shares[0] > 0


def test_rounding_that_drops_every_trade_says_why() -> None:
    # The continuous optimum buys half a share of a $2,000 security; whole shares cannot.
    p = tiny([2_000.0, 10.0], [0.5, 0.5], [(1, 100.0, 1_000.0, "2015-01-02")], cash=1_000.0)
    sol = solve(p)
    assert sol.trades == () and sol.lot_sales == ()
    assert sol.objective_continuous.total < sol.objective_before.total - 1e-6
    assert "rounding to whole shares" in sol.diagnostics.message
    assert "not reachable" in sol.diagnostics.message

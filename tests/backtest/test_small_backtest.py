"""A three-stock, ten-day backtest whose trades, taxes and alpha are worked out by hand here.

Market (close; C pays a $0.20 dividend, ex on day 6):

    day   date        A     B    C
    0     2019-11-22  100   50   20   <- $1,000,000 funded at cap weights 25 / 25 / 50 %
    1-3               100   50   20
    4     2019-11-29   90   50   20   <- month-end: loser_rebuy sells and rebuys
    5                  90   50   20
    6                  90   50   20   <- C goes ex: $0.20 a share, reinvested in C
    7-8                90   50   20
    9     2019-12-06   95   55   21   <- last day: liquidation value and 2019 tax

Costs 2 bps a side. Every lot is short-term. Actual 2019 rates: ST 40.8 %, dividends 23.8 %.
"""

from __future__ import annotations

import numpy as np
import pytest

from optimizer_lab.backtest.arms.rules import BuyHold, LoserRebuy
from optimizer_lab.backtest.metrics import vintage_metrics
from optimizer_lab.backtest.prices import Vintage, bench_returns, build_market_data
from optimizer_lab.backtest.sim import Sim

C = 0.0002
ST, DIV = 0.408, 0.238
DATES = np.array(
    [
        "2019-11-22",
        "2019-11-25",
        "2019-11-26",
        "2019-11-27",
        "2019-11-29",
        "2019-12-02",
        "2019-12-03",
        "2019-12-04",
        "2019-12-05",
        "2019-12-06",
    ],
    dtype="datetime64[D]",
)
PA = [100.0] * 4 + [90.0] * 5 + [95.0]
PB = [50.0] * 9 + [55.0]
PC = [20.0] * 9 + [21.0]


def market():  # type: ignore[no-untyped-def]
    close = np.array([PA, PB, PC]).T
    adj = close.copy()
    adj[:6, 2] *= 1.0 - 0.2 / 20.0  # Yahoo's factor before C's ex-date
    return build_market_data(
        close,
        adj,
        DATES,
        ("AAA", "BBB", "CCC"),
        {"AAA": 1.0, "BBB": 1.0, "CCC": 2.0},
        {"AAA": "X", "BBB": "X", "CCC": "Y"},
    )


def vintage() -> Vintage:
    return Vintage("test", 0, 9, np.array([0, 1, 2], dtype=np.int64))


def test_hand_computed_backtest() -> None:
    md = market()
    assert md.dividends[6, 2] == pytest.approx(0.2)
    v = vintage()
    bh = Sim(md, v, BuyHold()).run()
    lr = Sim(md, v, LoserRebuy()).run()

    # ---- buy and hold, by hand
    qa = 250_000 / (100 * (1 + C))
    qb = 250_000 / (50 * (1 + C))
    qc = 500_000 / (20 * (1 + C))
    div_bh = qc * 0.2
    qc2 = div_bh / (20 * (1 + C))  # dividend reinvested in C on day 6
    basis_bh = 1_000_000 + div_bh
    value_bh = qa * 95 + qb * 55 + (qc + qc2) * 21
    assert bh.trades == 1
    assert bh.values[-1] == pytest.approx(value_bh, rel=1e-12)
    gain_bh = value_bh * (1 - C) - basis_bh  # all short-term if sold on day 9
    post_bh = value_bh * (1 - C) - (ST * gain_bh + DIV * div_bh)
    pre_bh = value_bh - DIV * div_bh

    # ---- loser rebuy, by hand: on day 4 every lot is below basis (A fell; B and C only by
    # the costs), so all three are sold and bought back with the proceeds.
    proceeds = [qa * 90 * (1 - C), qb * 50 * (1 - C), qc * 20 * (1 - C)]
    losses = [proceeds[0] - 250_000, proceeds[1] - 250_000, proceeds[2] - 500_000]
    qa2 = proceeds[0] / (90 * (1 + C))
    qb2 = proceeds[1] / (50 * (1 + C))
    qc3 = proceeds[2] / (20 * (1 + C))
    div_lr = qc3 * 0.2
    qc4 = div_lr / (20 * (1 + C))
    value_lr = qa2 * 95 + qb2 * 55 + (qc3 + qc4) * 21
    assert lr.trades == 7  # 3 sales, 3 repurchases, 1 dividend reinvestment
    assert lr.years[2019][0] == pytest.approx(sum(losses), rel=1e-9)
    assert lr.values[-1] == pytest.approx(value_lr, rel=1e-12)
    basis_lr = sum(proceeds) + div_lr
    gain_lr = value_lr * (1 - C) - basis_lr
    post_lr = value_lr * (1 - C) - (ST * (sum(losses) + gain_lr) + DIV * div_lr)
    pre_lr = value_lr - (ST * sum(losses) + DIV * div_lr)

    # ---- alpha, annualised over the 14 calendar days
    def ann(x: float) -> float:
        return float((x / 1_000_000) ** (365.25 / 14) - 1)

    m = vintage_metrics(lr, bh, bench_returns(md, v), 1_000_000.0)
    assert m.post_liq_alpha["actual_outside"] == pytest.approx(
        100 * (ann(post_lr) - ann(post_bh)), rel=1e-6
    )
    assert m.pre_liq_alpha["actual_outside"] == pytest.approx(
        100 * (ann(pre_lr) - ann(pre_bh)), rel=1e-6
    )
    # harvesting then selling everything a week later loses the costs: post-liq alpha < 0
    assert m.post_liq_alpha["actual_outside"] < 0.0 < m.pre_liq_alpha["actual_outside"]
    assert m.harvested_pct == pytest.approx(-100 * sum(losses) / 1_000_000, rel=1e-9)
    # each repurchase is a wash sale the arm ignored: the checker finds all three
    assert lr.check.violations == 3
    assert bh.check.violations == 0


def test_benchmark_total_return_includes_the_dividend() -> None:
    md = market()
    r = bench_returns(md, vintage())
    # day 6: C (weight 50 % of the index that day) returns 0.2 / 20 = 1 %
    w_c = 2.0 / (1.0 * 90 / 100 + 1.0 + 2.0)  # caps 0.9 : 1 : 2 on day 5
    assert r[5] == pytest.approx(w_c * 0.01)
    # day 9: A +5.56 %, B +10 %, C +5 % at the day-8 cap weights
    caps = np.array([0.9, 1.0, 2.0])
    w = caps / caps.sum()
    assert r[8] == pytest.approx(float(w @ np.array([95 / 90 - 1, 0.1, 0.05])))


class _Hold:
    """An arm that never trades (the test drives the sim by hand)."""

    key = "hold"
    wash_sale = True

    def on_day(self, sim: Sim) -> None:
        return None


def test_sell_all_sells_a_replacement_part_split_off_by_the_sale() -> None:
    # Day 0: 30 A at $100 (lot L0). Day 5: 50 A at $90 (lot L1). Selling L0 at $90 is a loss;
    # 30 of L1's shares (bought 5 days before) replace the 30 sold, so the rule splits them off
    # as a new lot (L1.w1) carrying that loss. Selling "every lot of A" must sell it too, at a
    # loss that includes the carried-over part: the net booked is all received minus all paid.
    md = market()
    sim = Sim(md, vintage(), _Hold())
    lg = sim.ledger
    sim.t = 0
    lg.buy(sim.day, 0, 30.0, 100.0)
    sim.t = 5
    lg.buy(sim.day, 0, 50.0, 90.0)
    sim.sell_all(0)
    assert lg.labels == ["L0", "L1", "L1.w1"]
    assert lg.position[0] == 0.0
    assert not lg.shares[: lg.n_lots].any()
    paid = 30 * 100 * (1 + C) + 50 * 90 * (1 + C)
    received = 80 * 90 * (1 - C)
    assert lg.net_realized_before_end == pytest.approx(received - paid)

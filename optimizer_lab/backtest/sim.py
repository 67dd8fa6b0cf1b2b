"""One arm on one vintage, day by day: the account, its ledger and what is recorded.

Order of events on each trading day ``t`` (at the close):

1. dividends with ex-date ``t`` are credited (qualified, taxed); spin-offs are a return of
   capital;
2. names whose quotes end on ``t`` (before the vintage's last day) are sold at that close;
3. the arm trades (sales first, then purchases);
4. on the last trading day of a calendar year, that year's tax under the primary case (actual
   rates, outside gains absorb net losses) is paid from, or a saving credited to, cash;
5. the account's value is recorded before the tax flow (daily) and, on month-ends, a snapshot
   of what liquidation would realize.

Costs: ``COST_RATE`` (2 bps) of the $ traded on every buy and sale, every arm.
"""

from __future__ import annotations

import datetime as dt
import time
from dataclasses import dataclass, field
from typing import Protocol

import numpy as np
import numpy.typing as npt

from optimizer_lab.backtest import checker
from optimizer_lab.backtest.prices import MarketData, Vintage, bench_weights
from optimizer_lab.backtest.taxes import ACTUAL_RATES, SHARE_EPS, WASH_DAYS, Carry, Ledger, year_tax

FloatArray = npt.NDArray[np.float64]
IntArray = npt.NDArray[np.int64]
BoolArray = npt.NDArray[np.bool_]

COST_RATE = 0.0002
SWEEP_MIN = 500.0
"""$: positive cash above this that an arm does not place itself is invested pro rata."""


class Arm(Protocol):
    """A trading rule. ``on_day`` trades through ``sim``; it may read anything up to ``sim.t``."""

    key: str
    wash_sale: bool

    def on_day(self, sim: Sim) -> None: ...


@dataclass
class Snapshot:
    """Month-end state, $: value before the tax flow, year-to-date realized, unrealized if sold."""

    row: int
    day: int
    value: float
    ytd_st: float
    ytd_lt: float
    ytd_div: float
    unreal_st: float
    unreal_lt: float
    liq_cost: float
    net_realized: float


@dataclass
class ArmRun:
    """What one arm on one vintage leaves for the metrics (plain data, picklable)."""

    arm: str
    vintage: str
    start: int
    end: int
    start_day: int
    end_day: int
    values: FloatArray
    """(end - start + 1,) $ value at each close before that day's tax flow."""
    flows: FloatArray
    """(same,) $ tax flow at that close (negative = tax paid)."""
    year_rows: dict[int, int]
    """calendar year -> row of its last trading day in the vintage."""
    years: dict[int, tuple[float, float, float, float]]
    """calendar year -> ($ ST gain, $ LT gain, $ dividends, $ disallowed)."""
    snapshots: list[Snapshot]
    trades: int
    sold_value: float
    """$ gross value of all sales after funding."""
    solve_ms: list[float]
    solves: int
    check: checker.CheckReport
    wall_s: float
    notes: dict[str, float] = field(default_factory=dict)


class Sim:
    """The account state of one arm on one vintage, and the trading helpers the arms use."""

    def __init__(self, md: MarketData, v: Vintage, arm: Arm) -> None:
        self.md = md
        self.v = v
        self.arm = arm
        self.ledger = Ledger(md.tickers, md.groups, COST_RATE, wash_sale=arm.wash_sale)
        self.ledger.cash = v.capital
        self.t = v.start
        self.in_universe = np.zeros(md.n, dtype=np.bool_)
        self.in_universe[v.universe] = True
        self.div_paid = np.zeros(md.n)
        self.trades = 0
        self.sold_value = 0.0
        self.solve_ms: list[float] = []
        self.notes: dict[str, float] = {}

    # ---- the day
    @property
    def day(self) -> int:
        return int(self.md.ordinals[self.t])

    @property
    def price(self) -> FloatArray:
        """(n,) $/share, last close (carried forward over gaps)."""
        return np.asarray(self.md.last[self.t], dtype=np.float64)

    @property
    def quoted(self) -> BoolArray:
        """(n,) has a real quote today (only these trade)."""
        return np.asarray(np.isfinite(self.md.close[self.t]), dtype=np.bool_)

    def alive(self) -> BoolArray:
        """(n,) universe names that trade after today (a name on its last quote day before the
        vintage's end is being sold, not bought)."""
        ends = self.md.last_quote > self.t if self.t < self.v.end else self.md.last_quote >= self.t
        return self.in_universe & ends

    def tradable(self) -> BoolArray:
        return self.alive() & self.quoted

    def bench(self) -> FloatArray:
        return bench_weights(self.md, self.v, self.t)

    def month_end(self) -> bool:
        t = self.t
        return t == self.v.end or self.md.dates[t + 1].astype("datetime64[M]") != self.md.dates[
            t
        ].astype("datetime64[M]")

    def value(self) -> float:
        return self.ledger.market_value(np.nan_to_num(self.price))

    # ---- wash-sale facts the rules use
    def buy_blocked(self) -> BoolArray:
        """(n,) a loss sale in the name's group within the last 30 days."""
        return np.asarray(self.ledger.last_loss_sale[self.md.groups] >= self.day - WASH_DAYS)

    def recent_buy_rows(self) -> IntArray:
        """Open lot rows acquired within the last 30 days."""
        lg = self.ledger
        rows = lg.open_rows()
        return rows[lg.acquired[rows] >= self.day - WASH_DAYS]

    # ---- trading helpers
    def buy_value(self, ticker: int, dollars: float) -> int | None:
        """Buy ``dollars`` $ (cost included) of ``ticker`` at today's close."""
        px = float(self.md.close[self.t, ticker])
        if dollars <= 1e-6 or not np.isfinite(px):
            return None
        shares = dollars / (px * (1.0 + COST_RATE))
        if shares <= SHARE_EPS:
            return None
        self.trades += 1
        return self.ledger.buy(self.day, ticker, shares, px)

    def sell_lot(self, row: int, shares: float | None = None) -> float:
        """Sell ``shares`` (default all) of lot ``row`` at today's close; returns booked gain."""
        px = float(self.md.close[self.t, int(self.ledger.tk[row])])
        q = float(self.ledger.shares[row]) if shares is None else shares
        self.trades += 1
        self.sold_value += q * px
        return self.ledger.sell(self.day, row, q, px)

    def invest_pro_rata(self, dollars: float, eligible: BoolArray) -> None:
        """Spend ``dollars`` on the benchmark weights restricted to ``eligible`` names."""
        w = self.bench() * (eligible & self.tradable())
        total = float(w.sum())
        if total <= 0.0 or dollars <= 0.0:
            return
        for i in np.flatnonzero(w):
            self.buy_value(int(i), dollars * float(w[i]) / total)

    def raise_cash(self, dollars: float) -> None:
        """Sell about ``dollars`` $ (net of cost), lots with the lowest gain per $ first (losses
        first), skipping loss lots whose sale would be a wash sale (another lot of the group
        bought in the last 30 days); the last lot may be sold in part."""
        lg = self.ledger
        px = self.md.close[self.t]
        rows = lg.open_rows()
        rows = rows[np.isfinite(px[lg.tk[rows]])]
        if rows.size == 0:
            return
        value = lg.shares[rows] * px[lg.tk[rows]] * (1.0 - COST_RATE)
        gain_per = (value - lg.basis[rows]) / value
        recent = self.recent_buy_rows()
        order = np.lexsort((rows, gain_per))
        need = dollars
        for k in order:
            if need <= 1e-6:
                break
            r = int(rows[k])
            if gain_per[k] < 0.0 and recent.size:
                g = self.md.groups[lg.tk[r]]
                same = recent[
                    (self.md.groups[lg.tk[recent]] == g) & (lg.purchase[recent] != lg.purchase[r])
                ]
                if same.size:
                    continue
            frac = min(1.0, need / float(value[k]))
            q = float(lg.shares[r]) if frac >= 1.0 else float(lg.shares[r]) * frac
            self.sell_lot(r, q)
            need -= float(value[k]) * frac

    def sell_all(self, ticker: int) -> None:
        """Sell every lot of ``ticker`` at today's close. A loss sale may split a lot of the
        same name bought in the last 30 days (its wash-sale replacement part becomes a new
        lot), so the open lots are listed again until none is left."""
        lg = self.ledger
        while True:
            rows = lg.open_rows()
            rows = rows[lg.tk[rows] == ticker]
            if rows.size == 0:
                return
            for r in rows.tolist():
                if lg.shares[r] > SHARE_EPS:
                    self.sell_lot(r)

    def handle_cash(self, drip: bool, respect_wash: bool) -> None:
        """The plain cash rule: reinvest today's dividends in the paying names, invest the rest
        above ``SWEEP_MIN`` pro rata to the benchmark, raise cash if negative.
        ``respect_wash``: skip names whose group had a loss sale in the last 30 days."""
        lg = self.ledger
        if lg.cash < -1.0:
            self.raise_cash(-lg.cash)
            return
        ok = self.tradable()
        if respect_wash:
            ok = ok & ~self.buy_blocked()
        if drip:
            for i in np.flatnonzero(self.div_paid > 0.0):
                if ok[i] and lg.cash > 0.0:
                    self.buy_value(int(i), min(float(self.div_paid[i]), lg.cash))
        if lg.cash > SWEEP_MIN:
            self.invest_pro_rata(lg.cash, ok)

    def fund(self) -> None:
        """Day-0 purchase of the benchmark with all the cash (identical for every arm)."""
        self.invest_pro_rata(self.ledger.cash, self.tradable())
        self.trades = 0

    # ---- the run
    def run(self) -> ArmRun:
        t0 = time.perf_counter()
        md, v, lg = self.md, self.v, self.ledger
        n_days = v.end - v.start + 1
        values = np.zeros(n_days)
        flows = np.zeros(n_days)
        snaps: list[Snapshot] = []
        year_rows: dict[int, int] = {}
        for t in range(v.start, v.end + 1):
            self.t = t
            day = self.day
            year = dt.date.fromordinal(day).year
            if t == v.start:
                self.fund()
            else:
                self.div_paid = lg.position * md.dividends[t]
                lg.dividend(day, md.dividends[t])
                for i in np.flatnonzero((md.spinoffs[t] > 0.0) & (lg.position > SHARE_EPS)):
                    lg.return_of_capital(day, int(i), float(md.spinoffs[t, i]))
                for i in np.flatnonzero(
                    (md.last_quote == t) & (lg.position > SHARE_EPS) & (t < v.end)
                ):
                    self.sell_all(int(i))
            if t > v.start:
                self.arm.on_day(self)
            values[t - v.start] = self.value()
            last_of_year = t == v.end or md.dates[t + 1].astype("datetime64[Y]") != md.dates[
                t
            ].astype("datetime64[Y]")
            if self.month_end():
                tl = lg.tally(year)
                ust, ult, cost = lg.unrealized(day, np.nan_to_num(self.price))
                snaps.append(
                    Snapshot(
                        t,
                        day,
                        values[t - v.start],
                        tl.st_gain,
                        tl.lt_gain,
                        tl.dividends,
                        ust,
                        ult,
                        cost,
                        lg.net_realized_before_end,
                    )
                )
            if last_of_year:
                tl = lg.tally(year)
                tax, _ = year_tax(
                    tl.st_gain, tl.lt_gain, tl.dividends, year, ACTUAL_RATES, True, Carry()
                )
                lg.cash -= tax
                lg.settled_through = year
                flows[t - v.start] = -tax
                year_rows[year] = t
        rep = checker.check_log(lg.log, md.group_map())
        years = {
            y: (tl.st_gain, tl.lt_gain, tl.dividends, tl.disallowed)
            for y, tl in sorted(lg.years.items())
        }
        return ArmRun(
            arm=self.arm.key,
            vintage=v.label,
            start=v.start,
            end=v.end,
            start_day=int(md.ordinals[v.start]),
            end_day=int(md.ordinals[v.end]),
            values=values,
            flows=flows,
            year_rows=year_rows,
            years=years,
            snapshots=snaps,
            trades=self.trades,
            sold_value=self.sold_value,
            solve_ms=self.solve_ms,
            solves=len(self.solve_ms),
            check=rep,
            wall_s=time.perf_counter() - t0,
            notes=self.notes,
        )

"""The engine as an arm: the adapter from backtest state to ``optimizer.Problem`` and back.

On a rebalance day the arm states one problem for the account:

* universe: the vintage's members whose quotes have not ended (ticker order); names without a
  quote today are ``do_not_trade`` at their last close;
* targets: today's cap weights of the benchmark (``prices.bench_weights``);
* lots: every open ledger lot (row id = lot id), basis grossed up by the 2 bps sale cost
  (``basis / (1 - cost)``) so the engine's "gain < 0" is the ledger's "proceeds < basis", and
  the holding-period start (moved earlier by any wash-sale carry-over) as ``acquired``;
* cash: the ledger's cash; a negative balance (a tax bill) becomes a withdrawal of that size;
* risk model: ``optimizer.risk`` estimated on the 2015-07-08 members from trailing dividend-
  adjusted closes as of the last trading day of the previous month (no look-ahead), refreshed
  monthly, converted to ANNUAL units (x 252); the arm does not trade before the first month-end
  of the data (2015-01-30) because no trailing history exists before it;
* recent trades: the ledger's buys and loss sales of the last 30 days (wash-sale windows); a buy
  names the lot it created (``RecentTrade.lot_id``) while that purchase is held in one lot, so
  the engine may sell that lot at a loss when it is its class's only recent purchase (a
  purchase is not its own replacement);
* never buy: names holding a lot more than ``KEEP_HARVESTABLE`` below basis (a purchase would
  block harvesting it for 30 days); if that makes the TE cap infeasible, solved again without;
* equivalence groups: share classes of one issuer present in the universe (substantially
  identical);
* settings: the tax-aware objective (tax weight 1, cost weight 1, ``RISK_AVERSION``), the hard
  tracking-error cap ``te_max`` (annual), post-trade cash at most ``CASH_MAX`` (soft), fractional
  shares, ``MIN_TRADE`` $.

The daily arms solve only on days that pass a documented screen (``should_solve``); on other
days they hold. The monthly arm solves on month-ends.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import time
from dataclasses import dataclass, field
from functools import lru_cache

import numpy as np
import numpy.typing as npt

import optimizer
from optimizer import risk
from optimizer.backtest.prices import MarketData, bench_weights
from optimizer.backtest.sim import COST_RATE, Sim
from optimizer.backtest.taxes import ACTUAL_RATES, SHARE_EPS, WASH_DAYS
from optimizer.types import (
    EquivalenceGroup,
    Lots,
    Problem,
    RecentTrade,
    RiskModel,
    Settings,
    Side,
    Status,
    TaxRates,
)

FloatArray = npt.NDArray[np.float64]
IntArray = npt.NDArray[np.int64]

RISK_AVERSION = 4.0
MIN_TRADE = 100.0
CASH_MAX = 0.001
"""Soft cap on post-trade cash (fraction of the account): the arm stays invested."""
CASH_TRIGGER = 0.003
"""Screen: solve when cash exceeds this fraction of the account (or is negative)."""
LOSS_FRACTION = 0.01
"""Screen: a lot counts as harvestable when its value net of cost is this far below basis."""
LOSS_TRIGGER = 0.0005
"""Screen: solve when harvestable losses exceed this fraction of the account ..."""
LOSS_GROWTH = 1.25
"""... and this multiple of the harvestable losses left after the last solve."""
KEEP_HARVESTABLE = 0.03
"""A name holding a lot whose value net of cost is more than this fraction below its basis is
not bought (``never_buy``): a purchase would block harvesting that lot for 30 days."""
KEEP_VALUE: float | None = None
"""Experimental."""
BUNDLE = False
BUNDLE_BASE = 10**9
BUNDLE_ROUND = False
BUNDLE_LOSS_ONLY = True
TE_BUFFER = 1.0
BUNDLE_SCREEN = False
MARGINAL_RATES = False
TE_TRIGGER = 1.1
"""Screen: solve when ex-ante tracking error exceeds this multiple of the cap."""

ORDINAL_EPOCH = np.datetime64("0001-01-01", "D")
"""datetime64 of date ordinal 1."""

_RISK_CACHE: dict[tuple[int, int], risk.FactorModelArrays] = {}


@lru_cache(maxsize=8)
def _ticker_index(tickers: tuple[str, ...]) -> dict[str, int]:
    return {t: k for k, t in enumerate(tickers)}


def risk_model_for(md: MarketData, t: int) -> risk.FactorModelArrays | None:
    """Factor model (daily units) of all 2015-07-08 members as of the last trading day of the
    month before row ``t``'s month, or None if that is before the data starts. Cached."""
    month = md.dates[t].astype("datetime64[M]")
    first = np.datetime64(month, "D")
    prev = int(np.searchsorted(md.dates, first)) - 1
    if prev < 1:
        return None
    key = (int(month.astype(np.int64)), prev)
    if key not in _RISK_CACHE:
        members = tuple(t for t, c in zip(md.tickers, md.cap2015, strict=True) if np.isfinite(c))
        sectors = dict(zip(md.tickers, md.sectors, strict=True))
        _RISK_CACHE[key] = risk.estimate_factor_arrays(
            md.adj_table(), md.dates[prev], sectors, tickers=members
        )
    return _RISK_CACHE[key]


@dataclass(frozen=True, eq=False)
class Bundle:
    """A name's purchases of the last 30 days and its other lots below basis."""

    ticker: int
    purchases: tuple[int, ...]
    """In-window purchase ids, in order of acquisition."""
    recent: IntArray
    """Positions (in the ``rows`` given) of the lots of those purchases."""
    old: IntArray
    """Positions of the name's other lots below basis, largest loss per share first."""
    last_buy: int
    """Ordinal of the latest purchase."""
    loss: float
    """$ basis - value net of cost of all of them (> 0)."""
    basis: float


def find_bundles(sim: Sim, rows: IntArray) -> list[Bundle]:
    """Names whose recent purchases are all held and that, sold whole with their loss lots,
    realize a net loss (experimental)."""
    md, lg = sim.md, sim.ledger
    day = sim.day
    col = _ticker_index(md.tickers)
    win: dict[int, tuple[list[int], int]] = {}
    for tr in reversed(lg.log):
        if tr.day < day - WASH_DAYS:
            break
        if tr.kind != "B":
            continue
        i = col[tr.ticker]
        pids, last = win.get(i, ([], -1))
        pids.insert(0, int(tr.lot[1:]))
        win[i] = (pids, max(last, tr.day))
    if not win:
        return []
    alive = sim.alive()
    tk = lg.tk[rows]
    quoted = np.isfinite(md.close[sim.t, tk])
    value_net = lg.shares[rows] * np.nan_to_num(md.close[sim.t, tk]) * (1.0 - COST_RATE)
    basis = lg.basis[rows]
    loss_lot = quoted & (value_net < basis)
    out: list[Bundle] = []
    for i, (pids, last) in sorted(win.items()):
        if not alive[i] or int((md.groups[alive] == md.groups[i]).sum()) != 1:
            continue
        if not np.isfinite(md.close[sim.t, i]):
            continue
        mine = tk == i
        rec = mine & np.isin(lg.purchase[rows], np.array(pids, dtype=np.int64))
        held = {int(x) for x in lg.purchase[rows][rec].tolist()}
        if held != set(pids):
            continue
        if BUNDLE_LOSS_ONLY and not bool(loss_lot[rec].all()):
            continue
        old = mine & ~rec & loss_lot
        members = rec | old
        k_rec = np.flatnonzero(rec)
        k_old = np.flatnonzero(old)
        if len(k_rec) + len(k_old) < 2:
            continue
        loss = float(basis[members].sum() - value_net[members].sum())
        if loss <= 0.0:
            continue
        lps = (basis[k_old] - value_net[k_old]) / lg.shares[rows][k_old]
        k_old = k_old[np.lexsort((k_old, -lps))]
        out.append(Bundle(i, tuple(pids), k_rec, k_old, last, loss, float(basis[members].sum())))
    return out


@dataclass
class OptimizerArm:
    """``opt_<daily|monthly>_te<bps>``: the engine rebalancing with a hard TE cap."""

    key: str
    daily: bool
    te_max: float
    wash_sale: bool = True
    loss_left: float = 0.0
    last_month: int = -1
    statuses: dict[str, int] = field(default_factory=dict)
    keep_loss: FloatArray = field(default_factory=lambda: np.zeros(0))
    te_now: float = 0.0
    bundles: dict[int, tuple[list[int], list[int]]] = field(default_factory=dict)

    # ---- the screen
    def harvestable(self, sim: Sim) -> float:
        """$ of losses in lots more than ``LOSS_FRACTION`` below basis (net of cost) whose
        group has had no purchase in the last 30 days (the engine may sell them)."""
        lg = sim.ledger
        px = sim.md.close[sim.t]
        rows = lg.open_rows()
        rows = rows[np.isfinite(px[lg.tk[rows]])]
        value = lg.shares[rows] * px[lg.tk[rows]] * (1.0 - COST_RATE)
        loss = lg.basis[rows] - value
        hit = loss > LOSS_FRACTION * lg.basis[rows]
        if not hit.any():
            return 0.0
        grp = sim.md.groups[lg.tk[rows]]
        free = lg.last_buy[grp] < sim.day - WASH_DAYS
        total = float(loss[hit & free].sum())
        if BUNDLE and BUNDLE_SCREEN:
            for b in find_bundles(sim, lg.open_rows()):
                if b.loss > LOSS_FRACTION * b.basis:
                    total += b.loss
        return total

    def ex_ante_te(self, sim: Sim, model: risk.FactorModelArrays) -> float:
        """Annual ex-ante TE of the current weights vs the benchmark (decimal)."""
        u, _ = self._universe(sim)
        px = np.nan_to_num(sim.price)
        total = sim.value()
        w = sim.ledger.position[u] * px[u] / total
        active = w - bench_weights(sim.md, sim.v, sim.t)[u]
        rows = self._model_rows(sim.md, model, u)
        b = model.loadings[rows]
        x = b.T @ active
        var = float(x @ model.factor_cov @ x + active @ (model.specific_var[rows] * active))
        return float(np.sqrt(max(var, 0.0) * risk.TRADING_DAYS_PER_YEAR))

    def should_solve(self, sim: Sim, model: risk.FactorModelArrays) -> bool:
        reason = self.screen(sim, model)
        if reason:
            sim.notes[f"trigger_{reason}"] = sim.notes.get(f"trigger_{reason}", 0.0) + 1.0
        return bool(reason)

    def screen(self, sim: Sim, model: risk.FactorModelArrays) -> str:
        """The arm's rule for trading today.

        Monthly arm: every month-end (and any day cash is negative).
        Daily arm: the first trading day of a month (new risk model); or cash outside
        [0, ``CASH_TRIGGER`` x value]; or harvestable losses > ``LOSS_TRIGGER`` x value and >
        ``LOSS_GROWTH`` x those left after the last solve; or ex-ante TE > ``TE_TRIGGER`` x cap
        (the engine leaves TE at the cap after harvesting, so a trigger below 1 would fire every
        day). Returns the trigger's name, or "" to hold.
        """
        cash = sim.ledger.cash
        if cash < -1.0:
            return "cash"
        if not self.daily:
            return "month_end" if sim.month_end() else ""
        month = int(sim.md.dates[sim.t].astype("datetime64[M]").astype(np.int64))
        if month != self.last_month:
            return "month"
        value = sim.value()
        if cash > CASH_TRIGGER * value:
            return "cash"
        h = self.harvestable(sim)
        if h > LOSS_TRIGGER * value and h > LOSS_GROWTH * self.loss_left:
            return "loss"
        if self.ex_ante_te(sim, model) > TE_TRIGGER * self.te_max:
            return "te"
        return ""

    # ---- the problem
    @staticmethod
    def _universe(sim: Sim) -> tuple[IntArray, dict[int, int]]:
        u = np.flatnonzero(sim.alive()).astype(np.int64)
        return u, {int(i): k for k, i in enumerate(u)}

    @staticmethod
    def _model_rows(md: MarketData, model: risk.FactorModelArrays, u: IntArray) -> IntArray:
        index = _ticker_index(model.tickers)
        return np.array([index[md.tickers[i]] for i in u], dtype=np.int64)

    def build_problem(
        self, sim: Sim, model: risk.FactorModelArrays, keep_harvestable: bool = True
    ) -> tuple[Problem, IntArray]:
        """The engine's problem for today and the universe (ticker indexes, problem order)."""
        md, lg = sim.md, sim.ledger
        u, pos = self._universe(sim)
        day = sim.day
        today = dt.date.fromordinal(day)
        rows = lg.open_rows()
        lots = Lots(
            lot_id=rows.astype(np.int64),
            security=np.array([pos[int(i)] for i in lg.tk[rows]], dtype=np.int64),
            shares=lg.shares[rows].copy(),
            cost_basis=lg.basis[rows] / (1.0 - COST_RATE),
            acquired=ORDINAL_EPOCH + (lg.start[rows] - 1).astype("timedelta64[D]"),
        )
        mrows = self._model_rows(md, model, u)
        ann = float(risk.TRADING_DAYS_PER_YEAR)
        rm = RiskModel(
            loadings=np.asarray(model.loadings[mrows].toarray()),
            factor_cov=model.factor_cov * ann,
            specific_var=model.specific_var[mrows] * ann,
            name=f"risk as of {model.as_of}",
        )
        col = _ticker_index(md.tickers)
        lot_of = self._purchase_lots(sim, rows)
        recent: dict[tuple[int, int, str, bool, int], RecentTrade] = {}
        for tr in reversed(sim.ledger.log):
            if tr.day < day - WASH_DAYS:
                break
            if tr.kind not in ("B", "S"):
                continue
            i = col[tr.ticker]
            if i not in pos:
                continue
            loss = tr.kind == "S" and tr.gain < 0.0
            if tr.kind == "S" and not loss:
                continue
            side = Side.BUY if tr.kind == "B" else Side.SELL
            lot = lot_of.get(tr.lot, -1) if tr.kind == "B" else -1
            key = (pos[i], tr.day, side.value, loss, lot)
            recent[key] = RecentTrade(
                security=pos[i],
                trade_date=dt.date.fromordinal(tr.day),
                side=side,
                realized_loss=loss,
                account_id=self.key,
                lot_id=lot if lot >= 0 else None,
            )
        groups: list[EquivalenceGroup] = []
        for g in np.unique(md.groups[u]):
            members = tuple(pos[int(i)] for i in u[md.groups[u] == g])
            if len(members) > 1:
                groups.append(
                    EquivalenceGroup(
                        members=members,
                        substantially_identical=True,
                        name=md.group_names[int(g)],
                    )
                )
        px_now = md.close[sim.t, lg.tk[rows]]
        under = np.isfinite(px_now) & (
            lg.shares[rows] * np.nan_to_num(px_now) * (1.0 - COST_RATE)
            < (1.0 - KEEP_HARVESTABLE) * lg.basis[rows]
        )
        keep = np.zeros(len(u), dtype=np.bool_)
        keep[lots.security[under]] = True
        value_net = lg.shares[rows] * np.nan_to_num(px_now) * (1.0 - COST_RATE)
        lot_loss = np.where(np.isfinite(px_now), np.maximum(lg.basis[rows] - value_net, 0.0), 0.0)
        self.keep_loss = (
            np.bincount(lots.security, weights=lot_loss, minlength=len(u)).astype(np.float64) * keep
        )
        cash = lg.cash
        year = today.year
        problem = Problem(
            account_id=f"{sim.v.label}:{self.key}",
            as_of=today,
            security_ids=tuple(md.tickers[i] for i in u),
            prices=np.array(sim.price[u], dtype=np.float64),
            targets=bench_weights(md, sim.v, sim.t)[u],
            lots=lots,
            cash=max(cash, 0.0),
            withdrawal=max(-cash, 0.0),
            settings=Settings(
                risk_aversion=RISK_AVERSION,
                te_max=self.te_now,
                fractional_shares=True,
                min_trade=MIN_TRADE,
                cash_max=CASH_MAX,
            ),
            tax_rates=self.marginal_rates(sim, year),
            risk_model=rm,
            cost_rates=np.full(len(u), COST_RATE),
            do_not_trade=~np.isfinite(md.close[sim.t, u]),
            never_buy=keep if keep_harvestable and KEEP_HARVESTABLE >= 0.0 else None,
            recent_trades=tuple(recent[k] for k in sorted(recent)),
            equivalence_groups=tuple(groups),
        )
        self.bundles = {}
        if BUNDLE:
            problem = self._bundle(sim, problem, rows, u, pos)
        return problem, u

    def _bundle(
        self, sim: Sim, problem: Problem, rows: IntArray, u: IntArray, pos: dict[int, int]
    ) -> Problem:
        """Experimental: merge a name's recent purchases and its loss lots into one lot."""
        lg = sim.ledger
        keep_rows = np.ones(len(rows), dtype=np.bool_)
        new_ids: list[int] = []
        new_sec: list[int] = []
        new_sh: list[float] = []
        new_basis: list[float] = []
        new_acq: list[int] = []
        drop_buys: set[int] = set()
        new_trades: list[RecentTrade] = []
        for b in find_bundles(sim, rows):
            if b.ticker not in pos:
                continue
            order = [int(rows[k]) for k in b.recent] + [int(rows[k]) for k in b.old]
            bid = BUNDLE_BASE + order[0]
            self.bundles[bid] = (list(b.purchases), [int(rows[k]) for k in b.old])
            keep_rows[b.recent] = False
            keep_rows[b.old] = False
            new_ids.append(bid)
            new_sec.append(pos[b.ticker])
            new_sh.append(float(lg.shares[order].sum()))
            new_basis.append(float(lg.basis[order].sum()) / (1.0 - COST_RATE))
            new_acq.append(int(lg.start[rows][b.recent].min()))
            drop_buys.add(pos[b.ticker])
            new_trades.append(
                RecentTrade(
                    security=pos[b.ticker],
                    trade_date=dt.date.fromordinal(b.last_buy),
                    side=Side.BUY,
                    account_id=self.key,
                    lot_id=bid,
                )
            )
        if not new_ids:
            return problem
        lots = problem.lots
        k = np.flatnonzero(keep_rows)
        acq = ORDINAL_EPOCH + (np.array(new_acq, dtype=np.int64) - 1).astype("timedelta64[D]")
        merged = Lots(
            lot_id=np.concatenate([lots.lot_id[k], np.array(new_ids, dtype=np.int64)]),
            security=np.concatenate([lots.security[k], np.array(new_sec, dtype=np.int64)]),
            shares=np.concatenate([lots.shares[k], np.array(new_sh)]),
            cost_basis=np.concatenate([lots.cost_basis[k], np.array(new_basis)]),
            acquired=np.concatenate([lots.acquired[k], acq]),
        )
        trades = [
            t for t in problem.recent_trades if not (t.side == Side.BUY and t.security in drop_buys)
        ]
        trades.extend(new_trades)
        trades.sort(key=lambda t: (t.security, t.trade_date, t.side.value, t.realized_loss))
        sim.notes["bundles"] = sim.notes.get("bundles", 0.0) + len(new_ids)
        return dataclasses.replace(problem, lots=merged, recent_trades=tuple(trades))

    @staticmethod
    def marginal_rates(sim: Sim, year: int) -> TaxRates:
        """Experimental: marginal rates given the year's realized results so far."""
        r_s, r_l = ACTUAL_RATES.st(year), ACTUAL_RATES.lt(year)
        if not MARGINAL_RATES:
            return TaxRates(r_s, r_l)
        tl = sim.ledger.tally(year)
        s, g = tl.st_gain, tl.lt_gain
        if s + g <= 0.0:
            return TaxRates(r_s, r_s)
        if s >= 0.0 and g >= 0.0:
            return TaxRates(r_s, r_l)
        if s < 0.0:
            return TaxRates(r_l, r_l)
        return TaxRates(r_s, r_s)

    @staticmethod
    def _purchase_lots(sim: Sim, rows: IntArray) -> dict[str, int]:
        """Purchase label (``L<k>``, as in the trade log) -> the open lot row holding it, for
        purchases held whole in one lot (a wash-sale match may have split a purchase into
        ``L<k>`` and ``L<k>.w<j>``; such a purchase names no lot)."""
        lg = sim.ledger
        count: dict[int, int] = {}
        for pid in lg.purchase[rows].tolist():
            count[pid] = count.get(pid, 0) + 1
        return {
            lg.labels[r]: r
            for r in rows.tolist()
            if count[int(lg.purchase[r])] == 1 and lg.labels[r] == f"L{int(lg.purchase[r])}"
        }

    # ---- the day
    def on_day(self, sim: Sim) -> None:
        model = risk_model_for(sim.md, sim.t)
        if model is None:
            return
        if not self.should_solve(sim, model):
            return
        month = int(sim.md.dates[sim.t].astype("datetime64[M]").astype(np.int64))
        self.te_now = self.te_max if month != self.last_month else self.te_max * TE_BUFFER
        self.last_month = month
        problem, u = self.build_problem(sim, model)
        t0 = time.perf_counter()
        sol = optimizer.solve(problem)
        if "tracking_error" in sol.diagnostics.relaxed and KEEP_HARVESTABLE >= 0.0:
            # keeping loss names unbought made the cap infeasible: allow every buy instead
            sim.notes["retry_buy_all"] = sim.notes.get("retry_buy_all", 0.0) + 1.0
            problem, u = self.build_problem(sim, model, keep_harvestable=False)
            sol = optimizer.solve(problem)
        elif KEEP_VALUE is not None and problem.never_buy is not None and problem.never_buy.any():
            free = dataclasses.replace(problem, never_buy=None)
            sol_free = optimizer.solve(free)
            bought = np.zeros(len(u), dtype=np.bool_)
            for trade in sol_free.trades:
                if trade.side == Side.BUY:
                    bought[trade.security] = True
            worth = KEEP_VALUE * problem.tax_rates.short_term * float(self.keep_loss[bought].sum())
            cost = (sol.objective_after.total - sol_free.objective_after.total) * problem.base_value
            if sol_free.status in (Status.OPTIMAL, Status.RELAXED) and cost > worth:
                sim.notes["keep_released"] = sim.notes.get("keep_released", 0.0) + 1.0
                problem, sol = free, sol_free
        sim.solve_ms.append((time.perf_counter() - t0) * 1000.0)
        self.statuses[sol.status.value] = self.statuses.get(sol.status.value, 0) + 1
        sim.notes[f"status_{sol.status.value}"] = float(self.statuses[sol.status.value])
        for rung in sol.diagnostics.relaxed:
            sim.notes[f"dropped_{rung}"] = sim.notes.get(f"dropped_{rung}", 0.0) + 1.0
        if sol.status in (Status.OPTIMAL, Status.RELAXED):
            lg = sim.ledger
            for sale in sol.lot_sales:
                if int(sale.lot_id) in self.bundles:
                    pids, o_rows = self.bundles[int(sale.lot_id)]
                    left = float(sale.shares)
                    op = lg.open_rows()
                    in_r = np.isin(lg.purchase[op], pids)
                    total = float(lg.shares[o_rows].sum() + lg.shares[op][in_r].sum())
                    q_r = float(lg.shares[op][in_r].sum())
                    if BUNDLE_ROUND and left < q_r:
                        sim.notes["bundle_round"] = sim.notes.get("bundle_round", 0.0) + 1.0
                        left = q_r
                    if left < total * (1 - 1e-9):
                        sim.notes["bundle_partial"] = sim.notes.get("bundle_partial", 0.0) + 1.0
                    else:
                        sim.notes["bundle_whole"] = sim.notes.get("bundle_whole", 0.0) + 1.0
                    for pid in pids:
                        while left > SHARE_EPS:
                            open_ = lg.open_rows()
                            cand = open_[lg.purchase[open_] == pid]
                            if not cand.size:
                                break
                            row = int(cand[0])
                            q = min(left, float(lg.shares[row]))
                            sim.sell_lot(row, q)
                            left -= q
                    for row in o_rows:
                        q = min(left, float(lg.shares[row]))
                        if q > SHARE_EPS:
                            sim.sell_lot(row, q)
                            left -= q
                    continue
                row = int(sale.lot_id)
                q = min(float(sale.shares), float(lg.shares[row]))
                if q > SHARE_EPS:
                    sim.sell_lot(row, q)
            for trade in sol.trades:
                if trade.side == Side.BUY and trade.shares > SHARE_EPS:
                    i = int(u[trade.security])
                    px = float(sim.md.close[sim.t, i])
                    sim.trades += 1
                    lg.buy(sim.day, i, float(trade.shares), px)
        self.loss_left = self.harvestable(sim)

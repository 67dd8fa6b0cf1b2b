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
  names the lot it created (``RecentTrade.lot_id``) while that purchase is held whole in one
  lot, so the engine may sell that lot at a loss when it is its class's only recent purchase (a
  purchase is not its own replacement; ``optimizer.washsale``);
* bundles: a name whose purchases of the last 30 days are all still held, and which would
  realize a net loss if those purchases were sold together with its lots below basis, is shown
  to the engine as one lot (``find_bundles``): selling all of them on one day is no wash sale
  (no replacement is left), a sale the engine cannot state lot by lot (each recent purchase
  blocks the loss sales of the others); its sale is booked purchase by purchase, recent ones
  first (``_sell_bundle``);
* never buy: names holding a lot more than ``KEEP_HARVESTABLE`` below basis (a purchase would
  block harvesting it for 30 days); if that makes the TE cap infeasible, solved again without;
* equivalence groups: share classes of one issuer present in the universe (substantially
  identical);
* tax: the year's actual rates and the account's tax year (``tax_year_for``, the engine's
  ``TaxYear``): the year's realized short- and long-term results so far, and either outside
  short-term gains large enough to absorb any net loss (the primary case's investor; arms
  ``opt_*``) or, for the ``opt_*_cf`` arms (no outside gains), the carry-forward into the
  year by character, replayed from the ledger's earlier years with ``taxes.year_tax``;
  ``anniversary_days`` ``ANNIVERSARY_DAYS``;
* settings: the tax-aware objective (tax weight 1, cost weight 1, ``RISK_AVERSION``), the hard
  tracking-error cap of the day (``te_cap_today``: the arm's cap ``te_max`` (annual) at most,
  ``TE_BAND`` x cap for new risk, never below the TE already held), post-trade cash at most
  ``CASH_MAX`` (soft), fractional shares, ``MIN_TRADE`` $.

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
    TaxYear,
)
from optimizer_lab.backtest.prices import MarketData, bench_weights
from optimizer_lab.backtest.sim import COST_RATE, Sim
from optimizer_lab.backtest.taxes import (
    ACTUAL_RATES,
    LOSS_DEDUCTION_CAP,
    SHARE_EPS,
    WASH_DAYS,
    Carry,
    Ledger,
    YearTally,
    year_tax,
)

FloatArray = npt.NDArray[np.float64]
IntArray = npt.NDArray[np.int64]

RISK_AVERSION = 8.0
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
TE_TRIGGER = 1.1
"""Screen: solve when ex-ante tracking error exceeds this multiple of the cap."""
TE_BAND = 0.7
"""A solve may raise ex-ante tracking error up to this fraction of the cap; tracking error that
prices or a new risk model moved above it is kept (up to the cap) instead of being traded down
(``te_cap_today``)."""
BUNDLE_MAX_RECENT = 1
"""Bundles only for names with at most this many purchases in the last 30 days: with two, the
first one sold at a loss is replaced by the other (a wash sale, even when both are sold the
same day), and a partial sale defers its loss (issue 17, ``wash_sales``)."""
BUNDLE_ID_BASE = 10**9
"""Lot id of a bundle = this + the ledger row of its first lot (ledger rows stay far below)."""

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


def te_cap_today(te_now: float, cap: float) -> float:
    """The engine's TE cap for a solve when the holdings' ex-ante TE is ``te_now``: the arm's
    ``cap`` at most; ``TE_BAND x cap`` for new active risk; never below ``te_now``.

    A solve thus never has to sell (and realize gains) to bring down tracking error that is
    within the arm's cap, and leaves headroom for the drift and the monthly change of risk model
    that would otherwise force such sales; above the cap it brings TE down to the cap. The cap
    holds after every solve."""
    return min(cap, max(TE_BAND * cap, te_now))


OUTSIDE_GAINS_PER_DOLLAR = 10.0
"""The primary case's outside short-term gains, $ per $ of account value: enough to absorb any
net loss the account can realize in a year (docs/backtest.md, Taxes)."""
CARRY_DISCOUNT = 0.0
"""``TaxYear.carryforward_discount`` of the ``_cf`` arms. Without outside gains a $ carried
forward is used only against the account's own later gains, chiefly the liquidation's, which
the harvest that created it raised by the same $ (lower basis): beyond the $3,000 offset it is
worth about nothing to this investor."""
ANNIVERSARY_DAYS = 30
"""``Settings.anniversary_days`` of the engine arms."""


def carry_into(ledger: Ledger, year: int) -> Carry:
    """The loss carry-forward into ``year`` without outside gains (actual rates): the ledger's
    earlier years replayed with ``taxes.year_tax``, the same rule the report's carry-forward
    case applies."""
    carry = Carry()
    for y in sorted(ledger.years):
        if y >= year:
            break
        tl = ledger.years[y]
        _, carry = year_tax(tl.st_gain, tl.lt_gain, tl.dividends, y, ACTUAL_RATES, False, carry)
    return carry


def tax_year_for(ledger: Ledger, year: int, value: float, outside_gains: bool) -> TaxYear:
    """The engine's ``TaxYear`` for a solve in ``year``: the year's realized results so far and
    the outside gains (``outside_gains``) or the carry-forward (not)."""
    ytd = ledger.years.get(year, YearTally())
    if outside_gains:
        return TaxYear(
            gain_ytd_short=ytd.st_gain,
            gain_ytd_long=ytd.lt_gain,
            outside_gain_short=OUTSIDE_GAINS_PER_DOLLAR * max(value, 0.0),
        )
    carry = carry_into(ledger, year)
    return TaxYear(
        gain_ytd_short=ytd.st_gain,
        gain_ytd_long=ytd.lt_gain,
        # year_tax's carry is a difference of sums: -1e-13 where it is 0 (the engine rejects a
        # negative carry-forward).
        carryforward_short=max(carry.short_term, 0.0),
        carryforward_long=max(carry.long_term, 0.0),
        ordinary_offset=LOSS_DEDUCTION_CAP,
        carryforward_discount=CARRY_DISCOUNT,
    )


def marginal_rates(st_gain: float, lt_gain: float, year: int) -> TaxRates:
    """Marginal tax rates (actual rates, outside gains absorb net losses) of a $ realized now,
    given the year's net short- and long-term results so far ($, signed). The arms stated the
    year this way before the engine took a ``TaxYear`` (issue 17); kept for comparison.

    Netting (``taxes.year_tax``): a year with a net loss saves the short-term rate on it, so
    while the year's total is a loss (or nothing is realized yet) every $ of either term moves
    the tax at the short-term rate; when both nets are gains each term has its own rate; when
    one is a loss that the other's gain absorbs, both move at the gain's rate."""
    r_s, r_l = ACTUAL_RATES.st(year), ACTUAL_RATES.lt(year)
    if st_gain + lt_gain <= 0.0:
        return TaxRates(r_s, r_s)
    if st_gain >= 0.0 and lt_gain >= 0.0:
        return TaxRates(r_s, r_l)
    if st_gain < 0.0:
        return TaxRates(r_l, r_l)
    return TaxRates(r_s, r_s)


@dataclass(frozen=True, eq=False)
class Bundle:
    """A name's purchases of the last 30 days, all held, and its other lots below basis: sold
    together they realize a net loss and leave no replacement purchase."""

    ticker: int
    purchases: tuple[int, ...]
    """Ledger purchase ids of the last 30 days, in order of acquisition."""
    recent: IntArray
    """Open ledger rows of those purchases."""
    old: IntArray
    """The name's other open rows below basis (net of cost), largest loss per share first."""
    last_buy: int
    """Ordinal day of the latest purchase (the wash-sale window the bundle's buy states)."""


def find_bundles(sim: Sim, rows: IntArray) -> list[Bundle]:
    """Bundles of today among the open ledger ``rows``, by ticker.

    A name qualifies when it is the only member of its equivalence group still in the
    universe, has a quote today, every purchase of it in the last 30 days is held whole (no
    share of it sold), selling those purchases and its loss lots realizes a net loss (net of
    cost), and that is at least two lots (one lot alone is the engine's own-purchase rule)."""
    md, lg = sim.md, sim.ledger
    col = _ticker_index(md.tickers)
    bought: dict[int, tuple[list[int], float, int]] = {}
    for tr in reversed(lg.log):
        if tr.day < sim.day - WASH_DAYS:
            break
        if tr.kind == "B":
            i = col[tr.ticker]
            pids, shares, last = bought.get(i, ([], 0.0, tr.day))
            pids.insert(0, int(tr.lot[1:]))
            bought[i] = (pids, shares + tr.shares, last)
    if not bought:
        return []
    alive = sim.alive()
    alive_groups = md.groups[alive]
    tk = lg.tk[rows]
    px = md.close[sim.t]
    value_net = lg.shares[rows] * np.nan_to_num(px[tk]) * (1.0 - COST_RATE)
    below = np.isfinite(px[tk]) & (value_net < lg.basis[rows])
    out: list[Bundle] = []
    for i, (pids, shares, last) in sorted(bought.items()):
        if not alive[i] or not np.isfinite(px[i]):
            continue
        if int((alive_groups == md.groups[i]).sum()) != 1:
            continue
        if len(pids) > BUNDLE_MAX_RECENT:
            continue  # each recent purchase sold at a loss would replace another: wash sales
        mine = tk == i
        recent = mine & np.isin(lg.purchase[rows], np.asarray(pids, dtype=np.int64))
        if abs(float(lg.shares[rows[recent]].sum()) - shares) > SHARE_EPS * max(1.0, shares):
            continue  # part of a recent purchase was sold
        old = mine & ~recent & below
        members = recent | old
        if int(members.sum()) < 2:
            continue
        if float(value_net[members].sum()) >= float(lg.basis[rows[members]].sum()):
            continue
        k_old = np.flatnonzero(old)
        per_share = (lg.basis[rows[k_old]] - value_net[k_old]) / lg.shares[rows[k_old]]
        k_old = k_old[np.lexsort((k_old, -per_share))]
        out.append(Bundle(i, tuple(pids), rows[recent], rows[k_old], last))
    return out


@dataclass
class OptimizerArm:
    """``opt_<daily|monthly>_te<bps>``: the engine rebalancing with a hard TE cap."""

    key: str
    daily: bool
    te_max: float
    outside_gains: bool = True
    """The engine is told the investor's outside gains absorb any net loss (the primary case);
    False (``opt_*_cf`` arms): no outside gains, losses beyond $3,000 a year carry forward."""
    wash_sale: bool = True
    loss_left: float = 0.0
    last_month: int = -1
    statuses: dict[str, int] = field(default_factory=dict)
    bundles: dict[int, Bundle] = field(default_factory=dict)
    """Bundle lot id -> bundle, of the problem last stated."""

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
        return float(loss[hit & free].sum())

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
        self,
        sim: Sim,
        model: risk.FactorModelArrays,
        keep_harvestable: bool = True,
        te_max: float | None = None,
    ) -> tuple[Problem, IntArray]:
        """The engine's problem for today and the universe (ticker indexes, problem order).

        ``te_max``: the TE cap of this solve (default the arm's cap)."""
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
                te_max=self.te_max if te_max is None else te_max,
                fractional_shares=True,
                min_trade=MIN_TRADE,
                cash_max=CASH_MAX,
                anniversary_days=ANNIVERSARY_DAYS,
            ),
            tax_rates=TaxRates(ACTUAL_RATES.st(year), ACTUAL_RATES.lt(year)),
            tax_year=tax_year_for(lg, year, sim.value(), self.outside_gains),
            risk_model=rm,
            cost_rates=np.full(len(u), COST_RATE),
            do_not_trade=~np.isfinite(md.close[sim.t, u]),
            never_buy=keep if keep_harvestable and KEEP_HARVESTABLE >= 0.0 else None,
            recent_trades=tuple(recent[k] for k in sorted(recent)),
            equivalence_groups=tuple(groups),
        )
        return self._with_bundles(sim, problem, rows, pos), u

    def _with_bundles(
        self, sim: Sim, problem: Problem, rows: IntArray, pos: dict[int, int]
    ) -> Problem:
        """``problem`` with each bundle's lots replaced by one lot (shares and basis summed,
        acquired = its recent purchases' earliest holding-period start) and the name's buys of
        the last 30 days by one buy of that lot on the day of the latest (so the engine may
        sell it at a loss: its own purchase is the class's only one). Rows = lot ids."""
        lg = sim.ledger
        self.bundles = {}
        bundles = [b for b in find_bundles(sim, rows) if b.ticker in pos]
        if not bundles:
            return problem
        lots = problem.lots
        keep = ~np.isin(lots.lot_id, np.concatenate([np.r_[b.recent, b.old] for b in bundles]))
        ids, secs, shares, basis, start = [], [], [], [], []
        buys: list[RecentTrade] = []
        for b in bundles:
            members = np.r_[b.recent, b.old]
            lot_id = BUNDLE_ID_BASE + int(members.min())
            self.bundles[lot_id] = b
            ids.append(lot_id)
            secs.append(pos[b.ticker])
            shares.append(float(lg.shares[members].sum()))
            basis.append(float(lg.basis[members].sum()) / (1.0 - COST_RATE))
            start.append(int(lg.start[b.recent].min()))
            buys.append(
                RecentTrade(
                    security=pos[b.ticker],
                    trade_date=dt.date.fromordinal(b.last_buy),
                    side=Side.BUY,
                    account_id=self.key,
                    lot_id=lot_id,
                )
            )
        bundled = {pos[b.ticker] for b in bundles}
        trades = [
            t for t in problem.recent_trades if not (t.side == Side.BUY and t.security in bundled)
        ]
        trades.extend(buys)
        trades.sort(key=lambda t: (t.security, t.trade_date, t.side.value, t.realized_loss))
        merged = Lots(
            lot_id=np.concatenate([lots.lot_id[keep], np.array(ids, dtype=np.int64)]),
            security=np.concatenate([lots.security[keep], np.array(secs, dtype=np.int64)]),
            shares=np.concatenate([lots.shares[keep], np.array(shares)]),
            cost_basis=np.concatenate([lots.cost_basis[keep], np.array(basis)]),
            acquired=np.concatenate(
                [
                    lots.acquired[keep],
                    ORDINAL_EPOCH + (np.array(start, dtype=np.int64) - 1).astype("timedelta64[D]"),
                ]
            ),
        )
        return dataclasses.replace(problem, lots=merged, recent_trades=tuple(trades))

    def _sell_bundle(self, sim: Sim, bundle: Bundle, shares: float) -> None:
        """Sell ``shares`` of a bundle: its recent purchases first, in order of acquisition
        (including any part a wash-sale match split off into a new lot today), then its loss
        lots, largest loss per share first. Sold whole, no replacement is left and the net loss
        is booked in full (an earlier sale's disallowed loss moves into a recent lot sold after
        it); sold in part, the ledger defers what the rule disallows."""
        lg = sim.ledger
        left = shares
        sim.notes["bundle_sales"] = sim.notes.get("bundle_sales", 0.0) + 1.0
        for pid in bundle.purchases:
            while left > SHARE_EPS:
                rows = lg.open_rows()
                rows = rows[(lg.purchase[rows] == pid) & (lg.tk[rows] == bundle.ticker)]
                if rows.size == 0:
                    break
                q = min(left, float(lg.shares[rows[0]]))
                sim.sell_lot(int(rows[0]), q)
                left -= q
        for row in bundle.old.tolist():
            q = min(left, float(lg.shares[row]))
            if q > SHARE_EPS:
                sim.sell_lot(row, q)
                left -= q
        if left > 1e-6 * max(1.0, shares):
            sim.notes["bundle_short"] = sim.notes.get("bundle_short", 0.0) + 1.0

    @staticmethod
    def _purchase_lots(sim: Sim, rows: IntArray) -> dict[str, int]:
        """Purchase label (``L<k>``, as in the trade log) -> the open lot row that holds it, for
        purchases held whole in one lot. (A wash-sale match splits a purchase into ``L<k>`` and
        ``L<k>.w<j>``; such a purchase names no lot, and its buy blocks every loss sale of its
        group, as the engine's rule for a buy without a lot id.)"""
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
        self.last_month = int(sim.md.dates[sim.t].astype("datetime64[M]").astype(np.int64))
        cap = te_cap_today(self.ex_ante_te(sim, model), self.te_max)
        problem, u = self.build_problem(sim, model, te_max=cap)
        t0 = time.perf_counter()
        sol = optimizer.solve(problem)
        if "tracking_error" in sol.diagnostics.relaxed and KEEP_HARVESTABLE >= 0.0:
            # keeping loss names unbought made the cap infeasible: allow every buy instead
            sim.notes["retry_buy_all"] = sim.notes.get("retry_buy_all", 0.0) + 1.0
            problem, u = self.build_problem(sim, model, keep_harvestable=False, te_max=cap)
            sol = optimizer.solve(problem)
        sim.solve_ms.append((time.perf_counter() - t0) * 1000.0)
        self.statuses[sol.status.value] = self.statuses.get(sol.status.value, 0) + 1
        sim.notes[f"status_{sol.status.value}"] = float(self.statuses[sol.status.value])
        for rung in sol.diagnostics.relaxed:
            sim.notes[f"dropped_{rung}"] = sim.notes.get(f"dropped_{rung}", 0.0) + 1.0
        if sol.status in (Status.OPTIMAL, Status.RELAXED):
            lg = sim.ledger
            for sale in sol.lot_sales:
                bundle = self.bundles.get(int(sale.lot_id))
                if bundle is not None:
                    self._sell_bundle(sim, bundle, float(sale.shares))
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

"""The published rules: buy-and-hold, Chaudhuri's loser rebuy, the common 5 % harvesting rule.

Every arm starts from the same day-0 purchase of the benchmark (``Sim.fund``), reinvests a
dividend in the paying name on its ex-date (unless that would buy into an open wash-sale window,
for the arms that respect it), invests other cash above $500 pro rata to the benchmark and
raises cash pro rata (highest-cost lots first) when a tax bill leaves it negative.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
import numpy.typing as npt

from optimizer_lab.backtest.sim import COST_RATE, Sim
from optimizer_lab.backtest.taxes import SHARE_EPS, is_long_term

FloatArray = npt.NDArray[np.float64]

HARVEST_THRESHOLD = 0.05
"""Naive rule: a lot is harvested when its price is more than 5 % below its basis per share."""
MIN_HOLD_DAYS = 31
CORR_WINDOW = 252


class BuyHold:
    """Buy the index on day 0 and hold; dividends reinvested in the paying name."""

    key = "buy_hold"
    wash_sale = True

    def on_day(self, sim: Sim) -> None:
        sim.handle_cash(drip=True, respect_wash=False)


class LoserRebuy:
    """Chaudhuri, Burnham & Lo's upper bound: at each month-end sell every lot whose value net
    of cost is below its basis and buy the same name back at once with the proceeds. It ignores
    the wash-sale rule by design: its ledger books every such loss (``wash_sale = False``) and
    the independent checker counts the violations."""

    key = "loser_rebuy"
    wash_sale = False

    def on_day(self, sim: Sim) -> None:
        if sim.month_end():
            lg = sim.ledger
            px = sim.md.close[sim.t]
            rows = lg.open_rows()
            rows = rows[np.isfinite(px[lg.tk[rows]])]
            net = lg.shares[rows] * px[lg.tk[rows]] * (1.0 - COST_RATE)
            for r in rows[net < lg.basis[rows]]:
                ticker = int(lg.tk[r])
                before = lg.cash
                sim.sell_lot(int(r))
                sim.buy_value(ticker, lg.cash - before)
        sim.handle_cash(drip=True, respect_wash=False)


@dataclass
class Naive:
    """The common rule, checked daily or at month-ends (``daily``):

    * sell every lot more than 5 % below its basis per share, unless another lot of a
      substantially identical security was bought in the last 30 days (the loss would be a wash
      sale);
    * put the proceeds in the name with the highest trailing 252-day correlation of daily total
      returns to the name sold (correlations refreshed monthly) that is outside every wash-sale
      window (no loss sale of its group in the last 30 days), is not of the sold name's group
      and is not being sold today;
    * hold the substitute at least 31 days; then swap back to the original (home) name when
      selling the substitute realizes no short-term gain (a loss, or long-term) and the home is
      outside its wash-sale window;
    * never hold cash: dividends are reinvested at once (``Sim.handle_cash``).
    """

    key: str
    daily: bool
    wash_sale: bool = True
    swap_row: npt.NDArray[np.int64] = field(default_factory=lambda: np.zeros(0, np.int64))
    """Open substitute lots (ledger rows) and, in parallel, their home ticker and buy day."""
    swap_home: npt.NDArray[np.int64] = field(default_factory=lambda: np.zeros(0, np.int64))
    swap_since: npt.NDArray[np.int64] = field(default_factory=lambda: np.zeros(0, np.int64))
    _corr: FloatArray | None = None
    _corr_month: int = -1

    def correlations(self, sim: Sim) -> FloatArray:
        """(n, n) trailing correlation of daily returns (adj closes), as of the month's first
        check; names or pairs without data get -1. Missing returns count as 0."""
        month = int(sim.md.dates[sim.t].astype("datetime64[M]").astype(np.int64))
        if self._corr is not None and month == self._corr_month:
            return self._corr
        md = sim.md
        lo = max(0, sim.t - CORR_WINDOW)
        px = md.adj[lo : sim.t + 1]
        with np.errstate(invalid="ignore", divide="ignore"):
            ret = px[1:] / px[:-1] - 1.0
        ret = np.where(np.isfinite(ret), ret, 0.0)
        corr = np.full((md.n, md.n), -1.0)
        if ret.shape[0] >= 5:
            sd = ret.std(axis=0)
            ok = sd > 0.0
            z = (ret[:, ok] - ret[:, ok].mean(axis=0)) / sd[ok]
            c = (z.T @ z) / ret.shape[0]
            idx = np.flatnonzero(ok)
            corr[np.ix_(idx, idx)] = c
        self._corr = corr
        self._corr_month = month
        return corr

    def on_day(self, sim: Sim) -> None:
        if self.daily or sim.month_end():
            self.harvest(sim)
            self.swap_back(sim)
        sim.handle_cash(drip=True, respect_wash=True)

    @staticmethod
    def _recent_purchases(sim: Sim) -> dict[int, set[int]]:
        """group -> purchase ids of open lots bought in the last 30 days."""
        lg = sim.ledger
        rec = sim.recent_buy_rows()
        out: dict[int, set[int]] = {}
        for r in rec:
            out.setdefault(int(sim.md.groups[lg.tk[r]]), set()).add(int(lg.purchase[r]))
        return out

    @staticmethod
    def _recent_other(sim: Sim, recent: dict[int, set[int]], row: int) -> bool:
        """Another lot of the row's group (another purchase) was bought in the last 30 days."""
        lg = sim.ledger
        mine = recent.get(int(sim.md.groups[lg.tk[row]]), set())
        return bool(mine - {int(lg.purchase[row])})

    @staticmethod
    def _wash_risk(sim: Sim, rows: npt.NDArray[np.int64]) -> npt.NDArray[np.bool_]:
        """(len(rows),) True where another purchase of the row's group was bought in the last
        30 days (a loss sale of the row would be a wash sale)."""
        lg = sim.ledger
        rec = sim.recent_buy_rows()
        out = np.zeros(rows.size, dtype=np.bool_)
        if rec.size == 0 or rows.size == 0:
            return out
        ng = len(sim.md.group_names)
        pairs = np.unique(np.stack([sim.md.groups[lg.tk[rec]], lg.purchase[rec]]), axis=1)
        count = np.bincount(pairs[0], minlength=ng)
        one = np.full(ng, -1, dtype=np.int64)
        one[pairs[0]] = pairs[1]
        g = sim.md.groups[lg.tk[rows]]
        return np.asarray((count[g] >= 2) | ((count[g] == 1) & (one[g] != lg.purchase[rows])))

    def harvest(self, sim: Sim) -> None:
        lg = sim.ledger
        md = sim.md
        px = md.close[sim.t]
        rows = lg.open_rows()
        rows = rows[np.isfinite(px[lg.tk[rows]])]
        per = lg.basis[rows] / lg.shares[rows]
        losers = rows[px[lg.tk[rows]] < (1.0 - HARVEST_THRESHOLD) * per]
        losers = losers[~self._wash_risk(sim, losers)]
        if losers.size == 0:
            return
        home_of = dict(zip(self.swap_row.tolist(), self.swap_home.tolist(), strict=True))
        proceeds: dict[tuple[int, int], float] = {}
        sold_today: set[int] = set()
        for r in losers:
            r = int(r)
            ticker = int(lg.tk[r])
            home = home_of.get(r, ticker)
            before = lg.cash
            sim.sell_lot(r)
            key = (ticker, home)
            proceeds[key] = proceeds.get(key, 0.0) + lg.cash - before
            sold_today.add(ticker)
        self._keep(lg.shares[self.swap_row] > SHARE_EPS)
        if not proceeds:
            return
        corr = self.correlations(sim)
        ok = sim.tradable() & ~sim.buy_blocked()
        for t in sold_today:
            ok[t] = False
        for (ticker, home), cash in sorted(proceeds.items()):
            cand = ok & (md.groups != md.groups[ticker])
            if not cand.any():
                continue
            score = np.where(cand, corr[ticker], -np.inf)
            sub = int(np.argmax(score))
            row = sim.buy_value(sub, cash)
            if row is not None and sub != home:
                self.swap_row = np.append(self.swap_row, row)
                self.swap_home = np.append(self.swap_home, home)
                self.swap_since = np.append(self.swap_since, sim.day)

    def _keep(self, mask: npt.NDArray[np.bool_]) -> None:
        self.swap_row = self.swap_row[mask]
        self.swap_home = self.swap_home[mask]
        self.swap_since = self.swap_since[mask]

    def swap_back(self, sim: Sim) -> None:
        lg = sim.ledger
        md = sim.md
        day = sim.day
        if self.swap_row.size == 0:
            return
        self._keep(lg.shares[self.swap_row] > SHARE_EPS)
        px = md.close[sim.t]
        rows = self.swap_row
        tk = lg.tk[rows]
        home_ok = np.isfinite(px) & sim.alive() & ~sim.buy_blocked()
        ready = (
            (day - self.swap_since >= MIN_HOLD_DAYS) & home_ok[self.swap_home] & np.isfinite(px[tk])
        )
        if not ready.any():
            return
        value = lg.shares[rows] * np.nan_to_num(px[tk]) * (1.0 - COST_RATE)
        gain = value - lg.basis[rows]
        recent = self._recent_purchases(sim)
        done = np.zeros(rows.size, dtype=np.bool_)
        for k in np.flatnonzero(ready):
            r = int(rows[k])
            home = int(self.swap_home[k])
            if gain[k] > 0.0 and not is_long_term(int(lg.start[r]), day):
                continue
            if gain[k] < 0.0 and self._recent_other(sim, recent, r):
                continue
            if not home_ok[home]:
                continue
            before = lg.cash
            sim.sell_lot(r)
            new = sim.buy_value(home, lg.cash - before)
            done[k] = True
            if new is not None:
                recent.setdefault(int(md.groups[home]), set()).add(int(lg.purchase[new]))
        self._keep(~done)

"""The backtest's one tax engine: lots, ST/LT, the wash-sale rule, year-end tax, carry-forward.

Every arm books its trades through a :class:`Ledger`; the same ledger type, the same cost rate
and the same year-end tax function serve every arm.

Units: shares (fractional), $ (floats), days as proleptic Gregorian ordinals
(``datetime.date.toordinal()``) so that calendar-day windows are integer differences.

Signs: a *gain* is proceeds minus basis (negative = loss); a *disallowed* amount is a positive
number of $ of loss that the wash-sale rule moved into a replacement lot's basis; tax is
positive when paid, negative when saved.

The wash-sale rule (IRC section 1091), as this engine reads it (``docs/backtest.md``):

* A sale of shares at a loss on day ``d`` is a wash sale, share for share, to the extent that
  shares of a substantially identical security (the same ticker or another ticker of the same
  equivalence group, e.g. share classes GOOG/GOOGL) were acquired on a day in ``[d-30, d+30]``.
* Replacement shares are matched in order of acquisition (day, then trade sequence). Shares of
  the same purchase as the shares sold are never their own replacement. A replacement share
  serves one loss sale only. Shares bought before the sale count only while still held at the
  sale.
* The disallowed loss per matched share is added to the replacement share's basis and the sold
  shares' holding period (sale day minus their holding-period start) is added to the
  replacement's, i.e. its holding-period start moves earlier by that many days.
* A matched part of a lot becomes its own lot: the original lot keeps its label ``L<k>`` and
  the part gets ``L<k>.w<j>`` (``j`` = 1, 2, ... per original lot, in order of creation).
* A purchase after the loss sale disallows the loss retroactively. If the sale's year is already
  settled (year-end tax paid), the correction is booked in the purchase's year, same character.
* Reinvested dividends are purchases like any other.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field
from functools import lru_cache

import numpy as np
import numpy.typing as npt

FloatArray = npt.NDArray[np.float64]
IntArray = npt.NDArray[np.int64]

WASH_DAYS = 30
SHARE_EPS = 1e-9
"""Shares below this are zero (fractional-share arithmetic)."""


# --------------------------------------------------------------------------- rates


@dataclass(frozen=True)
class RateSet:
    """Marginal federal rates by calendar year (decimal fractions).

    ``short_term``: on net short-term gains (ordinary rate + 3.8 % surtax where it applies).
    ``long_term``: on net long-term gains and qualified dividends.
    ``income``: on ordinary income, for the $3,000 net capital loss deduction.
    """

    name: str
    short_term: tuple[tuple[int, float], ...]
    long_term: tuple[tuple[int, float], ...]
    income: tuple[tuple[int, float], ...]

    @staticmethod
    def _lookup(table: tuple[tuple[int, float], ...], year: int) -> float:
        rate = table[0][1]
        for first_year, r in table:
            if year >= first_year:
                rate = r
        return rate

    def st(self, year: int) -> float:
        return self._lookup(self.short_term, year)

    def lt(self, year: int) -> float:
        return self._lookup(self.long_term, year)

    def inc(self, year: int) -> float:
        return self._lookup(self.income, year)

    def flat(self) -> RateSet:
        """The same rates with short-term set to long-term (for the character/deferral split)."""
        return RateSet(
            name=self.name + "_flat",
            short_term=self.long_term,
            long_term=self.long_term,
            income=self.long_term,
        )


ACTUAL_RATES = RateSet(
    name="actual",
    short_term=((2015, 0.434), (2018, 0.408)),
    long_term=((2015, 0.238),),
    income=((2015, 0.396), (2018, 0.37)),
)
"""Top federal rates with the 3.8 % net investment income surtax: ST 43.4 % (2015-2017), 40.8 %
(2018-2019); LT and qualified dividends 23.8 %; ordinary income 39.6 % / 37 % (no surtax on
wages) for the $3,000 deduction."""

CBL_RATES = RateSet(
    name="cbl",
    short_term=((2015, 0.35),),
    long_term=((2015, 0.15),),
    income=((2015, 0.35),),
)
"""35 % / 15 %, the rates of Chaudhuri, Burnham & Lo (2020)."""

LOSS_DEDUCTION_CAP = 3000.0
"""$ of net capital loss deductible against ordinary income per year."""


@dataclass(frozen=True)
class Carry:
    """Capital loss carried forward into the next year, $ >= 0, by character."""

    short_term: float = 0.0
    long_term: float = 0.0


def year_tax(
    st_gain: float,
    lt_gain: float,
    dividends: float,
    year: int,
    rates: RateSet,
    outside_gains: bool,
    carry: Carry,
) -> tuple[float, Carry]:
    """Tax for one calendar year, $ (positive = paid, negative = saved), and the carry out.

    ``st_gain``, ``lt_gain``: net realized short- and long-term gains of the year ($, signed,
    wash-sale disallowances already removed). ``dividends``: qualified dividends ($ >= 0), taxed
    at the long-term rate. The carry in is applied first, keeping its character.

    Netting: ST and LT nets offset each other (a net loss of one character absorbs the other's
    net gain at the gain's rate). ``outside_gains=True``: the investor has enough outside
    short-term gains to absorb any remaining net loss this year, so it saves the short-term
    rate, and nothing is carried. ``outside_gains=False``: up to $3,000 of the remaining net loss
    (short-term first) is deducted from ordinary income at the income rate; the rest is carried.
    """
    s = st_gain - carry.short_term
    g = lt_gain - carry.long_term
    r_s, r_l, r_i = rates.st(year), rates.lt(year), rates.inc(year)
    tax = r_l * dividends
    st_loss = 0.0
    lt_loss = 0.0
    if s >= 0.0 and g >= 0.0:
        return tax + r_s * s + r_l * g, Carry()
    if s < 0.0 <= g:
        net = g + s
        if net >= 0.0:
            return tax + r_l * net, Carry()
        st_loss = -net
    elif g < 0.0 <= s:
        net = s + g
        if net >= 0.0:
            return tax + r_s * net, Carry()
        lt_loss = -net
    else:
        st_loss, lt_loss = -s, -g
    if outside_gains:
        return tax - r_s * (st_loss + lt_loss), Carry()
    used = min(LOSS_DEDUCTION_CAP, st_loss + lt_loss)
    used_st = min(used, st_loss)
    used_lt = used - used_st
    return tax - r_i * used, Carry(st_loss - used_st, lt_loss - used_lt)


@lru_cache(maxsize=8192)
def anniversary(holding_start: int) -> int:
    """Ordinal of the first anniversary of ``holding_start`` (Feb 29 -> Feb 28)."""
    start = dt.date.fromordinal(holding_start)
    try:
        return start.replace(year=start.year + 1).toordinal()
    except ValueError:  # Feb 29
        return dt.date(start.year + 1, 2, 28).toordinal()


def is_long_term(holding_start: int, sale_day: int) -> bool:
    """True if shares whose holding period starts on ordinal ``holding_start`` (the acquisition
    day) sold on ``sale_day`` were held more than one year: the sale is after the first
    anniversary (a sale on the anniversary itself is short-term; one day later is long-term).
    A Feb 29 start has its anniversary on Feb 28."""
    return sale_day > anniversary(holding_start)


# --------------------------------------------------------------------------- trade log


@dataclass
class Trade:
    """One line of an arm's trade log (the checker's only input besides equivalence groups).

    ``kind``: ``"B"`` buy (creates lot ``lot``), ``"S"`` sell (from lot ``lot``), ``"R"``
    return of capital (``price`` = $ per share paid on every share of ``ticker`` held; lowers
    basis). ``amount``: $ cash moved (buy: paid incl. cost; sell: proceeds net of cost; R: paid).
    Sell-only fields: ``basis`` ($ booked basis of the shares sold), ``start`` (booked holding
    start, ordinal), ``gain`` ($ proceeds - basis), ``disallowed`` ($ >= 0 of the loss the
    engine disallowed, updated if a later purchase disallows it), ``long_term``.
    """

    seq: int
    day: int
    kind: str
    ticker: str
    lot: str
    shares: float
    price: float
    amount: float
    basis: float = 0.0
    start: int = 0
    gain: float = 0.0
    disallowed: float = 0.0
    long_term: bool = False


@dataclass
class YearTally:
    """Realized results of one calendar year, $ (gains signed, after wash-sale disallowance)."""

    st_gain: float = 0.0
    lt_gain: float = 0.0
    dividends: float = 0.0
    disallowed: float = 0.0
    late_corrections: float = 0.0


@dataclass
class _Pending:
    trade: int
    day: int
    shares: float
    loss_per_share: float
    held_days: int
    long_term: bool
    year: int


# --------------------------------------------------------------------------- ledger


@dataclass
class Ledger:
    """Lots, cash and realized results of one account under one arm.

    ``groups[i]``: equivalence group id of ticker ``i`` (tickers of one group are substantially
    identical). ``cost_rate``: transaction cost per $ traded each side (2 bps = 0.0002).
    ``wash_sale``: apply the wash-sale rule (False only for the arm that ignores it by design).
    Lot rows never move: a row index is the lot's stable integer id; closed lots keep 0 shares.
    """

    tickers: tuple[str, ...]
    groups: IntArray
    cost_rate: float
    wash_sale: bool = True
    cash: float = 0.0
    settled_through: int = 0
    """Last calendar year whose tax has been settled (corrections after it are late)."""
    capacity: int = 1024
    n_lots: int = 0
    tk: IntArray = field(init=False)
    shares: FloatArray = field(init=False)
    basis: FloatArray = field(init=False)
    start: IntArray = field(init=False)
    acquired: IntArray = field(init=False)
    purchase: IntArray = field(init=False)
    used: npt.NDArray[np.bool_] = field(init=False)
    labels: list[str] = field(default_factory=list)
    position: FloatArray = field(init=False)
    log: list[Trade] = field(default_factory=list)
    years: dict[int, YearTally] = field(default_factory=dict)
    _splits: dict[int, int] = field(default_factory=dict)
    _pending: dict[int, list[_Pending]] = field(default_factory=dict)
    last_loss_sale: IntArray = field(init=False)
    """Per group: ordinal of the latest sale that realized a loss (-10**6 if none)."""
    last_buy: IntArray = field(init=False)
    """Per group: ordinal of the latest purchase (-10**6 if none)."""
    n_purchases: int = 0
    net_realized_before_end: float = 0.0

    def __post_init__(self) -> None:
        c = self.capacity
        self.tk = np.zeros(c, dtype=np.int64)
        self.shares = np.zeros(c)
        self.basis = np.zeros(c)
        self.start = np.zeros(c, dtype=np.int64)
        self.acquired = np.zeros(c, dtype=np.int64)
        self.purchase = np.zeros(c, dtype=np.int64)
        self.used = np.zeros(c, dtype=np.bool_)
        self.position = np.zeros(len(self.tickers))
        n_groups = int(self.groups.max()) + 1 if len(self.groups) else 0
        self.last_loss_sale = np.full(n_groups, -(10**6), dtype=np.int64)
        self.last_buy = np.full(n_groups, -(10**6), dtype=np.int64)

    # ---- helpers
    def tally(self, year: int) -> YearTally:
        if year not in self.years:
            self.years[year] = YearTally()
        return self.years[year]

    def _grow(self) -> None:
        c = self.capacity * 2
        for name in ("tk", "shares", "basis", "start", "acquired", "purchase", "used"):
            old = getattr(self, name)
            new = np.zeros(c, dtype=old.dtype)
            new[: self.capacity] = old
            setattr(self, name, new)
        self.capacity = c

    def _new_row(
        self,
        ticker: int,
        shares: float,
        basis: float,
        start: int,
        acquired: int,
        purchase: int,
        label: str,
        used: bool,
    ) -> int:
        if self.n_lots == self.capacity:
            self._grow()
        r = self.n_lots
        self.tk[r] = ticker
        self.shares[r] = shares
        self.basis[r] = basis
        self.start[r] = start
        self.acquired[r] = acquired
        self.purchase[r] = purchase
        self.used[r] = used
        self.labels.append(label)
        self.n_lots += 1
        return r

    def _split(self, row: int, shares: float) -> int:
        """Move ``shares`` of lot ``row`` (fewer than it holds) into a new lot; return it."""
        base = int(self.purchase[row])
        k = self._splits.get(base, 0) + 1
        self._splits[base] = k
        part_basis = self.basis[row] * shares / self.shares[row]
        self.basis[row] -= part_basis
        self.shares[row] -= shares
        return self._new_row(
            int(self.tk[row]),
            shares,
            part_basis,
            int(self.start[row]),
            int(self.acquired[row]),
            base,
            f"L{base}.w{k}",
            False,
        )

    def open_rows(self) -> IntArray:
        """Row ids of lots that hold shares, ascending."""
        return np.flatnonzero(self.shares[: self.n_lots] > SHARE_EPS).astype(np.int64)

    def market_value(self, prices: FloatArray) -> float:
        """$ cash + position @ prices (``prices`` (n,) $/share, no NaN where held)."""
        held = self.position > SHARE_EPS
        return float(self.cash + self.position[held] @ prices[held])

    # ---- trades
    def buy(self, day: int, ticker: int, shares: float, price: float) -> int:
        """Buy ``shares`` at ``price`` $/share plus cost; returns the new lot's row id."""
        if shares <= SHARE_EPS:
            raise ValueError("buy of no shares")
        gross = shares * price
        paid = gross * (1.0 + self.cost_rate)
        self.cash -= paid
        self.position[ticker] += shares
        pid = self.n_purchases
        self.n_purchases += 1
        row = self._new_row(ticker, shares, paid, day, day, pid, f"L{pid}", False)
        self.log.append(
            Trade(len(self.log), day, "B", self.tickers[ticker], f"L{pid}", shares, price, paid)
        )
        g = int(self.groups[ticker])
        self.last_buy[g] = day
        if self.wash_sale:
            self._match_pending(day, g, row)
        return row

    def _match_pending(self, day: int, group: int, row: int) -> None:
        queue = self._pending.get(group)
        if not queue:
            return
        queue[:] = [p for p in queue if p.day >= day - WASH_DAYS and p.shares > SHARE_EPS]
        for p in queue:
            free = self.shares[row]
            if free <= SHARE_EPS or self.used[row]:
                break
            m = min(p.shares, free)
            part = row if m >= free - SHARE_EPS else self._split(row, m)
            if part == row:
                m = free
            self._adjust_replacement(part, m, p.loss_per_share, p.held_days)
            p.shares -= m
            amount = m * p.loss_per_share
            self.log[p.trade].disallowed += amount
            year = dt.date.fromordinal(day).year
            target = p.year if p.year > self.settled_through else year
            t = self.tally(target)
            if p.long_term:
                t.lt_gain += amount
            else:
                t.st_gain += amount
            t.disallowed += amount
            if target != p.year:
                t.late_corrections += amount
            self.net_realized_before_end += amount
        queue[:] = [p for p in queue if p.shares > SHARE_EPS]

    def _adjust_replacement(self, row: int, shares: float, loss_ps: float, held: int) -> None:
        self.basis[row] += shares * loss_ps
        self.start[row] -= held
        self.used[row] = True

    def sell(self, day: int, row: int, shares: float, price: float) -> float:
        """Sell ``shares`` of lot ``row`` at ``price`` less cost; returns the realized gain booked
        ($, after any wash-sale disallowance known now)."""
        held = float(self.shares[row])
        if shares > held + SHARE_EPS or shares <= SHARE_EPS:
            raise ValueError(f"sell of {shares} shares from a lot of {held}")
        shares = min(shares, held)
        if shares >= held - SHARE_EPS:
            shares = held
        ticker = int(self.tk[row])
        proceeds = shares * price * (1.0 - self.cost_rate)
        basis = float(self.basis[row]) * shares / held
        start = int(self.start[row])
        gain = proceeds - basis
        lt = is_long_term(start, day)
        self.cash += proceeds
        self.position[ticker] -= shares
        if abs(self.position[ticker]) < SHARE_EPS:
            self.position[ticker] = 0.0
        self.basis[row] -= basis
        self.shares[row] = held - shares
        if shares == held:
            self.shares[row] = 0.0
            self.basis[row] = 0.0
        trade = Trade(
            len(self.log),
            day,
            "S",
            self.tickers[ticker],
            self.labels[row],
            shares,
            price,
            proceeds,
            basis=basis,
            start=start,
            gain=gain,
            long_term=lt,
        )
        self.log.append(trade)
        year = dt.date.fromordinal(day).year
        g = int(self.groups[ticker])
        disallowed = 0.0
        if gain < 0.0:
            self.last_loss_sale[g] = day
            if self.wash_sale:
                disallowed = self._match_backward(day, g, row, shares, -gain / shares, day - start)
                remaining = shares - disallowed / (-gain / shares)
                if remaining > SHARE_EPS:
                    self._pending.setdefault(g, []).append(
                        _Pending(trade.seq, day, remaining, -gain / shares, day - start, lt, year)
                    )
        trade.disallowed = disallowed
        booked = gain + disallowed
        t = self.tally(year)
        if lt:
            t.lt_gain += booked
        else:
            t.st_gain += booked
        t.disallowed += disallowed
        self.net_realized_before_end += booked
        return booked

    def _match_backward(
        self, day: int, group: int, sold: int, shares: float, loss_ps: float, held_days: int
    ) -> float:
        """Match a loss sale against held, unused lots bought in the last 30 days; $ disallowed."""
        n = self.n_lots
        cand = np.flatnonzero(
            (self.shares[:n] > SHARE_EPS)
            & ~self.used[:n]
            & (self.acquired[:n] >= day - WASH_DAYS)
            & (self.groups[self.tk[:n]] == group)
            & (self.purchase[:n] != self.purchase[sold])
        )
        if cand.size == 0:
            return 0.0
        order = np.lexsort((self.purchase[cand], self.acquired[cand]))
        need = shares
        disallowed = 0.0
        for r in cand[order]:
            if need <= SHARE_EPS:
                break
            free = float(self.shares[r])
            m = min(need, free)
            part = int(r) if m >= free - SHARE_EPS else self._split(int(r), m)
            if part == r:
                m = free
            self._adjust_replacement(part, m, loss_ps, held_days)
            need -= m
            disallowed += m * loss_ps
        return disallowed

    def dividend(self, day: int, per_share: FloatArray) -> float:
        """Credit cash dividends (``per_share`` (n,) $/share, 0 where none); returns $ paid.
        Taxed as qualified dividends in the year paid."""
        held = self.position > SHARE_EPS
        paid = float(self.position[held] @ per_share[held])
        if paid != 0.0:
            self.cash += paid
            self.tally(dt.date.fromordinal(day).year).dividends += paid
        return paid

    def return_of_capital(self, day: int, ticker: int, per_share: float) -> float:
        """A non-taxable distribution (spin-off), $/share: paid as cash, lowers every held lot's
        basis by the same $/share (floored at 0). Returns $ paid."""
        rows = self.open_rows()
        rows = rows[self.tk[rows] == ticker]
        if rows.size == 0:
            return 0.0
        paid = float(self.shares[rows].sum() * per_share)
        self.basis[rows] = np.maximum(self.basis[rows] - self.shares[rows] * per_share, 0.0)
        self.cash += paid
        self.log.append(
            Trade(len(self.log), day, "R", self.tickers[ticker], "", 0.0, per_share, paid)
        )
        return paid

    # ---- views
    def unrealized(self, day: int, prices: FloatArray) -> tuple[float, float, float]:
        """If every lot were sold at ``prices`` on ``day``: ($ ST gain, $ LT gain, $ cost), gains
        net of the sale cost. No wash-sale effect (nothing is bought afterwards)."""
        rows = self.open_rows()
        if rows.size == 0:
            return 0.0, 0.0, 0.0
        gross = self.shares[rows] * prices[self.tk[rows]]
        cost = gross * self.cost_rate
        gain = gross - cost - self.basis[rows]
        anniv_ok = np.array([day > anniversary(int(s)) for s in self.start[rows]], dtype=bool)
        return (
            float(gain[~anniv_ok].sum()),
            float(gain[anniv_ok].sum()),
            float(cost.sum()),
        )

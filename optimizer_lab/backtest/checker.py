"""Independent wash-sale checker: re-reads an arm's trade log after the run.

It shares no code with the tax engine (``optimizer/backtest/taxes.py``) or with the optimizer's
wash-sale logic: it replays the log from scratch, share block by share block, with a full view
of the future (every later purchase is known in advance), and compares what the law (as read in
``docs/backtest.md``) disallows with what the arm booked.

The log is any sequence of records with the attributes ``seq, day, kind, ticker, lot, shares,
price, amount, basis, start, gain, disallowed, long_term`` (see ``taxes.Trade`` for the meaning;
days are date ordinals, money in $, shares fractional).

Counted per arm:

* ``violations``: loss sales for which the rule disallows more loss than the arm booked as
  disallowed (the arm booked a loss the law does not allow). ``violation_loss`` is the $ of loss
  so booked.
* ``basis_mismatches`` / ``holding_mismatches``: sales whose booked basis or holding-period
  start differs from the one the checker derives (basis and holding-period carry-over).
* ``over_disallowed``: loss sales where the arm disallowed more than the rule requires.
* ``wash_sales``: loss sales that ARE wash sales (the rule disallows some of their loss, shares
  matched share for share to a purchase of the group within 30 days), whether or not the arm
  booked them correctly; ``wash_sale_loss`` is the $ of loss the rule disallows on them. An arm
  that books every wash sale has 0 violations but may still create wash sales (issue 17).
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Protocol

WINDOW = 30
TINY = 1e-9


class LogLine(Protocol):
    seq: int
    day: int
    kind: str
    ticker: str
    lot: str
    shares: float
    price: float
    amount: float
    basis: float
    start: int
    gain: float
    disallowed: float
    long_term: bool


@dataclass
class Block:
    """Shares of one purchase with one basis and one holding-period start."""

    label: str
    ticker: str
    group: str
    shares: float
    basis: float
    start: int
    bought: int
    buy_seq: int
    replacement: bool = False
    closed_day: int = -1
    """Day its last share was sold (-1 while held)."""


@dataclass
class Claim:
    """Shares of a future purchase claimed as replacement for an earlier loss sale."""

    shares: float
    loss_per_share: float
    held_days: int


@dataclass
class CheckReport:
    sales: int = 0
    loss_sales: int = 0
    violations: int = 0
    violation_loss: float = 0.0
    expected_disallowed: float = 0.0
    booked_disallowed: float = 0.0
    over_disallowed: int = 0
    wash_sales: int = 0
    wash_sale_loss: float = 0.0
    wash_sales_deferred: int = 0
    """Wash sales whose disallowed loss is still deferred at the end of the sale's day: a
    replacement bought later, or a held replacement not sold out the same day. The others
    (every replacement sold the same day, e.g. a bundle of recent purchases sold whole) are
    wash sales in law with no economic effect: the loss moved into a lot sold that day."""
    basis_mismatches: int = 0
    holding_mismatches: int = 0
    unknown_lots: int = 0
    details: list[str] = field(default_factory=list)
    wash_details: list[str] = field(default_factory=list)
    """The first ``max_details`` wash sales: the sale and the purchases that replaced it."""


def _one_year_later(day: int) -> int:
    d = dt.date.fromordinal(day)
    if d.month == 2 and d.day == 29:
        return dt.date(d.year + 1, 2, 28).toordinal()
    return dt.date(d.year + 1, d.month, d.day).toordinal()


def _base(label: str) -> str:
    return label.split(".", 1)[0]


def check_log(
    log: Sequence[LogLine],
    group_of: Mapping[str, str],
    money_tol: float = 0.01,
    max_details: int = 20,
) -> CheckReport:
    """Replay ``log`` (in ``seq`` order) and count wash-sale violations and mismatches.

    ``group_of`` maps a ticker to its substantially-identical group name (tickers not in it are
    their own group). ``money_tol``: $ differences at or below this (plus 1e-6 relative) are
    equal.
    """
    rep = CheckReport()
    lines = sorted(log, key=lambda x: x.seq)

    def grp(t: str) -> str:
        return group_of.get(t, t)

    future_buys: dict[str, list[LogLine]] = {}
    for ln in lines:
        if ln.kind == "B":
            future_buys.setdefault(grp(ln.ticker), []).append(ln)
    free_future: dict[str, float] = {ln.lot: ln.shares for ln in lines if ln.kind == "B"}
    claims: dict[str, list[Claim]] = {}
    blocks: dict[str, Block] = {}
    by_group: dict[str, list[Block]] = {}
    parts: dict[str, int] = {}

    def add(b: Block) -> None:
        blocks[b.label] = b
        by_group.setdefault(b.group, []).append(b)

    def new_part(parent: Block, shares: float) -> Block:
        base = _base(parent.label)
        parts[base] = parts.get(base, 0) + 1
        frac_basis = parent.basis * shares / parent.shares
        parent.basis -= frac_basis
        parent.shares -= shares
        b = Block(
            f"{base}.w{parts[base]}",
            parent.ticker,
            parent.group,
            shares,
            frac_basis,
            parent.start,
            parent.bought,
            parent.buy_seq,
        )
        add(b)
        return b

    def mark(b: Block, shares: float, loss_ps: float, held: int) -> None:
        b.basis += shares * loss_ps
        b.start -= held
        b.replacement = True

    def close(a: float, b: float) -> bool:
        return abs(a - b) <= money_tol + 1e-6 * max(abs(a), abs(b))

    pending: list[tuple[int, list[Block], bool]] = []
    for ln in lines:
        if ln.kind == "R":
            for b in by_group.get(grp(ln.ticker), []):
                if b.ticker == ln.ticker and b.shares > TINY:
                    b.basis = max(b.basis - b.shares * ln.price, 0.0)
            continue
        if ln.kind == "B":
            blk = Block(
                ln.lot, ln.ticker, grp(ln.ticker), ln.shares, ln.amount, ln.day, ln.day, ln.seq
            )
            add(blk)
            for c in claims.pop(ln.lot, []):
                target = blk if c.shares >= blk.shares - TINY else new_part(blk, c.shares)
                mark(target, target.shares, c.loss_per_share, c.held_days)
                if target is blk:
                    break
            continue
        # a sale
        rep.sales += 1
        found = blocks.get(ln.lot)
        if found is None or found.shares < ln.shares - 1e-6:
            rep.unknown_lots += 1
            if len(rep.details) < max_details:
                rep.details.append(f"seq {ln.seq}: lot {ln.lot} unknown or too small")
            continue
        b = found
        share_frac = min(ln.shares / b.shares, 1.0)
        basis = b.basis * share_frac
        start = b.start
        b.basis -= basis
        b.shares -= ln.shares
        if b.shares < TINY:
            b.shares = 0.0
            b.basis = 0.0
            b.closed_day = ln.day
        if not close(basis, ln.basis):
            rep.basis_mismatches += 1
            if len(rep.details) < max_details:
                rep.details.append(
                    f"seq {ln.seq} {ln.ticker} {ln.lot}: basis {ln.basis:.4f}, law {basis:.4f}"
                )
        if start != ln.start or (ln.day > _one_year_later(start)) != ln.long_term:
            rep.holding_mismatches += 1
            if len(rep.details) < max_details:
                rep.details.append(f"seq {ln.seq} {ln.lot}: start {ln.start}, law {start}")
        gain = ln.amount - basis
        if gain >= -TINY:
            continue
        rep.loss_sales += 1
        loss_ps = -gain / ln.shares
        need = ln.shares
        held_days = ln.day - start
        g = grp(ln.ticker)
        # replacement shares already held, bought in the 30 days before (not this purchase)
        live = [x for x in by_group.get(g, []) if x.shares > TINY]
        by_group[g] = live
        held_cands = sorted(
            (
                x
                for x in live
                if x.shares > TINY
                and not x.replacement
                and x.bought >= ln.day - WINDOW
                and _base(x.label) != _base(ln.lot)
            ),
            key=lambda x: (x.bought, x.buy_seq),
        )
        matched = 0.0
        replaced_by: list[str] = []
        held_targets: list[Block] = []
        later = False
        for x in held_cands:
            if need <= TINY:
                break
            take = min(need, x.shares)
            target = x if take >= x.shares - TINY else new_part(x, take)
            take = target.shares
            mark(target, take, loss_ps, held_days)
            need -= take
            matched += take
            replaced_by.append(f"held {x.label} bought {dt.date.fromordinal(x.bought)}")
            held_targets.append(target)
        # replacement shares bought later, within 30 days after
        for fb in future_buys.get(g, []):
            if need <= TINY:
                break
            if fb.seq <= ln.seq or fb.day > ln.day + WINDOW:
                continue
            avail = free_future[fb.lot]
            if avail <= TINY:
                continue
            take = min(need, avail)
            if take >= avail - TINY:
                take = avail
            free_future[fb.lot] = avail - take
            claims.setdefault(fb.lot, []).append(Claim(take, loss_ps, held_days))
            need -= take
            matched += take
            replaced_by.append(f"later {fb.lot} bought {dt.date.fromordinal(fb.day)}")
            later = True
        law = matched * loss_ps
        if matched > TINY and law > money_tol:
            rep.wash_sales += 1
            rep.wash_sale_loss += law
            pending.append((ln.day, held_targets, later))
            if len(rep.wash_details) < max_details:
                rep.wash_details.append(
                    f"seq {ln.seq} {ln.ticker} {ln.lot} {ln.shares:g} sh on "
                    f"{dt.date.fromordinal(ln.day)}: ${law:,.2f} replaced by "
                    + ", ".join(replaced_by)
                )
        rep.expected_disallowed += law
        rep.booked_disallowed += ln.disallowed
        if law > ln.disallowed and not close(law, ln.disallowed):
            rep.violations += 1
            rep.violation_loss += law - ln.disallowed
            if len(rep.details) < max_details:
                rep.details.append(
                    f"seq {ln.seq} {ln.ticker} day {dt.date.fromordinal(ln.day)}: "
                    f"disallowed {ln.disallowed:.2f}, law {law:.2f}"
                )
        elif ln.disallowed > law and not close(law, ln.disallowed):
            rep.over_disallowed += 1
    for day, targets, later in pending:
        if later or any(t.closed_day != day for t in targets):
            rep.wash_sales_deferred += 1
    return rep

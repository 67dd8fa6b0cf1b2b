"""The only place that turns database rows into ``optimizer.Problem`` values and ``Solution``
values back into rows.

Inputs per account (:class:`AccountData`: its lots, positions and cash, the household's recent
buys) plus the firm's market data (:class:`MarketData`: latest closes) plus its resolution
(:class:`accounts.resolve.ResolvedAccount`: targets, restrictions, equivalence sets and the
translation table's knobs) become one :class:`optimizer.Problem`, or a :class:`Skip` saying
why the account cannot be analysed. Everything is sorted before it becomes an array, so the same
inputs give the same problem bytes (``problem_hash``).
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import hashlib
import re
import time
import traceback
import zlib
from collections import defaultdict
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from decimal import Decimal
from typing import Any

import numpy as np

from accounts.resolve import STATUS_NO_STRATEGY, STATUS_OK, ResolvedAccount
from accounts.translation import TAX_DEFERRED
from optimizer import (
    WASH_SALE_DAYS,
    EquivalenceGroup,
    Lots,
    Problem,
    RecentTrade,
    Settings,
    Side,
    Solution,
    Status,
    TaxRates,
    TaxYear,
    solve,
)
from optimizer.jsonio import problem_from_json, problem_to_json
from optimizer.risk import FactorModelArrays, PriceTable, estimate_factor_arrays

__all__ = [
    "AccountData",
    "FactorModelArrays",
    "LotRow",
    "MarketData",
    "Packed",
    "Problem",
    "RecentBuy",
    "SaleRow",
    "Skip",
    "Solution",
    "problem_build",
    "problem_bytes",
    "problem_load",
    "problem_text",
    "risk_arrays_estimate",
    "solution_outcome",
    "solution_rows",
    "solution_summary",
    "solve_packed",
    "solve_timed",
]


@dataclass(frozen=True)
class LotRow:
    pk: int
    ticker: str
    lot_id: str
    shares: Decimal
    cost_basis: Decimal
    acquired_on: dt.date


@dataclass(frozen=True)
class RecentBuy:
    """A lot bought in the wash-sale window, in this account or another of its household."""

    ticker: str
    acquired_on: dt.date
    account_id: int
    lot_pk: int


@dataclass(frozen=True)
class SaleRow:
    """A realized sale (the custodian's transaction) this year or in the wash-sale window."""

    ticker: str
    trade_date: dt.date
    account_id: int
    term: str  # "ST" / "LT"
    gain: Decimal  # proceeds - cost basis


@dataclass(frozen=True)
class AccountData:
    account_id: int
    household_id: int
    registration_type: str
    status: str
    cash: Decimal
    lots: tuple[LotRow, ...]
    positions: Mapping[str, Decimal]  # ticker -> shares
    recent_buys: tuple[RecentBuy, ...]  # the household's, this account's included
    sales: tuple[SaleRow, ...] = ()  # this account's this year, the household's losses in window


@dataclass(frozen=True)
class MarketData:
    """The firm's latest closes: ticker -> (security id, close, close date, status)."""

    securities: Mapping[str, tuple[int, float | None, dt.date | None, str]]


@dataclass(frozen=True)
class Skip:
    """The account cannot be analysed; ``reason`` says which check failed."""

    reason: str


def _lots_add_up(data: AccountData) -> str | None:
    totals: dict[str, Decimal] = defaultdict(Decimal)
    for lot in data.lots:
        totals[lot.ticker] += lot.shares
    for ticker in sorted(set(totals) | set(data.positions)):
        lots, position = totals.get(ticker, Decimal(0)), data.positions.get(ticker, Decimal(0))
        if lots != position:
            return (
                f"the lots of {ticker} add up to {_plain(lots)} shares but the position "
                f"is {_plain(position)}"
            )
    return None


def _plain(d: Decimal) -> str:
    return format(d.normalize(), "f")


def risk_arrays_estimate(
    *,
    as_of: dt.date,
    closes: Mapping[str, Mapping[dt.date, float]],
    sectors: Mapping[str, str],
) -> FactorModelArrays | None:
    """The run's factor risk model (``optimizer.risk``, docs/risk-model.md) from the firm's
    closes up to ``as_of`` (ticker -> date -> close); None without enough history."""
    dates = sorted({d for series in closes.values() for d in series if d <= as_of})
    if len(dates) < 64:
        return None
    tickers = tuple(sorted(t for t, series in closes.items() if series))
    row = {d: i for i, d in enumerate(dates)}
    table = np.full((len(dates), len(tickers)), np.nan)
    for j, ticker in enumerate(tickers):
        for d, close in closes[ticker].items():
            if d in row:
                table[row[d], j] = close
    prices = PriceTable(dates=np.array(dates, dtype="datetime64[D]"), tickers=tickers, closes=table)
    return estimate_factor_arrays(prices, as_of, dict(sectors))


def problem_build(
    data: AccountData,
    resolved: ResolvedAccount,
    market: MarketData,
    as_of: dt.date,
    risk: FactorModelArrays | None = None,
) -> Problem | Skip:
    """The account's problem, or why there is none. Accounts whose strategy holds a
    direct-index model are solved against ``risk`` (the run's factor model); the others on
    weight drift."""
    if data.status != "active":
        return Skip(f"account is {data.status}")
    if resolved.status == STATUS_NO_STRATEGY:
        return Skip("no strategy chosen")
    if resolved.status != STATUS_OK:
        return Skip("settings do not resolve: " + "; ".join(resolved.problems))
    mismatch = _lots_add_up(data)
    if mismatch is not None:
        return Skip(mismatch)
    held = {lot.ticker for lot in data.lots}
    targeted = {t.ticker for t in resolved.targets}
    universe = set(held) | targeted
    for group in resolved.equivalence:
        if universe & set(group.members):
            universe |= {m for m in group.members if m in market.securities}
    for ticker in sorted(universe):
        row = market.securities.get(ticker)
        if row is None:
            return Skip(f"unknown security {ticker}")
        if row[3] == "unknown":
            return Skip(f"security {ticker} has status unknown in the security master")
        if row[1] is None:
            return Skip(f"missing price for {ticker}")
    tickers = tuple(sorted(universe))
    risk_model = None
    if resolved.risk_model:
        covered = set(risk.tickers) if risk is not None else set()
        missing = sorted(t for t in tickers if t not in covered)
        if missing:
            return Skip(
                "no risk model for "
                + ", ".join(missing[:5])
                + (" ..." if len(missing) > 5 else "")
                + " (direct-index accounts need the run's factor model: too little price history)"
            )
        assert risk is not None
        risk_model = risk.to_risk_model(tickers)
    index = {t: i for i, t in enumerate(tickers)}
    n = len(tickers)
    prices = np.array([market.securities[t][1] for t in tickers], dtype=float)

    lots = sorted(data.lots, key=lambda lot: (lot.ticker, lot.acquired_on, lot.pk))
    lots_array = Lots(
        lot_id=np.array([lot.pk for lot in lots], dtype=np.int64),
        security=np.array([index[lot.ticker] for lot in lots], dtype=np.int64),
        shares=np.array([float(lot.shares) for lot in lots], dtype=float),
        cost_basis=np.array([float(lot.cost_basis) for lot in lots], dtype=float),
        acquired=np.array([lot.acquired_on for lot in lots], dtype="datetime64[D]"),
    )
    cash = float(data.cash)
    total = cash + float((lots_array.shares * prices[lots_array.security]).sum())

    targets = np.zeros(n)
    for t in resolved.targets:
        targets[index[t.ticker]] = t.weight
    keep = [t for t in resolved.keep if t in index]
    if keep and total > 0:
        held_value: dict[str, float] = defaultdict(float)
        for lot in lots:
            held_value[lot.ticker] += float(lot.shares) * prices[index[lot.ticker]]
        keep_weight = sum(held_value[ticker] / total for ticker in keep)
        others = [i for i in range(n) if tickers[i] not in keep]
        room = max(1.0 - resolved.cash_target - keep_weight, 0.0)
        other_total = float(targets[others].sum())
        if other_total > room and other_total > 0:
            targets[others] *= room / other_total
        for ticker in keep:
            targets[index[ticker]] = held_value[ticker] / total

    def flags(names: Sequence[str]) -> np.ndarray[Any, np.dtype[np.bool_]]:
        out = np.zeros(n, dtype=bool)
        for name in names:
            if name in index:
                out[index[name]] = True
        return out

    settings_kwargs: dict[str, Any] = {}
    problem_kwargs: dict[str, Any] = {}
    rates: dict[str, float] = {}
    year: dict[str, float] = {}
    for knob in resolved.knobs:
        head, *rest = knob.field.split(".")
        if head == "Settings":
            settings_kwargs[rest[0]] = knob.value
        elif rest[0] == "tax_rates":
            rates[rest[1]] = float(knob.value)
        elif rest[0] == "tax_year":
            year[rest[1]] = float(knob.value)
        elif rest[0] == "cost_rates":
            problem_kwargs["cost_rates"] = (
                None if knob.value is None else np.full(n, float(knob.value))
            )
        else:
            problem_kwargs[rest[0]] = knob.value
    settings_kwargs["cash_target"] = resolved.cash_target
    year_start = dt.date(as_of.year, 1, 1)
    own_year = [
        s
        for s in data.sales
        if s.account_id == data.account_id and year_start <= s.trade_date <= as_of
    ]
    gain_short = float(sum((s.gain for s in own_year if s.term == "ST"), Decimal(0)))
    gain_long = float(sum((s.gain for s in own_year if s.term == "LT"), Decimal(0)))
    tax_year = None
    if data.registration_type not in TAX_DEFERRED:
        tax_year = TaxYear(gain_ytd_short=gain_short, gain_ytd_long=gain_long, **year)
        problem_kwargs["realized_gain_ytd"] = gain_short + gain_long
        problem_kwargs["tax_ytd"] = (
            gain_short * rates["short_term"] + gain_long * rates["long_term"]
        )

    recent = []
    window_start = as_of - dt.timedelta(days=WASH_SALE_DAYS)
    for buy in sorted(data.recent_buys, key=lambda b: (b.acquired_on, b.ticker, b.lot_pk)):
        if buy.ticker not in index or not (window_start <= buy.acquired_on <= as_of):
            continue
        own = buy.account_id == data.account_id
        recent.append(
            RecentTrade(
                security=index[buy.ticker],
                trade_date=buy.acquired_on,
                side=Side.BUY,
                household=not own,
                account_id="" if own else str(buy.account_id),
                lot_id=buy.lot_pk if own else None,
            )
        )
    for sale in sorted(data.sales, key=lambda x: (x.trade_date, x.ticker, x.account_id)):
        if sale.ticker not in index or sale.gain >= 0:
            continue
        if not (window_start <= sale.trade_date <= as_of):
            continue
        own = sale.account_id == data.account_id
        recent.append(
            RecentTrade(
                security=index[sale.ticker],
                trade_date=sale.trade_date,
                side=Side.SELL,
                realized_loss=True,
                household=not own,
                account_id="" if own else str(sale.account_id),
            )
        )
    groups = []
    for group in resolved.equivalence:
        members = tuple(index[m] for m in group.members if m in index)
        if len(members) >= 2:
            groups.append(
                EquivalenceGroup(
                    members=members,
                    substantially_identical=group.substantially_identical,
                    name=group.name,
                )
            )
    return Problem(
        account_id=str(data.account_id),
        as_of=as_of,
        security_ids=tickers,
        prices=prices,
        targets=targets,
        lots=lots_array,
        cash=cash,
        settings=Settings(**settings_kwargs),
        tax_rates=TaxRates(short_term=rates["short_term"], long_term=rates["long_term"]),
        never_buy=flags(resolved.never_buy),
        never_sell=flags(resolved.never_sell),
        do_not_trade=flags(resolved.do_not_trade),
        recent_trades=tuple(recent),
        equivalence_groups=tuple(groups),
        tax_year=tax_year,
        risk_model=risk_model,
        **problem_kwargs,
    )


def solve_timed(problem: Problem) -> tuple[Solution | None, str, float]:
    """Solve one problem; never raises (an error comes back as text), with its milliseconds."""
    started = time.perf_counter()
    try:
        solution = solve(problem)
    except Exception:
        return None, traceback.format_exc(limit=3), (time.perf_counter() - started) * 1000
    return solution, "", (time.perf_counter() - started) * 1000


def solution_outcome(solution: Solution) -> tuple[str, str]:
    """(``proposed`` / ``no_trade`` / ``fallback``, the engine's message for a fallback)."""
    if solution.status in (Status.FALLBACK, Status.INFEASIBLE):
        return "fallback", solution.diagnostics.message or str(solution.status)
    return ("proposed", "") if solution.trades else ("no_trade", "")


def problem_bytes(problem: Problem) -> tuple[bytes, str]:
    """The problem's versioned JSON, zlib-compressed, and the sha256 of the JSON text."""
    text = problem_to_json(problem)
    return zlib.compress(text.encode(), 6), hashlib.sha256(text.encode()).hexdigest()


def problem_text(stored: bytes) -> str:
    return zlib.decompress(stored).decode()


def problem_load(stored: bytes) -> Problem:
    """The problem as it was solved, from its stored bytes."""
    return problem_from_json(problem_text(stored))


@dataclass(frozen=True)
class TradeRow:
    ticker: str
    side: str
    shares: Decimal
    value: Decimal
    cost: Decimal
    realized_gain: Decimal
    tax: Decimal
    reason_kind: str
    reason_rule: str
    reason: str


@dataclass(frozen=True)
class LotSaleRow:
    lot_pk: int
    ticker: str
    shares: Decimal
    proceeds: Decimal
    realized_gain: Decimal
    term: str
    tax: Decimal


def _money(x: float) -> Decimal:
    return Decimal(repr(float(x))).quantize(Decimal("0.01"))


def _shares(x: float) -> Decimal:
    return Decimal(repr(float(x))).quantize(Decimal("0.000001"))


_LOT_IN_TEXT = re.compile(r"\blot (\d+)\b")


def solution_rows(
    solution: Solution, lot_names: Mapping[int, str] | None = None
) -> tuple[list[TradeRow], list[LotSaleRow]]:
    """The solution's trades (each with its reason) and lot sales, as row values.

    The engine names lots by their id in the problem (the tax lot's row id); ``lot_names`` maps
    those to the custodian's lot ids, which the reasons people read then show."""
    names = lot_names or {}

    def readable(text: str) -> str:
        return _LOT_IN_TEXT.sub(lambda m: f"lot {names.get(int(m.group(1)), m.group(1))}", text)

    reasons: dict[str, list[Any]] = defaultdict(list)
    for reason in solution.reasons:
        reasons[reason.security_id].append(reason)
    gains: dict[str, tuple[float, float]] = defaultdict(lambda: (0.0, 0.0))
    for sale in solution.lot_sales:
        g, t = gains[sale.security_id]
        gains[sale.security_id] = (g + sale.realized_gain, t + sale.tax)
    trades = []
    for trade in solution.trades:
        mine = reasons.get(trade.security_id, [])
        first = mine[0] if mine else None
        texts = list(dict.fromkeys(r.text for r in mine))
        gain, tax = gains.get(trade.security_id, (0.0, 0.0)) if trade.side == Side.SELL else (0, 0)
        trades.append(
            TradeRow(
                ticker=trade.security_id,
                side=str(trade.side),
                shares=_shares(trade.shares),
                value=_money(trade.value),
                cost=_money(trade.cost),
                realized_gain=_money(gain),
                tax=_money(tax),
                reason_kind=first.kind if first else "",
                reason_rule=first.rule if first else "",
                reason=readable(" ".join(texts)),
            )
        )
    sales = [
        LotSaleRow(
            lot_pk=int(sale.lot_id),
            ticker=sale.security_id,
            shares=_shares(sale.shares),
            proceeds=_money(sale.proceeds),
            realized_gain=_money(sale.realized_gain),
            term=str(sale.term),
            tax=_money(sale.tax),
        )
        for sale in solution.lot_sales
    ]
    return trades, sales


def solution_summary(solution: Solution) -> dict[str, Any]:
    """Objective terms and diagnostics as JSON-able dicts."""
    diagnostics = solution.diagnostics
    return {
        "objective": {
            "before": dataclasses.asdict(solution.objective_before),
            "after": dataclasses.asdict(solution.objective_after),
            "continuous": dataclasses.asdict(solution.objective_continuous),
        },
        "diagnostics": {
            "status": str(solution.status),
            "message": diagnostics.message,
            "relaxed": list(diagnostics.relaxed),
            "iterations": diagnostics.iterations,
            "solves": diagnostics.solves,
            "backends": list(diagnostics.solver_backends),
            "turnover": solution.turnover,
            "repair_objective_change": diagnostics.repair_objective_change,
        },
    }


@dataclass(frozen=True)
class Packed:
    """One account's solve, ready to write: everything but the database rows' ids.

    Computed where the solve runs (a worker process), so the writer only inserts."""

    status: str  # proposed / no_trade / fallback / failed
    message: str
    solve_ms: float
    problem_zip: bytes
    input_hash: str
    fields: dict[str, Any]  # Analysis fields: objective, diagnostics, totals
    trades: tuple[TradeRow, ...]
    sales: tuple[tuple[LotSaleRow, str, dt.date], ...]  # with the custodian's lot id, acquired


def solve_packed(job: tuple[Problem, Mapping[int, tuple[str, dt.date]]]) -> Packed:
    """Solve and pack one problem; ``job`` carries the lots' custodian ids and dates by the
    problem's lot ids. Never raises."""
    problem, lots = job
    zipped, digest = problem_bytes(problem)
    solution, error, ms = solve_timed(problem)
    if solution is None:
        return Packed("failed", error, ms, zipped, digest, {}, (), ())
    status, message = solution_outcome(solution)
    trades, sales = solution_rows(solution, {pk: lot[0] for pk, lot in lots.items()})
    summary = solution_summary(solution)
    fields = {
        "objective": summary["objective"],
        "diagnostics": summary["diagnostics"],
        "trade_count": len(solution.trades),
        "bought": _money(sum(t.value for t in solution.trades if t.side == Side.BUY)),
        "sold": _money(sum(t.value for t in solution.trades if t.side == Side.SELL)),
        "realized_gain": _money(solution.realized_gain),
        "tax": _money(solution.tax),
        "drift_before": solution.objective_before.tracking_error,
        "drift_after": solution.objective_after.tracking_error,
    }
    return Packed(
        status,
        message,
        ms,
        zipped,
        digest,
        fields,
        tuple(trades),
        tuple((sale, lots[sale.lot_pk][0], lots[sale.lot_pk][1]) for sale in sales),
    )

"""Benchmark accounts built from the real S&P 500 prices (deterministic in their seeds).

Three cases (see docs/benchmarks.md):

- ``model``: a model-portfolio account over 50 SYNTHETIC ETF-like funds, ~80 lots, plain weight
  drift (no risk model). Each fund ("SYN-..."; not a real fund) is a fixed-share basket of real
  stocks, so its price history is real market movement.
- ``di_1500``: direct index over every stock quoted on the as-of date, ~1,500 lots, 20 factors.
- ``di_4000``: the same universe, ~4,000 lots, 40 factors.

Lots are bought on real trading days at that day's real split-adjusted close, so every gain and
loss on the as-of date is real. Accounts differ in size, lot history, settings and rules
(restrictions, budgets, caps, withdrawals, contributions, wash-sale trades), drawn from
``numpy.random.default_rng([case_seed, account])``.
"""

from __future__ import annotations

import datetime as dt
import math
from dataclasses import dataclass
from functools import lru_cache

import numpy as np
import numpy.typing as npt

from optimizer import risk
from optimizer.types import (
    EquivalenceGroup,
    GroupBound,
    Lots,
    Mode,
    Problem,
    RecentTrade,
    RiskModel,
    Settings,
    Side,
    TaxRates,
)
from optimizer_lab import data

FloatArray = npt.NDArray[np.float64]
IntArray = npt.NDArray[np.intp]

AS_OF = dt.date(2018, 12, 31)
"""All cases trade on this day: after the Q4-2018 fall, so accounts hold both real gains
(2015-2017 lots) and real losses (2018 lots)."""

EXCLUDED = ("UA",)
"""Tickers left out of every universe: UA's series has an unadjusted 51 % share-class drop on
2016-03-23 (data/sp500/README.md), which would be a fake loss."""

SHARE_CLASSES = (("GOOG", "GOOGL"), ("DISCA", "DISCK"), ("FOXA", "FOX"), ("NWSA", "NWS"))
"""Substantially identical share classes (one wash-sale class), primary first."""

CASE_NAMES = ("model", "di_1500", "di_4000")
VALUE_RANGE = {
    "model": (100_000.0, 3_000_000.0),
    "di_1500": (1_000_000.0, 10_000_000.0),
    "di_4000": (3_000_000.0, 30_000_000.0),
}
"""Account value range in $ (log-uniform): thousands of whole-share lots need a large account."""
CASE_SEED = 20181231


@dataclass(frozen=True)
class CaseSpec:
    name: str
    target_lots: int
    n_factors: int
    """0 = plain weight drift (no risk model)."""
    full_accounts: int
    quick_accounts: int


CASES: dict[str, CaseSpec] = {
    "model": CaseSpec("model", 80, 0, full_accounts=2000, quick_accounts=150),
    "di_1500": CaseSpec("di_1500", 1500, 20, full_accounts=300, quick_accounts=12),
    "di_4000": CaseSpec("di_4000", 4000, 40, full_accounts=200, quick_accounts=8),
}


@dataclass(frozen=True, eq=False)
class Universe:
    """Securities of a case with their price history.

    ``tickers`` (n,); ``closes`` (T, n) $/share on ``dates`` (T,), NaN = no quote;
    ``targets`` (n,) benchmark weights summing to 1; ``sectors`` (n,) labels.
    """

    tickers: tuple[str, ...]
    dates: npt.NDArray[np.datetime64]
    closes: FloatArray
    targets: FloatArray
    sectors: tuple[str, ...]
    as_of_row: int
    risk_model: RiskModel | None
    description: str


@lru_cache(maxsize=4)
def stock_universe(n_factors: int) -> Universe:
    """Every stock with a quote on ``AS_OF`` (except ``EXCLUDED``) and the factor model.

    Targets: 2015-07-08 caps rolled forward to ``AS_OF`` by price (``data.caps_on``) for the 2015
    members; names that were not members in 2015 (no cap known) have target 0 and appear only as
    legacy holdings.
    """
    closes = data.load_closes(adjusted=False)
    row = closes.row_on_or_before(AS_OF)
    quoted = ~np.isnan(closes.closes[row])
    keep = [i for i, t in enumerate(closes.tickers) if quoted[i] and t not in EXCLUDED]
    tickers = tuple(closes.tickers[i] for i in keep)
    cap_tickers, caps = data.caps_on(AS_OF)
    cap_of = {t: c for t, c in zip(cap_tickers, caps, strict=True) if np.isfinite(c)}
    targets = np.array([cap_of.get(t, 0.0) for t in tickers], dtype=np.float64)
    targets /= targets.sum()
    sector_map = data.load_sectors()
    model = risk.estimate_factor_arrays(
        data.load_closes(adjusted=True),
        AS_OF,
        sector_map,
        risk.RiskModelSettings(n_factors=n_factors),
        tickers=tickers,
    )
    n_members = int(np.count_nonzero(targets))
    return Universe(
        tickers=tickers,
        dates=closes.dates,
        closes=np.ascontiguousarray(closes.closes[:, keep]),
        targets=targets,
        sectors=tuple(sector_map[t] for t in tickers),
        as_of_row=row,
        risk_model=model.to_risk_model(tickers),
        description=(
            f"{len(tickers)} stocks quoted on {AS_OF}, {n_members} with a 2015 cap (target > 0), "
            f"{len(tickers) - n_members} legacy-only; factor model k={n_factors}"
        ),
    )


@lru_cache(maxsize=1)
def fund_universe() -> Universe:
    """50 SYNTHETIC ETF-like funds: fixed-share baskets of real stocks (labelled ``SYN-``).

    10 cap-weighted sector funds (the 2015 GICS sectors), 1 cap-weighted "total market", 1
    equal-weight market, 28 funds of 25-60 stocks (cap- or equal-weighted) drawn with a fixed
    seed; funds 40-49 are near-copies (3 names dropped, ``-ALT``) of funds 0-9, the "same index,
    other issuer" pairs used as equivalence groups. Constituents: 2015 members quoted on every
    day of the price files. Each basket holds fixed share counts: its price is $100 on day one.
    """
    closes = data.load_closes(adjusted=False)
    caps = data.load_caps_2015()
    full: npt.NDArray[np.bool_] = np.asarray(~np.isnan(closes.closes).any(axis=0))
    members = [
        (closes.column(t), s, c)
        for t, s, c in zip(caps.tickers, caps.sectors, caps.caps_usd_bn, strict=True)
        if full[closes.column(t)] and t not in EXCLUDED
    ]
    cols = np.array([m[0] for m in members], dtype=np.intp)
    sec = np.array([m[1] for m in members])
    cap = np.array([m[2] for m in members], dtype=np.float64)
    rng = np.random.default_rng(CASE_SEED)
    baskets: list[tuple[str, str, FloatArray]] = []  # (ticker, label, weights over members)
    for s in sorted(set(sec.tolist())):
        w = np.where(sec == s, cap, 0.0)
        baskets.append((f"SYN-{s[:4].upper()}-{len(baskets):02d}", s, w / w.sum()))
    baskets.append((f"SYN-TOTAL-{len(baskets):02d}", "Total market", cap / cap.sum()))
    eq = np.full(cap.size, 1.0 / cap.size)
    baskets.append((f"SYN-EQW-{len(baskets):02d}", "Equal weight", eq))
    while len(baskets) < 40:
        size = int(rng.integers(25, 61))
        pick = np.sort(rng.choice(cap.size, size=size, replace=False))
        w = np.zeros(cap.size)
        w[pick] = cap[pick] if rng.random() < 0.6 else 1.0
        baskets.append((f"SYN-MIX-{len(baskets):02d}", "Mixed", w / w.sum()))
    for j in range(10):
        tick, label, w = baskets[j]
        w2 = w.copy()
        held = np.flatnonzero(w2 > 0)
        w2[rng.choice(held, size=min(3, held.size - 1), replace=False)] = 0.0
        baskets.append((f"{tick}-ALT", label, w2 / w2.sum()))
    px0 = closes.closes[0, cols]
    prices = np.empty((closes.dates.size, len(baskets)))
    for j, (_, _, w) in enumerate(baskets):
        shares = 100.0 * w / px0  # fixed share counts: price 100 on day 0
        prices[:, j] = closes.closes[:, cols] @ shares
    row = closes.row_on_or_before(AS_OF)
    return Universe(
        tickers=tuple(b[0] for b in baskets),
        dates=closes.dates,
        closes=prices,
        targets=np.full(len(baskets), 1.0 / len(baskets)),
        sectors=tuple(b[1] for b in baskets),
        as_of_row=row,
        risk_model=None,
        description=(
            f"{len(baskets)} SYNTHETIC fund-like baskets of {cap.size} real stocks "
            "(not real funds); plain weight drift"
        ),
    )


def _model_portfolios(n_funds: int) -> list[FloatArray]:
    """Five model portfolios over the 50 funds (target weights summing to 0.98)."""
    rng = np.random.default_rng(CASE_SEED + 1)
    out = []
    for _ in range(5):
        size = int(rng.integers(12, 26))
        pick = rng.choice(40, size=size, replace=False)  # primaries only (not the -ALT copies)
        w = np.zeros(n_funds)
        w[pick] = rng.dirichlet(np.full(size, 3.0)) * 0.98
        out.append(w)
    return out


def _lots_from_buys(
    uni: Universe,
    sec: IntArray,
    rows: IntArray,
    dollars: FloatArray,
    fractional: bool,
) -> tuple[Lots, FloatArray]:
    """Lots bought for ``dollars`` of ``sec`` at the close of day ``rows``; returns (lots, $now)."""
    px_then = uni.closes[rows, sec]
    ok = np.isfinite(px_then)
    shares = dollars[ok] / px_then[ok]
    shares = np.round(shares, 4) if fractional else np.floor(shares)
    keep = shares > 0
    sec, rows, shares = sec[ok][keep], rows[ok][keep], shares[keep]
    basis = shares * px_then[ok][keep]
    order = np.lexsort((rows, sec))
    sec, rows, shares, basis = sec[order], rows[order], shares[order], basis[order]
    acquired = uni.dates[rows].astype("datetime64[D]")
    lots = Lots(
        lot_id=np.arange(1, sec.size + 1, dtype=np.int64),
        security=sec.astype(np.int64),
        shares=shares.astype(np.float64),
        cost_basis=basis.astype(np.float64),
        acquired=acquired,
    )
    value_now = shares * uni.closes[uni.as_of_row, sec]
    return lots, value_now


def _recent_trades(
    rng: np.random.Generator, uni: Universe, lots: Lots, n_household: int
) -> tuple[RecentTrade, ...]:
    """Account buys of the last 30 days (from the lots) plus random household trades."""
    trades: list[RecentTrade] = []
    as_of = np.datetime64(AS_OF, "D")
    recent = np.flatnonzero(as_of - lots.acquired <= np.timedelta64(30, "D"))
    for j in recent:
        day = dt.date.fromisoformat(str(lots.acquired[j]))
        trades.append(RecentTrade(int(lots.security[j]), day, Side.BUY))
    n = len(uni.tickers)
    for _ in range(n_household):
        side = Side.BUY if rng.random() < 0.5 else Side.SELL
        trades.append(
            RecentTrade(
                security=int(rng.integers(0, n)),
                trade_date=AS_OF - dt.timedelta(days=int(rng.integers(0, 31))),
                side=side,
                realized_loss=bool(side == Side.SELL),
                household=True,
                account_id="household-other",
            )
        )
    trades.sort(key=lambda r: (r.trade_date, r.security, r.side.value))
    return tuple(trades)


def _buy_history(
    rng: np.random.Generator,
    uni: Universe,
    weights: FloatArray,
    n_events: int,
    total: float,
    skip: float,
) -> tuple[IntArray, IntArray, FloatArray]:
    """Contribution events: on each of ``n_events`` trading days buy every name with weight > 0
    (each skipped with probability ``skip``) in proportion to ``weights``, with noise."""
    first = 1
    last = uni.as_of_row - 1
    days = np.sort(rng.choice(np.arange(first, last + 1), size=n_events, replace=False))
    if rng.random() < 0.3:  # a recent purchase: opens wash-sale windows
        days[-1] = last - int(rng.integers(0, 15))
    held = np.flatnonzero(weights > 0)
    sec_parts, row_parts, usd_parts = [], [], []
    amounts = rng.dirichlet(np.full(n_events, 2.0)) * total
    for e, day in enumerate(days):
        take = held[rng.random(held.size) >= skip]
        noise = rng.lognormal(0.0, 0.35, take.size)
        usd = amounts[e] * weights[take] * noise / weights[take].sum()
        sec_parts.append(take)
        row_parts.append(np.full(take.size, day))
        usd_parts.append(usd)
    return (
        np.concatenate(sec_parts).astype(np.intp),
        np.concatenate(row_parts).astype(np.intp),
        np.concatenate(usd_parts),
    )


def _history_with_lots(
    rng: np.random.Generator,
    uni: Universe,
    weights: FloatArray,
    events_guess: float,
    value: float,
    skip: float,
    target_lots: int,
) -> tuple[IntArray, IntArray, FloatArray]:
    """``_buy_history`` with enough events that at least ~95 % of ``target_lots`` lots hold a
    whole share (small accounts need more, smaller purchases to reach the same lot count)."""
    n_events = max(2, round(events_guess))
    best: tuple[int, tuple[IntArray, IntArray, FloatArray]] | None = None
    for _ in range(6):
        history = _buy_history(rng, uni, weights, n_events, value, skip)
        sec, rows, usd = history
        whole = int(np.count_nonzero(usd >= uni.closes[rows, sec]))  # NaN price: False
        if best is not None and whole <= best[0]:
            break  # more, smaller purchases no longer add whole-share lots
        best = (whole, history)
        if whole >= 0.95 * target_lots:
            break
        n_events = min(uni.as_of_row - 1, math.ceil(n_events * target_lots / max(whole, 1)))
    assert best is not None
    return best[1]


def _settings_and_rules(
    rng: np.random.Generator, uni: Universe, targets: FloatArray, value: float, di: bool
) -> tuple[Settings, dict[str, object]]:
    """Random account settings and rules; shared by both kinds of case."""
    n = len(uni.tickers)
    gamma = (
        float(np.exp(rng.uniform(np.log(10.0), np.log(200.0))))
        if di
        else float(np.exp(rng.uniform(np.log(1.0), np.log(30.0))))
    )
    kw: dict[str, object] = {
        "risk_aversion": gamma,
        "tax_weight": float(rng.choice([0.5, 1.0, 1.0, 1.0])),
        "cash_target": float(rng.uniform(0.0, 0.015)),
        "fractional_shares": bool(not di and rng.random() < 0.3),
        "min_trade": float(rng.choice([0.0, 25.0, 100.0])),
    }
    extra: dict[str, object] = {}
    u = rng.random(8)
    if u[0] < 0.25:
        kw["gain_budget"] = float(rng.uniform(0.0, 0.02) * value)
        extra["realized_gain_ytd"] = float(rng.uniform(-0.005, 0.01) * value)
    if u[1] < 0.1:
        kw["tax_budget"] = float(rng.uniform(0.0, 0.004) * value)
    if u[2] < 0.2:
        kw["turnover_max"] = float(rng.uniform(0.05, 0.3))
    if u[3] < 0.1:
        kw["te_max"] = 0.03 if di else 0.05
    if u[4] < 0.3:
        extra["never_buy"] = rng.random(n) < 0.02
    if u[5] < 0.1:
        extra["never_sell"] = rng.random(n) < 0.01
    if u[6] < 0.1:
        extra["withdrawal"] = float(rng.uniform(0.02, 0.08) * value)
        if rng.random() < 0.5:
            kw["mode"] = Mode.RAISE_CASH
    elif u[6] < 0.2:
        extra["contribution"] = float(rng.uniform(0.05, 0.2) * value)
        if rng.random() < 0.5:
            kw["mode"] = Mode.INVEST_CASH
    if u[7] < 0.2:
        extra["max_weight"] = targets * 1.5 + 0.01
    return Settings(**kw), extra  # type: ignore[arg-type]


def _sector_bounds(uni: Universe, targets: FloatArray) -> tuple[GroupBound, ...]:
    out = []
    for s in sorted(set(uni.sectors)):
        members = np.array([i for i, x in enumerate(uni.sectors) if x == s], dtype=np.int64)
        tw = float(targets[members].sum())
        if tw > 0:
            out.append(GroupBound(s, "sector", members, max(tw - 0.03, 0.0), tw + 0.03))
    return tuple(out)


def make_account(case: str, account: int) -> Problem:
    """Account number ``account`` of ``case`` (deterministic)."""
    spec = CASES[case]
    rng = np.random.default_rng([CASE_SEED, CASE_NAMES.index(case), account])
    di = spec.n_factors > 0
    uni = stock_universe(spec.n_factors) if di else fund_universe()
    n = len(uni.tickers)
    lo, hi = VALUE_RANGE[case]
    value = float(np.exp(rng.uniform(np.log(lo), np.log(hi))))
    if di:
        targets = uni.targets * 0.98
        held_w = targets.copy()
        legacy = rng.choice(
            np.flatnonzero(targets == 0), size=int(rng.integers(5, 30)), replace=False
        )
        held_w[legacy] = rng.uniform(0.0005, 0.003, legacy.size)
        n_target = int(np.count_nonzero(targets))
        sec, rows, usd = _history_with_lots(
            rng, uni, held_w, spec.target_lots / (0.9 * n_target), value, 0.1, spec.target_lots
        )
    else:
        models = _model_portfolios(n)
        targets = models[account % len(models)]
        held_w = targets.copy()
        legacy = rng.choice(
            np.flatnonzero(targets == 0), size=int(rng.integers(3, 9)), replace=False
        )
        held_w[legacy] = rng.uniform(0.01, 0.05, legacy.size)
        held = np.flatnonzero(held_w > 0)
        # ~80 lots: every held fund bought on a few of ~6 event days.
        sec, rows, usd = _history_with_lots(
            rng, uni, held_w, spec.target_lots / (0.6 * held.size), value, 0.4, spec.target_lots
        )
    settings, extra = _settings_and_rules(rng, uni, targets, value, di)
    lots, value_now = _lots_from_buys(uni, sec, rows, usd, settings.fractional_shares)
    invested = float(value_now.sum())
    contribution = _pop_float(extra, "contribution")
    withdrawal = _pop_float(extra, "withdrawal")
    cash = invested * float(rng.uniform(0.002, 0.03)) + contribution
    fields: dict[str, object] = {
        "cost_rates": _cost_rates(n, di),
        "tax_rates": TaxRates(0.408, 0.238) if rng.random() < 0.7 else TaxRates(0.37, 0.20),
        "recent_trades": _recent_trades(rng, uni, lots, int(rng.integers(0, 8))),
        "risk_model": uni.risk_model,
        **extra,
    }
    if di:
        present = {t: i for i, t in enumerate(uni.tickers)}
        fields["equivalence_groups"] = tuple(
            EquivalenceGroup((present[a], present[b]), True, name=f"{a}/{b}")
            for a, b in SHARE_CLASSES
            if a in present and b in present
        )
        if rng.random() < 0.15:
            fields["group_bounds"] = _sector_bounds(uni, targets)
    else:
        fields["equivalence_groups"] = tuple(
            EquivalenceGroup((j, 40 + j), False, name=f"{uni.tickers[j]}~ALT") for j in range(10)
        )
    if withdrawal > 0.0:
        fields["withdrawal"] = min(withdrawal, 0.5 * (invested + cash))
    return Problem(
        account_id=f"{case}-{account:05d}",
        as_of=AS_OF,
        security_ids=uni.tickers,
        prices=np.ascontiguousarray(uni.closes[uni.as_of_row]),
        targets=targets,
        lots=lots,
        cash=cash,
        settings=settings,
        **fields,  # type: ignore[arg-type]
    )


def _pop_float(d: dict[str, object], key: str) -> float:
    value = d.pop(key, 0.0)
    assert isinstance(value, float)
    return value


@lru_cache(maxsize=4)
def _cost_rates(n: int, di: bool) -> FloatArray:
    """Per-security cost per $ (half spread + commission): 5-20 bp stocks, 1-5 bp funds."""
    rng = np.random.default_rng(CASE_SEED + (7 if di else 8))
    lo, hi = (0.0005, 0.002) if di else (0.0001, 0.0005)
    rates = rng.uniform(lo, hi, n)
    rates.flags.writeable = False
    return rates

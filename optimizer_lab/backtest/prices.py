"""Market data as the backtest sees it: prices, derived dividends, universe and benchmark.

Built once per process from :mod:`optimizer_lab.data` (the one loader of ``data/sp500/``).

* ``close``: split-adjusted closes (T, n) $/share, NaN = no quote; ``last``: the same carried
  forward (valuation of a name on a day without a quote).
* Dividends are derived from the ratio ``R = adj_close / close`` (Yahoo's multiplicative
  adjustment): on an ex-date ``t`` (previous quoted day ``p``) the cash dividend per share is
  ``D_t = close_p * (1 - R_p / R_t)``. Ratios move by < 2.5e-5 from rounding alone, so a
  relative drop ``1 - R_p / R_t`` of at most ``DIVIDEND_NOISE`` is no dividend. A distribution of
  more than ``SPINOFF_FRACTION`` of the price (the DHR/Fortive and CSC/CSRA spin-offs) is a
  non-taxable return of capital: paid as cash, lowering basis.
* UA: the price file's UA series drops 51 % on 2016-03-23, an unadjusted distribution of class C
  shares (data/sp500/README.md). The backtest treats it as a split: UA's closes before that day
  are scaled by ``(UA_t/UA_p) / (UAA_t/UAA_p)`` so that UA's return that day is UAA's.
* Universe of a vintage: the 2015-07-08 members (``sp500_caps_2015-07-08.csv``) with a quote on
  the vintage's start day. Benchmark: their cap-weighted index with constant share counts,
  cap(i, t) = cap_2015(i) * last(i, t) / close(i, 2015-07-08); a name is in it up to its last
  quote (then sold at that close); dividends reinvested across the index (total return).
* Share classes of one issuer form an equivalence group (substantially identical for the
  wash-sale rule): GOOG/GOOGL, FOX/FOXA, NWS/NWSA, DISCA/DISCK, UA/UAA.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from functools import lru_cache

import numpy as np
import numpy.typing as npt

from optimizer_lab import data

FloatArray = npt.NDArray[np.float64]
IntArray = npt.NDArray[np.int64]
BoolArray = npt.NDArray[np.bool_]

DIVIDEND_NOISE = 5e-5
SPINOFF_FRACTION = 0.2
SHARE_CLASSES: tuple[tuple[str, ...], ...] = (
    ("DISCA", "DISCK"),
    ("FOX", "FOXA"),
    ("GOOG", "GOOGL"),
    ("NWS", "NWSA"),
    ("UA", "UAA"),
)
UA_EVENT = np.datetime64("2016-03-23", "D")


def derive_dividends(close: FloatArray, adj: FloatArray) -> tuple[FloatArray, FloatArray]:
    """Cash distributions per share from split-adjusted ``close`` and dividend-adjusted ``adj``.

    Both (T, n), $/share, NaN = no quote. Returns (``dividends``, ``spinoffs``), each (T, n) $
    per share paid on the ex-date row to holders at the previous quoted close; 0 elsewhere.
    ``dividends`` are taxable (qualified) cash; ``spinoffs`` are distributions of more than
    ``SPINOFF_FRACTION`` of the previous close, treated as return of capital.
    """
    t_len, n = close.shape
    div = np.zeros((t_len, n))
    spin = np.zeros((t_len, n))
    with np.errstate(invalid="ignore", divide="ignore"):
        ratio = adj / close
    for j in range(n):
        rows = np.flatnonzero(np.isfinite(ratio[:, j]))
        if rows.size < 2:
            continue
        r = ratio[rows, j]
        drop = 1.0 - r[:-1] / r[1:]
        hit = np.flatnonzero(drop > DIVIDEND_NOISE)
        for h in hit:
            prev, ex = rows[h], rows[h + 1]
            amount = close[prev, j] * drop[h]
            if drop[h] > SPINOFF_FRACTION:
                spin[ex, j] = amount
            else:
                div[ex, j] = amount
    return div, spin


def _fix_ua(
    tickers: tuple[str, ...],
    dates: npt.NDArray[np.datetime64],
    close: FloatArray,
    adj: FloatArray,
) -> None:
    """Scale UA's closes before 2016-03-23 in place (see the module docstring)."""
    if "UA" not in tickers or "UAA" not in tickers:
        return
    ua, uaa = tickers.index("UA"), tickers.index("UAA")
    t = int(np.searchsorted(dates, UA_EVENT))
    if t >= len(dates) or dates[t] != UA_EVENT:
        return
    prev = t - 1
    while prev >= 0 and not np.isfinite(close[prev, ua]):
        prev -= 1
    if prev < 0:
        return
    for arr in (close, adj):
        f = (arr[t, ua] / arr[prev, ua]) / (arr[t, uaa] / arr[prev, uaa])
        arr[:t, ua] *= f


@dataclass(frozen=True, eq=False)
class MarketData:
    """Everything the arms and the benchmark read, for all n tickers of the price files.

    ``dates`` (T,) datetime64[D]; ``ordinals`` (T,) date ordinals; ``close``/``adj`` (T, n) with
    NaN; ``last`` (T, n) carried forward (NaN before a name's first quote); ``dividends`` and
    ``spinoffs`` (T, n) $/share; ``cap2015`` (n,) $bn (NaN for non-members); ``close_caps_date``
    (n,) close on 2015-07-08; ``first_quote``/``last_quote`` (n,) row index (-1 if never);
    ``groups`` (n,) equivalence group id; ``sectors`` (n,) names.
    """

    dates: npt.NDArray[np.datetime64]
    ordinals: IntArray
    tickers: tuple[str, ...]
    close: FloatArray
    adj: FloatArray
    last: FloatArray
    dividends: FloatArray
    spinoffs: FloatArray
    cap2015: FloatArray
    close_caps_date: FloatArray
    first_quote: IntArray
    last_quote: IntArray
    groups: IntArray
    group_names: tuple[str, ...]
    sectors: tuple[str, ...]

    @property
    def n(self) -> int:
        return len(self.tickers)

    def row_of(self, day: dt.date | str) -> int:
        """Row of the first trading day >= ``day``."""
        iso = day if isinstance(day, str) else day.isoformat()
        return int(np.searchsorted(self.dates, np.datetime64(iso, "D")))

    def adj_table(self) -> data.PriceTable:
        """The (UA-fixed) dividend-adjusted closes as a PriceTable, for ``optimizer.risk``."""
        return data.PriceTable(dates=self.dates, tickers=self.tickers, closes=self.adj)

    def group_map(self) -> dict[str, str]:
        """ticker -> group name, for the checker."""
        return {t: self.group_names[int(g)] for t, g in zip(self.tickers, self.groups, strict=True)}


def build_market_data(
    close: FloatArray,
    adj: FloatArray,
    dates: npt.NDArray[np.datetime64],
    tickers: tuple[str, ...],
    caps: dict[str, float],
    sectors: dict[str, str],
) -> MarketData:
    """Assemble :class:`MarketData` from arrays (copies them; applies the UA fix)."""
    close = np.array(close, dtype=np.float64)
    adj = np.array(adj, dtype=np.float64)
    _fix_ua(tickers, dates, close, adj)
    t_len = close.shape[0]
    last = close.copy()
    for t in range(1, t_len):
        miss = np.isnan(last[t])
        last[t, miss] = last[t - 1, miss]
    quoted = np.isfinite(close)
    first_q = np.where(quoted.any(axis=0), quoted.argmax(axis=0), -1).astype(np.int64)
    last_q = np.where(quoted.any(axis=0), t_len - 1 - quoted[::-1].argmax(axis=0), -1).astype(
        np.int64
    )
    div, spin = derive_dividends(close, adj)
    cap = np.array([caps.get(t, np.nan) for t in tickers])
    caps_row = int(np.searchsorted(dates, data.CAPS_DATE, side="right")) - 1
    ccd = close[max(caps_row, 0)].copy()
    group_of: dict[str, str] = {t: t for t in tickers}
    for members in SHARE_CLASSES:
        name = "/".join(members)
        for m in members:
            if m in group_of:
                group_of[m] = name
    names = tuple(sorted(set(group_of.values())))
    gid = np.array([names.index(group_of[t]) for t in tickers], dtype=np.int64)
    ordinals = np.array([dt.date.fromisoformat(str(d)).toordinal() for d in dates], dtype=np.int64)
    return MarketData(
        dates=np.asarray(dates, dtype="datetime64[D]"),
        ordinals=ordinals,
        tickers=tickers,
        close=close,
        adj=adj,
        last=last,
        dividends=div,
        spinoffs=spin,
        cap2015=cap,
        close_caps_date=ccd,
        first_quote=first_q,
        last_quote=last_q,
        groups=gid,
        group_names=names,
        sectors=tuple(sectors.get(t, data.UNKNOWN_SECTOR) for t in tickers),
    )


@lru_cache(maxsize=1)
def load_market_data() -> MarketData:
    """The real S&P 500 data via :mod:`optimizer_lab.data` (cached per process)."""
    px = data.load_closes(adjusted=False)
    ad = data.load_closes(adjusted=True)
    if px.tickers != ad.tickers or not np.array_equal(px.dates, ad.dates):
        raise ValueError("close and adjusted close files disagree on tickers or dates")
    capt = data.load_caps_2015()
    caps = dict(zip(capt.tickers, (float(c) for c in capt.caps_usd_bn), strict=True))
    return build_market_data(px.closes, ad.closes, px.dates, px.tickers, caps, data.load_sectors())


@dataclass(frozen=True, eq=False)
class Vintage:
    """One account: funded with ``capital`` $ at the close of row ``start``, run to row ``end``.

    ``universe``: (m,) ticker indexes (members with a quote on the start day), ascending.
    """

    label: str
    start: int
    end: int
    universe: IntArray
    capital: float = 1_000_000.0


def make_vintage(md: MarketData, year: int, month: int, end_day: str = "2019-12-31") -> Vintage:
    """The vintage funded on the first trading day of ``year``-``month``."""
    start = md.row_of(dt.date(year, month, 1))
    end = int(np.searchsorted(md.dates, np.datetime64(end_day, "D"), side="right")) - 1
    members = (
        np.isfinite(md.cap2015) & np.isfinite(md.close[start]) & np.isfinite(md.close_caps_date)
    )
    return Vintage(f"{year}-{month:02d}", start, end, np.flatnonzero(members).astype(np.int64))


def bench_caps(md: MarketData, v: Vintage, t: int) -> FloatArray:
    """(n,) benchmark caps ($bn) on row ``t`` (0 outside the universe or after a last quote)."""
    out = np.zeros(md.n)
    u = v.universe
    alive = md.last_quote[u] >= t
    uu = u[alive]
    out[uu] = md.cap2015[uu] * md.last[t, uu] / md.close_caps_date[uu]
    return out


def bench_weights(md: MarketData, v: Vintage, t: int) -> FloatArray:
    """(n,) benchmark weights on row ``t`` (sum 1)."""
    c = bench_caps(md, v, t)
    return np.asarray(c / c.sum())


def bench_returns(md: MarketData, v: Vintage) -> FloatArray:
    """Daily total returns of the benchmark, (end - start,) for rows start+1 .. end.

    r_t = sum_i w_i(t-1) * ((last_i(t) + div_i(t) + spin_i(t)) / last_i(t-1) - 1)."""
    out = np.zeros(v.end - v.start)
    for k, t in enumerate(range(v.start + 1, v.end + 1)):
        w = bench_weights(md, v, t - 1)
        idx = np.flatnonzero(w)
        gross = (md.last[t, idx] + md.dividends[t, idx] + md.spinoffs[t, idx]) / md.last[t - 1, idx]
        out[k] = float(w[idx] @ (gross - 1.0))
    return out

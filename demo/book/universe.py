"""What the demo planner knows about the market: closes, the direct-indexing universe, the model
portfolios and the legacy stocks. Built from the files alone (no database), once per process.
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from functools import lru_cache

import numpy as np

from demo.marketdata.load import market_closes
from demo.marketdata.real import (
    CAPS_DATE,
    CloseTable,
    FloatArray,
    IntArray,
    caps_2015,
    real_securities,
)

#: Legacy stocks are bought in the first LEGACY_ROWS trading days (2015-01-12 .. about 2016-07)...
LEGACY_ROWS = 380
#: ...on a day when the close was at most 1/LEGACY_MIN_GAIN of today's: a low basis.
LEGACY_MIN_GAIN = 1.6


@dataclass(frozen=True)
class ModelPortfolio:
    """A model portfolio of synthetic funds: ``weights`` are (ticker, weight) summing to 1."""

    name: str
    weights: tuple[tuple[str, float], ...]
    taxable_preferred: bool = False


def _model(name: str, spec: str, *, taxable: bool = False) -> ModelPortfolio:
    pairs = [item.split("=") for item in spec.split()]
    weights = tuple((f"SYN.{code}", int(pct) / 100) for code, pct in pairs)
    total = sum(w for _, w in weights)
    if abs(total - 1.0) > 1e-9:
        raise ValueError(f"model {name!r} weights sum to {total}")
    return ModelPortfolio(name=name, weights=weights, taxable_preferred=taxable)


#: The demo's model portfolios (10 to 25 funds each), in percent.
MODEL_PORTFOLIOS: tuple[ModelPortfolio, ...] = (
    _model(
        "Conservative Income",
        "USLC=14 USMC=4 INTL=8 EMKT=2 AGG=24 STT=10 ITT=8 TIPS=6 IGC=10 HY=4 TBIL=6 MMF=4",
    ),
    _model(
        "Balanced Core",
        "USTM=22 USLC=10 USMC=5 USSC=4 INTL=10 INTS=3 EMKT=4 AGG=16 ITT=6 TIPS=4 IGC=8 HY=3 "
        "STT=3 TBIL=2",
    ),
    _model(
        "Growth",
        "USLC=25 USLCX=5 USMC=7 USSC=5 USEW=4 TECH=4 HLTH=3 FINL=3 INTL=12 INTLX=3 INTS=4 EMKT=6 "
        "AGG=7 IGC=3 HY=2 TIPS=2 TBIL=3 MMF=2",
    ),
    _model(
        "Sector Rotation Equity",
        "USLC=15 USMC=6 USSC=5 USEW=4 TECH=3 HLTH=3 FINL=3 DISC=3 STPL=3 ENRG=3 INDU=3 MATL=3 "
        "UTIL=3 REAL=3 COMM=3 INTL=10 INTS=4 EMKT=6 HY=3 IGC=3 AGG=4 TIPS=2 LTT=2 TBIL=2 MMF=1",
    ),
    _model(
        "Tax-Aware Balanced",
        "USTM=25 USLC=10 USMC=5 USSC=4 INTL=10 EMKT=4 INTS=2 MUNI=20 MUNS=8 MUCA=5 TIPS=2 "
        "TBIL=3 MMF=2",
        taxable=True,
    ),
    _model(
        "Index Core",
        "USTM=30 USLCX=15 USMC=5 USSC=5 INTLX=15 EMKT=5 CBND=15 AGG=5 TIPS=3 MMF=2",
    ),
)


@dataclass(frozen=True, eq=False)
class Universe:
    """Market data for planning.

    ``closes``: real and synthetic closes (1/10,000 $). ``today_row``: the last trading day.
    ``di_tickers``: the direct-indexing universe, 2015-07-08 members quoted on that day and today,
    largest 2015 cap first; ``di_cols`` their columns in ``closes``; ``di_cap_per_dollar``:
    cap_2015 / close(2015-07-08), so a name's cap on row t is that times its close on t;
    ``di_sectors`` their GICS sectors.
    ``legacy_tickers``: names that gained at least LEGACY_MIN_GAIN x from some day in the first
    LEGACY_ROWS rows to today, sorted.
    """

    closes: CloseTable
    today_row: int
    di_tickers: tuple[str, ...]
    di_cols: IntArray
    di_cap_per_dollar: FloatArray
    di_sectors: tuple[str, ...]
    legacy_tickers: tuple[str, ...]
    models: tuple[ModelPortfolio, ...]

    def legacy_rows(self, ticker: str) -> IntArray:
        """Rows in the legacy window on which ``ticker`` closed at a low enough basis."""
        col = self.closes.column(ticker)
        early = self.closes.ticks[:LEGACY_ROWS, col]
        today = self.closes.ticks[self.today_row, col]
        ok = (early > 0) & (early * LEGACY_MIN_GAIN <= today)
        return np.flatnonzero(ok).astype(np.int64)


@lru_cache(maxsize=1)
def universe_load() -> Universe:
    closes = market_closes()
    today = len(closes.dates) - 1
    caps_row = closes.row(CAPS_DATE)
    caps = caps_2015()
    eligible = [
        t
        for t in caps
        if closes.ticks[caps_row, closes.column(t)] > 0
        and closes.ticks[today, closes.column(t)] > 0
    ]
    eligible.sort(key=lambda t: (-caps[t], t))
    cols = np.array([closes.column(t) for t in eligible], dtype=np.int64)
    per_dollar = (
        np.array([float(caps[t]) for t in eligible], dtype=np.float64)
        / closes.dollars[caps_row, cols]
    )
    sectors = {s.ticker: s.sector for s in real_securities()}
    universe = Universe(
        closes=closes,
        today_row=today,
        di_tickers=tuple(eligible),
        di_cols=cols,
        di_cap_per_dollar=per_dollar,
        di_sectors=tuple(sectors[t] for t in eligible),
        legacy_tickers=(),
        models=MODEL_PORTFOLIOS,
    )
    legacy = tuple(sorted(t for t in eligible if len(universe.legacy_rows(t)) > 0))
    return replace(universe, legacy_tickers=legacy)

"""The real S&P 500 reference data in ``data/sp500/`` (see the README there), read without a DB.

* Prices: ``sp500_close_2015_2020.csv.gz``, daily closes adjusted for splits but not dividends: the
  price a holding is valued at and a lot is bought at. 1,259 trading days (2015-01-12 .. 2020-01-10)
  x 482 tickers; a blank cell or a close <= 0 is no quote (CBS closes at 0.0 on 2019-12-04).
* Market caps: ``sp500_caps_2015-07-08.csv`` (index members on 2015-07-08 and their caps). Never the
  2026 financials file: its caps are in today's share basis. Cap of name i on day t =
  cap_2015(i) x close(i, t) / close(i, 2015-07-08).
* Names, sectors and sub-industries: ``sp500_constituents.csv`` (today's members); for names no
  longer in the index, the 2015 caps file (name, sector; Telecommunication Services renamed to
  Communication Services); otherwise the ticker alone.
* A ticker with no quote on the last day of the file is ``delisted``.

Closes are kept exactly: as integers in units of 1/10,000 dollar (every close in the file has four
decimal places; a file with more is rejected rather than rounded). :meth:`CloseTable.close` turns
one back into a ``Decimal``.
"""

from __future__ import annotations

import csv
import datetime as dt
import gzip
from bisect import bisect_right
from dataclasses import dataclass, field
from decimal import Decimal
from functools import cached_property, lru_cache
from itertools import pairwise
from pathlib import Path

import numpy as np
import numpy.typing as npt

DATA_DIR = Path(__file__).resolve().parent.parent.parent / "data" / "sp500"
CLOSE_FILE = "sp500_close_2015_2020.csv.gz"
CAPS_FILE = "sp500_caps_2015-07-08.csv"
CONSTITUENTS_FILE = "sp500_constituents.csv"
CAPS_DATE = dt.date(2015, 7, 8)

#: Closes are stored as integers of this many units per dollar.
TICKS_PER_DOLLAR = 10_000
_TICK_EXPONENT = -4

#: Where the real rows come from, as stored in ``Security.source``.
REAL_SOURCE = "Real: Yahoo Finance daily closes 2015-01-12..2020-01-10, split-adjusted (data/sp500)"

# GICS renamed Telecommunication Services to Communication Services in 2018.
_SECTOR_RENAMES = {"Telecommunication Services": "Communication Services"}

IntArray = npt.NDArray[np.int64]
FloatArray = npt.NDArray[np.float64]


@dataclass(frozen=True, eq=False)
class CloseTable:
    """Daily closes in wide form.

    ``dates``: T ascending trading days. ``tickers``: n symbols. ``ticks``: shape (T, n), int64, the
    close of ``tickers[j]`` on ``dates[t]`` in 1/10,000 dollars per share; 0 means no quote.
    """

    dates: tuple[dt.date, ...]
    tickers: tuple[str, ...]
    ticks: IntArray
    _columns: dict[str, int] = field(init=False, repr=False, compare=False)
    _rows: dict[dt.date, int] = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        if self.ticks.shape != (len(self.dates), len(self.tickers)):
            raise ValueError(f"ticks shape {self.ticks.shape} does not match dates x tickers")
        if len(set(self.tickers)) != len(self.tickers):
            raise ValueError("duplicate tickers in a close table")
        object.__setattr__(self, "_columns", {t: j for j, t in enumerate(self.tickers)})
        object.__setattr__(self, "_rows", {d: i for i, d in enumerate(self.dates)})

    @property
    def last_date(self) -> dt.date:
        return self.dates[-1]

    def column(self, ticker: str) -> int:
        """Column of ``ticker`` (``KeyError`` naming it if the table has no such ticker)."""
        try:
            return self._columns[ticker]
        except KeyError:
            raise KeyError(f"no price history for ticker {ticker!r}") from None

    def row(self, date: dt.date) -> int:
        """Row of ``date`` (``KeyError`` if it is not a trading day of the table)."""
        try:
            return self._rows[date]
        except KeyError:
            raise KeyError(f"{date} is not a trading day in the price files") from None

    def row_on_or_before(self, date: dt.date) -> int:
        """Row of the last trading day <= ``date`` (``ValueError`` if before the first day)."""
        row = bisect_right(self.dates, date) - 1
        if row < 0:
            raise ValueError(f"{date} is before the first trading day {self.dates[0]}")
        return row

    def close(self, ticker: str, date: dt.date) -> Decimal | None:
        """Close of ``ticker`` on ``date`` in dollars (None if no quote that day)."""
        return ticks_to_decimal(int(self.ticks[self.row(date), self.column(ticker)]))

    def quoted_rows(self, ticker: str) -> IntArray:
        """Rows on which ``ticker`` has a quote, ascending."""
        return np.flatnonzero(self.ticks[:, self.column(ticker)] > 0).astype(np.int64)

    def has_quote(self, ticker: str, row: int) -> bool:
        return bool(self.ticks[row, self.column(ticker)] > 0)

    @cached_property
    def dollars(self) -> FloatArray:
        """The closes as float dollars, NaN where there is no quote (for index arithmetic only)."""
        out = self.ticks.astype(np.float64) / TICKS_PER_DOLLAR
        out[self.ticks <= 0] = np.nan
        out.flags.writeable = False
        return out

    def combined(self, other: CloseTable) -> CloseTable:
        """This table and ``other`` (same dates, disjoint tickers) side by side."""
        if other.dates != self.dates:
            raise ValueError("close tables cover different dates")
        return CloseTable(
            dates=self.dates,
            tickers=self.tickers + other.tickers,
            ticks=np.hstack([self.ticks, other.ticks]),
        )


def ticks_to_decimal(ticks: int) -> Decimal | None:
    """A close in 1/10,000 $ as an exact ``Decimal`` with four places (None for 0: no quote)."""
    if ticks <= 0:
        return None
    return Decimal(ticks).scaleb(_TICK_EXPONENT)


@dataclass(frozen=True)
class RealSecurity:
    """One ticker of the price files with what the reference data says about it."""

    ticker: str
    name: str
    sector: str
    industry: str
    delisted: bool
    cap_2015_usd_bn: Decimal | None


@lru_cache(maxsize=2)
def _read_closes(path: Path) -> CloseTable:
    with gzip.open(path, "rt", encoding="ascii", newline="") as fh:
        lines = fh.read().splitlines()
    header = lines[0].split(",")
    if header[0] != "date":
        raise ValueError(f"{path}: first column must be 'date', got {header[0]!r}")
    tickers = tuple(header[1:])
    dates: list[dt.date] = []
    ticks = np.zeros((len(lines) - 1, len(tickers)), dtype=np.int64)
    for i, line in enumerate(ln for ln in lines[1:] if ln):
        cells = line.split(",")
        if len(cells) != len(header):
            raise ValueError(f"{path}: row {i + 2} has {len(cells)} cells, expected {len(header)}")
        dates.append(dt.date.fromisoformat(cells[0]))
        for j, cell in enumerate(cells[1:]):
            if not cell:
                continue
            value = Decimal(cell)
            exponent = value.as_tuple().exponent
            if not isinstance(exponent, int) or exponent < _TICK_EXPONENT:
                raise ValueError(f"{path}: {cell!r} ({tickers[j]}, {cells[0]}) has > 4 decimals")
            if value > 0:  # a close <= 0 is no quote
                ticks[i, j] = int(value.scaleb(-_TICK_EXPONENT))
    if any(b <= a for a, b in pairwise(dates)):
        raise ValueError(f"{path}: dates are not strictly ascending")
    ticks = ticks[: len(dates)]
    ticks.flags.writeable = False
    return CloseTable(dates=tuple(dates), tickers=tickers, ticks=ticks)


def real_closes(data_dir: Path = DATA_DIR) -> CloseTable:
    """The split-adjusted daily closes of all 482 tickers (cached per process; read-only)."""
    return _read_closes(data_dir / CLOSE_FILE)


def demo_today(data_dir: Path = DATA_DIR) -> dt.date:
    """The demo's "today": the last trading day in the price files (2020-01-10)."""
    return real_closes(data_dir).last_date


@lru_cache(maxsize=2)
def _read_caps(path: Path) -> dict[str, tuple[str, str, Decimal | None]]:
    out: dict[str, tuple[str, str, Decimal | None]] = {}
    with path.open(newline="", encoding="utf-8") as fh:
        for rec in csv.DictReader(fh):
            sector = _SECTOR_RENAMES.get(rec["Sector"], rec["Sector"])
            cap = Decimal(rec["MarketCap_usd_bn"]) if rec["MarketCap_usd_bn"] else None
            out[rec["Symbol"]] = (rec["Name"], sector, cap)
    return out


@lru_cache(maxsize=2)
def _read_constituents(path: Path) -> dict[str, tuple[str, str, str]]:
    with path.open(newline="", encoding="utf-8") as fh:
        return {
            rec["Symbol"]: (rec["Security"], rec["GICS Sector"], rec["GICS Sub-Industry"])
            for rec in csv.DictReader(fh)
        }


def caps_2015(data_dir: Path = DATA_DIR) -> dict[str, Decimal]:
    """Market cap on 2015-07-08 in $bn of every price-file ticker that has one (387), by ticker."""
    tickers = set(real_closes(data_dir).tickers)
    caps = _read_caps(data_dir / CAPS_FILE)
    return {t: c for t, (_, _, c) in sorted(caps.items()) if t in tickers and c is not None}


@lru_cache(maxsize=2)
def _real_securities(data_dir: Path) -> tuple[RealSecurity, ...]:
    closes = real_closes(data_dir)
    today = _read_constituents(data_dir / CONSTITUENTS_FILE)
    then = _read_caps(data_dir / CAPS_FILE)
    last = closes.ticks[-1]
    out = []
    for j, ticker in enumerate(closes.tickers):
        if ticker in today:
            name, sector, industry = today[ticker]
        elif ticker in then:
            name, sector, industry = then[ticker][0], then[ticker][1], ""
        else:
            name, sector, industry = ticker, "", ""
        cap = then[ticker][2] if ticker in then else None
        out.append(
            RealSecurity(
                ticker=ticker,
                name=name,
                sector=sector,
                industry=industry,
                delisted=bool(last[j] <= 0),
                cap_2015_usd_bn=cap,
            )
        )
    return tuple(out)


def real_securities(data_dir: Path = DATA_DIR) -> tuple[RealSecurity, ...]:
    """Every ticker of the price files, in file (alphabetical) order."""
    return _real_securities(data_dir)

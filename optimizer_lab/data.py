"""Load the real S&P 500 reference data in ``data/sp500/`` into numpy arrays.

Files (see ``data/sp500/README.md`` for sources and quirks):

- ``sp500_close_2015_2020.csv.gz``: daily split-adjusted closes (the price a holding is valued at);
- ``sp500_adj_close_2015_2020.csv.gz``: split- and dividend-adjusted closes (total returns, risk);
- ``sp500_caps_2015-07-08.csv``: index members and market caps on 2015-07-08;
- ``sp500_constituents.csv``: GICS sectors of today's members.

Conventions: prices are US dollars per share; a missing quote is ``NaN`` (a blank cell or a
close <= 0 in the file); dates are ``numpy.datetime64[D]``; tickers are the column names of the
price files, sorted. Parsed tables are cached per process (``functools.lru_cache``) and returned
as read-only arrays, so callers share one copy and must copy before writing.

The data directory is ``<repo>/data/sp500``. The environment variable ``REBALANCER_DATA_DIR``
overrides it: it may name the ``data`` directory (holding ``sp500/``) or ``sp500`` itself.
"""

from __future__ import annotations

import csv
import datetime as dt
import gzip
import io
import os
import re
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path

import numpy as np
import numpy.typing as npt

# The price table and the sector default live in the engine (``optimizer.risk``), which
# estimates risk models from prices for the nightly batch too; re-exported for the lab.
from optimizer.risk import UNKNOWN_SECTOR as UNKNOWN_SECTOR
from optimizer.risk import PriceTable as PriceTable

FloatArray = npt.NDArray[np.float64]
DateArray = npt.NDArray[np.datetime64]

CLOSE_FILE = "sp500_close_2015_2020.csv.gz"
ADJ_CLOSE_FILE = "sp500_adj_close_2015_2020.csv.gz"
CAPS_FILE = "sp500_caps_2015-07-08.csv"
CONSTITUENTS_FILE = "sp500_constituents.csv"
CAPS_DATE = np.datetime64("2015-07-08", "D")

# GICS renamed Telecommunication Services to Communication Services in 2018; the 2015 caps file
# uses the old name, today's constituents file the new one.
_SECTOR_RENAMES = {"Telecommunication Services": "Communication Services"}


def data_dir() -> Path:
    """Directory that holds the S&P 500 files (``REBALANCER_DATA_DIR`` overrides the default)."""
    override = os.environ.get("REBALANCER_DATA_DIR")
    if override:
        base = Path(override)
        return base / "sp500" if (base / "sp500").is_dir() else base
    return Path(__file__).resolve().parent.parent / "data" / "sp500"


@dataclass(frozen=True, eq=False)
class CapTable:
    """S&P 500 members on 2015-07-08 that have prices in the price files.

    ``tickers``: symbols as in the price files (sorted); ``names``: company names;
    ``sectors``: GICS sector as listed in 2015 (Telecommunication Services renamed to
    Communication Services); ``caps_usd_bn``: market cap on 2015-07-08 in billions of dollars.
    """

    tickers: tuple[str, ...]
    names: tuple[str, ...]
    sectors: tuple[str, ...]
    caps_usd_bn: FloatArray


def _readonly(a: np.ndarray) -> np.ndarray:
    a.flags.writeable = False
    return a


@lru_cache(maxsize=4)
def _parse_price_file(path: Path) -> PriceTable:
    with gzip.open(path, "rb") as fh:
        raw = fh.read().replace(b"\r\n", b"\n")
    head, _, body = raw.partition(b"\n")
    header = head.decode("ascii").split(",")
    if header[0] != "date":
        raise ValueError(f"{path}: first column must be 'date', got {header[0]!r}")
    tickers = tuple(header[1:])
    if list(tickers) != sorted(tickers):
        raise ValueError(f"{path}: ticker columns are not sorted")
    # Blank cells become "nan" so numpy's C parser reads the block in one pass (no Python
    # float objects: about 20 MB peak instead of 90 MB).
    body = re.sub(rb"(?<=,)(?=,|\n|$)", b"nan", body.rstrip(b"\n"))
    dates = np.array([line[:10].decode("ascii") for line in body.split(b"\n")], "datetime64[D]")
    if np.any(np.diff(dates) <= np.timedelta64(0, "D")):
        raise ValueError(f"{path}: dates are not strictly ascending")
    closes = np.loadtxt(
        io.BytesIO(body), delimiter=",", usecols=range(1, len(header)), dtype=np.float64, ndmin=2
    )
    if closes.shape != (dates.size, len(tickers)):
        raise ValueError(f"{path}: expected {dates.size} x {len(tickers)} cells")
    with np.errstate(invalid="ignore"):
        closes[~(closes > 0.0)] = np.nan  # close <= 0 is no quote (e.g. CBS on 2019-12-04)
    return PriceTable(dates=_readonly(dates), tickers=tickers, closes=_readonly(closes))


def load_closes(adjusted: bool) -> PriceTable:
    """Daily closes for all 482 tickers, 2015-01-12 .. 2020-01-10.

    ``adjusted=False``: split-adjusted closes (value holdings and lots at these).
    ``adjusted=True``: split- and dividend-adjusted closes (total returns; risk models).
    """
    return _parse_price_file(data_dir() / (ADJ_CLOSE_FILE if adjusted else CLOSE_FILE))


@lru_cache(maxsize=4)
def _parse_caps(path: Path, price_tickers: tuple[str, ...]) -> CapTable:
    known = set(price_tickers)
    rows: list[tuple[str, str, str, float]] = []
    with path.open(newline="", encoding="utf-8") as fh:
        for rec in csv.DictReader(fh):
            sym = rec["Symbol"]
            if sym not in known or not rec["MarketCap_usd_bn"]:
                continue
            sector = _SECTOR_RENAMES.get(rec["Sector"], rec["Sector"])
            rows.append((sym, rec["Name"], sector, float(rec["MarketCap_usd_bn"])))
    rows.sort()
    return CapTable(
        tickers=tuple(r[0] for r in rows),
        names=tuple(r[1] for r in rows),
        sectors=tuple(r[2] for r in rows),
        caps_usd_bn=_readonly(np.array([r[3] for r in rows], dtype=np.float64)),
    )


def load_caps_2015() -> CapTable:
    """Members of 2015-07-08 with a price series here (387 names) and their caps ($bn)."""
    return _parse_caps(data_dir() / CAPS_FILE, load_closes(adjusted=False).tickers)


def caps_on(date: dt.date | np.datetime64 | str) -> tuple[tuple[str, ...], FloatArray]:
    """Market caps ($bn) of the 2015-07-08 members on the last trading day <= ``date``.

    Cap(i, t) = MarketCap_2015(i) * close(i, t) / close(i, 2015-07-08), with split-adjusted
    closes (constant share counts; see data/sp500/README.md). A name without a quote on t (or on
    2015-07-08) gets ``NaN``. Returns (tickers of ``load_caps_2015()``, caps of shape (m,)).
    """
    caps = load_caps_2015()
    prices = load_closes(adjusted=False)
    cols = np.array([prices.column(t) for t in caps.tickers], dtype=np.intp)
    now = prices.closes[prices.row_on_or_before(date), cols]
    then = prices.closes[prices.row_on_or_before(CAPS_DATE), cols]
    return caps.tickers, caps.caps_usd_bn * now / then


@lru_cache(maxsize=4)
def _parse_sectors(
    constituents: Path, caps_path: Path, price_tickers: tuple[str, ...]
) -> dict[str, str]:
    today: dict[str, str] = {}
    with constituents.open(newline="", encoding="utf-8") as fh:
        for rec in csv.DictReader(fh):
            today[rec["Symbol"]] = rec["GICS Sector"]
    then = dict(zip(load_caps_2015().tickers, load_caps_2015().sectors, strict=True))
    return {t: today.get(t) or then.get(t) or UNKNOWN_SECTOR for t in price_tickers}


def load_sectors() -> dict[str, str]:
    """GICS sector of every ticker in the price files (a new dict; the caller may change it).

    Source order: today's ``sp500_constituents.csv`` (353 names), else the 2015-07-08 caps file
    (34 more, old sector name mapped to today's), else ``"Unknown"`` (39 names that were in
    neither list: they left the index before 2015-07 and after the price list was taken).
    """
    base = data_dir()
    tickers = load_closes(adjusted=False).tickers
    return dict(_parse_sectors(base / CONSTITUENTS_FILE, base / CAPS_FILE, tickers))

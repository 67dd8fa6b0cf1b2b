"""An independent reader of the real close file for tests: plain csv, strings, no numpy."""

from __future__ import annotations

import csv
import datetime as dt
import gzip
from decimal import Decimal
from functools import lru_cache
from pathlib import Path

CLOSE_FILE = Path(__file__).resolve().parents[2] / "data" / "sp500" / "sp500_close_2015_2020.csv.gz"


@lru_cache(maxsize=1)
def csv_closes() -> dict[tuple[str, dt.date], Decimal]:
    """{(ticker, date): close} for every non-blank, positive cell of the file."""
    out: dict[tuple[str, dt.date], Decimal] = {}
    with gzip.open(CLOSE_FILE, "rt", newline="") as fh:
        reader = csv.reader(fh)
        header = next(reader)
        for row in reader:
            day = dt.date.fromisoformat(row[0])
            for ticker, cell in zip(header[1:], row[1:], strict=True):
                if cell and Decimal(cell) > 0:
                    out[(ticker, day)] = Decimal(cell)
    return out


def csv_dates() -> list[dt.date]:
    return sorted({day for _, day in csv_closes()})

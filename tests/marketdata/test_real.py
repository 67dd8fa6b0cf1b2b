"""The real S&P 500 files as demo.marketdata.real reads them, against a plain csv read."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal

from demo.marketdata.real import (
    caps_2015,
    demo_today,
    real_closes,
    real_securities,
)
from tests.marketdata.csvfile import csv_closes, csv_dates


def test_closes_cover_the_files_window_and_match_the_csv_exactly() -> None:
    closes = real_closes()
    assert closes.ticks.shape == (1259, 482)
    assert list(closes.dates) == csv_dates()
    assert closes.dates[0] == dt.date(2015, 1, 12)
    assert demo_today() == dt.date(2020, 1, 10)
    expected = csv_closes()
    # Every quoted cell agrees to the last decimal, and nothing else is quoted.
    assert int((closes.ticks > 0).sum()) == len(expected)
    for (ticker, day), close in list(expected.items())[::997]:
        assert closes.close(ticker, day) == close
    assert closes.close("AAPL", dt.date(2015, 1, 12)) == Decimal("109.2500")


def test_close_at_or_below_zero_and_blank_cells_are_no_quote() -> None:
    closes = real_closes()
    # CBS closes at 0.0 on 2019-12-04 in the file (a known quirk): no quote.
    assert closes.close("CBS", dt.date(2019, 12, 4)) is None
    # TWX was acquired in 2018: no quotes at the end of the window.
    assert closes.close("TWX", dt.date(2020, 1, 10)) is None


def test_names_sectors_and_status_come_from_the_right_files() -> None:
    securities = {s.ticker: s for s in real_securities()}
    assert len(securities) == 482
    apple = securities["AAPL"]
    assert apple.name == "Apple Inc."  # today's constituents file
    assert apple.sector == "Information Technology"
    assert apple.industry == "Technology Hardware, Storage & Peripherals"
    assert not apple.delisted
    celgene = securities["CELG"]  # left the index: name and sector from the 2015 caps file
    assert celgene.name == "Celgene Corp"
    assert celgene.sector == "Health Care"
    assert celgene.delisted
    last_day = demo_today()
    expected_delisted = {t for t in securities if (t, last_day) not in csv_closes()}
    assert {t for t, s in securities.items() if s.delisted} == expected_delisted


def test_caps_are_the_2015_file_never_the_2026_financials() -> None:
    caps = caps_2015()
    assert len(caps) == 387
    assert caps["AAPL"] == Decimal("706.13")  # 2015-07-08, not Apple's 2026 cap
    assert max(caps.values()) == caps["AAPL"]

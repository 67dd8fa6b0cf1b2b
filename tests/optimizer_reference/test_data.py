"""Loading the real S&P 500 files: shapes, missing quotes, caps and sectors."""

from __future__ import annotations

import csv
import gzip
import time

import numpy as np

from optimizer_lab import data


def test_closes_shape_and_dates() -> None:
    for adjusted in (False, True):
        table = data.load_closes(adjusted=adjusted)
        assert table.closes.shape == (1259, 482)
        assert table.dates[0] == np.datetime64("2015-01-12")
        assert table.dates[-1] == np.datetime64("2020-01-10")
        assert list(table.tickers) == sorted(table.tickers)
        assert not table.closes.flags.writeable


def test_cells_match_the_file_text() -> None:
    """Spot-check parsed values against an independent csv read of the raw file."""
    table = data.load_closes(adjusted=False)
    with gzip.open(data.data_dir() / data.CLOSE_FILE, "rt") as fh:
        rows = list(csv.reader(fh))
    header = rows[0]
    for r in (1, 400, 1259):
        for c in (1, 19, 250, 482):
            cell = rows[r][c]
            got = table.closes[r - 1, table.column(header[c])]
            if cell == "" or float(cell) <= 0.0:
                assert np.isnan(got)
            else:
                assert got == float(cell)


def test_zero_close_is_no_quote() -> None:
    table = data.load_closes(adjusted=False)
    row = table.row_on_or_before("2019-12-04")
    assert table.dates[row] == np.datetime64("2019-12-04")
    assert np.isnan(table.closes[row, table.column("CBS")])
    assert np.all(np.isnan(table.closes) | (table.closes > 0.0))


def test_row_on_or_before_skips_weekends() -> None:
    table = data.load_closes(adjusted=True)
    sat = table.row_on_or_before("2015-07-11")  # a Saturday
    assert table.dates[sat] == np.datetime64("2015-07-10")


def test_cached_load_is_fast() -> None:
    data.load_closes(adjusted=True)
    t0 = time.perf_counter()
    for _ in range(100):
        data.load_closes(adjusted=True)
    assert time.perf_counter() - t0 < 0.05


def test_caps_match_readme() -> None:
    caps = data.load_caps_2015()
    assert len(caps.tickers) == 387
    tickers, now = data.caps_on(data.CAPS_DATE)
    np.testing.assert_allclose(now, caps.caps_usd_bn, rtol=1e-14)
    weights = now / now.sum()
    aapl = weights[tickers.index("AAPL")]
    assert 0.035 < aapl < 0.05  # README: Apple 4.2 % of the mid-2015 index


def test_every_ticker_has_a_sector() -> None:
    sectors = data.load_sectors()
    assert set(sectors) == set(data.load_closes(adjusted=False).tickers)
    assert sectors["AAPL"] == "Information Technology"
    assert "Telecommunication Services" not in sectors.values()
    assert sum(v == data.UNKNOWN_SECTOR for v in sectors.values()) == 39

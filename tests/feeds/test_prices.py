"""Price imports in long and wide form: streaming, idempotent, every bad row reported."""

from __future__ import annotations

import datetime as dt
import gc
import tracemalloc
from decimal import Decimal
from typing import Any

import pytest
from django.utils import timezone

from models_hub.models import Price, Security
from tests.conftest import Cast
from tests.factories import SecurityFactory
from tests.feeds.conftest import assert_rejected, csv_bytes, run, snapshot
from workflow.models import ImportStatus

pytestmark = pytest.mark.django_db


def closes(cast: Cast, ticker: str) -> dict[dt.date, Decimal]:
    rows = Price.objects.filter(firm=cast.firm_a, security__ticker=ticker)
    return dict(rows.values_list("date", "close"))


@pytest.fixture
def msft(cast: Cast) -> Security:
    return SecurityFactory(firm=cast.firm_a, ticker="MSFT")


def test_long_form_inserts_and_updates_closes(cast: Cast, msft: Security) -> None:
    text = (
        "ticker,date,close\n"
        "AAPL,2019-12-31,300.000001\n"  # the cast's close was 293.65: updated
        "AAPL,2020-01-02,300.35\n"
        "msft,2020-01-02,160.62\n"
    )
    record = run(cast, "prices", text)
    assert record.status == ImportStatus.APPLIED, record.message
    assert (record.rows, record.created, record.updated, record.unchanged) == (3, 2, 1, 0)
    assert record.detail["form"] == "long"
    assert closes(cast, "AAPL") == {
        dt.date(2019, 12, 31): Decimal("300.000001"),
        dt.date(2020, 1, 2): Decimal("300.35"),
    }
    assert closes(cast, "MSFT") == {dt.date(2020, 1, 2): Decimal("160.62")}
    # Firm B's AAPL keeps its own close.
    assert Price.objects.get(firm=cast.firm_b).close == Decimal("293.65")


def test_wide_form_blank_and_non_positive_are_no_quote(cast: Cast, msft: Security) -> None:
    text = (
        "date,AAPL,MSFT\n"
        "2019-12-31,293.65,157.70\n"  # AAPL unchanged, MSFT new
        "2020-01-02,300.35,\n"  # blank: no quote
        "2020-01-03,0.0,158.62\n"  # 0.0: no quote, skipped (the real file has one)
        "2020-01-06,-1,159.03\n"  # negative: no quote too
    )
    record = run(cast, "prices", text)
    assert record.status == ImportStatus.APPLIED, record.message
    assert record.detail["form"] == "wide"
    assert (record.lines, record.rows) == (4, 7)
    assert (record.created, record.updated, record.unchanged, record.skipped) == (4, 0, 1, 2)
    assert sorted(closes(cast, "AAPL")) == [dt.date(2019, 12, 31), dt.date(2020, 1, 2)]
    assert len(closes(cast, "MSFT")) == 3


def test_same_closes_in_another_form_write_nothing(cast: Cast) -> None:
    run(cast, "prices", "ticker,date,close\nAAPL,2020-01-02,300.35\n")
    after = snapshot()
    record = run(cast, "prices", "date,AAPL\n2019-12-31,293.650000\n2020-01-02,300.35\n")
    assert record.status == ImportStatus.UNCHANGED
    assert (record.created, record.updated, record.unchanged) == (0, 0, 2)
    assert snapshot() == after


def test_gzip_file_with_bom(cast: Cast) -> None:
    data = csv_bytes("ticker,date,close\nAAPL,2020-01-02,300.35\n", bom=True, gz=True)
    record = run(cast, "prices", data, name="prices.csv.gz")
    assert record.status == ImportStatus.APPLIED, record.errors
    assert closes(cast, "AAPL")[dt.date(2020, 1, 2)] == Decimal("300.35")


def test_unknown_ticker_long_form(cast: Cast, before: dict[str, Any]) -> None:
    text = "ticker,date,close\nAAPL,2020-01-02,300.35\nZZZZ,2020-01-02,1.00\n"
    assert_rejected(run(cast, "prices", text), [(3, "ticker", "unknown ticker")])
    assert snapshot() == before


def test_unknown_ticker_wide_form_header(cast: Cast, before: dict[str, Any]) -> None:
    text = "date,AAPL,ZZZZ\n2020-01-02,300.35,1.00\n"
    assert_rejected(run(cast, "prices", text), [(1, "ZZZZ", "unknown ticker")])
    assert snapshot() == before


def test_zero_or_negative_close_is_an_error_in_long_form(
    cast: Cast, before: dict[str, Any]
) -> None:
    text = "ticker,date,close\nAAPL,2020-01-02,0\nAAPL,2020-01-03,-5.10\n"
    assert_rejected(
        run(cast, "prices", text),
        [(2, "close", "must be positive"), (3, "close", "must be positive")],
    )
    assert snapshot() == before


def test_malformed_date_and_number(cast: Cast, before: dict[str, Any]) -> None:
    text = (
        "ticker,date,close\n"
        "AAPL,02/01/2020,300.35\n"
        "AAPL,2020-02-30,300.35\n"
        'AAPL,2020-01-03,"1,300.35"\n'
        "AAPL,2020-01-06,3e2\n"
        "AAPL,2020-01-07,300.1234567\n"
    )
    assert_rejected(
        run(cast, "prices", text),
        [
            (2, "date", "malformed date (expected YYYY-MM-DD)"),
            (3, "date", "malformed date (no such day)"),
            (4, "close", "malformed number"),
            (5, "close", "malformed number"),
            (6, "close", "more than 6 decimal places"),
        ],
    )
    assert snapshot() == before


def test_malformed_number_in_wide_form_names_the_ticker_column(
    cast: Cast, before: dict[str, Any]
) -> None:
    text = "date,AAPL\n2020-01-02,300.35\n2020-01-03,n/a\n"
    assert_rejected(run(cast, "prices", text), [(3, "AAPL", "malformed number")])
    assert snapshot() == before


def test_future_date(cast: Cast, before: dict[str, Any]) -> None:
    tomorrow = timezone.localdate() + dt.timedelta(days=1)
    text = f"ticker,date,close\nAAPL,{tomorrow.isoformat()},300.35\n"
    assert_rejected(run(cast, "prices", text), [(2, "date", "date is in the future")])
    assert snapshot() == before


def test_duplicate_ticker_and_date(cast: Cast, before: dict[str, Any]) -> None:
    text = "ticker,date,close\nAAPL,2020-01-02,300.35\naapl,2020-01-02,300.40\n"
    assert_rejected(run(cast, "prices", text), [(3, "date", "already has a close")])
    wide = "date,AAPL\n2020-01-02,300.35\n2020-01-02,300.40\n"
    assert_rejected(
        run(cast, "prices", wide), [(3, "date", "date appears twice (first on line 2)")]
    )
    assert snapshot() == before


def test_missing_column(cast: Cast, before: dict[str, Any]) -> None:
    text = "ticker,date\nAAPL,2020-01-02\n"
    assert_rejected(run(cast, "prices", text), [(1, "close", "missing column")])
    assert snapshot() == before


def test_one_bad_row_in_many_rejects_the_whole_file(cast: Cast, before: dict[str, Any]) -> None:
    start = dt.date(2010, 1, 1)
    lines = [f"AAPL,{(start + dt.timedelta(days=i)).isoformat()},{100 + i}.25" for i in range(3000)]
    lines[2500] = "AAPL,2016-11-05,abc"
    text = "ticker,date,close\n" + "\n".join(lines) + "\n"
    record = run(cast, "prices", text)
    assert_rejected(record, [(2502, "close", "malformed number")])
    assert record.rows == 3000
    assert snapshot() == before


ROWS = 50_000


def _generated_long_file(tickers: list[str], days: int) -> bytes:
    """Deterministic long price file: ``len(tickers) * days`` rows, sorted by ticker then date."""
    start = dt.date(2000, 1, 3)
    lines = ["ticker,date,close"]
    for t, ticker in enumerate(tickers):
        for d in range(days):
            day = start + dt.timedelta(days=d)
            lines.append(f"{ticker},{day.isoformat()},{10 + t + (d % 97) / 100:.2f}")
    return ("\n".join(lines) + "\n").encode()


def test_large_price_file_streams_in_flat_memory(cast: Cast) -> None:
    """A 50k-row import's peak traced memory is a fraction of what holding its rows would take."""
    tickers = [f"S{n:03d}" for n in range(25)]
    for ticker in tickers:
        SecurityFactory(firm=cast.firm_a, ticker=ticker)
    data = _generated_long_file(tickers, ROWS // len(tickers))
    ids = {s.ticker: s.pk for s in Security.objects.filter(firm=cast.firm_a)}

    # The least a non-streaming import would hold: one (security id, date, close) per row.
    start = dt.date(2000, 1, 3)
    gc.collect()
    tracemalloc.start()
    held = [
        (ids[t], start + dt.timedelta(days=d), Decimal(f"{10 + d % 97 / 100:.2f}"))
        for t in tickers
        for d in range(ROWS // len(tickers))
    ]
    _, holding_all = tracemalloc.get_traced_memory()
    tracemalloc.stop()
    del held

    gc.collect()
    tracemalloc.start()
    record = run(cast, "prices", data)
    _, peak = tracemalloc.get_traced_memory()
    tracemalloc.stop()

    assert record.status == ImportStatus.APPLIED, record.errors
    assert record.created == ROWS
    assert Price.objects.filter(firm=cast.firm_a).count() == ROWS + 1
    # Measured: peak ~1.8 MB (SQLite) / ~2.0 MB (PostgreSQL) against 10.4 MB for holding the rows
    # (the file's bytes are not counted: they existed before tracing started).
    assert peak < holding_all / 3, (peak, holding_all)

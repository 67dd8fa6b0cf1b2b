"""File-level checks shared by every kind: encoding, BOM, gzip, names, CSV structure."""

from __future__ import annotations

import gzip
from typing import Any

import pytest

from models_hub.models import Security
from tests.conftest import Cast
from tests.feeds.conftest import assert_rejected, csv_bytes, run, snapshot
from workflow.feeds.errors import MAX_REPORTED_ERRORS, FeedChangedError
from workflow.feeds.reader import FeedSource, read_records
from workflow.models import ImportStatus

pytestmark = pytest.mark.django_db

SECURITIES = "ticker,name,type\nNESN,Nestlé SA,stock\nMSFT,Microsoft,stock\n"


def test_utf8_with_bom_is_read(cast: Cast) -> None:
    record = run(cast, "securities", csv_bytes(SECURITIES, bom=True))
    assert record.status == ImportStatus.APPLIED, record.errors
    assert Security.objects.get(firm=cast.firm_a, ticker="NESN").name == "Nestlé SA"


def test_gzip_is_read(cast: Cast) -> None:
    data = csv_bytes(SECURITIES, gz=True)
    record = run(cast, "securities", data, name="securities.CSV.GZ")
    assert record.status == ImportStatus.APPLIED, record.errors
    assert record.file_size == len(data)
    assert Security.objects.filter(firm=cast.firm_a, ticker__in=["NESN", "MSFT"]).count() == 2


def test_wrong_encoding_names_the_line(cast: Cast, before: dict[str, Any]) -> None:
    record = run(cast, "securities", SECURITIES.encode("latin-1"))
    assert_rejected(
        record, [(2, "", "wrong encoding: line 2 is not valid UTF-8 (byte 0xe9 at position 11)")]
    )
    assert "save the file as UTF-8" in record.errors[0]["reason"]
    assert snapshot() == before


def test_wrong_encoding_inside_gzip(cast: Cast, before: dict[str, Any]) -> None:
    data = gzip.compress(SECURITIES.encode("cp1252"), mtime=0)
    record = run(cast, "securities", data, name="securities.csv.gz")
    assert_rejected(record, [(2, "", "wrong encoding: line 2 is not valid UTF-8")])
    assert snapshot() == before


def test_utf16_is_wrong_encoding(cast: Cast, before: dict[str, Any]) -> None:
    with_bom = run(cast, "securities", SECURITIES.encode("utf-16"))
    assert_rejected(with_bom, [(1, "", "wrong encoding: the file is UTF-16")])
    without_bom = run(cast, "securities", SECURITIES.encode("utf-16-le"))
    assert_rejected(without_bom, [(1, "", "wrong encoding: line 1 contains NUL bytes")])
    assert snapshot() == before


def test_file_name_must_be_csv_or_csv_gz(cast: Cast, before: dict[str, Any]) -> None:
    record = run(cast, "securities", SECURITIES, name="securities.xlsx")
    assert_rejected(record, [(0, "", "file name must end in .csv or .csv.gz")])
    not_gzip = run(cast, "securities", SECURITIES, name="securities.csv.gz")
    assert_rejected(not_gzip, [(0, "", "ends in .csv.gz but the content is not gzip")])
    assert snapshot() == before


def test_truncated_gzip(cast: Cast, before: dict[str, Any]) -> None:
    data = csv_bytes(SECURITIES * 50, gz=True)
    record = run(cast, "securities", data[: len(data) // 2], name="securities.csv.gz")
    assert record.status == ImportStatus.REJECTED
    assert "the gzip data is corrupt or truncated" in record.errors[-1]["reason"]
    assert snapshot() == before


def test_malformed_csv_quoting(cast: Cast, before: dict[str, Any]) -> None:
    record = run(cast, "securities", 'ticker,name,type\nMSFT,"Microsoft,stock\n')
    assert_rejected(record, [(2, "", "malformed CSV")])
    assert snapshot() == before


def test_wrong_number_of_fields(cast: Cast, before: dict[str, Any]) -> None:
    record = run(cast, "securities", "ticker,name,type\nMSFT,Microsoft,stock,extra\nIBM,IBM\n")
    assert_rejected(
        record,
        [(2, "", "expected 3 fields, found 4"), (3, "", "expected 3 fields, found 2")],
    )
    assert snapshot() == before


def test_unknown_and_repeated_columns(cast: Cast, before: dict[str, Any]) -> None:
    record = run(cast, "securities", "ticker,name,type,colour,name\nMSFT,M,stock,red,M\n")
    assert_rejected(
        record,
        [(1, "colour", "unknown column; expected ticker, name, type"), (1, "name", "twice")],
    )
    assert snapshot() == before


def test_empty_file_and_header_only(cast: Cast, before: dict[str, Any]) -> None:
    assert_rejected(run(cast, "securities", b""), [(1, "", "the file is empty")])
    assert_rejected(run(cast, "securities", "ticker,name,type\n\n"), [(2, "", "no data rows")])
    assert snapshot() == before


def test_blank_lines_are_ignored_and_lines_keep_their_numbers(cast: Cast) -> None:
    record = run(cast, "securities", "ticker,name,type\n\nMSFT,Microsoft,stock\n\n,,bond\n")
    assert_rejected(
        record,
        [
            (5, "ticker", "missing value"),
            (5, "name", "missing value"),
            (5, "type", "expected one of"),
        ],
    )


def test_error_report_keeps_the_first_ten_thousand_and_counts_all(cast: Cast) -> None:
    rows = "".join(f"NOPE{i},2020-01-02,1\n" for i in range(MAX_REPORTED_ERRORS + 5))
    record = run(cast, "prices", "ticker,date,close\n" + rows)
    assert record.status == ImportStatus.REJECTED
    assert record.error_count == MAX_REPORTED_ERRORS + 5
    assert len(record.errors) == MAX_REPORTED_ERRORS
    assert record.errors[-1]["line"] == MAX_REPORTED_ERRORS + 1
    assert "first 10000 kept" in record.message


def test_a_second_pass_that_reads_other_bytes_is_refused() -> None:
    """The apply pass of a price file checks it read the bytes that were validated."""
    data = csv_bytes("ticker,date,close\nAAPL,2020-01-02,1\n", gz=True)
    source = FeedSource.from_bytes(data, name="p.csv.gz")
    sha256, _ = source.digest()
    assert [cells for _, cells in read_records(source, expect_sha256=sha256)][1] == [
        "AAPL",
        "2020-01-02",
        "1",
    ]
    with pytest.raises(FeedChangedError):
        list(read_records(source, expect_sha256="0" * 64))

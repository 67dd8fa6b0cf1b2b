"""Security master imports: insert, update in place, idempotent, every bad row reported."""

from __future__ import annotations

from typing import Any

import pytest

from models_hub.models import AssetClass, Security
from rebalancer.models import AuditEvent
from tests.conftest import Cast
from tests.feeds.conftest import assert_rejected, run, snapshot
from workflow.models import ImportStatus

pytestmark = pytest.mark.django_db

GOOD = """ticker,name,type,sector,industry,asset_class,status
MSFT,Microsoft Corp.,stock,Information Technology,Systems Software,Equity > US > Large Cap,active
aapl,Apple Inc.,stock,Information Technology,Technology Hardware,Equity > US > Large Cap,active
AGG,iShares Core US Aggregate Bond ETF,etf,,,Fixed Income > Core,active
"""


def test_inserts_new_and_updates_existing_securities(cast: Cast) -> None:
    record = run(cast, "securities", GOOD)
    assert record.status == ImportStatus.APPLIED, record.message
    assert (record.rows, record.created, record.updated, record.unchanged) == (3, 2, 1, 0)
    securities = {s.ticker: s for s in Security.objects.for_firm(cast.firm_a.pk)}
    assert sorted(securities) == ["AAPL", "AGG", "MSFT"]
    assert securities["AAPL"].pk == cast.security_a.pk  # updated in place, not duplicated
    assert securities["AAPL"].industry == "Technology Hardware"
    assert securities["AGG"].security_type == "etf"
    assert securities["AGG"].asset_class is not None
    assert securities["AGG"].asset_class.path == "Fixed Income > Core"
    # The classes were created from their paths, ancestors included, in firm A only.
    paths = set(AssetClass.objects.for_firm(cast.firm_a.pk).values_list("path", flat=True))
    assert {"Equity", "Equity > US", "Equity > US > Large Cap", "Fixed Income"} <= paths
    assert not AssetClass.objects.for_firm(cast.firm_b.pk).exists()
    assert securities["MSFT"].source == "import securities.csv"
    # Firm B's AAPL is another firm's row: untouched.
    cast.security_b.refresh_from_db()
    assert cast.security_b.industry == ""


def test_same_file_twice_changes_nothing_the_second_time(cast: Cast) -> None:
    first = run(cast, "securities", GOOD)
    after_first = snapshot()
    events = AuditEvent.objects.count()
    second = run(cast, "securities", GOOD)
    assert second.status == ImportStatus.UNCHANGED
    assert second.file_sha256 == first.file_sha256
    assert (second.created, second.updated, second.unchanged) == (0, 0, 3)
    assert snapshot() == after_first
    assert AuditEvent.objects.count() == events  # nothing changed: nothing to audit


def test_same_rows_in_another_file_write_nothing(cast: Cast) -> None:
    run(cast, "securities", GOOD)
    after_first = snapshot()
    reordered = GOOD.splitlines()
    again = run(cast, "securities", "\n".join([reordered[0], *reversed(reordered[1:])]) + "\n")
    assert again.status == ImportStatus.UNCHANGED
    assert (again.rows, again.created, again.updated, again.unchanged) == (3, 0, 0, 3)
    assert snapshot() == after_first


def test_absent_optional_columns_keep_current_values(cast: Cast) -> None:
    run(cast, "securities", GOOD)
    record = run(cast, "securities", "ticker,name,type\nAAPL,Apple Inc,stock\n")
    assert (record.updated, record.unchanged) == (1, 0)
    apple = Security.objects.get(pk=cast.security_a.pk)
    assert apple.name == "Apple Inc"
    assert apple.industry == "Technology Hardware"  # no industry column: kept


def test_synthetic_column_labels_generated_securities(cast: Cast) -> None:
    run(cast, "securities", "ticker,name,type,synthetic\nSYNB,Synthetic bond fund,bond_fund,yes\n")
    assert Security.objects.get(firm=cast.firm_a, ticker="SYNB").is_synthetic is True


def test_every_bad_row_is_reported_and_nothing_changes(cast: Cast, before: dict[str, Any]) -> None:
    text = (
        "ticker,name,type,status\n"
        "MSFT,Microsoft,stock,active\n"
        "IBM,IBM,shares,active\n"
        "MSFT,Microsoft again,stock,active\n"
        ",Nameless,stock,active\n"
        "GE,,stock,gone\n"
    )
    record = run(cast, "securities", text)
    assert_rejected(
        record,
        [
            (3, "type", "expected one of stock, etf"),
            (4, "ticker", "ticker appears twice (first on line 2)"),
            (5, "ticker", "missing value"),
            (6, "name", "missing value"),
            (6, "status", "expected one of active"),
        ],
    )
    assert record.rows == 5
    assert snapshot() == before


def test_missing_column_is_reported_on_the_header_line(cast: Cast, before: dict[str, Any]) -> None:
    record = run(cast, "securities", "ticker,name\nMSFT,Microsoft\n")
    assert_rejected(record, [(1, "type", "missing column")])
    assert snapshot() == before


def test_asset_class_must_be_a_well_formed_leaf_path(cast: Cast) -> None:
    run(cast, "securities", GOOD)
    before = snapshot()
    bad = (
        "ticker,name,type,asset_class\n"
        "MSFT,Microsoft Corp.,stock,Equity > US\n"
        "AGG,Agg,etf,Fixed Income >> Core\n"
    )
    record = run(cast, "securities", bad)
    assert_rejected(
        record,
        [(2, "asset_class", "has sub-classes"), (3, "asset_class", "is not an asset-class path")],
    )
    assert snapshot() == before

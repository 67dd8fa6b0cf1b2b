"""Helpers for the import tests: run an import for firm A, and snapshot every row imports touch."""

from __future__ import annotations

import gzip
from typing import Any

import pytest

from accounts.models import (
    Account,
    AccountFlag,
    Household,
    HouseholdUserObjectPermission,
    Position,
    TaxLot,
)
from models_hub.models import AssetClass, Price, Security
from rebalancer.roles import Role
from tests.conftest import Cast
from workflow.feeds.service import import_file
from workflow.models import ImportRecord, ImportStatus


def csv_bytes(text: str, *, bom: bool = False, gz: bool = False) -> bytes:
    """The text as UTF-8 (optionally with BOM, optionally gzip-compressed, deterministically)."""
    data = (b"\xef\xbb\xbf" if bom else b"") + text.encode("utf-8")
    return gzip.compress(data, mtime=0) if gz else data


def run(
    cast: Cast,
    kind: str,
    text: str | bytes,
    *,
    name: str | None = None,
    firm: Any = None,
    actor: Any = None,
) -> ImportRecord:
    """Import ``text`` for firm A as its data manager (or ``firm``/``actor`` if given)."""
    content = text if isinstance(text, bytes) else csv_bytes(text)
    return import_file(
        firm=firm or cast.firm_a,
        actor=actor or cast.user(Role.DATA_MANAGER),
        kind=kind,
        file_name=name or f"{kind}.csv",
        content=content,
    )


def snapshot() -> dict[str, list[tuple[Any, ...]]]:
    """Every row an import can write, as sorted tuples: equal snapshots mean nothing changed."""
    tables: dict[str, Any] = {
        "security": Security.objects.values_list(
            "id",
            "firm_id",
            "ticker",
            "name",
            "security_type",
            "sector",
            "industry",
            "asset_class",
            "status",
            "is_synthetic",
            "source",
        ),
        "price": Price.objects.values_list("id", "firm_id", "security_id", "date", "close"),
        "asset_class": AssetClass.objects.values_list("id", "firm_id", "parent_id", "path"),
        "household": Household.objects.values_list("id", "firm_id", "external_id", "name"),
        "account": Account.objects.values_list(
            "id",
            "firm_id",
            "household_id",
            "advisor_id",
            "name",
            "custodian",
            "account_number",
            "registration_type",
            "discretionary",
            "status",
            "cash_balance",
        ),
        "flag": AccountFlag.objects.values_list("id", "firm_id", "name"),
        "account_flag": Account.flags.through.objects.values_list("account_id", "accountflag_id"),
        "position": Position.objects.values_list(
            "id", "firm_id", "account_id", "security_id", "quantity"
        ),
        "lot": TaxLot.objects.values_list(
            "id",
            "firm_id",
            "account_id",
            "security_id",
            "position_id",
            "lot_id",
            "quantity",
            "cost_basis",
            "acquired_on",
        ),
        "assignment": HouseholdUserObjectPermission.objects.values_list(
            "content_object_id", "user_id", "permission_id"
        ),
    }
    return {name: sorted(rows) for name, rows in tables.items()}


def assert_rejected(
    record: ImportRecord, expected: list[tuple[int, str, str]]
) -> list[dict[str, Any]]:
    """The record is rejected with exactly ``expected`` errors: (line, column, part of reason)."""
    assert record.status == ImportStatus.REJECTED, record.message
    assert record.error_count == len(record.errors) == len(expected), record.errors
    for error, (line, column, reason) in zip(record.errors, expected, strict=True):
        assert (error["line"], error["column"]) == (line, column), record.errors
        assert reason in error["reason"], record.errors
    assert record.created == record.updated == record.deleted == 0
    return list(record.errors)


@pytest.fixture
def before(cast: Cast) -> dict[str, list[tuple[Any, ...]]]:
    """The cast's rows before the test's import."""
    return snapshot()

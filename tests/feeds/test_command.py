"""``manage.py import_csv``: prints the outcome; non-zero exit with the report on rejection."""

from __future__ import annotations

from io import StringIO
from pathlib import Path
from typing import Any

import pytest
from django.core.management import CommandError, call_command

from models_hub.models import Price
from rebalancer.roles import Role
from tests.conftest import Cast
from tests.feeds.conftest import csv_bytes, snapshot
from workflow.models import ImportRecord, ImportStatus

pytestmark = pytest.mark.django_db


def write(tmp_path: Path, name: str, text: str, **kwargs: Any) -> Path:
    path = tmp_path / name
    path.write_bytes(csv_bytes(text, **kwargs))
    return path


def test_imports_a_gzip_file_and_prints_counts_and_speed(cast: Cast, tmp_path: Path) -> None:
    path = write(tmp_path, "p.csv.gz", "date,AAPL\n2020-01-02,300.35\n2020-01-03,\n", gz=True)
    out = StringIO()
    call_command(
        "import_csv", "prices", str(path), "--firm", "alpha", "--user", "a_data_manager", stdout=out
    )
    text = out.getvalue()
    assert "prices p.csv.gz: applied." in text
    assert "1 rows in 2 lines (1 created, 0 updated, 0 unchanged" in text
    assert "rows/s" in text
    record = ImportRecord.objects.get()
    assert record.created_by == cast.user(Role.DATA_MANAGER)
    assert Price.objects.filter(firm=cast.firm_a).count() == 2


def test_rejection_exits_non_zero_with_the_error_report(cast: Cast, tmp_path: Path) -> None:
    path = write(tmp_path, "p.csv", "ticker,date,close\nAAPL,2020-01-02,0\nZZZ,2020-01-03,1\n")
    before = snapshot()
    err = StringIO()
    with pytest.raises(CommandError) as raised:
        call_command("import_csv", "prices", str(path), "--firm", "alpha", stderr=err)
    assert raised.value.returncode == 1
    assert "Rejected: 2 error(s)" in str(raised.value)
    report = err.getvalue()
    assert "line 2, column close: must be positive (greater than zero) (value '0')" in report
    assert "line 3, column ticker: unknown ticker (value 'ZZZ')" in report
    assert ImportRecord.objects.get().status == ImportStatus.REJECTED
    assert snapshot() == before


def test_refuses_unknown_firm_missing_file_and_users_who_may_not_import(
    cast: Cast, tmp_path: Path
) -> None:
    path = write(tmp_path, "p.csv", "ticker,date,close\nAAPL,2020-01-02,1\n")
    with pytest.raises(CommandError, match="no active firm"):
        call_command("import_csv", "prices", str(path), "--firm", "nope")
    with pytest.raises(CommandError, match="no such file"):
        call_command("import_csv", "prices", str(tmp_path / "x.csv"), "--firm", "alpha")
    with pytest.raises(CommandError, match="is not a member of alpha"):
        call_command("import_csv", "prices", str(path), "--firm", "alpha", "--user", "b_advisor")
    with pytest.raises(CommandError, match="may not import"):
        call_command("import_csv", "prices", str(path), "--firm", "alpha", "--user", "a_advisor")
    assert not ImportRecord.objects.exists()

"""The import service: records, audit, atomicity, the same-file shortcut, queued runs."""

from __future__ import annotations

import datetime as dt
import hashlib
from decimal import Decimal
from typing import Any

import pytest

from models_hub.models import Price
from rebalancer.authz import SystemActor
from rebalancer.models import AuditEvent
from rebalancer.roles import Role
from tests.conftest import Cast
from tests.feeds.conftest import csv_bytes, run, snapshot
from workflow.feeds.service import import_enqueue, import_file, import_run_queued
from workflow.models import ImportRecord, ImportStatus, ImportUpload
from workflow.tasks import import_run

pytestmark = pytest.mark.django_db

PRICES = "ticker,date,close\nAAPL,2020-01-02,300.35\nAAPL,2020-01-03,297.43\n"


def test_an_applied_import_leaves_a_full_record_and_an_audit_event(cast: Cast) -> None:
    data = csv_bytes(PRICES)
    record = run(cast, "prices", data, name="aapl.csv")
    record.refresh_from_db()
    assert record.status == ImportStatus.APPLIED
    assert (record.kind, record.file_name) == ("prices", "aapl.csv")
    assert record.file_sha256 == hashlib.sha256(data).hexdigest()
    assert (record.file_size, record.lines, record.rows, record.created) == (len(data), 2, 2, 2)
    assert record.created_by == cast.user(Role.DATA_MANAGER)
    assert record.created_at is not None and record.finished_at is not None
    assert record.duration_ms > 0 and record.rows_per_second is not None
    event = AuditEvent.objects.get(firm=cast.firm_a, action="import.prices")
    assert event.actor == cast.user(Role.DATA_MANAGER)
    assert event.object_id == str(record.pk)
    assert event.after is not None and event.after["created"] == 2
    assert event.after["file_sha256"] == record.file_sha256


def test_rejected_and_unchanged_imports_leave_records_but_no_audit_event(cast: Cast) -> None:
    run(cast, "prices", PRICES)
    run(cast, "prices", PRICES)
    run(cast, "prices", "ticker,date,close\nAAPL,2020-01-06,-1\n")
    statuses = list(ImportRecord.objects.order_by("id").values_list("status", flat=True))
    assert statuses == ["applied", "unchanged", "rejected"]
    assert AuditEvent.objects.filter(action__startswith="import.").count() == 1


def test_the_shortcut_only_trusts_the_last_successful_import_of_the_kind(cast: Cast) -> None:
    """X, then Y changing X's closes, then X again: X must be applied again, not skipped."""
    x = "ticker,date,close\nAAPL,2020-01-02,300.35\n"
    y = "ticker,date,close\nAAPL,2020-01-02,301.00\n"
    run(cast, "prices", x)
    run(cast, "prices", y)
    again = run(cast, "prices", x)
    assert (again.status, again.updated) == (ImportStatus.APPLIED, 1)
    assert Price.objects.get(firm=cast.firm_a, date=dt.date(2020, 1, 2)).close == Decimal("300.35")


def test_force_compares_every_row_even_for_the_same_file(cast: Cast) -> None:
    run(cast, "prices", PRICES)
    forced = import_file(
        firm=cast.firm_a,
        actor=SystemActor.COMMAND,
        kind="prices",
        file_name="prices.csv",
        content=csv_bytes(PRICES),
        force=True,
    )
    assert forced.status == ImportStatus.UNCHANGED
    assert (forced.unchanged, forced.created_by) == (2, None)
    assert "same_as_import" not in forced.detail


def test_the_same_file_in_another_firm_is_imported_there(cast: Cast) -> None:
    run(cast, "prices", PRICES)
    other = run(cast, "prices", PRICES, firm=cast.firm_b, actor=SystemActor.COMMAND)
    assert (other.status, other.created) == (ImportStatus.APPLIED, 2)
    assert Price.objects.filter(firm=cast.firm_b).count() == 3


@pytest.mark.usefixtures("celery_eager")  # the real-worker path: tests/celery_worker
def test_enqueue_stores_the_bytes_and_the_worker_applies_them(
    cast: Cast, django_capture_on_commit_callbacks: Any
) -> None:
    data = csv_bytes(PRICES, gz=True)
    with django_capture_on_commit_callbacks(execute=True) as callbacks:
        record = import_enqueue(
            firm=cast.firm_a,
            actor=cast.user(Role.DATA_MANAGER),
            kind="prices",
            file_name="prices.csv.gz",
            content=data,
        )
        # Nothing runs before the transaction commits.
        assert ImportRecord.objects.get(pk=record.pk).status == ImportStatus.QUEUED
    assert len(callbacks) == 1
    record.refresh_from_db()
    assert record.status == ImportStatus.APPLIED, record.errors
    assert record.created == 2 and record.started_at is not None
    assert bytes(ImportUpload.objects.get(record=record).content) == data


def test_a_claimed_record_is_not_run_twice(cast: Cast) -> None:
    record = import_enqueue(
        firm=cast.firm_a,
        actor=cast.user(Role.DATA_MANAGER),
        kind="prices",
        file_name="prices.csv",
        content=csv_bytes(PRICES),
    )  # on_commit never fires inside the test transaction: the record stays queued
    import_run(record.pk)  # what a worker runs (eagerly, in-process, here)
    record.refresh_from_db()
    assert record.status == ImportStatus.APPLIED
    after = snapshot()
    finished_at = record.finished_at
    assert import_run_queued(record_id=record.pk) is None  # a duplicate delivery
    record.refresh_from_db()
    assert record.finished_at == finished_at
    assert snapshot() == after


def test_a_run_that_cannot_read_its_upload_fails_cleanly(cast: Cast) -> None:
    record = import_enqueue(
        firm=cast.firm_a,
        actor=cast.user(Role.DATA_MANAGER),
        kind="prices",
        file_name="prices.csv",
        content=csv_bytes(PRICES),
    )
    ImportUpload.objects.filter(record=record).delete()
    before = snapshot()
    result = import_run_queued(record_id=record.pk)
    assert result is not None and result.status == ImportStatus.FAILED
    assert "DoesNotExist" in result.message and "nothing was changed" in result.message
    assert ImportRecord.objects.get(pk=record.pk).finished_at is not None
    assert snapshot() == before

"""End to end on the services path: PostgreSQL, Redis and a real Celery worker process.

The upload service stores the file in the database and enqueues the import after commit; a worker
in another process (started by the ``celery_worker_process`` fixture, on the test database) claims
the record and applies it. These tests are skipped in embedded mode and must run in CI
(REBALANCER_REQUIRE_SERVICES=1 turns a skip into a failure).
"""

from __future__ import annotations

import subprocess
import time

import pytest
from django.conf import settings

from models_hub.models import Security
from rebalancer.roles import Role
from tests.factories import FirmFactory, member
from workflow.models import FINAL_STATUSES, ImportRecord, ImportStatus
from workflow.tasks import import_run

pytestmark = [pytest.mark.services, pytest.mark.django_db(transaction=True)]

SECURITIES_CSV = (
    b"ticker,name,type,sector\n"
    b"AAPL,Apple Inc.,stock,Information Technology\n"
    b"MSFT,Microsoft Corp.,stock,Information Technology\n"
    b"XOM,Exxon Mobil Corp.,stock,Energy\n"
)


def _wait_final(record_id: int, timeout: float = 60.0) -> ImportRecord:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        record = ImportRecord.objects.get(pk=record_id)
        if record.status in FINAL_STATUSES:
            return record
        time.sleep(0.2)
    raise AssertionError(f"import {record_id} not finished after {timeout}s: {record.status}")


def test_services_mode_uses_postgresql_and_a_redis_broker() -> None:
    assert settings.DATABASES["default"]["ENGINE"] == "django.db.backends.postgresql"
    assert settings.CELERY_TASK_ALWAYS_EAGER is False
    assert settings.CELERY_BROKER_URL.startswith("redis://")


def test_uploaded_file_is_imported_by_a_real_worker(
    celery_worker_process: subprocess.Popen[str],
) -> None:
    from workflow.feeds.service import import_enqueue

    firm = FirmFactory.create(name="Worker Firm", slug="worker")
    data_manager = member(firm, Role.DATA_MANAGER, "worker_dm")

    record = import_enqueue(
        firm=firm,
        actor=data_manager,
        kind="securities",
        file_name="securities.csv",
        content=SECURITIES_CSV,
    )
    assert record.status == ImportStatus.QUEUED  # not run in this process

    done = _wait_final(record.pk)
    assert done.status == ImportStatus.APPLIED, done.errors
    assert sorted(Security.objects.for_firm(firm.pk).values_list("ticker", flat=True)) == [
        "AAPL",
        "MSFT",
        "XOM",
    ]
    assert celery_worker_process.poll() is None, "the worker must still be running"

    # A duplicate delivery of the same message finds the record claimed and changes nothing.
    import_run.delay(record.pk)
    time.sleep(1.0)
    again = ImportRecord.objects.get(pk=record.pk)
    assert (again.status, again.finished_at) == (done.status, done.finished_at)
    assert Security.objects.for_firm(firm.pk).count() == 3

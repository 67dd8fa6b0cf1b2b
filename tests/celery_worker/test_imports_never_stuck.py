"""Defect 4: an import never stays queued or running for ever.

A worker killed mid-import loses its claim; the sweeper re-queues it after the lease and another
worker applies it, exactly once. An upload while the broker is down keeps its record queued with a
clear message (no 500), and the sweeper sends it when the broker is back.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import signal
import subprocess
import time
from collections.abc import Iterator
from typing import Any

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.test import Client
from django.urls import reverse
from django.utils import timezone

from models_hub.models import Security
from rebalancer.authz import SystemActor
from rebalancer.celery import app
from rebalancer.models import AuditEvent
from rebalancer.roles import Role
from tests.conftest import start_celery_worker, stop_celery_worker
from tests.factories import FirmFactory, member
from workflow.feeds.service import QUEUE_UNREACHABLE, import_enqueue, import_sweep
from workflow.models import FINAL_STATUSES, ImportRecord, ImportStatus

pytestmark = [pytest.mark.services, pytest.mark.django_db(transaction=True)]

ROWS = 60_000


def _big_securities_file() -> bytes:
    lines = ["ticker,name,type,sector"]
    lines += [f"T{i:05d},Company {i},stock,Energy" for i in range(ROWS)]
    return ("\n".join(lines) + "\n").encode()


def _wait(record_id: int, statuses: set[str], timeout: float = 90.0) -> ImportRecord:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        record = ImportRecord.objects.get(pk=record_id)
        if record.status in statuses:
            return record
        time.sleep(0.02)
    raise AssertionError(f"import {record_id} still {record.status} after {timeout}s")


def test_a_worker_killed_mid_import_is_replaced_and_the_import_applies_once(
    settings: Any,
) -> None:
    settings.IMPORT_LEASE_SECONDS = 1
    firm = FirmFactory.create(name="Killed Worker Firm", slug="killed")
    data_manager = member(firm, Role.DATA_MANAGER, "killed_dm")
    app.control.purge()
    first = start_celery_worker()
    try:
        record = import_enqueue(
            firm=firm,
            actor=data_manager,
            kind="securities",
            file_name="big.csv",
            content=_big_securities_file(),
        )
        running = _wait(record.pk, {ImportStatus.RUNNING, *FINAL_STATUSES})
        assert running.status == ImportStatus.RUNNING, "the import finished before the kill"
        first.send_signal(signal.SIGKILL)
        first.wait(timeout=20)
    finally:
        stop_celery_worker(first)
    assert ImportRecord.objects.get(pk=record.pk).status == ImportStatus.RUNNING  # stuck

    time.sleep(1.2)  # the lease runs out
    second = start_celery_worker()
    try:
        swept = import_sweep(actor=SystemActor.SCHEDULER)
        assert swept.requeued == [record.pk] and swept.resent == [record.pk]
        done = _wait(record.pk, set(FINAL_STATUSES))
        import_sweep(actor=SystemActor.SCHEDULER)  # a later sweep finds nothing to do
    finally:
        stop_celery_worker(second)

    assert done.status == ImportStatus.APPLIED, done.message
    assert done.attempts == 2
    assert Security.objects.for_firm(firm.pk).count() == ROWS
    events = AuditEvent.objects.filter(action="import.securities", object_id=str(record.pk))
    assert events.count() == 1, "applied exactly once"
    assert ImportRecord.objects.get(pk=record.pk).finished_at == done.finished_at


def test_a_slow_worker_that_outlives_its_lease_keeps_nothing(settings: Any) -> None:
    """The sweeper gives a live but slow claim to another worker: the first run's work is rolled
    back when it finds its claim gone, the second applies, and the import counts once."""
    settings.IMPORT_LEASE_SECONDS = 0
    firm = FirmFactory.create(name="Slow Worker Firm", slug="slow")
    data_manager = member(firm, Role.DATA_MANAGER, "slow_dm")
    app.control.purge()
    workers = [start_celery_worker(), start_celery_worker()]
    try:
        record = import_enqueue(
            firm=firm,
            actor=data_manager,
            kind="securities",
            file_name="big.csv",
            content=_big_securities_file(),
        )
        running = _wait(record.pk, {ImportStatus.RUNNING, *FINAL_STATUSES})
        assert running.status == ImportStatus.RUNNING, "the import finished before the sweep"
        swept = import_sweep(actor=SystemActor.SCHEDULER)
        assert swept.requeued == [record.pk]
        done = _wait(record.pk, set(FINAL_STATUSES))
        time.sleep(3)  # let the first run reach its end too
    finally:
        for worker in workers:
            stop_celery_worker(worker)
    assert all(worker.returncode is not None for worker in workers)
    done = ImportRecord.objects.get(pk=record.pk)
    assert (done.status, done.attempts) == (ImportStatus.APPLIED, 2), done.message
    assert Security.objects.for_firm(firm.pk).count() == ROWS
    events = AuditEvent.objects.filter(action="import.securities", object_id=str(record.pk))
    assert events.count() == 1, "applied exactly once"


def test_a_claim_that_keeps_dying_ends_failed(settings: Any) -> None:
    settings.IMPORT_LEASE_SECONDS = 1
    settings.IMPORT_MAX_ATTEMPTS = 1
    firm = FirmFactory.create(name="Dying Firm", slug="dying")
    record = ImportRecord.objects.create(
        firm=firm,
        kind="securities",
        file_name="x.csv",
        status=ImportStatus.RUNNING,
        attempts=1,
        started_at=timezone.now() - dt.timedelta(seconds=5),
    )
    swept = import_sweep(actor=SystemActor.SCHEDULER)
    assert swept.failed == [record.pk]
    failed = ImportRecord.objects.get(pk=record.pk)
    assert failed.status == ImportStatus.FAILED and failed.finished_at is not None
    assert "stopped" in failed.message and "nothing was changed" in failed.message


def _point_producer_at(url: str) -> None:
    celery: Any = app  # private attributes: the producer pool caches the connection
    celery.conf.broker_url = url
    celery.amqp._producer_pool = None  # the next message opens a connection to ``url``
    celery._pool = None


@contextlib.contextmanager
def broker_down() -> Iterator[None]:
    """Point the producer at a port nobody listens on, as if Redis were down."""
    saved = app.conf.broker_url
    _point_producer_at("redis://127.0.0.1:9/0")
    try:
        yield
    finally:
        _point_producer_at(saved)


def test_an_upload_while_the_broker_is_down_stays_queued_and_runs_when_it_is_back() -> None:
    firm = FirmFactory.create(name="Outage Firm", slug="outage")
    data_manager = member(firm, Role.DATA_MANAGER, "outage_dm")
    client = Client()
    client.force_login(data_manager)
    upload = b"ticker,name,type,sector\nAAPL,Apple Inc.,stock,Information Technology\n"
    with broker_down():
        response = client.post(
            reverse("feeds:import_list"),
            {"kind": "securities", "file": SimpleUploadedFile("s.csv", upload)},
            follow=True,
        )
    assert response.status_code == 200
    assert QUEUE_UNREACHABLE in response.content.decode()
    record = ImportRecord.objects.get(firm=firm)
    assert record.status == ImportStatus.QUEUED

    # The broker is back; beat's next sweep sends it and a worker applies it.
    worker: subprocess.Popen[str] = start_celery_worker()
    try:
        swept = import_sweep(
            actor=SystemActor.SCHEDULER, now=timezone.now() + dt.timedelta(minutes=2)
        )
        assert swept.resent == [record.pk]
        done = _wait(record.pk, set(FINAL_STATUSES))
    finally:
        stop_celery_worker(worker)
    assert done.status == ImportStatus.APPLIED, done.message
    assert Security.objects.for_firm(firm.pk).get().ticker == "AAPL"

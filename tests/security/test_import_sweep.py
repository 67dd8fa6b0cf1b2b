"""Defect 4 in embedded mode: the sweeper is an ordinary function; tasks run in-process."""

from __future__ import annotations

import datetime as dt
from typing import Any

import pytest
from django.utils import timezone

from rebalancer.authz import SystemActor
from rebalancer.models import AuditEvent
from rebalancer.roles import Role
from tests.conftest import Cast
from workflow.feeds.service import import_enqueue, import_sweep
from workflow.models import ImportRecord, ImportStatus

pytestmark = [pytest.mark.django_db, pytest.mark.usefixtures("celery_eager")]

CSV = b"ticker,name,type,sector\nMSFT,Microsoft Corp.,stock,Information Technology\n"


def _queued(cast: Cast) -> ImportRecord:
    # Inside the test transaction on_commit never fires: the record stays queued, unsent.
    return import_enqueue(
        firm=cast.firm_a,
        actor=cast.user(Role.DATA_MANAGER),
        kind="securities",
        file_name="s.csv",
        content=CSV,
    )


def test_a_queued_import_never_sent_is_sent_by_the_sweeper(cast: Cast, settings: Any) -> None:
    record = _queued(cast)
    assert (
        import_sweep(actor=SystemActor.SCHEDULER).resent == []
    )  # too young: its message may still be on the way
    assert (
        import_sweep(
            actor=SystemActor.SCHEDULER, now=timezone.now() + dt.timedelta(minutes=2)
        ).resent
        == []
    )
    later = timezone.now() + dt.timedelta(seconds=settings.IMPORT_LEASE_SECONDS + 1)
    swept = import_sweep(
        actor=SystemActor.SCHEDULER, now=later
    )  # older than the lease: its message may have been lost
    assert swept.resent == [record.pk]
    record.refresh_from_db()
    assert (record.status, record.attempts) == (ImportStatus.APPLIED, 1)


def test_a_lost_claim_is_requeued_and_applied_once(cast: Cast, settings: Any) -> None:
    record = _queued(cast)
    ImportRecord.objects.filter(pk=record.pk).update(
        status=ImportStatus.RUNNING, attempts=1, started_at=timezone.now() - dt.timedelta(hours=3)
    )
    swept = import_sweep(actor=SystemActor.SCHEDULER)
    assert swept.requeued == [record.pk] and swept.resent == [record.pk]
    record.refresh_from_db()
    assert (record.status, record.attempts) == (ImportStatus.APPLIED, 2)
    assert AuditEvent.objects.filter(object_id=str(record.pk)).count() == 1


def test_the_sweeper_command_runs_the_same_function(cast: Cast) -> None:
    from io import StringIO

    from django.core.management import call_command

    record = _queued(cast)
    ImportRecord.objects.filter(pk=record.pk).update(
        status=ImportStatus.RUNNING, attempts=1, started_at=timezone.now() - dt.timedelta(hours=3)
    )
    out = StringIO()
    call_command("import_sweep", stdout=out)
    assert out.getvalue().strip() == "re-sent 1, re-queued 1, failed 0"
    assert ImportRecord.objects.get(pk=record.pk).status == ImportStatus.APPLIED

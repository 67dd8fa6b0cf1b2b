"""Running imports: the one place that writes ImportRecords and, through the kinds, the data.

``import_file`` imports a file now (the management command); ``import_enqueue`` stores an
uploaded file in the database and queues it for a Celery worker (the upload page);
``import_run_queued`` is what that worker runs; ``import_sweep`` (Celery beat, every minute)
re-sends queued imports whose message never reached the broker and re-queues or fails claims
whose worker died. All runs end in :func:`_execute`:

1. hash the file; if the last successful import of this kind for this firm had the same sha256,
   record ``unchanged`` and stop (``force`` skips this shortcut);
2. validate every row, collecting every error; if any, record ``rejected`` and stop;
3. in one transaction (holding the firm's row lock, so one firm's imports run one at a time):
   apply in batches, finish the record, and write an audit event if anything changed.
"""

from __future__ import annotations

import datetime as dt
import logging
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import cast

from django.conf import settings
from django.contrib.auth.models import User
from django.db import transaction
from django.db.models import Q
from django.utils import timezone
from kombu.exceptions import OperationalError as BrokerError

from rebalancer.audit import audit_record
from rebalancer.authz import Actor, SystemActor, actor_user, authorize
from rebalancer.bulk import statistics_refresh
from rebalancer.models import Firm
from rebalancer.roles import Resource
from workflow.feeds.accounts import AccountsImporter
from workflow.feeds.base import Counts, Importer
from workflow.feeds.errors import ErrorReport, FeedError
from workflow.feeds.lots import LotsImporter
from workflow.feeds.prices import PricesImporter
from workflow.feeds.reader import FeedSource
from workflow.feeds.securities import SecuritiesImporter
from workflow.feeds.transactions import TransactionsImporter
from workflow.models import ImportKind, ImportRecord, ImportStatus, ImportUpload

logger = logging.getLogger(__name__)

#: Largest file the upload page accepts (bytes as uploaded, compressed or not).
MAX_UPLOAD_BYTES = 100 * 1024 * 1024


def _user(actor: Actor) -> User | None:
    """The user behind an actor, for ``created_by`` (None for a system actor)."""
    return cast(User | None, actor_user(actor))


def importer_for(kind: str) -> Importer:
    importers: dict[str, type[Importer]] = {
        ImportKind.SECURITIES: SecuritiesImporter,
        ImportKind.PRICES: PricesImporter,
        ImportKind.ACCOUNTS: AccountsImporter,
        ImportKind.LOTS: LotsImporter,
        ImportKind.TRANSACTIONS: TransactionsImporter,
    }
    return importers[kind]()


def import_file(
    *,
    firm: Firm,
    actor: Actor,
    kind: str,
    file_name: str,
    path: Path | None = None,
    content: bytes | None = None,
    force: bool = False,
) -> ImportRecord:
    """Import one file now, from ``path`` or from ``content``; returns its final record."""
    authorize(actor=actor, firm=firm, resource=Resource.IMPORT)
    if kind not in ImportKind.values:
        raise ValueError(f"unknown import kind {kind!r}")
    if (path is None) == (content is None):
        raise ValueError("give exactly one of path and content")
    source = FeedSource(name=file_name, path=path, data=content)
    record = ImportRecord.objects.create(
        firm=firm,
        kind=kind,
        file_name=file_name[:255],
        status=ImportStatus.RUNNING,
        started_at=timezone.now(),
        created_by=_user(actor),
    )
    return _execute(record=record, load=lambda: source, actor=actor, force=force)


def import_enqueue(
    *, firm: Firm, actor: User, kind: str, file_name: str, content: bytes
) -> ImportRecord:
    """Store an uploaded file and queue its import; the worker runs after this commits."""
    authorize(actor=actor, firm=firm, resource=Resource.IMPORT)
    if kind not in ImportKind.values:
        raise ValueError(f"unknown import kind {kind!r}")
    source = FeedSource(name=file_name, data=content)
    sha256, size = source.digest()
    with transaction.atomic():
        record = ImportRecord.objects.create(
            firm=firm,
            kind=kind,
            file_name=file_name[:255],
            file_sha256=sha256,
            file_size=size,
            status=ImportStatus.QUEUED,
            created_by=actor,
        )
        ImportUpload.objects.create(firm=firm, record=record, content=content)
        transaction.on_commit(lambda: _send(record))
    return record


#: The message of a queued import whose task could not be handed to the broker.
QUEUE_UNREACHABLE = (
    "The task queue is not reachable right now: the file is saved and the import will start "
    "automatically when the queue is back."
)


def _send(record: ImportRecord) -> bool:
    """Hand the import to the broker; if it is down, keep the record queued for the sweeper."""
    # Imported here: the task module imports this one.
    from workflow.tasks import import_run

    try:
        import_run.delay(record.pk)
    except BrokerError:
        logger.warning("broker unreachable: import %s stays queued for the sweeper", record.pk)
        ImportRecord.objects.filter(pk=record.pk, status=ImportStatus.QUEUED).update(
            message=QUEUE_UNREACHABLE
        )
        record.message = QUEUE_UNREACHABLE
        return False
    if record.message == QUEUE_UNREACHABLE:  # sent at last: the next sweep leaves it alone
        ImportRecord.objects.filter(
            pk=record.pk, status=ImportStatus.QUEUED, message=QUEUE_UNREACHABLE
        ).update(message="")
        record.message = ""
    return True


def import_run_queued(*, record_id: int) -> ImportRecord | None:
    """Claim a queued import and run it. None if it is not queued (another worker has it)."""
    started_at = timezone.now()
    with transaction.atomic():
        record = (
            ImportRecord.objects.select_for_update()
            .filter(pk=record_id, status=ImportStatus.QUEUED)
            .first()
        )
        if record is None:
            return None
        record.status, record.started_at = ImportStatus.RUNNING, started_at
        record.attempts += 1
        record.message = ""
        record.save(update_fields=["status", "started_at", "attempts", "message"])
    record = ImportRecord.objects.select_related("firm", "created_by").get(pk=record_id)

    def load() -> FeedSource:
        content = ImportUpload.objects.filter(record_id=record_id).values_list("content", flat=True)
        return FeedSource(name=record.file_name, data=bytes(content.get()))

    actor: Actor = record.created_by if record.created_by is not None else SystemActor.IMPORT
    return _execute(record=record, load=load, actor=actor, force=False)


def _execute(
    *,
    record: ImportRecord,
    load: Callable[[], FeedSource],
    actor: Actor,
    force: bool,
) -> ImportRecord:
    """Run the import and finish its record, whatever happens: a bug leaves ``failed``."""
    started = time.perf_counter()
    try:
        _run(record=record, source=load(), actor=actor, force=force, started=started)
    except ClaimLostError:
        logger.warning("import %s: claim lost to a later attempt; this run kept nothing", record.pk)
    except Exception as exc:
        logger.exception("import %s of %s failed", record.pk, record.file_name)
        _set_counts(record, Counts(lines=record.lines, rows=record.rows))
        record.status = ImportStatus.FAILED
        record.message = (
            f"The import failed unexpectedly ({exc.__class__.__name__}); nothing was changed."
        )
        _finish(record, started)
    return record


def _run(
    *,
    record: ImportRecord,
    source: FeedSource,
    actor: Actor,
    force: bool,
    started: float,
) -> None:
    sha256, size = source.digest()
    record.file_sha256, record.file_size = sha256, size
    previous = None if force else _last_success(record)
    if previous is not None and previous.file_sha256 == sha256:
        _copy_counts(record, previous)
        record.status = ImportStatus.UNCHANGED
        record.message = (
            f"Identical to import #{previous.pk}, the last {record.get_kind_display().lower()}"
            " import applied: nothing to do."
        )
        _finish(record, started)
        return

    importer = importer_for(record.kind)
    report = ErrorReport()
    try:
        counts = importer.validate(firm=record.firm, source=source, report=report)
    except FeedError as exc:
        report.add_error(exc.error)
        counts = Counts()
    if report:
        _set_counts(record, counts)
        record.status = ImportStatus.REJECTED
        record.errors = report.as_list()
        record.error_count = report.count
        shown = "" if report.count <= len(report.errors) else f" (first {len(report.errors)} kept)"
        record.message = f"Rejected: {report.count} error(s){shown}; nothing was changed."
        _finish(record, started)
        return

    with transaction.atomic():
        # One firm's imports run one at a time (a no-op on SQLite, which has one writer anyway).
        Firm.objects.select_for_update().get(pk=record.firm_id)
        counts = importer.apply(firm=record.firm, source=source, sha256=sha256)
        _set_counts(record, counts)
        if counts.changed:
            record.status = ImportStatus.APPLIED
            record.message = "Applied."
        else:
            record.status = ImportStatus.UNCHANGED
            record.message = "Every row already matched: nothing was changed."
        _finish(record, started)
        if counts.changed:
            audit_record(
                firm=record.firm,
                actor=actor,
                action=f"import.{record.kind}",
                obj=record,
                after={
                    "file_name": record.file_name,
                    "file_sha256": record.file_sha256,
                    "rows": record.rows,
                    "created": record.created,
                    "updated": record.updated,
                    "unchanged": record.unchanged,
                    "deleted": record.deleted,
                    "skipped": record.skipped,
                    "detail": record.detail,
                },
                reason=f"{record.get_kind_display()} import of {record.file_name}",
            )
    if counts.changed and not transaction.get_connection().in_atomic_block:
        statistics_refresh(full=False)  # the planner's view of the tables that just grew


def _last_success(record: ImportRecord) -> ImportRecord | None:
    return (
        ImportRecord.objects.for_firm(record.firm_id)
        .filter(kind=record.kind, status__in=[ImportStatus.APPLIED, ImportStatus.UNCHANGED])
        .exclude(pk=record.pk)
        .order_by("-finished_at", "-id")
        .first()
    )


def _set_counts(record: ImportRecord, counts: Counts) -> None:
    record.lines = counts.lines
    record.rows = counts.rows
    record.created = counts.created
    record.updated = counts.updated
    record.unchanged = counts.unchanged
    record.deleted = counts.deleted
    record.skipped = counts.skipped
    record.detail = dict(sorted(counts.detail.items()))


def _copy_counts(record: ImportRecord, previous: ImportRecord) -> None:
    record.lines = previous.lines
    record.rows = previous.rows
    record.unchanged = previous.created + previous.updated + previous.unchanged
    record.skipped = previous.skipped
    record.detail = {**previous.detail, "same_as_import": previous.pk}


class ClaimLostError(Exception):
    """The sweeper gave this claim to another worker: this run's work must not be kept."""


def _finish(record: ImportRecord, started: float) -> None:
    """Save the final record, only if this run still holds the claim (same ``attempts``).

    Inside the apply transaction a lost claim raises, so the data written is rolled back with it:
    an import is applied exactly once even if a slow worker outlived its lease.
    """
    record.duration_ms = max(1, round((time.perf_counter() - started) * 1000))
    record.finished_at = timezone.now()
    with transaction.atomic():
        if record.attempts:
            held = (
                ImportRecord.objects.select_for_update()
                .filter(pk=record.pk, status=ImportStatus.RUNNING, attempts=record.attempts)
                .exists()
            )
            if not held:
                raise ClaimLostError(f"import {record.pk} was re-queued while this run held it")
        record.save()


@dataclass(frozen=True)
class SweepResult:
    resent: list[int]
    requeued: list[int]
    failed: list[int]


def import_sweep(*, actor: Actor, now: dt.datetime | None = None) -> SweepResult:
    """Make sure no import waits for ever; run by Celery beat, callable anywhere.

    * a ``queued`` upload whose task could not be sent (the broker was down) is sent again after a
      minute, and any ``queued`` upload older than the lease too (its message may have been lost
      with a broker restart); a duplicate finds the record claimed and stops;
    * a ``running`` claim older than ``IMPORT_LEASE_SECONDS`` lost its worker: it is re-queued and
      sent again, or after ``IMPORT_MAX_ATTEMPTS`` claims (or with no stored upload to re-run, an
      import_csv command that died) marked ``failed``. Nothing was written by the lost run: the
      apply step is one transaction.

    It spans every firm, so only a system actor (the scheduler, a command run on the server) or
    the platform operator may run it.
    """
    authorize(actor=actor, firm=None, resource=Resource.IMPORT)
    now = now or timezone.now()
    lease = dt.timedelta(seconds=settings.IMPORT_LEASE_SECONDS)
    resent: list[int] = []
    requeued: list[int] = []
    failed: list[int] = []
    stale = ImportRecord.objects.filter(status=ImportStatus.RUNNING, started_at__lt=now - lease)
    for record in stale.select_related(None).only("pk", "attempts", "started_at"):
        has_upload = ImportUpload.objects.filter(record_id=record.pk).exists()
        still = ImportRecord.objects.filter(
            pk=record.pk, status=ImportStatus.RUNNING, attempts=record.attempts
        )
        if has_upload and record.attempts < settings.IMPORT_MAX_ATTEMPTS:
            if still.update(status=ImportStatus.QUEUED):
                requeued.append(record.pk)
        elif still.update(
            status=ImportStatus.FAILED,
            finished_at=now,
            message=f"The worker running this import stopped ({record.attempts} attempt(s)); "
            "nothing was changed.",
        ):
            failed.append(record.pk)
    unsent = Q(message=QUEUE_UNREACHABLE, created_at__lt=now - dt.timedelta(seconds=60))
    lost = Q(created_at__lt=now - lease)
    waiting = ImportRecord.objects.filter(unsent | lost, status=ImportStatus.QUEUED).exclude(
        pk__in=requeued
    )
    for record in [*waiting.only("pk"), *ImportRecord.objects.filter(pk__in=requeued)]:
        if _send(record):
            resent.append(record.pk)
    return SweepResult(resent=resent, requeued=requeued, failed=failed)

"""Data feeds (imports). Nightly runs, analyses and trades arrive with their own issues."""

from __future__ import annotations

from typing import ClassVar

from django.conf import settings
from django.db import models

from rebalancer.roles import Resource
from rebalancer.tenancy import FirmOwned, FirmQuerySet


class ImportKind(models.TextChoices):
    SECURITIES = "securities", "Securities"
    PRICES = "prices", "Prices"
    ACCOUNTS = "accounts", "Accounts"
    LOTS = "lots", "Positions with lots"


class ImportStatus(models.TextChoices):
    """Where an import is. The last four are final: a final record is never changed again."""

    QUEUED = "queued", "Queued"
    RUNNING = "running", "Running"
    APPLIED = "applied", "Applied"
    UNCHANGED = "unchanged", "Unchanged"
    REJECTED = "rejected", "Rejected"
    FAILED = "failed", "Failed"


#: Statuses after which a record never changes again.
FINAL_STATUSES: frozenset[str] = frozenset(
    {ImportStatus.APPLIED, ImportStatus.UNCHANGED, ImportStatus.REJECTED, ImportStatus.FAILED}
)


class ImportRecordQuerySet(FirmQuerySet["ImportRecord"]):
    pass


class ImportRecord(FirmOwned):
    """One attempt to import one file: what, who, when, and what happened.

    The record moves ``queued`` (uploaded, waiting for a worker) -> ``running`` (claimed by one
    worker with a conditional update) -> a final status, and is never changed after that:

    * ``applied``: the file was valid and changed something (an audit event was written);
    * ``unchanged``: nothing to write (the same file was the last one applied, or every row
      already matched the database);
    * ``rejected``: at least one bad row; nothing was written and ``errors`` lists every bad row;
    * ``failed``: an unexpected error (a bug, the database went away); nothing was written.

    Counts are of the kind's records (securities, prices, accounts or lots), ``rows`` is how many
    records the file carried (for a wide price file: the non-blank cells), ``lines`` how many data
    lines it had.
    """

    tenancy_resource: ClassVar[Resource] = Resource.IMPORT

    kind = models.CharField(max_length=16, choices=ImportKind.choices)
    file_name = models.CharField(max_length=255)
    file_sha256 = models.CharField(max_length=64, db_index=True, blank=True)
    file_size = models.PositiveBigIntegerField(default=0, help_text="Bytes as uploaded.")
    status = models.CharField(
        max_length=16, choices=ImportStatus.choices, default=ImportStatus.QUEUED, db_index=True
    )
    lines = models.PositiveIntegerField(default=0, help_text="Data lines read (header excluded).")
    rows = models.PositiveIntegerField(default=0, help_text="Records the file carried.")
    created = models.PositiveIntegerField(default=0)
    updated = models.PositiveIntegerField(default=0)
    unchanged = models.PositiveIntegerField(default=0)
    deleted = models.PositiveIntegerField(default=0)
    skipped = models.PositiveIntegerField(
        default=0, help_text="Records deliberately not stored (a wide price file's close <= 0)."
    )
    errors = models.JSONField(
        default=list, blank=True, help_text="[{line, column, value, reason}] of a rejected file."
    )
    error_count = models.PositiveIntegerField(
        default=0, help_text="All errors found; ``errors`` keeps the first 10,000."
    )
    detail = models.JSONField(
        default=dict, blank=True, help_text="Kind-specific facts: file format, related counts."
    )
    message = models.TextField(blank=True, help_text="One-line summary of the outcome.")
    duration_ms = models.PositiveIntegerField(default=0)
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, null=True, blank=True, related_name="+"
    )
    created_at = models.DateTimeField(auto_now_add=True)
    started_at = models.DateTimeField(null=True, blank=True)
    attempts = models.PositiveSmallIntegerField(
        default=0, help_text="Times a worker claimed it (the sweeper re-queues a lost claim)."
    )
    finished_at = models.DateTimeField(null=True, blank=True)

    objects = ImportRecordQuerySet.as_manager()

    class Meta:
        ordering = ("-created_at", "-id")
        indexes = [models.Index(fields=["firm", "kind", "status", "-finished_at"])]

    def __str__(self) -> str:
        return f"{self.get_kind_display()} import {self.file_name} ({self.status})"

    @property
    def is_final(self) -> bool:
        return self.status in FINAL_STATUSES

    @property
    def rows_per_second(self) -> int | None:
        """Records processed per second of import time, or None before the import ran."""
        if self.duration_ms <= 0 or self.rows == 0 or "same_as_import" in self.detail:
            return None  # not run, or not read: identical to an earlier import
        return round(self.rows * 1000 / self.duration_ms)


class ImportUploadQuerySet(FirmQuerySet["ImportUpload"]):
    pass


class ImportUpload(FirmOwned):
    """The bytes of an uploaded file, kept in the database so any Celery worker can read them.

    A worker on another machine has neither the web process's memory nor its disk; the database is
    the one thing both share. Kept after the import as the record of exactly what was imported.
    """

    tenancy_resource: ClassVar[Resource] = Resource.IMPORT

    record = models.OneToOneField(ImportRecord, on_delete=models.CASCADE, related_name="upload")
    content = models.BinaryField()
    created_at = models.DateTimeField(auto_now_add=True)

    objects = ImportUploadQuerySet.as_manager()

    def __str__(self) -> str:
        return f"upload of import {self.record_id}"

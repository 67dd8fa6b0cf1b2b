"""Data feeds (imports); nightly runs, their analyses and proposed trades."""

from __future__ import annotations

from typing import ClassVar

from django.conf import settings
from django.db import models

from rebalancer.append_only import AppendOnlyModel, AppendOnlyQuerySet
from rebalancer.roles import Resource
from rebalancer.tenancy import FirmOwned, FirmQuerySet


class ImportKind(models.TextChoices):
    SECURITIES = "securities", "Securities"
    PRICES = "prices", "Prices"
    ACCOUNTS = "accounts", "Accounts"
    LOTS = "lots", "Positions with lots"
    TRANSACTIONS = "transactions", "Realized sales"


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


# --------------------------------------------------------------------------- nightly runs


class RunTrigger(models.TextChoices):
    SCHEDULE = "schedule", "Scheduled"
    MANUAL = "manual", "Manual"
    WHAT_IF = "what_if", "What-if"


class RunStatus(models.TextChoices):
    PENDING = "pending", "Pending"
    RUNNING = "running", "Running"
    COMPLETE = "complete", "Complete"
    FAILED = "failed", "Failed"


class AnalysisStatus(models.TextChoices):
    """Every account ends a run with exactly one terminal status (the last five)."""

    PENDING = "pending", "Pending"
    RUNNING = "running", "Running"
    PROPOSED = "proposed", "Proposed"
    NO_TRADE = "no_trade", "No trade needed"
    FALLBACK = "fallback", "Fallback (review)"
    SKIPPED = "skipped", "Skipped"
    FAILED = "failed", "Failed"


TERMINAL_ANALYSIS_STATUSES: frozenset[str] = frozenset(
    {
        AnalysisStatus.PROPOSED,
        AnalysisStatus.NO_TRADE,
        AnalysisStatus.FALLBACK,
        AnalysisStatus.SKIPPED,
        AnalysisStatus.FAILED,
    }
)


class RunQuerySet(FirmQuerySet["Run"]):
    pass


class Run(FirmOwned):
    """One nightly (or manual, or what-if) analysis of a set of a firm's accounts."""

    tenancy_resource: ClassVar[Resource] = Resource.RUN

    as_of = models.DateField()
    trigger = models.CharField(max_length=16, choices=RunTrigger.choices)
    status = models.CharField(max_length=16, choices=RunStatus.choices, default=RunStatus.PENDING)
    accounts = models.PositiveIntegerField(default=0, help_text="Accounts in scope.")
    counts = models.JSONField(default=dict, help_text="Terminal analyses per status.")
    timings = models.JSONField(default=dict, help_text="Seconds per phase (load, resolve, ...).")
    versions = models.JSONField(default=dict, help_text="Engine and package versions.")
    deadline = models.DateTimeField(null=True, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)
    started_at = models.DateTimeField(null=True, blank=True)
    finished_at = models.DateTimeField(null=True, blank=True)
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, null=True, blank=True, related_name="+"
    )
    actor_label = models.CharField(max_length=150)
    note = models.TextField(blank=True)
    draft = models.JSONField(
        null=True,
        blank=True,
        help_text="What-if runs: the unsaved definition version the accounts are resolved with.",
    )

    objects = RunQuerySet.as_manager()

    class Meta:
        ordering = ("-created_at", "-id")
        indexes = [models.Index(fields=["firm", "-created_at"], name="run_firm_recent")]

    def __str__(self) -> str:
        return f"run {self.pk} ({self.get_trigger_display()}, {self.as_of})"


class RunItemQuerySet(FirmQuerySet["RunItem"]):
    pass


class RunItem(FirmOwned):
    """The work queue of a run: one row per account, claimed pending -> running -> done.

    The result itself is an :class:`Analysis` (append-only); this row only says whether the
    account still needs one. ``weight`` orders the work (heaviest first).
    """

    tenancy_resource: ClassVar[Resource] = Resource.RUN
    tenancy_household_path: ClassVar[str] = "account__household_id"

    run = models.ForeignKey(Run, on_delete=models.CASCADE, related_name="items")
    account = models.ForeignKey("accounts.Account", on_delete=models.PROTECT, related_name="+")
    weight = models.PositiveIntegerField(default=0, help_text="Lots + targets: heaviest first.")
    status = models.CharField(
        max_length=16, choices=AnalysisStatus.choices, default=AnalysisStatus.PENDING
    )
    claim = models.CharField(max_length=36, blank=True)
    claimed_at = models.DateTimeField(null=True, blank=True)
    attempts = models.PositiveIntegerField(default=0)

    objects = RunItemQuerySet.as_manager()

    class Meta:
        ordering = ("run", "-weight", "account")
        constraints = [
            models.UniqueConstraint(fields=["run", "account"], name="run_item_unique_account")
        ]
        indexes = [models.Index(fields=["run", "status", "-weight"], name="run_item_queue")]

    def __str__(self) -> str:
        return f"run {self.run_id} account {self.account_id}: {self.status}"


class AnalysisQuerySet(AppendOnlyQuerySet["Analysis"]):
    pass


class Analysis(AppendOnlyModel):
    """One account's result in one run: the problem exactly as solved and what came of it.

    Append-only. ``problem`` is the engine's versioned JSON (``optimizer.jsonio``), zlib
    compressed; ``input_hash`` is the sha256 of that JSON (every input: lots, prices, targets,
    settings, tax year, solver settings).
    """

    tenancy_resource: ClassVar[Resource] = Resource.RUN
    tenancy_household_path: ClassVar[str] = "account__household_id"

    run = models.ForeignKey(Run, on_delete=models.PROTECT, related_name="analyses")
    account = models.ForeignKey("accounts.Account", on_delete=models.PROTECT, related_name="+")
    status = models.CharField(max_length=16, choices=AnalysisStatus.choices)
    message = models.TextField(blank=True, help_text="Why skipped / failed / fallback.")
    problem = models.BinaryField(null=True, blank=True)
    input_hash = models.CharField(max_length=64, blank=True)
    resolved_digest = models.CharField(max_length=64, blank=True)
    objective = models.JSONField(default=dict)
    diagnostics = models.JSONField(default=dict)
    trade_count = models.PositiveIntegerField(default=0)
    bought = models.DecimalField(max_digits=20, decimal_places=2, default=0)
    sold = models.DecimalField(max_digits=20, decimal_places=2, default=0)
    realized_gain = models.DecimalField(max_digits=20, decimal_places=2, default=0)
    tax = models.DecimalField(max_digits=20, decimal_places=2, default=0)
    drift_before = models.FloatField(null=True, blank=True)
    drift_after = models.FloatField(null=True, blank=True)
    solve_ms = models.FloatField(default=0)
    created_at = models.DateTimeField()

    objects = AnalysisQuerySet.as_manager()

    class Meta:
        ordering = ("run", "account")
        constraints = [
            models.UniqueConstraint(fields=["run", "account"], name="analysis_one_per_account")
        ]
        indexes = [models.Index(fields=["account", "-created_at"], name="analysis_latest")]

    def __str__(self) -> str:
        return f"analysis {self.pk}: account {self.account_id} {self.status}"


class ProposedTradeQuerySet(AppendOnlyQuerySet["ProposedTrade"]):
    pass


class ProposedTrade(AppendOnlyModel):
    """One proposed trade of one security, with its reason. Append-only."""

    tenancy_resource: ClassVar[Resource] = Resource.RUN
    tenancy_household_path: ClassVar[str] = "account__household_id"

    analysis = models.ForeignKey(Analysis, on_delete=models.PROTECT, related_name="trades")
    account = models.ForeignKey("accounts.Account", on_delete=models.PROTECT, related_name="+")
    security = models.ForeignKey("models_hub.Security", on_delete=models.PROTECT, related_name="+")
    side = models.CharField(max_length=4, choices=[("buy", "Buy"), ("sell", "Sell")])
    shares = models.DecimalField(max_digits=20, decimal_places=6)
    value = models.DecimalField(max_digits=20, decimal_places=2)
    cost = models.DecimalField(max_digits=20, decimal_places=2, default=0)
    realized_gain = models.DecimalField(max_digits=20, decimal_places=2, default=0)
    tax = models.DecimalField(max_digits=20, decimal_places=2, default=0)
    reason_kind = models.CharField(max_length=32, blank=True)
    reason_rule = models.CharField(max_length=64, blank=True)
    reason = models.TextField(blank=True, help_text="Plain English: why this trade.")

    objects = ProposedTradeQuerySet.as_manager()

    class Meta:
        ordering = ("analysis", "side", "security")

    def __str__(self) -> str:
        return f"{self.side} {self.shares} {self.security_id}"


class ProposedLotSaleQuerySet(AppendOnlyQuerySet["ProposedLotSale"]):
    pass


class ProposedLotSale(AppendOnlyModel):
    """The specific lot a proposed sale takes shares from. Append-only."""

    tenancy_resource: ClassVar[Resource] = Resource.RUN
    tenancy_household_path: ClassVar[str] = "account__household_id"

    analysis = models.ForeignKey(Analysis, on_delete=models.PROTECT, related_name="lot_sales")
    account = models.ForeignKey("accounts.Account", on_delete=models.PROTECT, related_name="+")
    security = models.ForeignKey("models_hub.Security", on_delete=models.PROTECT, related_name="+")
    lot_id = models.CharField(max_length=64, help_text="The custodian's lot id.")
    lot_ref = models.PositiveBigIntegerField(
        default=0, help_text="The lot's id in the stored problem (the tax lot's row id then)."
    )
    acquired_on = models.DateField()
    shares = models.DecimalField(max_digits=20, decimal_places=6)
    proceeds = models.DecimalField(max_digits=20, decimal_places=2)
    realized_gain = models.DecimalField(max_digits=20, decimal_places=2)
    term = models.CharField(max_length=2)
    tax = models.DecimalField(max_digits=20, decimal_places=2)

    objects = ProposedLotSaleQuerySet.as_manager()

    class Meta:
        ordering = ("analysis", "security", "acquired_on", "lot_id")

    def __str__(self) -> str:
        return f"sell {self.shares} of lot {self.lot_id}"


class NightlyScheduleQuerySet(FirmQuerySet["NightlySchedule"]):
    pass


class NightlySchedule(FirmOwned):
    """When a firm's nightly run starts and when it must be done (in the firm's time zone)."""

    tenancy_resource: ClassVar[Resource] = Resource.RUN

    enabled = models.BooleanField(default=True)
    time_zone = models.CharField(max_length=64, default="America/New_York")
    start_at = models.TimeField(help_text="Local time the run starts each day.")
    deadline_minutes = models.PositiveIntegerField(
        default=360, help_text="The run must be done this many minutes after it starts."
    )
    last_started_on = models.DateField(
        null=True, blank=True, help_text="Local date of the last scheduled run (one a day)."
    )

    objects = NightlyScheduleQuerySet.as_manager()

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["firm"], name="nightly_schedule_one_per_firm")
        ]

    def __str__(self) -> str:
        return f"{self.firm_id} at {self.start_at} {self.time_zone}"

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


class ImportResult(models.TextChoices):
    APPLIED = "applied", "Applied"
    UNCHANGED = "unchanged", "Unchanged (already imported)"
    REJECTED = "rejected", "Rejected"


class ImportRecordQuerySet(FirmQuerySet["ImportRecord"]):
    pass


class ImportRecord(FirmOwned):
    """One attempt to import one file: what, who, when, and what happened (append-only)."""

    tenancy_resource: ClassVar[Resource] = Resource.IMPORT

    kind = models.CharField(max_length=16, choices=ImportKind.choices)
    file_name = models.CharField(max_length=255)
    file_sha256 = models.CharField(max_length=64, db_index=True)
    rows = models.PositiveIntegerField(default=0)
    result = models.CharField(max_length=16, choices=ImportResult.choices)
    created = models.PositiveIntegerField(default=0)
    updated = models.PositiveIntegerField(default=0)
    unchanged = models.PositiveIntegerField(default=0)
    errors = models.JSONField(default=list, blank=True)
    duration_ms = models.PositiveIntegerField(default=0)
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, null=True, blank=True, related_name="+"
    )
    created_at = models.DateTimeField(auto_now_add=True)

    objects = ImportRecordQuerySet.as_manager()

    class Meta:
        ordering = ("-created_at", "-id")

    def __str__(self) -> str:
        return f"{self.get_kind_display()} import {self.file_name} ({self.result})"

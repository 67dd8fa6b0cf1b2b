"""Tenancy core: firms (tenants), memberships with roles, and the append-only audit log."""

from __future__ import annotations

from typing import Any, ClassVar

from django.conf import settings
from django.db import models

from rebalancer.roles import Resource, Role
from rebalancer.tenancy import FirmQuerySet


class Firm(models.Model):
    """A tenant: one wealth-management firm. Created by the platform operator (superuser)."""

    name = models.CharField(max_length=200, unique=True)
    slug = models.SlugField(max_length=60, unique=True)
    is_active = models.BooleanField(default=True)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ("name",)

    def __str__(self) -> str:
        return self.name


class MembershipQuerySet(FirmQuerySet["Membership"]):
    pass


class Membership(models.Model):
    """A user's seat in one firm, with one role. A user belongs to at most one firm."""

    tenancy_resource: ClassVar[Resource] = Resource.MEMBERSHIP

    firm = models.ForeignKey(Firm, on_delete=models.PROTECT, related_name="memberships")
    user = models.OneToOneField(
        settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="membership"
    )
    role = models.CharField(max_length=32, choices=Role.choices)
    created_at = models.DateTimeField(auto_now_add=True)

    objects = MembershipQuerySet.as_manager()

    class Meta:
        ordering = ("firm", "user__username")

    def __str__(self) -> str:
        return f"{self.user} ({self.get_role_display()}) at {self.firm}"


class AppendOnlyError(Exception):
    """Raised when code tries to change or delete an append-only record."""


class AuditEventQuerySet(FirmQuerySet["AuditEvent"]):
    def update(self, **kwargs: Any) -> int:
        raise AppendOnlyError("audit events are append-only: UPDATE is refused")

    def delete(self) -> tuple[int, dict[str, int]]:
        raise AppendOnlyError("audit events are append-only: DELETE is refused")


class AuditEvent(models.Model):
    """Who did what, when, in which firm, to which object, with before/after and why.

    Append-only: the model refuses UPDATE and DELETE; on PostgreSQL a trigger refuses them in the
    database itself (migration 0002). A correction is a new event.
    """

    tenancy_resource: ClassVar[Resource] = Resource.AUDIT

    firm = models.ForeignKey(Firm, on_delete=models.PROTECT, related_name="audit_events")
    actor = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        on_delete=models.PROTECT,
        null=True,
        blank=True,
        related_name="audit_events",
        help_text="Null only for system actions (imports run by the scheduler, migrations).",
    )
    actor_label = models.CharField(max_length=150, help_text="Username at the time, or 'system'.")
    occurred_at = models.DateTimeField(auto_now_add=True, db_index=True)
    action = models.CharField(max_length=64, db_index=True)
    object_type = models.CharField(max_length=100, blank=True)
    object_id = models.CharField(max_length=64, blank=True)
    object_repr = models.CharField(max_length=200, blank=True)
    before = models.JSONField(null=True, blank=True)
    after = models.JSONField(null=True, blank=True)
    reason = models.TextField(blank=True)

    objects = AuditEventQuerySet.as_manager()

    class Meta:
        ordering = ("-occurred_at", "-id")
        indexes = [models.Index(fields=["firm", "-occurred_at"])]

    def __str__(self) -> str:
        return f"{self.occurred_at:%Y-%m-%d %H:%M} {self.actor_label} {self.action}"

    def save(self, *args: Any, **kwargs: Any) -> None:
        if self.pk is not None:
            raise AppendOnlyError("audit events are append-only: UPDATE is refused")
        super().save(*args, **kwargs)

    def delete(self, *args: Any, **kwargs: Any) -> tuple[int, dict[str, int]]:
        raise AppendOnlyError("audit events are append-only: DELETE is refused")


# API tokens live in their own module; imported here so Django registers the model.
from rebalancer.tokens import ApiToken  # noqa: E402, F401

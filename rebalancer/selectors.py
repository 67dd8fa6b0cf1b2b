"""Read side of the tenancy core: members, audit events, and the figures on each role's home."""

from __future__ import annotations

from typing import Any

from django.db.models import Count, Q, QuerySet

from rebalancer.models import AuditEvent, Membership
from rebalancer.roles import Role
from rebalancer.tenancy import AnyUser
from workflow.models import ImportRecord


def member_list(*, user: AnyUser) -> QuerySet[Membership]:
    """Members of the user's firm (active and deactivated), by username."""
    return Membership.objects.for_user(user).select_related("user").order_by("user__username")


def member_counts(*, user: AnyUser) -> list[dict[str, Any]]:
    """Active and deactivated members per role, every role listed in the table's order."""
    rows: dict[str, Any] = {
        r["role"]: r
        for r in Membership.objects.for_user(user)
        .order_by("role")
        .values("role")
        .annotate(
            active=Count("pk", filter=Q(user__is_active=True)),
            inactive=Count("pk", filter=Q(user__is_active=False)),
        )
    }
    return [
        {
            "role": role,
            "active": rows.get(role.value, {}).get("active", 0),
            "inactive": rows.get(role.value, {}).get("inactive", 0),
        }
        for role in Role
    ]


def audit_event_list(
    *, user: AnyUser, action: str = "", actor: str = "", object_type: str = ""
) -> QuerySet[AuditEvent]:
    """Audit events visible to ``user``, newest first, optionally filtered (exact matches)."""
    events = AuditEvent.objects.for_user(user)
    if action:
        events = events.filter(action=action)
    if actor:
        events = events.filter(actor_label=actor)
    if object_type:
        events = events.filter(object_type=object_type)
    return events.order_by("-occurred_at", "-id")


def audit_action_names(*, user: AnyUser) -> list[str]:
    """Distinct action names in the user's audit log, for the filter menu."""
    return list(
        AuditEvent.objects.for_user(user)
        .order_by("action")
        .values_list("action", flat=True)
        .distinct()
    )


def recent_imports(*, user: AnyUser, limit: int = 5) -> list[ImportRecord]:
    """The latest import attempts the user may see (the import pages live under /feeds/)."""
    return list(
        ImportRecord.objects.for_user(user)
        .select_related("created_by")
        .order_by("-created_at", "-id")[:limit]
    )

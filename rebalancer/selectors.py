"""Read side of the tenancy core: members and audit events."""

from __future__ import annotations

from typing import Any

from django.db.models import Count, Q, QuerySet

from rebalancer.models import AuditEvent, Membership
from rebalancer.roles import Role
from rebalancer.tenancy import AnyUser


def member_list(*, user: AnyUser) -> QuerySet[Membership]:
    """Members of the user's firm (active and deactivated), by username."""
    return Membership.objects.for_user(user).select_related("user").order_by("user__username")


def member_count_by_role(*, user: AnyUser) -> list[dict[str, Any]]:
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


def audit_event_list(*, user: AnyUser) -> QuerySet[AuditEvent]:
    """Audit events visible to ``user``, newest first (filter with ``AuditEventFilterSet``)."""
    return AuditEvent.objects.for_user(user).order_by("-occurred_at", "-id")


def audit_action_list(*, user: AnyUser) -> list[str]:
    """Distinct action names in the user's audit log, for the filter menu."""
    return list(
        AuditEvent.objects.for_user(user)
        .order_by("action")
        .values_list("action", flat=True)
        .distinct()
    )

"""Reading workflow rows for a user: always through ``for_user``."""

from __future__ import annotations

from rebalancer.roles import Action
from rebalancer.tenancy import AnyUser, FirmQuerySet
from workflow.models import ImportRecord


def import_list(*, user: AnyUser, with_errors: bool = False) -> FirmQuerySet[ImportRecord]:
    """The user's firm's imports, newest first (none for roles that may not view imports).

    The error report (up to 10,000 entries) is loaded only when asked for.
    """
    queryset = (
        ImportRecord.objects.for_user(user, Action.VIEW)
        .select_related("created_by")
        .order_by("-created_at", "-id")
    )
    return queryset if with_errors else queryset.defer("errors")


def import_list_recent(*, user: AnyUser, limit: int = 5) -> list[ImportRecord]:
    """The latest import attempts the user may see (the import pages live under /feeds/)."""
    return list(import_list(user=user)[:limit])

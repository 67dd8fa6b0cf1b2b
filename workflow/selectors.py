"""Reading workflow rows for a user: always through ``for_user``."""

from __future__ import annotations

from rebalancer.roles import Action
from rebalancer.tenancy import AnyUser, FirmQuerySet
from workflow.models import (
    Analysis,
    ImportRecord,
    ProposedLotSale,
    ProposedTrade,
    Run,
    RunTrigger,
)


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


def run_list(*, user: AnyUser) -> FirmQuerySet[Run]:
    """The user's firm's runs, newest first."""
    return Run.objects.for_user(user, Action.VIEW).order_by("-created_at", "-id")


def analysis_latest_get(*, user: AnyUser, account_id: int) -> Analysis | None:
    """The account's newest analysis of a finished or running run (not a what-if), with its
    trades (security loaded) and lot sales; None if it has none or the user may not see it."""
    analysis = (
        Analysis.objects.for_user(user, Action.VIEW)
        .filter(account_id=account_id)
        .exclude(run__trigger=RunTrigger.WHAT_IF)
        .select_related("run")
        .order_by("-created_at", "-id")
        .first()
    )
    return analysis


def analysis_trades(analysis: Analysis) -> list[ProposedTrade]:
    return list(
        ProposedTrade.objects.filter(analysis=analysis)
        .select_related("security")
        .order_by("side", "security__ticker")
    )


def analysis_lot_sales(analysis: Analysis) -> list[ProposedLotSale]:
    return list(
        ProposedLotSale.objects.filter(analysis=analysis)
        .select_related("security")
        .order_by("security__ticker", "acquired_on", "lot_id")
    )

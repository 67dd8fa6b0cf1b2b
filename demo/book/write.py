"""Bulk writers for a planned demo book: ids reserved per chunk, plain rows, no per-row queries.

Households and accounts are inserted here; lots and positions go through
:func:`accounts.services.lots_sync` (the one writer of lots), whose ``new_accounts`` path inserts
them in bulk too, positions as the sums of their lots.
"""

from __future__ import annotations

import datetime as dt
from collections import defaultdict
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any

from accounts.models import Account, Household, HouseholdUserObjectPermission
from accounts.services import LotInput, lots_sync
from demo.book.plan import AccountPlan, HouseholdPlan
from rebalancer.authz import SystemActor
from rebalancer.bulk import ids_reserve, rows_insert


@dataclass(frozen=True)
class WriteContext:
    """Ids and constants every chunk of one firm's book needs."""

    firm_id: int
    advisor_ids: Sequence[int]  # user id of advisor index i
    security_ids: dict[str, int]  # ticker -> Security id in this firm
    flag_ids: dict[str, int]  # flag name -> AccountFlag id in this firm
    assignment_permission_id: int  # guardian permission that assigns a household
    created_at: Any  # a timestamp already adapted for the database
    dates: Sequence[dt.date]  # trading day of each planned row


@dataclass
class WriteCounts:
    households: int = 0
    accounts: int = 0
    positions: int = 0
    lots: int = 0
    assignments: int = 0
    account_flags: int = 0
    settings: int = 0  # account settings versions (the demo program's customizations)
    by_kind: dict[str, int] = field(default_factory=dict)

    def add(self, other: WriteCounts) -> None:
        for name in (
            "households",
            "accounts",
            "positions",
            "lots",
            "assignments",
            "account_flags",
            "settings",
        ):
            setattr(self, name, getattr(self, name) + getattr(other, name))
        for kind, n in other.by_kind.items():
            self.by_kind[kind] = self.by_kind.get(kind, 0) + n


def _dollars(cents: int) -> str:
    sign = "-" if cents < 0 else ""
    cents = abs(cents)
    return f"{sign}{cents // 100}.{cents % 100:02d}"


#: Writes the settings of a chunk's new accounts: (account id, household id, plan) -> count.
Customize = Callable[[Sequence[tuple[int, int, AccountPlan]]], int]


def chunk_write(
    *, ctx: WriteContext, households: Sequence[HouseholdPlan], customize: Customize | None = None
) -> WriteCounts:
    """Insert one chunk of planned households with their accounts, positions and lots, then
    (``customize``) the accounts' settings."""
    accounts = [a for h in households for a in h.accounts]
    household_ids = ids_reserve(model=Household, count=len(households))
    account_ids = ids_reserve(model=Account, count=len(accounts))

    household_rows = []
    assignment_rows = []
    account_rows = []
    flag_rows = []
    lots: dict[int, list[LotInput]] = {}
    written: list[tuple[int, int, AccountPlan]] = []
    by_kind: dict[str, int] = defaultdict(int)
    a = 0
    for household, household_id in zip(households, household_ids, strict=True):
        household_rows.append(
            (household_id, ctx.firm_id, household.external_id, household.name, ctx.created_at)
        )
        advisor_id = None if household.advisor is None else ctx.advisor_ids[household.advisor]
        if advisor_id is not None:
            assignment_rows.append((advisor_id, ctx.assignment_permission_id, household_id))
        for plan in household.accounts:
            account_id = account_ids[a]
            written.append((account_id, household_id, plan))
            by_kind[plan.kind] += 1
            account_rows.append(
                (
                    account_id,
                    ctx.firm_id,
                    household_id,
                    advisor_id,
                    plan.name,
                    household.custodian,
                    plan.number,
                    plan.registration_type,
                    plan.discretionary,
                    plan.status,
                    _dollars(plan.cash_cents),
                    "0.00",  # securities_value: lots_sync values the accounts it fills
                    ctx.created_at,
                )
            )
            flag_rows += [(account_id, ctx.flag_ids[name]) for name in plan.flags]
            security_ids = ctx.security_ids
            lots[account_id] = [
                LotInput(
                    security_ids[lot.ticker],
                    plan.lot_id(k),
                    Decimal(lot.quantity),
                    Decimal(lot.basis_cents).scaleb(-2),
                    ctx.dates[lot.row],
                )
                for k, lot in enumerate(plan.lots)
            ]
            a += 1

    rows_insert(
        model=Household,
        fields=("id", "firm_id", "external_id", "name", "created_at"),
        rows=household_rows,
    )
    rows_insert(
        model=HouseholdUserObjectPermission,
        fields=("user_id", "permission_id", "content_object_id"),
        rows=assignment_rows,
    )
    rows_insert(
        model=Account,
        fields=(
            "id",
            "firm_id",
            "household_id",
            "advisor_id",
            "name",
            "custodian",
            "account_number",
            "registration_type",
            "discretionary",
            "status",
            "cash_balance",
            "securities_value",
            "created_at",
        ),
        rows=account_rows,
    )
    rows_insert(
        model=Account.flags.through, fields=("account_id", "accountflag_id"), rows=flag_rows
    )
    synced = lots_sync(firm_id=ctx.firm_id, actor=SystemActor.DEMO, lots=lots, new_accounts=True)
    settings = customize(written) if customize is not None else 0
    return WriteCounts(
        households=len(household_rows),
        accounts=len(account_rows),
        positions=synced.positions_created,
        lots=synced.created,
        assignments=len(assignment_rows),
        account_flags=len(flag_rows),
        settings=settings,
        by_kind=dict(by_kind),
    )

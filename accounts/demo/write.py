"""Bulk writers for a planned demo book: ids reserved per chunk, plain rows, no per-row queries.

Positions are written as the sum of their planned lots, in the same transaction as the lots, so the
position/lot invariant holds by construction (and :mod:`accounts.invariants` checks it).
"""

from __future__ import annotations

import datetime as dt
from collections import defaultdict
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

from accounts.demo.plan import HouseholdPlan
from accounts.models import Account, Household, HouseholdUserObjectPermission, Position, TaxLot
from models_hub.marketdata.bulk import ids_reserve, rows_insert


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
    by_kind: dict[str, int] = field(default_factory=dict)

    def add(self, other: WriteCounts) -> None:
        for name in ("households", "accounts", "positions", "lots", "assignments", "account_flags"):
            setattr(self, name, getattr(self, name) + getattr(other, name))
        for kind, n in other.by_kind.items():
            self.by_kind[kind] = self.by_kind.get(kind, 0) + n


def _dollars(cents: int) -> str:
    sign = "-" if cents < 0 else ""
    cents = abs(cents)
    return f"{sign}{cents // 100}.{cents % 100:02d}"


def chunk_write(*, ctx: WriteContext, households: Sequence[HouseholdPlan]) -> WriteCounts:
    """Insert one chunk of planned households with their accounts, positions and lots."""
    accounts = [a for h in households for a in h.accounts]
    held = [sorted({lot.ticker for lot in a.lots}) for a in accounts]
    household_ids = ids_reserve(model=Household, count=len(households))
    account_ids = ids_reserve(model=Account, count=len(accounts))
    position_ids = iter(ids_reserve(model=Position, count=sum(len(t) for t in held)))

    household_rows = []
    assignment_rows = []
    account_rows = []
    flag_rows = []
    position_rows = []
    lot_rows = []
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
                    ctx.created_at,
                )
            )
            flag_rows += [(account_id, ctx.flag_ids[name]) for name in plan.flags]
            quantities: dict[str, int] = defaultdict(int)
            for lot in plan.lots:
                quantities[lot.ticker] += lot.quantity
            position_of: dict[str, int] = {}
            for ticker in held[a]:
                position_of[ticker] = next(position_ids)
                position_rows.append(
                    (
                        position_of[ticker],
                        ctx.firm_id,
                        account_id,
                        ctx.security_ids[ticker],
                        str(quantities[ticker]),
                    )
                )
            for k, lot in enumerate(plan.lots):
                lot_rows.append(
                    (
                        ctx.firm_id,
                        account_id,
                        ctx.security_ids[lot.ticker],
                        position_of[lot.ticker],
                        plan.lot_id(k),
                        str(lot.quantity),
                        _dollars(lot.basis_cents),
                        ctx.dates[lot.row],
                    )
                )
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
            "created_at",
        ),
        rows=account_rows,
    )
    rows_insert(
        model=Account.flags.through, fields=("account_id", "accountflag_id"), rows=flag_rows
    )
    rows_insert(
        model=Position,
        fields=("id", "firm_id", "account_id", "security_id", "quantity"),
        rows=position_rows,
    )
    rows_insert(
        model=TaxLot,
        fields=(
            "firm_id",
            "account_id",
            "security_id",
            "position_id",
            "lot_id",
            "quantity",
            "cost_basis",
            "acquired_on",
        ),
        rows=lot_rows,
    )
    return WriteCounts(
        households=len(household_rows),
        accounts=len(account_rows),
        positions=len(position_rows),
        lots=len(lot_rows),
        assignments=len(assignment_rows),
        account_flags=len(flag_rows),
        by_kind=dict(by_kind),
    )

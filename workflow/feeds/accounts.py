"""Accounts import: households and accounts, inserted or updated in place (never deleted).

An account is identified by (custodian, account number) within the firm; its household by the
firm's own household id. Nothing here looks outside the importing firm: an account number that
another firm on this platform also holds is imported exactly like one nobody holds (accounts are
unique per firm), so an import's answer never tells one firm anything about another.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from django.contrib.auth import get_user_model
from guardian.shortcuts import assign_perm

from accounts.models import (
    Account,
    AccountFlag,
    AccountStatus,
    Household,
    HouseholdUserObjectPermission,
    RegistrationType,
)
from rebalancer.bulk import chunked
from rebalancer.models import Firm, Membership
from rebalancer.roles import Role
from rebalancer.tenancy import HOUSEHOLD_ASSIGNMENT_PERMISSION
from workflow.feeds.base import BATCH_SIZE, Counts, RowStream
from workflow.feeds.errors import ErrorReport
from workflow.feeds.reader import Columns, FeedSource, Row

COLUMNS = Columns(
    required=(
        "household_id",
        "household_name",
        "custodian",
        "account_number",
        "account_name",
        "registration_type",
    ),
    optional=("discretionary", "status", "advisor", "cash_balance", "flags"),
)
UNKNOWN_ACCOUNT = "unknown account for this firm"
FLAG_SEPARATOR = ";"


@dataclass(slots=True)
class _AccountRow:
    line: int
    household_id: str
    household_name: str
    custodian: str
    account_number: str
    values: dict[str, Any]  # Account field -> value (only optional columns present in the file)
    advisor_id: int | None
    has_advisor: bool
    flags: list[str] | None  # None when the file has no flags column


class AccountsImporter:
    def __init__(self) -> None:
        self.rows: list[_AccountRow] = []

    def validate(self, *, firm: Firm, source: FeedSource, report: ErrorReport) -> Counts:
        advisors = _members(firm)
        first_line: dict[tuple[str, str], int] = {}
        household_names: dict[str, tuple[str, int]] = {}
        stream = RowStream(source, columns=COLUMNS, report=report)
        for row in stream:
            # Duplicates and household names are checked on the raw cells, so a repeat of a
            # bad row is reported too.
            key = (row.raw("custodian"), row.raw("account_number"))
            if all(key) and key in first_line:
                row.fail(
                    "account_number",
                    key[1],
                    f"account appears twice (first on line {first_line[key]})",
                )
            elif all(key):
                first_line[key] = row.line
            household = (row.raw("household_id"), row.raw("household_name"))
            if all(household):
                name, line = household_names.setdefault(household[0], (household[1], row.line))
                if name != household[1]:
                    row.fail(
                        "household_name",
                        household[1],
                        f"household {household[0]} is named {name!r} on line {line}",
                    )
            parsed = self._parse(row, advisors)
            if parsed is not None:
                self.rows.append(parsed)
        return Counts(lines=stream.lines, rows=stream.lines)

    @staticmethod
    def _parse(row: Row, advisors: dict[str, tuple[int, str]]) -> _AccountRow | None:
        household_id = row.text("household_id", max_length=64)
        household_name = row.text("household_name", max_length=200)
        custodian = row.text("custodian", max_length=64)
        number = row.text("account_number", max_length=64)
        values: dict[str, Any] = {
            "name": row.text("account_name", max_length=200),
            "registration_type": row.choice("registration_type", RegistrationType),
        }
        has = row.header.has
        if has("discretionary"):
            values["discretionary"] = row.boolean("discretionary")
        if has("status"):
            values["status"] = row.choice("status", AccountStatus)
        if has("cash_balance"):
            values["cash_balance"] = row.decimal(
                "cash_balance", places=2, max_digits=20, minimum="non_negative"
            )
        advisor_id: int | None = None
        if has("advisor") and (username := row.raw("advisor")):
            member = advisors.get(username)
            if member is None:
                row.fail("advisor", username, "unknown advisor for this firm")
            elif member[1] != Role.ADVISOR:
                row.fail("advisor", username, "this user is not an advisor")
            else:
                advisor_id = member[0]
        flags: list[str] | None = None
        if has("flags"):
            flags = sorted({f.strip() for f in row.raw("flags").split(FLAG_SEPARATOR)} - {""})
            for flag in flags:
                if len(flag) > 64:
                    row.fail("flags", flag, "flag longer than 64 characters")
        if not row.ok:
            return None
        assert household_id and household_name and custodian and number
        return _AccountRow(
            line=row.line,
            household_id=household_id,
            household_name=household_name,
            custodian=custodian,
            account_number=number,
            values=values,
            advisor_id=advisor_id,
            has_advisor=has("advisor"),
            flags=flags,
        )

    def apply(self, *, firm: Firm, source: FeedSource, sha256: str) -> Counts:
        counts = Counts(lines=len(self.rows), rows=len(self.rows))
        households = self._apply_households(firm, counts)
        flag_ids = self._apply_flags(firm, counts)
        keys = {(r.custodian, r.account_number) for r in self.rows}
        existing: dict[tuple[str, str], Account] = {}
        for chunk in chunked(sorted({number for _, number in keys})):
            for account in Account.objects.for_firm(firm.pk).filter(account_number__in=chunk):
                if (account.custodian, account.account_number) in keys:
                    existing[(account.custodian, account.account_number)] = account
        to_create: list[Account] = []
        to_update: list[Account] = []
        fields: set[str] = set()
        for row in self.rows:
            wanted: dict[str, Any] = {"household_id": households[row.household_id], **row.values}
            if row.has_advisor:
                wanted["advisor_id"] = row.advisor_id
            current = existing.get((row.custodian, row.account_number))
            if current is None:
                to_create.append(
                    Account(
                        firm=firm,
                        custodian=row.custodian,
                        account_number=row.account_number,
                        **wanted,
                    )
                )
                continue
            changed = sorted(k for k, v in wanted.items() if getattr(current, k) != v)
            for name in changed:
                setattr(current, name, wanted[name])
            if changed:
                fields.update(changed)
                to_update.append(current)
        Account.objects.bulk_create(to_create, batch_size=BATCH_SIZE)
        if to_update:
            Account.objects.bulk_update(to_update, sorted(fields), batch_size=BATCH_SIZE)
        accounts = {**existing, **{(a.custodian, a.account_number): a for a in to_create}}
        flags_changed = self._apply_account_flags(accounts, flag_ids)
        updated = {a.pk for a in to_update} | (flags_changed - {a.pk for a in to_create})
        counts.created = len(to_create)
        counts.updated = len(updated)
        counts.unchanged = len(self.rows) - counts.created - counts.updated
        self._assign_advisors(firm, households, counts)
        return counts

    def _apply_households(self, firm: Firm, counts: Counts) -> dict[str, int]:
        names: dict[str, str] = {r.household_id: r.household_name for r in self.rows}
        existing: dict[str, Household] = {}
        for chunk in chunked(sorted(names)):
            households = Household.objects.for_firm(firm.pk).filter(external_id__in=chunk)
            existing.update((h.external_id, h) for h in households)
        new = [
            Household(firm=firm, external_id=ext, name=name)
            for ext, name in sorted(names.items())
            if ext not in existing
        ]
        renamed = [h for ext, h in sorted(existing.items()) if h.name != names[ext]]
        for household in renamed:
            household.name = names[household.external_id]
        Household.objects.bulk_create(new, batch_size=BATCH_SIZE)
        Household.objects.bulk_update(renamed, ["name"], batch_size=BATCH_SIZE)
        counts.detail["households_created"] = len(new)
        counts.detail["households_renamed"] = len(renamed)
        counts.other_changes += len(new) + len(renamed)
        return {h.external_id: h.pk for h in [*existing.values(), *new]}

    def _apply_flags(self, firm: Firm, counts: Counts) -> dict[str, int]:
        names = sorted({flag for r in self.rows for flag in r.flags or []})
        existing = dict(
            AccountFlag.objects.for_firm(firm.pk).filter(name__in=names).values_list("name", "id")
        )
        new = [AccountFlag(firm=firm, name=name) for name in names if name not in existing]
        AccountFlag.objects.bulk_create(new, batch_size=BATCH_SIZE)
        counts.detail["flags_created"] = len(new)
        counts.other_changes += len(new)
        return {**existing, **{flag.name: flag.pk for flag in new}}

    def _apply_account_flags(
        self, accounts: dict[tuple[str, str], Account], flag_ids: dict[str, int]
    ) -> set[int]:
        """Set each account's flags to the file's; returns the ids of accounts whose flags moved."""
        through = Account.flags.through
        wanted: dict[int, set[int]] = {}
        for row in self.rows:
            if row.flags is not None:
                account = accounts[(row.custodian, row.account_number)]
                wanted[account.pk] = {flag_ids[name] for name in row.flags}
        current: dict[int, set[int]] = {pk: set() for pk in wanted}
        for chunk in chunked(sorted(wanted)):
            for account_id, flag_id in through.objects.filter(account_id__in=chunk).values_list(
                "account_id", "accountflag_id"
            ):
                current[account_id].add(flag_id)
        add = [
            through(account_id=pk, accountflag_id=flag_id)
            for pk in sorted(wanted)
            for flag_id in sorted(wanted[pk] - current[pk])
        ]
        remove = [(pk, sorted(current[pk] - wanted[pk])) for pk in sorted(wanted)]
        through.objects.bulk_create(add, batch_size=BATCH_SIZE)
        for pk, flag_ids_gone in remove:
            if flag_ids_gone:
                through.objects.filter(account_id=pk, accountflag_id__in=flag_ids_gone).delete()
        return {pk for pk in wanted if wanted[pk] != current[pk]}

    def _assign_advisors(self, firm: Firm, households: dict[str, int], counts: Counts) -> None:
        """Put each account's household in its advisor's book (guardian object permission).

        Additive only: an import never removes an assignment, which may have been made by hand.
        """
        pairs = sorted(
            {(households[r.household_id], r.advisor_id) for r in self.rows if r.advisor_id}
        )
        if not pairs:
            return
        assigned = set(
            HouseholdUserObjectPermission.objects.filter(
                content_object_id__in=sorted({h for h, _ in pairs}),
                permission__codename=HOUSEHOLD_ASSIGNMENT_PERMISSION,
            ).values_list("content_object_id", "user_id")
        )
        missing = [pair for pair in pairs if pair not in assigned]
        users = get_user_model().objects.in_bulk(sorted({u for _, u in missing}))
        objects = Household.objects.for_firm(firm.pk).in_bulk(sorted({h for h, _ in missing}))
        for household_id, user_id in missing:
            assign_perm(
                f"accounts.{HOUSEHOLD_ASSIGNMENT_PERMISSION}",
                users[user_id],
                objects[household_id],
            )
        counts.detail["advisor_assignments_created"] = len(missing)
        counts.other_changes += len(missing)


def _members(firm: Firm) -> dict[str, tuple[int, str]]:
    """Username -> (user id, role) of the firm's members."""
    rows = Membership.objects.for_firm(firm.pk).values_list("user__username", "user_id", "role")
    return {username: (user_id, role) for username, user_id, role in rows}


def account_ids(firm: Firm, keys: list[tuple[str, str]]) -> dict[tuple[str, str], int]:
    """(custodian, account number) -> id, for those of ``keys`` that are accounts of the firm."""
    wanted = set(keys)
    found: dict[tuple[str, str], int] = {}
    for chunk in chunked(sorted({number for _, number in wanted})):
        for custodian, number, pk in (
            Account.objects.for_firm(firm.pk)
            .filter(account_number__in=chunk)
            .values_list("custodian", "account_number", "id")
        ):
            if (custodian, number) in wanted:
                found[(custodian, number)] = pk
    return found

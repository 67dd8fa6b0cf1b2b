"""Bulk writer of account settings: version 1 of many new accounts' menu choices at once.

For the demo book (and any loader of a new book): :func:`account_settings_insert` cleans every
account's choices with :func:`models_hub.menus.menu_clean`, reserves the version ids, inserts the
rows, their extracted columns and the two many-to-many tables (screens, restricted securities)
with plain bulk inserts, and moves each account's ``settings_version`` pointer: a handful of
statements per call, none per account. The rows are the same as :func:`accounts.customization.
settings_save` writes, version by version.

The caller vouches for the limits (as for ``settings_versions_write``): this writer checks the
shape of each choice and that the accounts have no settings yet, not each account against its
strategy's limits (the demo's tests resolve every account and check them).
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from django.db import connection, transaction
from django.utils import timezone

from accounts.customization import SettingsError, restricted_tickers, settings_columns
from accounts.models import Account, SettingsScope, SettingsVersion
from models_hub.content import ContentError, canonical_json, content_hash
from models_hub.menus import menu_clean
from models_hub.models import Security
from rebalancer.audit import audit_record
from rebalancer.authz import Actor, actor_label, actor_user, authorize
from rebalancer.bulk import chunked, ids_reserve, rows_insert, rows_update
from rebalancer.models import Firm
from rebalancer.roles import Resource


@dataclass(frozen=True)
class AccountSettings:
    """The menu choices of one new account (``content`` as an advisor would save them)."""

    account_id: int
    household_id: int
    content: Mapping[str, Any]


_FIELDS = (
    "id",
    "firm_id",
    "scope",
    "household_id",
    "account_id",
    "number",
    "content",
    "content_hash",
    "strategy_id",
    "tax_sensitivity",
    "restriction_count",
    "created_at",
    "created_by_id",
    "actor_label",
    "reason",
)


def account_settings_insert(
    *,
    actor: Actor,
    firm_id: int,
    rows: Sequence[AccountSettings],
    reason: str,
    at: dt.datetime | None = None,
    audit: bool = True,
) -> int:
    """Write version 1 of each account's settings and point the account at it; count them.

    Refuses (``SettingsError``, nothing written) a choice that does not clean, an account of
    another firm or one that already has settings. ``audit``: one audit event for the call; a
    caller writing many chunks (the demo book) records one event of its own instead.
    """
    authorize(actor=actor, firm=firm_id, resource=Resource.ACCOUNT_SETTINGS)
    if not reason.strip():
        raise SettingsError({"reason": "say why (the reason is kept with the change)"})
    if not rows:
        return 0
    cleaned: list[dict[str, Any]] = []
    for row in rows:
        try:
            cleaned.append(menu_clean(dict(row.content), scope=SettingsScope.ACCOUNT))
        except ContentError as exc:
            raise SettingsError(
                {f"account {row.account_id}: {k}": v for k, v in exc.errors.items()}
            ) from None
    account_ids = [r.account_id for r in rows]
    if len(set(account_ids)) != len(account_ids):
        raise SettingsError({"accounts": "an account is listed twice"})
    tickers = sorted({t for content in cleaned for t in restricted_tickers(content)})
    with transaction.atomic():
        known = 0
        for ids in chunked(account_ids, 2_000):
            known += Account.objects.filter(firm_id=firm_id, pk__in=ids).count()
            if SettingsVersion.objects.filter(account_id__in=ids).exists():
                raise SettingsError({"accounts": "some accounts already have settings"})
        if known != len(account_ids):
            raise SettingsError({"accounts": "some accounts are not accounts of this firm"})
        security_ids: dict[str, int] = {}
        for part in chunked(tickers, 2_000):
            security_ids.update(
                Security.objects.for_firm(firm_id)
                .filter(ticker__in=part)
                .values_list("ticker", "id")
            )
        version_ids = ids_reserve(model=SettingsVersion, count=len(rows))
        when = connection.ops.adapt_datetimefield_value(at or timezone.now())
        user = actor_user(actor)
        user_id = None if user is None else user.pk
        label = actor_label(actor)
        version_rows = []
        screen_rows: list[tuple[int, int]] = []
        restricted_rows: list[tuple[int, int]] = []
        pointer_rows: list[tuple[int, int]] = []
        for version_id, row, content in zip(version_ids, rows, cleaned, strict=True):
            columns = settings_columns(content, security_ids)
            version_rows.append(
                (
                    version_id,
                    firm_id,
                    SettingsScope.ACCOUNT.value,
                    row.household_id,
                    row.account_id,
                    1,
                    canonical_json(content),
                    content_hash(content),
                    columns["strategy_id"],
                    columns["tax_sensitivity"],
                    columns["restriction_count"],
                    when,
                    user_id,
                    label,
                    reason,
                )
            )
            screen_rows += [(version_id, s) for s in columns["screens"]]
            restricted_rows += [(version_id, s) for s in columns["restricted_securities"]]
            pointer_rows.append((version_id, row.account_id))
        rows_insert(model=SettingsVersion, fields=_FIELDS, rows=version_rows)
        rows_insert(
            model=SettingsVersion.screens.through,
            fields=("settingsversion_id", "definition_id"),
            rows=screen_rows,
        )
        rows_insert(
            model=SettingsVersion.restricted_securities.through,
            fields=("settingsversion_id", "security_id"),
            rows=restricted_rows,
        )
        _pointers_set(pointer_rows)
        if audit:
            audit_record(
                firm=Firm.objects.get(pk=firm_id),
                actor=actor,
                action="settings.account_bulk",
                after={
                    "accounts": len(rows),
                    "with_restrictions": sum(1 for c in cleaned if c.get("restrictions")),
                    "with_screens": sum(1 for c in cleaned if c.get("screens")),
                },
                reason=reason,
            )
    return len(rows)


def _pointers_set(pairs: Sequence[tuple[int, int]]) -> None:
    """Point each account at its new version: (version id, account id) pairs. PostgreSQL: one
    ``UPDATE ... FROM unnest(...)`` (one statement, not one per account); SQLite: a prepared
    ``UPDATE`` executed per pair (in-process, as fast)."""
    if connection.vendor != "postgresql":
        rows_update(model=Account, field="settings_version", rows=pairs)
        return
    quote = connection.ops.quote_name
    table = quote(Account._meta.db_table)
    column = quote(Account._meta.get_field("settings_version").column)
    with connection.cursor() as cursor:
        cursor.execute(
            f"UPDATE {table} AS a SET {column} = v.version "
            "FROM unnest(%s::bigint[], %s::bigint[]) AS v(version, account) "
            "WHERE a.id = v.account",
            [[p[0] for p in pairs], [p[1] for p in pairs]],
        )

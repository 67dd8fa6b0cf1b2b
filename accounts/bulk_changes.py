"""Bulk changes: one customization change applied to every account a filter matches.

Flow: :func:`bulk_change_preview` (count, a sample before -> after, accounts that would break a
limit) then :func:`bulk_change_apply`, which refuses the whole change while any matched,
non-exempt account would break a limit (exempt it, with a reason, or narrow the filter). Each
account's change is a new settings version pointing at the :class:`~accounts.models.BulkChange`;
:func:`bulk_change_reverse` writes the previous value back as a new bulk change.

Operations (``operation["op"]``), on the account's own settings level:

* ``add_restriction`` / ``remove_restriction``: ``{"rule", "security"|"sector"|"industry",
  "reason"}`` ("do not buy IBM");
* ``add_substitution`` / ``remove_substitution``: ``{"instead_of", "hold", "reason"}``
  ("switch fund X to fund Y");
* ``add_screen`` / ``remove_screen``: ``{"screen": id}``;
* ``set``: ``{"choice": name, "value": v}`` any menu choice ("commission schedule for platinum
  clients": ``{"choice": "cost_schedule", "value": "platinum"}``); ``clear``: ``{"choice"}``
  (back to the inherited value).
"""

from __future__ import annotations

import copy
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any, cast

from django.db import transaction
from django.http import QueryDict
from django.utils import timezone

from accounts.customization import limit_errors, reference_errors, settings_versions_write
from accounts.filters import AccountFilterSet
from accounts.models import Account, BulkChange, SettingsVersion
from accounts.resolve import resolve_proposed
from accounts.saved_filters import criteria_clean
from accounts.selectors import account_list
from models_hub.content import ContentError
from models_hub.menus import DEFAULTS, menu_clean
from rebalancer.audit import audit_record
from rebalancer.authz import Actor, actor_label, actor_user, authorize
from rebalancer.models import Firm
from rebalancer.roles import Resource
from rebalancer.tenancy import AnyUser, membership_of

OPERATIONS = (
    "add_restriction",
    "remove_restriction",
    "add_substitution",
    "remove_substitution",
    "add_screen",
    "remove_screen",
    "set",
    "clear",
)
SAMPLE_SIZE = 10
#: At most this many accounts per bulk change (a larger book is changed filter by filter).
MAX_ACCOUNTS = 20_000


class BulkChangeError(ValueError):
    def __init__(self, errors: Mapping[str, str]) -> None:
        self.errors = dict(errors)
        super().__init__("; ".join(f"{k}: {v}" if k else v for k, v in self.errors.items()))


def _choice_of(operation: Mapping[str, Any]) -> str:
    op = operation["op"]
    if op.endswith("restriction"):
        return "restrictions"
    if op.endswith("substitution"):
        return "substitutions"
    if op.endswith("screen"):
        return "screens"
    return str(operation["choice"])


def operation_clean(raw: Any) -> dict[str, Any]:
    """The operation in canonical form, or :class:`BulkChangeError`."""
    if not isinstance(raw, Mapping) or raw.get("op") not in OPERATIONS:
        raise BulkChangeError({"op": f"must be one of {', '.join(OPERATIONS)}"})
    op = str(raw["op"])
    try:
        if op in ("add_restriction", "remove_restriction"):
            entry = {k: v for k, v in raw.items() if k != "op"}
            if op == "remove_restriction":
                entry.setdefault("reason", "removed")
            cleaned = menu_clean({"restrictions": [entry]}, scope="account")["restrictions"][0]
            return {"op": op, **cleaned}
        if op in ("add_substitution", "remove_substitution"):
            entry = {k: v for k, v in raw.items() if k != "op"}
            cleaned = menu_clean({"substitutions": [entry]}, scope="account")["substitutions"][0]
            return {"op": op, **cleaned}
        if op in ("add_screen", "remove_screen"):
            screens = menu_clean({"screens": [raw.get("screen")]}, scope="account")["screens"]
            return {"op": op, "screen": screens[0]}
        choice = raw.get("choice")
        if choice not in {*DEFAULTS, "strategy"} or choice in (
            "restrictions",
            "substitutions",
            "screens",
            "cost_schedules",
        ):
            raise BulkChangeError({"choice": "name a menu choice (lists have their own ops)"})
        if op == "clear":
            return {"op": op, "choice": choice}
        value = menu_clean({choice: raw.get("value")}, scope="account")[choice]
        return {"op": op, "choice": choice, "value": value}
    except ContentError as exc:
        raise BulkChangeError(exc.errors) from None


def operation_describe(operation: Mapping[str, Any]) -> str:
    op = operation["op"]
    if op.endswith("restriction"):
        what = next(
            f"{k} {operation[k]}" for k in ("security", "sector", "industry") if k in operation
        )
        verb = "add" if op.startswith("add") else "remove"
        return f"{verb} restriction: {operation['rule'].replace('_', ' ')} {what}"
    if op.endswith("substitution"):
        verb = "hold" if op.startswith("add") else "stop holding"
        return f"{verb} {operation['hold']} instead of {operation['instead_of']}"
    if op.endswith("screen"):
        return f"{'add' if op.startswith('add') else 'remove'} screen {operation['screen']}"
    if op == "clear":
        return f"{operation['choice']}: back to the inherited value"
    return f"{operation['choice']} = {operation['value']}"


def operation_apply(content: Mapping[str, Any], operation: Mapping[str, Any]) -> dict[str, Any]:
    """The account's own settings after the operation (a new dict)."""
    out = copy.deepcopy(dict(content))
    op = operation["op"]
    body = {k: v for k, v in operation.items() if k != "op"}
    if op.endswith("restriction"):
        target = next(k for k in ("security", "sector", "industry") if k in body)
        kept = [
            r
            for r in out.get("restrictions", [])
            if not (r["rule"] == body["rule"] and r.get(target) == body[target])
        ]
        out["restrictions"] = [*kept, body] if op.startswith("add") else kept
    elif op.endswith("substitution"):
        kept = [s for s in out.get("substitutions", []) if s["instead_of"] != body["instead_of"]]
        out["substitutions"] = [*kept, body] if op.startswith("add") else kept
    elif op.endswith("screen"):
        screens = set(out.get("screens", []))
        screens = screens | {body["screen"]} if op.startswith("add") else screens - {body["screen"]}
        out["screens"] = sorted(screens)
    elif op == "clear":
        out.pop(body["choice"], None)
    else:
        out[body["choice"]] = body["value"]
    for key in ("restrictions", "substitutions", "screens"):
        if key in out and not out[key]:
            del out[key]
    return menu_clean(out, scope="account")


@dataclass(frozen=True)
class PreviewRow:
    account_id: int
    account: str
    before: str
    after: str
    errors: tuple[str, ...]


@dataclass(frozen=True)
class BulkPreview:
    criteria: dict[str, Any]
    operation: dict[str, Any]
    description: str
    matched: int
    exempt: int
    unchanged: int
    to_change: int
    value: Any  # total value of the accounts that would change
    sample: tuple[PreviewRow, ...]
    failing: tuple[PreviewRow, ...]  # accounts that would break a limit (all of them)
    changes: tuple[tuple[Account, dict[str, Any]], ...]


def _summary(content: Mapping[str, Any], choice: str) -> str:
    if choice not in content:
        return "(inherited)"
    value = content[choice]
    if choice == "restrictions":
        return "; ".join(
            f"{r['rule'].replace('_', ' ')} "
            f"{r.get('security') or r.get('sector') or r.get('industry')}"
            for r in value
        )
    if choice == "substitutions":
        return "; ".join(f"{s['hold']} for {s['instead_of']}" for s in value)
    return str(value)


def _exemptions_clean(raw: Any) -> dict[int, str]:
    if raw in (None, ""):
        return {}
    if not isinstance(raw, list):
        raise BulkChangeError({"exemptions": "must be a list of {account, reason}"})
    out: dict[int, str] = {}
    for i, item in enumerate(raw):
        if not isinstance(item, Mapping):
            raise BulkChangeError({f"exemptions[{i}]": "must be {account, reason}"})
        account = item.get("account")
        reason = str(item.get("reason") or "").strip()
        if isinstance(account, bool) or not isinstance(account, int) or account < 1:
            raise BulkChangeError({f"exemptions[{i}].account": "must be an account id"})
        if not reason:
            raise BulkChangeError({f"exemptions[{i}].reason": "give the reason for the exemption"})
        out[account] = reason[:500]
    return out


def bulk_change_preview(
    *, user: AnyUser, criteria: Any, operation: Any, exemptions: Any = None
) -> BulkPreview:
    """What applying ``operation`` to the accounts ``criteria`` match would do (writes nothing)."""
    cleaned_criteria = criteria_clean(criteria, allow_saved=True)
    cleaned_op = operation_clean(operation)
    exempt = _exemptions_clean(exemptions)
    data = QueryDict(mutable=True)
    data.update(cleaned_criteria)
    filterset = AccountFilterSet(
        data, queryset=account_list(user=user), request=cast(Any, _Req(user))
    )
    if not filterset.is_valid():
        raise BulkChangeError({"criteria": filterset.error_text})
    accounts = list(
        filterset.qs.select_related("settings_version").order_by("pk")[: MAX_ACCOUNTS + 1]
    )
    if len(accounts) > MAX_ACCOUNTS:
        raise BulkChangeError(
            {"criteria": f"matches more than {MAX_ACCOUNTS:,} accounts; narrow the filter"}
        )
    unknown_exempt = sorted(set(exempt) - {a.pk for a in accounts})
    if unknown_exempt:
        raise BulkChangeError(
            {"exemptions": f"account {unknown_exempt[0]} is not among the matched accounts"}
        )
    choice = _choice_of(cleaned_op)
    if accounts:
        bad = reference_errors(accounts[0].firm_id, operation_apply({}, cleaned_op))
        if bad:
            raise BulkChangeError(bad)
    changes: list[tuple[Account, dict[str, Any], dict[str, Any]]] = []
    unchanged = 0
    for account in accounts:
        if account.pk in exempt:
            continue
        current = account.settings_version.content if account.settings_version else {}
        try:
            new = operation_apply(current, cleaned_op)
        except ContentError as exc:
            raise BulkChangeError(exc.errors) from None
        if new == current:
            unchanged += 1
            continue
        changes.append((account, current, new))
    failing: list[PreviewRow] = []
    rows: list[PreviewRow] = []
    firm_id = accounts[0].firm_id if accounts else 0
    if changes:
        resolved = resolve_proposed(
            firm_id,
            [a.pk for a, _, _ in changes],
            {("account", a.pk): new for a, _, new in changes},
        )
        for account, current, new in changes:
            errors = limit_errors(
                resolved[account.pk],
                firm_id=firm_id,
                registration=account.registration_type,
                value=account.cash_balance + account.securities_value,
            )
            row = PreviewRow(
                account.pk,
                str(account),
                _summary(current, choice),
                _summary(new, choice),
                tuple(errors.values()),
            )
            if errors:
                failing.append(row)
            if len(rows) < SAMPLE_SIZE:
                rows.append(row)
    return BulkPreview(
        criteria=cleaned_criteria,
        operation=cleaned_op,
        description=operation_describe(cleaned_op),
        matched=len(accounts),
        exempt=len(exempt),
        unchanged=unchanged,
        to_change=len(changes),
        value=sum((a.cash_balance + a.securities_value for a, _, _ in changes), 0),
        sample=tuple(rows),
        failing=tuple(failing),
        changes=tuple((a, new) for a, _, new in changes),
    )


class _Req:
    """The minimum of a request the FilterSet's saved-filter criterion reads."""

    def __init__(self, user: AnyUser) -> None:
        self.user = user


def bulk_change_apply(
    *, actor: Any, criteria: Any, operation: Any, exemptions: Any = None, reason: str
) -> BulkChange:
    """Apply the change to every matched, non-exempt account; all or nothing."""
    membership = membership_of(actor)
    if membership is None:
        authorize(actor=actor, firm=None, resource=Resource.BULK_CHANGE)
        raise BulkChangeError({"": "bulk changes are made by a member of the firm"})
    authorize(actor=actor, firm=membership.firm_id, resource=Resource.BULK_CHANGE)
    if not (reason or "").strip():
        raise BulkChangeError({"reason": "say why (kept with every account's change)"})
    exempt = _exemptions_clean(exemptions)
    with transaction.atomic():
        preview = bulk_change_preview(
            user=actor, criteria=criteria, operation=operation, exemptions=exemptions
        )
        if preview.failing:
            names = ", ".join(r.account for r in preview.failing[:5])
            raise BulkChangeError(
                {
                    "": f"{len(preview.failing)} account(s) would break a limit ({names}"
                    f"{', ...' if len(preview.failing) > 5 else ''}): "
                    f"{preview.failing[0].errors[0]}. Exempt them with a reason or narrow the "
                    "filter."
                }
            )
        if not preview.changes:
            raise BulkChangeError({"": "no account would change"})
        bulk = _bulk_write(
            actor=actor,
            firm_id=membership.firm_id,
            criteria=preview.criteria,
            operation=preview.operation,
            description=preview.description,
            exemptions=[{"account": k, "reason": v} for k, v in sorted(exempt.items())],
            matched=preview.matched,
            changes=preview.changes,
            reason=reason,
        )
    return bulk


def _bulk_write(
    *,
    actor: Actor,
    firm_id: int,
    criteria: dict[str, Any],
    operation: dict[str, Any],
    description: str,
    exemptions: list[dict[str, Any]],
    matched: int,
    changes: Sequence[tuple[Account, dict[str, Any]]],
    reason: str,
    reverses: BulkChange | None = None,
) -> BulkChange:
    now = timezone.now()
    bulk = BulkChange.objects.create(
        firm_id=firm_id,
        criteria=criteria,
        operation=operation,
        description=description[:300],
        exemptions=exemptions,
        matched=matched,
        changed=len(changes),
        reverses=reverses,
        created_at=now,
        created_by=actor_user(actor),
        actor_label=actor_label(actor),
        reason=reason,
    )
    numbers = dict(
        SettingsVersion.objects.filter(account_id__in=[a.pk for a, _ in changes])
        .values_list("account_id")
        .annotate(n=_max_number())
        .values_list("account_id", "n")
    )
    settings_versions_write(
        actor=actor,
        firm_id=firm_id,
        accounts=[(a, numbers.get(a.pk, 0) + 1, content) for a, content in changes],
        reason=f"bulk change {bulk.pk}: {reason}",
        bulk_change=bulk,
        at=now,
    )
    audit_record(
        firm=Firm.objects.get(pk=firm_id),
        actor=actor,
        action="bulk_change.reverse" if reverses else "bulk_change.apply",
        obj=bulk,
        after={
            "criteria": criteria,
            "operation": operation,
            "matched": matched,
            "changed": len(changes),
            "exemptions": exemptions,
            "accounts": sorted(a.pk for a, _ in changes),
        },
        reason=reason,
    )
    return bulk


def _max_number() -> Any:
    from django.db.models import Max

    return Max("number")


def bulk_change_reverse(*, actor: Any, bulk_change: BulkChange, reason: str) -> BulkChange:
    """Write back, for each account the change touched, the value it had before (a new change)."""
    authorize(actor=actor, firm=bulk_change.firm_id, resource=Resource.BULK_CHANGE)
    if not (reason or "").strip():
        raise BulkChangeError({"reason": "say why"})
    choice = _choice_of(bulk_change.operation)
    with transaction.atomic():
        if BulkChange.objects.filter(reverses=bulk_change).exists():
            raise BulkChangeError({"": f"bulk change {bulk_change.pk} was already reversed"})
        touched = list(
            SettingsVersion.objects.filter(bulk_change=bulk_change)
            .select_related("account")
            .order_by("account_id")
        )
        visible = set(
            account_list(user=actor)
            .filter(pk__in=[v.account_id for v in touched])
            .values_list("pk", flat=True)
        )
        previous = {
            (v.account_id, v.number): v.content
            for v in SettingsVersion.objects.filter(account_id__in=[t.account_id for t in touched])
        }
        changes: list[tuple[Account, dict[str, Any]]] = []
        for version in touched:
            account = version.account
            assert account is not None
            if account.pk not in visible:
                raise BulkChangeError({"": f"account {account.pk} is not yours to change"})
            current = (
                Account.objects.select_related("settings_version").get(pk=account.pk)
            ).settings_version
            now_content = dict(current.content) if current else {}
            before = previous.get((account.pk, version.number - 1), {})
            restored = {k: v for k, v in now_content.items() if k != choice}
            if choice in before:
                restored[choice] = before[choice]
            restored = menu_clean(restored, scope="account")
            if restored != now_content:
                changes.append((account, restored))
        if not changes:
            raise BulkChangeError({"": "nothing to reverse: every account already changed back"})
        return _bulk_write(
            actor=actor,
            firm_id=bulk_change.firm_id,
            criteria=bulk_change.criteria,
            operation={"op": "reverse", "bulk_change": bulk_change.pk},
            description=f"reverse bulk change {bulk_change.pk}: {bulk_change.description}",
            exemptions=[],
            matched=len(touched),
            changes=changes,
            reason=reason,
            reverses=bulk_change,
        )

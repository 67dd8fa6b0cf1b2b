"""Write side of customization: settings versions of the firm default, households and accounts.

:func:`settings_save` is the one writer of :class:`~accounts.models.SettingsVersion`. It checks
the menu choices (:func:`models_hub.menus.menu_clean`), the rows they name (strategy, screens,
tickers, classes, sectors), then resolves every affected account as if the change were saved
and checks each against its limits (firm limits, overridden by the strategy), refusing the
whole change with a message naming the limit. It appends a version (``expected_version`` is the
optimistic-concurrency check), moves the owner's pointer and audits with the reason.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from decimal import Decimal
from typing import Any

from django.db import transaction
from django.utils import timezone

from accounts.models import Account, BulkChange, Household, SettingsScope, SettingsVersion
from accounts.resolve import STATUS_INVALID, ResolvedAccount, resolve_proposed
from models_hub.content import TAX_SENSITIVITY_ORDER, ContentError, content_hash, decimal_text
from models_hub.menus import menu_clean
from models_hub.models import AssetClass, DefinitionKind, Security
from models_hub.program_selectors import version_store_load
from rebalancer.audit import audit_record
from rebalancer.authz import Actor, actor_label, actor_user, authorize
from rebalancer.models import Firm
from rebalancer.roles import Resource

TAXABLE = ("taxable", "trust")


class SettingsError(ValueError):
    """A customization that cannot be saved; ``errors`` maps a choice to its message."""

    def __init__(self, errors: Mapping[str, str] | str) -> None:
        self.errors = {"": errors} if isinstance(errors, str) else dict(sorted(errors.items()))
        super().__init__("; ".join(f"{k}: {v}" if k else v for k, v in self.errors.items()))


class SettingsConflict(SettingsError):
    """Someone saved newer settings for this owner since the editor loaded them."""


@dataclass(frozen=True)
class Owner:
    """Whose settings: the firm default, a household or an account."""

    scope: str
    firm_id: int
    household: Household | None = None
    account: Account | None = None

    @property
    def key(self) -> tuple[str, int]:
        if self.account is not None:
            return ("account", self.account.pk)
        if self.household is not None:
            return ("household", self.household.pk)
        return ("firm", self.firm_id)

    def versions(self) -> Any:
        rows = SettingsVersion.objects.filter(firm_id=self.firm_id, scope=self.scope)
        if self.account is not None:
            return rows.filter(account=self.account)
        if self.household is not None:
            return rows.filter(household=self.household)
        return rows


def owner_of(
    *, firm_id: int, household: Household | None = None, account: Account | None = None
) -> Owner:
    if account is not None:
        return Owner(SettingsScope.ACCOUNT, account.firm_id, account.household, account)
    if household is not None:
        return Owner(SettingsScope.HOUSEHOLD, household.firm_id, household)
    return Owner(SettingsScope.FIRM, firm_id)


def _authorize(actor: Actor, owner: Owner) -> None:
    if owner.scope == SettingsScope.FIRM:
        authorize(actor=actor, firm=owner.firm_id, resource=Resource.MODEL)
    else:
        household = owner.account.household_id if owner.account else owner.household.pk  # type: ignore[union-attr]
        authorize(
            actor=actor, firm=owner.firm_id, resource=Resource.ACCOUNT_SETTINGS, household=household
        )


def current_version(owner: Owner) -> SettingsVersion | None:
    return owner.versions().order_by("-number").first()  # type: ignore[no-any-return]


def reference_errors(firm_id: int, content: Mapping[str, Any]) -> dict[str, str]:
    """The strategy, screens, tickers, sectors, industries and classes the choices name exist."""
    errors: dict[str, str] = {}
    store = version_store_load(firm_id)
    if "strategy" in content:
        v = store.versions.get(int(content["strategy"]))
        if v is None or v.kind != DefinitionKind.STRATEGY:
            errors["strategy"] = f"{content['strategy']} is not a strategy you can use"
    for screen_id in content.get("screens", ()):
        v = store.versions.get(int(screen_id))
        if v is None or v.kind != DefinitionKind.SCREEN:
            errors["screens"] = f"{screen_id} is not a screen of your firm"
    tickers: set[str] = set(content.get("legacy_holdings", ()))
    sectors: set[str] = set()
    industries: set[str] = set()
    for r in content.get("restrictions", ()):
        if "security" in r:
            tickers.add(r["security"])
        elif "sector" in r:
            sectors.add(r["sector"])
        else:
            industries.add(r["industry"])
    for s in content.get("substitutions", ()):
        tickers |= {s["instead_of"], s["hold"]}
    securities = Security.objects.for_firm(firm_id)
    known = set(securities.filter(ticker__in=sorted(tickers)).values_list("ticker", flat=True))
    if tickers - known:
        errors["securities"] = f"unknown securities: {', '.join(sorted(tickers - known))}"
    if sectors:
        known_sectors = set(securities.values_list("sector", flat=True))
        if sectors - known_sectors:
            errors["restrictions"] = f"unknown sector {sorted(sectors - known_sectors)[0]!r}"
    if industries:
        known_industries = set(securities.values_list("industry", flat=True))
        if industries - known_industries:
            errors["restrictions"] = (
                f"unknown industry {sorted(industries - known_industries)[0]!r}"
            )
    tilts = content.get("tilts", {})
    if tilts:
        paths = set(AssetClass.objects.for_firm(firm_id).values_list("path", flat=True))
        for path in tilts:
            if path not in paths:
                errors[f"tilts[{path}]"] = "unknown asset class (give its full path)"
    return errors


def limit_errors(
    resolved: ResolvedAccount, *, firm_id: int, registration: str, value: Decimal, label: str = ""
) -> dict[str, str]:
    """Each limit the resolved account breaks, with a message naming the limit and its source."""
    errors: dict[str, str] = {}
    prefix = f"{label}: " if label else ""
    limits = {s.name: (s.value, s.source) for s in resolved.limits}
    settings = {s.name: s.value for s in resolved.settings}
    max_tilt, src = limits["max_tilt"]
    for path, tilt in sorted(settings["tilts"].items()):
        if abs(Decimal(tilt)) > Decimal(max_tilt):
            errors[f"tilts[{path}]"] = (
                f"{prefix}a tilt of {decimal_text(Decimal(tilt) * 100)} points is beyond the "
                f"limit of ±{decimal_text(Decimal(max_tilt) * 100)} points ({src})"
            )
    max_restrictions, src = limits["max_restrictions"]
    count = len(settings["restrictions"])
    if count > int(max_restrictions):
        errors["restrictions"] = (
            f"{prefix}{count} restrictions; the limit is {max_restrictions} ({src})"
        )
    max_cash, src = limits["max_cash_target"]
    if Decimal(settings["cash_target"]) > Decimal(max_cash):
        errors["cash_target"] = (
            f"{prefix}a cash target of {decimal_text(Decimal(settings['cash_target']) * 100)} % "
            f"is beyond the limit of {decimal_text(Decimal(max_cash) * 100)} % ({src})"
        )
    allowed, src = limits["allowed_screens"]
    if allowed is not None:
        for screen in settings["screens"]:
            if screen not in allowed:
                errors["screens"] = f"{prefix}screen {screen} is not allowed ({src})"
    policy, src = limits["substitutions"]
    subs = settings["substitutions"]
    if subs and policy == "none":
        errors["substitutions"] = f"{prefix}substitutions are not allowed ({src})"
    elif subs and policy == "same_asset_class":
        classes = {t.ticker: t.asset_class for t in resolved.targets}
        securities = Security.objects.filter(
            firm_id=firm_id,
            ticker__in=sorted({s["hold"] for s in subs} | {s["instead_of"] for s in subs}),
        ).values_list("ticker", "asset_class__path")
        class_of = {
            **dict(securities),
            **{k: v for k, v in classes.items() if k not in dict(securities)},
        }
        for s in subs:
            a, b = class_of.get(s["instead_of"]), class_of.get(s["hold"])
            if a != b:
                errors["substitutions"] = (
                    f"{prefix}{s['hold']} ({b or 'no class'}) instead of {s['instead_of']} "
                    f"({a or 'no class'}): substitutions must stay in the same asset class ({src})"
                )
    minimum, src = limits["min_tax_sensitivity_taxable"]
    if registration in TAXABLE and TAX_SENSITIVITY_ORDER.index(
        settings["tax_sensitivity"]
    ) < TAX_SENSITIVITY_ORDER.index(minimum):
        errors["tax_sensitivity"] = f"{prefix}taxable accounts must be at least {minimum!r} ({src})"
    flow = Decimal(settings["cash_flow_amount"])
    if flow < 0 and -flow > value:
        errors["cash_flow_amount"] = (
            f"{prefix}a withdrawal of ${decimal_text(-flow)} is larger than the account "
            f"(${decimal_text(value.quantize(Decimal('0.01')))})"
        )
    if flow != 0 and settings["cash_flow_date"] is None:
        errors["cash_flow_date"] = f"{prefix}give the date of the withdrawal or contribution"
    if resolved.status == STATUS_INVALID:
        errors["strategy"] = prefix + "; ".join(resolved.problems)
    return errors


def _affected_accounts(owner: Owner) -> list[tuple[int, str, Decimal, str]]:
    rows = Account.objects.filter(firm_id=owner.firm_id)
    if owner.account is not None:
        rows = rows.filter(pk=owner.account.pk)
    elif owner.household is not None:
        rows = rows.filter(household=owner.household)
    else:
        return []  # firm defaults are checked by the IPC's preview, not account by account
    return [
        (a.pk, a.registration_type, a.cash_balance + a.securities_value, a.name)
        for a in rows.order_by("pk")
    ]


def proposed_errors(owner: Owner, content: Mapping[str, Any]) -> dict[str, str]:
    """What would be wrong if ``content`` were saved for ``owner`` (empty: it can be saved)."""
    errors = reference_errors(owner.firm_id, content)
    if errors:
        return errors
    affected = _affected_accounts(owner)
    if not affected:
        return {}
    resolved = resolve_proposed(owner.firm_id, [a[0] for a in affected], {owner.key: content})
    for account_id, registration, value, name in affected:
        found = limit_errors(
            resolved[account_id],
            firm_id=owner.firm_id,
            registration=registration,
            value=value,
            label="" if owner.account is not None else name,
        )
        errors.update({k: v for k, v in found.items() if k not in errors})
    return errors


def restricted_tickers(content: Mapping[str, Any]) -> set[str]:
    """The tickers an account level's restrictions name one by one."""
    return {r["security"] for r in content.get("restrictions", ()) if "security" in r}


def settings_columns(content: Mapping[str, Any], security_ids: Mapping[str, int]) -> dict[str, Any]:
    """The columns a settings version keeps beside its content for the filters (strategy, tax
    sensitivity, restriction count, screens, restricted security ids); ``security_ids`` maps
    the restricted tickers to ids (tickers it lacks are left out)."""
    return {
        "strategy_id": content.get("strategy"),
        "tax_sensitivity": content.get("tax_sensitivity", ""),
        "restriction_count": len(content.get("restrictions", ())),
        "screens": sorted(content.get("screens", ())),
        "restricted_securities": sorted(
            security_ids[t] for t in restricted_tickers(content) if t in security_ids
        ),
    }


def _extracted(firm_id: int, content: Mapping[str, Any]) -> dict[str, Any]:
    ids = dict(
        Security.objects.for_firm(firm_id)
        .filter(ticker__in=sorted(restricted_tickers(content)))
        .values_list("ticker", "id")
    )
    return settings_columns(content, ids)


def settings_save(
    *,
    actor: Actor,
    owner: Owner,
    content: Any,
    expected_version: int,
    reason: str,
    bulk_change: BulkChange | None = None,
    at: dt.datetime | None = None,
    checked: bool = False,
) -> SettingsVersion:
    """Append a settings version for ``owner`` (``expected_version``: the one the editor saw,
    0 for none). ``checked``: the caller (a bulk change) already ran :func:`proposed_errors`."""
    _authorize(actor, owner)
    if not reason.strip():
        raise SettingsError({"reason": "say why (the reason is kept with the change)"})
    try:
        cleaned = menu_clean(content, scope=owner.scope)
    except ContentError as exc:
        raise SettingsError(exc.errors) from None
    with transaction.atomic():
        _lock(owner)
        current = current_version(owner)
        number = current.number if current is not None else 0
        if number != expected_version:
            who = (
                f" by {current.actor_label} at {current.created_at:%Y-%m-%d %H:%M} UTC"
                if current is not None
                else ""
            )
            raise SettingsConflict(
                f"These settings were changed by someone else since you opened them (now "
                f"version {number}{who}); reload and apply your change again."
            )
        if not checked:
            errors = proposed_errors(owner, cleaned)
            if errors:
                raise SettingsError(errors)
        version = _version_write(
            actor=actor,
            owner=owner,
            number=number + 1,
            content=cleaned,
            reason=reason,
            bulk_change=bulk_change,
            at=at,
        )
        audit_record(
            firm=Firm.objects.get(pk=owner.firm_id),
            actor=actor,
            action=f"settings.{owner.scope}",
            obj=owner.account or owner.household or version,
            before={"version": number, "content": current.content if current else {}},
            after={"version": number + 1, "content": cleaned},
            reason=reason,
        )
    return version


def _lock(owner: Owner) -> None:
    if owner.account is not None:
        Account.objects.select_for_update().filter(pk=owner.account.pk).first()
    elif owner.household is not None:
        Household.objects.select_for_update().filter(pk=owner.household.pk).first()
    else:
        Firm.objects.select_for_update().filter(pk=owner.firm_id).first()


def _version_write(
    *,
    actor: Actor,
    owner: Owner,
    number: int,
    content: dict[str, Any],
    reason: str,
    bulk_change: BulkChange | None,
    at: dt.datetime | None,
) -> SettingsVersion:
    extracted = _extracted(owner.firm_id, content)
    household = owner.household if owner.account is None else owner.account.household
    version = SettingsVersion.objects.create(
        firm_id=owner.firm_id,
        scope=owner.scope,
        household=household,
        account=owner.account,
        number=number,
        content=content,
        content_hash=content_hash(content),
        strategy_id=extracted["strategy_id"],
        tax_sensitivity=extracted["tax_sensitivity"],
        restriction_count=extracted["restriction_count"],
        bulk_change=bulk_change,
        created_at=at or timezone.now(),
        created_by=actor_user(actor),
        actor_label=actor_label(actor),
        reason=reason,
    )
    if extracted["screens"]:
        version.screens.set(extracted["screens"])
    if extracted["restricted_securities"]:
        version.restricted_securities.set(extracted["restricted_securities"])
    if owner.account is not None:
        Account.objects.filter(pk=owner.account.pk).update(settings_version=version)
    elif owner.household is not None:
        Household.objects.filter(pk=owner.household.pk).update(settings_version=version)
    return version


def settings_versions_write(
    *,
    actor: Actor,
    firm_id: int,
    accounts: Sequence[tuple[Account, int, dict[str, Any]]],
    reason: str,
    bulk_change: BulkChange | None = None,
    at: dt.datetime | None = None,
) -> int:
    """Append one already-checked account version per (account, number, content): bulk changes
    and the demo book. Pointers move; extracted columns are kept. Returns the count written."""
    authorize(
        actor=actor,
        firm=firm_id,
        resource=Resource.ACCOUNT_SETTINGS if bulk_change is None else Resource.BULK_CHANGE,
    )
    when = at or timezone.now()
    written = 0
    with transaction.atomic():
        for account, number, content in accounts:
            owner = Owner(SettingsScope.ACCOUNT, firm_id, account.household, account)
            _version_write(
                actor=actor,
                owner=owner,
                number=number,
                content=content,
                reason=reason,
                bulk_change=bulk_change,
                at=when,
            )
            written += 1
    return written

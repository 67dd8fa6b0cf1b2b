"""Write side of the IPC's program: asset classes, definitions and their versions, providers.

Every function authorizes (``Resource.MODEL``), validates the whole change against the rows it
refers to, writes in one transaction and audits with the reason. A definition edit appends a
version; ``expected_version`` is checked with a conditional UPDATE of the header, so two people
editing one model cannot lose an update: the second is told who changed it and when.

A change to a parent is checked against every descendant (and every strategy using it): if any of
them would no longer resolve (weights no longer summing to 100 %, a sleeve's class gone), the
change is refused naming the descendant.
"""

from __future__ import annotations

import datetime as dt
import unicodedata
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any

from django.db import transaction
from django.utils import timezone

from models_hub.content import ContentError, content_clean, content_hash
from models_hub.effective import (
    ResolutionError,
    StoredVersion,
    VersionStore,
    effective_strategy,
    effective_weights,
)
from models_hub.models import (
    INHERITING_KINDS,
    PATH_SEPARATOR,
    AssetClass,
    Definition,
    DefinitionKind,
    DefinitionVersion,
    ModelSubscription,
    Security,
)
from models_hub.program_selectors import version_store_load
from rebalancer.audit import audit_record
from rebalancer.authz import Actor, actor_label, actor_user, authorize
from rebalancer.models import Firm
from rebalancer.roles import Resource

#: The one customization-limits definition of a firm is called this.
FIRM_LIMITS_NAME = "Firm limits"


class ProgramError(ValueError):
    """A program change that cannot be saved; ``errors`` maps a field to its message."""

    def __init__(self, errors: Mapping[str, str] | str) -> None:
        self.errors = {"": errors} if isinstance(errors, str) else dict(errors)
        super().__init__("; ".join(f"{k}: {v}" if k else v for k, v in self.errors.items()))


class ConcurrentEdit(ProgramError):
    """Someone saved a newer version since the editor loaded the one it changes."""


# --- asset classes --------------------------------------------------------------------------------


def path_split(path: str) -> list[str]:
    if any(unicodedata.category(ch) == "Cc" for ch in path):
        raise ProgramError({"path": "must not contain control characters (such as NUL)"})
    names = [n.strip() for n in path.split(">")]
    if not path.strip() or any(not n for n in names):
        raise ProgramError({"path": f"{path!r} is not an asset-class path like 'Equity > US'"})
    if any(len(n) > 100 for n in names):
        raise ProgramError({"path": "each name at most 100 characters"})
    return names


def asset_classes_ensure(
    *, actor: Actor, firm_id: int, paths: Iterable[str], cash_roots: Iterable[str] = ("Cash",)
) -> dict[str, AssetClass]:
    """Every path (and its ancestors) exists in the firm's tree; returns path -> class.

    Refuses to give a child to a class that securities point at (they must point at leaves).
    """
    authorize(actor=actor, firm=firm_id, resource=Resource.MODEL)
    wanted = sorted({PATH_SEPARATOR.join(path_split(p)) for p in paths})
    cash = {c.lower() for c in cash_roots}
    with transaction.atomic():
        existing = {a.path: a for a in AssetClass.objects.for_firm(firm_id)}
        created: list[str] = []
        for path in wanted:
            names = path.split(PATH_SEPARATOR)
            parent: AssetClass | None = None
            for depth in range(1, len(names) + 1):
                sub = PATH_SEPARATOR.join(names[:depth])
                node = existing.get(sub)
                if node is None:
                    if parent is not None and Security.objects.filter(asset_class=parent).exists():
                        raise ProgramError(
                            {"path": f"{parent.path!r} holds securities; it cannot get a child"}
                        )
                    node = AssetClass.objects.create(
                        firm_id=firm_id,
                        parent=parent,
                        name=names[depth - 1],
                        path=sub,
                        is_cash=names[0].lower() in cash,
                    )
                    existing[sub] = node
                    created.append(sub)
                parent = node
        if created:
            audit_record(
                firm=Firm.objects.get(pk=firm_id),
                actor=actor,
                action="asset_class.create",
                after={"paths": created},
            )
    return {p: existing[p] for p in wanted}


# --- definitions ----------------------------------------------------------------------------------


def _known_tickers(firm_id: int, tickers: Iterable[str]) -> set[str]:
    wanted = sorted(set(tickers))
    return set(
        Security.objects.for_firm(firm_id)
        .filter(ticker__in=wanted)
        .values_list("ticker", flat=True)
    )


def _check_references(*, firm_id: int, kind: str, content: Mapping[str, Any]) -> None:
    """Tickers and class paths exist; equivalence sets do not overlap."""
    errors: dict[str, str] = {}
    classes = set(AssetClass.objects.for_firm(firm_id).values_list("path", flat=True))
    tickers: set[str] = set()
    if kind == DefinitionKind.ALLOCATION:
        for path in [*content["classes"], *content["remove"]]:
            if path not in classes:
                errors[f"classes[{path}]"] = "unknown asset class (give its full path)"
    elif kind == DefinitionKind.SECURITY_MODEL:
        tickers = {*content["securities"], *content["swap"].values()}
        if content["asset_class"] and content["asset_class"] not in classes:
            errors["asset_class"] = "unknown asset class (give its full path)"
    elif kind == DefinitionKind.STRATEGY:
        for path in content["sleeves"]:
            if path not in classes:
                errors[f"sleeves[{path}]"] = "unknown asset class (give its full path)"
    elif kind == DefinitionKind.EQUIVALENCE_SET:
        tickers = set(content["members"])
    elif kind == DefinitionKind.SCREEN:
        tickers = set(content["securities"])
        securities = Security.objects.for_firm(firm_id)
        sectors = set(securities.values_list("sector", flat=True))
        industries = set(securities.values_list("industry", flat=True))
        for s in content["sectors"]:
            if s not in sectors:
                errors["sectors"] = f"no security of the firm has sector {s!r}"
        for s in content["industries"]:
            if s not in industries:
                errors["industries"] = f"no security of the firm has industry {s!r}"
    unknown = sorted(tickers - _known_tickers(firm_id, tickers))
    if unknown:
        errors["securities"] = f"unknown securities: {', '.join(unknown)}"
    if errors:
        raise ProgramError(errors)


def _check_equivalence_overlap(
    *, firm_id: int, definition_id: int | None, members: list[str]
) -> None:
    store = version_store_load(firm_id)
    for v in store.versions.values():
        if v.firm_id != firm_id or v.kind != DefinitionKind.EQUIVALENCE_SET:
            continue
        if v.definition_id == definition_id:
            continue
        shared = sorted(set(v.content["members"]) & set(members))
        if shared:
            raise ProgramError(
                {"members": f"{', '.join(shared)} already in equivalence set {v.label}"}
            )


def _check_resolves(store: VersionStore, definition_id: int) -> None:
    """The edited definition and everything depending on it still resolve."""
    dependants = _dependants(store, definition_id)
    for d_id in sorted({definition_id, *dependants}):
        version = store.get(d_id)
        try:
            if version.kind == DefinitionKind.STRATEGY:
                strategy = effective_strategy(store, d_id)
                _check_strategy_sleeves(strategy, store)
            elif version.kind in (DefinitionKind.ALLOCATION, DefinitionKind.SECURITY_MODEL):
                effective_weights(store, d_id)
            else:
                store.chain(d_id)
        except ResolutionError as exc:
            where = "" if d_id == definition_id else f"{version.label} (inherits or uses it): "
            raise ProgramError({"content": f"{where}{exc}"}) from None


def _check_strategy_sleeves(strategy: Any, store: VersionStore) -> None:
    cash_paths = store.cache.get(("cash_paths", 0), set())
    for entry in strategy.allocation.entries:
        if entry.weight > 0 and strategy.sleeve(entry.key) is None and entry.key not in cash_paths:
            raise ResolutionError(
                f"strategy '{strategy.name}': asset class {entry.key} has no security model"
            )


def _dependants(store: VersionStore, definition_id: int) -> set[int]:
    """Definitions whose resolution reads ``definition_id`` (children, strategies using it)."""
    out: set[int] = set()
    frontier = {definition_id}
    while frontier:
        nxt: set[int] = set()
        for v in store.versions.values():
            if v.definition_id in out or v.definition_id == definition_id:
                continue
            refs = {v.parent_id} if v.parent_id is not None else set()
            if v.kind == DefinitionKind.STRATEGY:
                if "allocation" in v.content:
                    refs.add(int(v.content["allocation"]))
                refs |= {int(x) for x in v.content.get("sleeves", {}).values()}
            if refs & frontier:
                nxt.add(v.definition_id)
        out |= nxt
        frontier = nxt
    return out


def definition_dependants(store: VersionStore, definition_id: int) -> set[int]:
    """Definitions whose resolution reads ``definition_id``: descendants, strategies using it
    or a descendant, and their descendants (for the impact of a change)."""
    return _dependants(store, definition_id)


def _validated_store(
    *,
    firm_id: int,
    kind: str,
    name: str,
    definition_id: int,
    parent_id: int | None,
    content: Mapping[str, Any],
    number: int,
) -> VersionStore:
    store = version_store_load(firm_id)
    if parent_id is not None:
        parent = store.versions.get(parent_id)
        if parent is None:
            raise ProgramError({"parent": f"definition {parent_id} is not one you can use"})
        if parent.kind != kind:
            raise ProgramError({"parent": f"the parent must be a {kind}, not a {parent.kind}"})
    if parent_id is not None and kind not in INHERITING_KINDS:
        raise ProgramError({"parent": f"a {kind} cannot inherit"})
    if parent_id == definition_id:
        raise ProgramError({"parent": "a model cannot inherit from itself"})
    store.versions[definition_id] = StoredVersion(
        definition_id, firm_id, kind, name, number, parent_id, content
    )
    store.cache[("cash_paths", 0)] = set(
        AssetClass.objects.for_firm(firm_id).filter(is_cash=True).values_list("path", flat=True)
    )
    if kind == DefinitionKind.STRATEGY:
        for ref in [content.get("allocation"), *content["sleeves"].values()]:
            if ref is not None and int(ref) not in store.versions:
                raise ProgramError({"content": f"definition {ref} is not one you can use"})
    _check_resolves(store, definition_id)
    return store


@dataclass(frozen=True)
class Draft:
    """A checked, unsaved next version of a definition (for what-if runs)."""

    version: StoredVersion
    dependants: frozenset[int]  # definitions whose resolution reads it


def definition_draft(
    *, actor: Actor, definition: Definition, content: Any, parent_id: int | str | None = "keep"
) -> Draft:
    """Check ``content`` as the next version of ``definition`` exactly as a save would, and
    return it unsaved, with the definitions it reaches. Writes nothing."""
    authorize(actor=actor, firm=definition.firm_id, resource=Resource.MODEL)
    try:
        cleaned = content_clean(definition.kind, content)
    except ContentError as exc:
        raise ProgramError(exc.errors) from None
    new_parent = definition.parent_id if parent_id == "keep" else parent_id
    assert new_parent is None or isinstance(new_parent, int)
    _check_references(firm_id=definition.firm_id, kind=definition.kind, content=cleaned)
    number = definition.current_version + 1
    store = _validated_store(
        firm_id=definition.firm_id,
        kind=definition.kind,
        name=definition.name,
        definition_id=definition.pk,
        parent_id=new_parent,
        content=cleaned,
        number=number,
    )
    return Draft(
        version=store.versions[definition.pk],
        dependants=frozenset(_dependants(store, definition.pk)),
    )


@dataclass(frozen=True)
class SavedVersion:
    definition: Definition
    version: DefinitionVersion


def definition_create(
    *,
    actor: Actor,
    firm_id: int,
    kind: str,
    name: str,
    content: Any,
    parent_id: int | None = None,
    reason: str = "",
    is_synthetic: bool = False,
    at: dt.datetime | None = None,
) -> SavedVersion:
    """A new definition with its version 1."""
    authorize(actor=actor, firm=firm_id, resource=Resource.MODEL)
    if kind not in DefinitionKind.values:
        raise ProgramError({"kind": f"must be one of {', '.join(DefinitionKind.values)}"})
    name = name.strip()
    if not name or len(name) > 200 or any(unicodedata.category(ch) == "Cc" for ch in name):
        raise ProgramError({"name": "give a name of at most 200 characters, without controls"})
    if kind == DefinitionKind.LIMITS and name != FIRM_LIMITS_NAME:
        raise ProgramError(
            {"name": f"a firm has one limits definition, named {FIRM_LIMITS_NAME!r}"}
        )
    try:
        cleaned = content_clean(kind, content)
    except ContentError as exc:
        raise ProgramError(exc.errors) from None
    with transaction.atomic():
        if Definition.objects.for_firm(firm_id).filter(kind=kind, name=name).exists():
            raise ProgramError({"name": f"a {kind} named {name!r} already exists"})
        _check_references(firm_id=firm_id, kind=kind, content=cleaned)
        definition = Definition.objects.create(
            firm_id=firm_id,
            kind=kind,
            name=name,
            parent_id=parent_id,
            current_version=1,
            is_synthetic=is_synthetic,
        )
        if kind == DefinitionKind.EQUIVALENCE_SET:
            _check_equivalence_overlap(
                firm_id=firm_id, definition_id=definition.pk, members=cleaned["members"]
            )
        _validated_store(
            firm_id=firm_id,
            kind=kind,
            name=name,
            definition_id=definition.pk,
            parent_id=parent_id,
            content=cleaned,
            number=1,
        )
        version = _version_write(
            actor=actor,
            definition=definition,
            number=1,
            parent_id=parent_id,
            content=cleaned,
            reason=reason,
            at=at,
        )
        audit_record(
            firm=definition.firm,
            actor=actor,
            action="definition.create",
            obj=definition,
            after={
                "kind": kind,
                "name": name,
                "parent": parent_id,
                "version": 1,
                "content_hash": version.content_hash,
            },
            reason=reason,
        )
    return SavedVersion(definition, version)


def _version_write(
    *,
    actor: Actor,
    definition: Definition,
    number: int,
    parent_id: int | None,
    content: dict[str, Any],
    reason: str,
    at: dt.datetime | None,
) -> DefinitionVersion:
    return DefinitionVersion.objects.create(
        firm_id=definition.firm_id,
        definition=definition,
        number=number,
        parent_id=parent_id,
        content=content,
        content_hash=content_hash(content),
        created_at=at or timezone.now(),
        created_by=actor_user(actor),
        actor_label=actor_label(actor),
        reason=reason,
    )


def definition_save(
    *,
    actor: Actor,
    definition: Definition,
    content: Any,
    expected_version: int,
    reason: str,
    parent_id: int | str | None = "keep",
    at: dt.datetime | None = None,
) -> SavedVersion:
    """Append a version. ``expected_version`` is the version the editor started from."""
    authorize(actor=actor, firm=definition.firm_id, resource=Resource.MODEL)
    if not reason.strip():
        raise ProgramError({"reason": "say why the model changes (it is kept in the history)"})
    try:
        cleaned = content_clean(definition.kind, content)
    except ContentError as exc:
        raise ProgramError(exc.errors) from None
    new_parent = definition.parent_id if parent_id == "keep" else parent_id
    assert new_parent is None or isinstance(new_parent, int)
    with transaction.atomic():
        claimed = Definition.objects.filter(
            pk=definition.pk, current_version=expected_version
        ).update(current_version=expected_version + 1, parent_id=new_parent)
        if claimed != 1:
            latest = (
                DefinitionVersion.objects.filter(definition_id=definition.pk)
                .order_by("-number")
                .first()
            )
            who = (
                f" by {latest.actor_label} at {latest.created_at:%Y-%m-%d %H:%M} UTC"
                if latest
                else ""
            )
            raise ConcurrentEdit(
                f"'{definition.name}' was changed by someone else since you opened it "
                f"(now version {latest.number if latest else '?'}{who}); reload and apply "
                "your change again"
            )
        _check_references(firm_id=definition.firm_id, kind=definition.kind, content=cleaned)
        if definition.kind == DefinitionKind.EQUIVALENCE_SET:
            _check_equivalence_overlap(
                firm_id=definition.firm_id,
                definition_id=definition.pk,
                members=cleaned["members"],
            )
        _validated_store(
            firm_id=definition.firm_id,
            kind=definition.kind,
            name=definition.name,
            definition_id=definition.pk,
            parent_id=new_parent,
            content=cleaned,
            number=expected_version + 1,
        )
        previous = DefinitionVersion.objects.get(definition=definition, number=expected_version)
        version = _version_write(
            actor=actor,
            definition=definition,
            number=expected_version + 1,
            parent_id=new_parent,
            content=cleaned,
            reason=reason,
            at=at,
        )
        audit_record(
            firm=definition.firm,
            actor=actor,
            action="definition.version",
            obj=definition,
            before={
                "version": expected_version,
                "parent": previous.parent_id,
                "content": previous.content,
            },
            after={"version": version.number, "parent": new_parent, "content": cleaned},
            reason=reason,
        )
        definition.refresh_from_db()
    return SavedVersion(definition, version)


def definition_publish(
    *, actor: Actor, definition: Definition, published: bool, reason: str
) -> None:
    """Offer (or stop offering) a definition to subscribing firms."""
    authorize(actor=actor, firm=definition.firm_id, resource=Resource.MODEL)
    if not reason.strip():
        raise ProgramError({"reason": "say why"})
    with transaction.atomic():
        before = definition.published
        Definition.objects.filter(pk=definition.pk).update(published=published)
        definition.published = published
        audit_record(
            firm=definition.firm,
            actor=actor,
            action="definition.publish",
            obj=definition,
            before={"published": before},
            after={"published": published},
            reason=reason,
        )


def subscription_start(
    *, actor: Actor, firm_id: int, provider_id: int, reason: str, at: dt.datetime | None = None
) -> ModelSubscription:
    """``firm_id`` starts using ``provider_id``'s published definitions."""
    authorize(actor=actor, firm=firm_id, resource=Resource.MODEL)
    if provider_id == firm_id:
        raise ProgramError({"provider": "a firm cannot subscribe to itself"})
    if not Firm.objects.filter(pk=provider_id, is_active=True).exists():
        raise ProgramError({"provider": "no such provider"})
    if not reason.strip():
        raise ProgramError({"reason": "say why"})
    with transaction.atomic():
        if (
            ModelSubscription.objects.for_firm(firm_id)
            .filter(provider_id=provider_id, ended_at__isnull=True)
            .exists()
        ):
            raise ProgramError({"provider": "already subscribed"})
        subscription = ModelSubscription.objects.create(
            firm_id=firm_id, provider_id=provider_id, started_at=at or timezone.now()
        )
        audit_record(
            firm=Firm.objects.get(pk=firm_id),
            actor=actor,
            action="subscription.start",
            obj=subscription,
            after={"provider": provider_id},
            reason=reason,
        )
    return subscription


def subscription_end(*, actor: Actor, subscription: ModelSubscription, reason: str) -> None:
    authorize(actor=actor, firm=subscription.firm_id, resource=Resource.MODEL)
    if not reason.strip():
        raise ProgramError({"reason": "say why"})
    with transaction.atomic():
        now = timezone.now()
        updated = ModelSubscription.objects.filter(
            pk=subscription.pk, ended_at__isnull=True
        ).update(ended_at=now)
        if updated != 1:
            raise ProgramError({"subscription": "already ended"})
        audit_record(
            firm=subscription.firm,
            actor=actor,
            action="subscription.end",
            obj=subscription,
            after={"ended_at": now.isoformat()},
            reason=reason,
        )

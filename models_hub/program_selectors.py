"""Read side of the IPC's program: versions in force at a moment, lists, trees, impact.

:func:`version_store_load` is what every resolution starts from: the newest version of each
definition created at or before ``as_of``, of the firm and of the providers it subscribed to at
that moment (three queries, whatever the number of definitions).
"""

from __future__ import annotations

import datetime as dt
from collections import defaultdict
from collections.abc import Iterable
from dataclasses import dataclass

from django.db.models import Max, Q, QuerySet
from django.utils import timezone

from models_hub.effective import StoredVersion, VersionStore
from models_hub.models import (
    AssetClass,
    Definition,
    DefinitionKind,
    DefinitionVersion,
    ModelSubscription,
)
from rebalancer.models import Firm
from rebalancer.roles import Action, Resource, role_can
from rebalancer.tenancy import AnyUser, membership_of


def as_of_moment(as_of: dt.date | dt.datetime | None) -> dt.datetime:
    """A moment: None is now; a date is the end of that day (UTC); a datetime is itself."""
    if as_of is None:
        return timezone.now()
    if isinstance(as_of, dt.datetime):
        return as_of if timezone.is_aware(as_of) else timezone.make_aware(as_of, dt.UTC)
    return dt.datetime.combine(as_of, dt.time.max, tzinfo=dt.UTC)


def provider_ids_at(firm_id: int, moment: dt.datetime) -> list[int]:
    """Firms whose published definitions ``firm_id`` could use at ``moment``."""
    rows = ModelSubscription.objects.filter(firm_id=firm_id, started_at__lte=moment).filter(
        Q(ended_at__isnull=True) | Q(ended_at__gt=moment)
    )
    return sorted(set(rows.values_list("provider_id", flat=True)))


def version_store_load(firm_id: int, as_of: dt.date | dt.datetime | None = None) -> VersionStore:
    """The definition versions in force at ``as_of`` for ``firm_id`` and its providers."""
    moment = as_of_moment(as_of)
    firms = [firm_id, *provider_ids_at(firm_id, moment)]
    newest = (
        DefinitionVersion.objects.filter(firm_id__in=firms, created_at__lte=moment)
        .values("definition_id")
        .annotate(n=Max("number"))
        .values_list("definition_id", "n")
    )
    wanted = Q()
    by_number: dict[int, list[int]] = defaultdict(list)
    for definition_id, number in newest:
        by_number[number].append(definition_id)
    for number, ids in sorted(by_number.items()):
        wanted |= Q(number=number, definition_id__in=sorted(ids))
    versions: dict[int, StoredVersion] = {}
    if by_number:
        rows = (
            DefinitionVersion.objects.filter(firm_id__in=firms)
            .filter(wanted)
            .values_list(
                "definition_id",
                "firm_id",
                "definition__kind",
                "definition__name",
                "definition__published",
                "number",
                "parent_id",
                "content",
            )
            .order_by("definition_id")
        )
        for d_id, f_id, kind, name, published, number, parent_id, content in rows:
            if f_id != firm_id and not published:
                continue
            versions[d_id] = StoredVersion(d_id, f_id, kind, name, number, parent_id, content)
    # A provider's published strategy uses the provider's own allocation and security models,
    # published or not: resolution reads them, users of the subscriber do not see them.
    missing = {ref for v in versions.values() for ref in _references(v) if ref not in versions}
    if missing:
        referenced = (
            DefinitionVersion.objects.filter(
                definition_id__in=sorted(missing), firm_id__in=firms, created_at__lte=moment
            )
            .order_by("definition_id", "number")
            .values_list(
                "definition_id",
                "firm_id",
                "definition__kind",
                "definition__name",
                "number",
                "parent_id",
                "content",
            )
        )
        for d_id, f_id, kind, name, number, parent_id, content in referenced:
            versions[d_id] = StoredVersion(d_id, f_id, kind, name, number, parent_id, content)
    return VersionStore(versions=versions)


def _references(version: StoredVersion) -> Iterable[int]:
    if version.parent_id is not None:
        yield version.parent_id
    if version.kind == DefinitionKind.STRATEGY:
        if "allocation" in version.content:
            yield int(version.content["allocation"])
        yield from (int(v) for v in version.content.get("sleeves", {}).values())


def definition_list(*, user: AnyUser, kind: str | None = None) -> QuerySet[Definition]:
    """Definitions the user may see: the firm's own (``for_user``) and, read-only, the published
    definitions of the providers the firm subscribes to now."""
    own = Definition.objects.for_user(user, Action.VIEW)
    membership = membership_of(user)
    if membership is None or not role_can(membership.role, Resource.MODEL, Action.VIEW):
        return own
    providers = provider_ids_at(membership.firm_id, timezone.now())
    rows = Definition.objects.filter(
        Q(pk__in=own.values("pk")) | Q(firm_id__in=providers, published=True)
    )
    if kind is not None:
        rows = rows.filter(kind=kind)
    return rows.select_related("parent").order_by("kind", "name", "id")


def definition_get(*, user: AnyUser, definition_id: int) -> Definition | None:
    return definition_list(user=user).filter(pk=definition_id).first()


def provider_list(*, firm_id: int) -> QuerySet[Firm]:
    """Active firms (other than ``firm_id``) that publish at least one definition."""
    publishing = Definition.objects.filter(published=True).values("firm_id")
    return (
        Firm.objects.filter(is_active=True, pk__in=publishing).exclude(pk=firm_id).order_by("name")
    )


def asset_class_list(*, user: AnyUser) -> QuerySet[AssetClass]:
    return AssetClass.objects.for_user(user).order_by("path")


@dataclass(frozen=True)
class TreeNode:
    definition: Definition
    depth: int


def definition_tree(definitions: Iterable[Definition]) -> list[TreeNode]:
    """Definitions in tree order (each parent followed by its children), with their depth."""
    rows = list(definitions)
    ids = {d.pk for d in rows}
    children: dict[int | None, list[Definition]] = defaultdict(list)
    for d in rows:
        children[d.parent_id if d.parent_id in ids else None].append(d)
    out: list[TreeNode] = []

    def walk(parent: int | None, depth: int) -> None:
        for d in sorted(children.get(parent, []), key=lambda d: (d.kind, d.name, d.pk)):
            out.append(TreeNode(d, depth))
            if depth < 10:
                walk(d.pk, depth + 1)

    walk(None, 0)
    return out


def version_history(*, user: AnyUser, definition: Definition) -> QuerySet[DefinitionVersion]:
    return DefinitionVersion.objects.filter(definition=definition).order_by("-number")

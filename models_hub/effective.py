"""Effective models: a definition's own content layered over its ancestors', with provenance.

Pure functions over a :class:`VersionStore` (the versions in force at one moment, loaded by
:func:`models_hub.selectors.version_store_load`); no queries here. Every effective weight says
where it came from ("set in 'Growth' v3", "from 'Growth' v3, rescaled in 'Growth ex RE' v1").

Inheritance (docs/models.md):

* allocation / security model: start from the parent's effective weights; drop ``remove``;
  apply ``swap`` (security models: the new ticker takes the old one's weight); ``set`` entries
  (``classes`` / ``securities``) override or add; with ``rescale`` the inherited entries are
  scaled pro rata so the total is 1 again.
* strategy: the parent's allocation unless the child names one; ``sleeves``, ``limits`` and
  ``settings`` merge key by key, the child's value winning.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any

from models_hub.content import SUM_TOLERANCE, decimal_text
from models_hub.models.programs import MAX_INHERITANCE_DEPTH, DefinitionKind

_RESCALE_QUANTUM = Decimal("1e-12")


class ResolutionError(ValueError):
    """A definition that cannot be resolved (cycle, depth, missing parent, bad sum)."""


@dataclass(frozen=True)
class StoredVersion:
    """One definition version as resolution sees it."""

    definition_id: int
    firm_id: int
    kind: str
    name: str
    number: int
    parent_id: int | None
    content: Mapping[str, Any]

    @property
    def label(self) -> str:
        return f"'{self.name}' v{self.number}"


@dataclass
class VersionStore:
    """The definition versions in force at one moment, by definition id (own and providers')."""

    versions: dict[int, StoredVersion]
    cache: dict[tuple[str, int], Any] = field(default_factory=dict)

    def get(self, definition_id: int) -> StoredVersion:
        try:
            return self.versions[definition_id]
        except KeyError:
            raise ResolutionError(f"definition {definition_id} did not exist then") from None

    def chain(self, definition_id: int) -> list[StoredVersion]:
        """Root first. Raises on a cycle, a kind mismatch or depth over the limit."""
        chain: list[StoredVersion] = []
        seen: set[int] = set()
        current: int | None = definition_id
        while current is not None:
            if current in seen:
                names = " -> ".join(v.label for v in chain)
                raise ResolutionError(f"inheritance cycle: {names} -> back to {current}")
            seen.add(current)
            version = self.get(current)
            if chain and version.kind != chain[0].kind:
                raise ResolutionError(f"{version.label} is not a {chain[0].kind}")
            chain.append(version)
            if len(chain) > MAX_INHERITANCE_DEPTH:
                raise ResolutionError(
                    f"{chain[0].label} inherits through more than {MAX_INHERITANCE_DEPTH} levels"
                )
            current = version.parent_id
        chain.reverse()
        return chain


@dataclass(frozen=True)
class Weighted:
    """One effective weight with its provenance (and, for allocations, its tolerance band)."""

    key: str  # asset-class path or ticker
    weight: Decimal
    source: str
    band: Decimal = Decimal(0)
    band_kind: str = "absolute"

    def band_limits(self) -> tuple[Decimal, Decimal]:
        width = self.band if self.band_kind == "absolute" else self.band * self.weight
        return max(self.weight - width, Decimal(0)), min(self.weight + width, Decimal(1))


@dataclass(frozen=True)
class EffectiveWeights:
    """An effective allocation (keys: class paths) or security model (keys: tickers)."""

    definition_id: int
    name: str
    version: int
    entries: tuple[Weighted, ...]  # sorted by key
    asset_class: str = ""  # security models: the class they fill ("" for any)
    index: str = ""

    @property
    def total(self) -> Decimal:
        return sum((e.weight for e in self.entries), Decimal(0))

    def as_dict(self) -> dict[str, Decimal]:
        return {e.key: e.weight for e in self.entries}


def _layer(chain: list[StoredVersion], set_field: str, *, swaps: bool) -> dict[str, Weighted]:
    entries: dict[str, Weighted] = {}
    for version in chain:
        c = version.content
        here = version.label
        for key in c.get("remove", ()):
            entries.pop(key, None)
        if swaps:
            for old, new in sorted(c.get("swap", {}).items()):
                if old in entries:
                    prior = entries.pop(old)
                    entries[new] = Weighted(
                        new, prior.weight, f"{prior.source}; {old} swapped for {new} in {here}"
                    )
        own = c.get(set_field, {})
        for key, value in own.items():
            if isinstance(value, Mapping):
                entries[key] = Weighted(
                    key,
                    Decimal(value["weight"]),
                    f"set in {here}",
                    Decimal(value.get("band", "0")),
                    value.get("band_kind", "absolute"),
                )
            else:
                entries[key] = Weighted(key, Decimal(value), f"set in {here}")
        if c.get("rescale"):
            fixed = sum((Decimal(_w(v)) for v in own.values()), Decimal(0))
            inherited = [k for k in entries if k not in own]
            inherited_total = sum((entries[k].weight for k in inherited), Decimal(0))
            if inherited_total > 0:
                factor = (Decimal(1) - fixed) / inherited_total
                for k in inherited:
                    e = entries[k]
                    entries[k] = Weighted(
                        k,
                        (e.weight * factor).quantize(_RESCALE_QUANTUM),
                        f"{e.source}, rescaled in {here}",
                        e.band,
                        e.band_kind,
                    )
    return entries


def _w(value: Any) -> str:
    return str(value["weight"]) if isinstance(value, Mapping) else str(value)


def _check_sum(name: str, entries: Mapping[str, Weighted]) -> None:
    total = sum((e.weight for e in entries.values()), Decimal(0))
    if abs(total - 1) > SUM_TOLERANCE:
        raise ResolutionError(
            f"{name}: weights sum to {decimal_text(total * 100)} %, not 100 % "
            f"(tolerance {decimal_text(SUM_TOLERANCE * 100)} points)"
        )


def effective_weights(store: VersionStore, definition_id: int) -> EffectiveWeights:
    """The effective allocation or security model, checked to sum to 1."""
    key = ("weights", definition_id)
    if key in store.cache:
        return store.cache[key]  # type: ignore[no-any-return]
    chain = store.chain(definition_id)
    leaf = chain[-1]
    if leaf.kind == DefinitionKind.ALLOCATION:
        entries = _layer(chain, "classes", swaps=False)
    elif leaf.kind == DefinitionKind.SECURITY_MODEL:
        entries = _layer(chain, "securities", swaps=True)
    else:
        raise ResolutionError(f"{leaf.label} is a {leaf.kind}, not an allocation or security model")
    for e in entries.values():
        if e.weight < 0:
            raise ResolutionError(f"{leaf.label}: {e.key} has a negative weight")
    _check_sum(leaf.label, entries)
    asset_class = next(
        (v.content.get("asset_class") for v in reversed(chain) if v.content.get("asset_class")), ""
    )
    index = next((v.content.get("index") for v in reversed(chain) if v.content.get("index")), "")
    result = EffectiveWeights(
        definition_id=leaf.definition_id,
        name=leaf.name,
        version=leaf.number,
        entries=tuple(entries[k] for k in sorted(entries)),
        asset_class=str(asset_class or ""),
        index=str(index or ""),
    )
    store.cache[key] = result
    return result


@dataclass(frozen=True)
class Sourced:
    """A value with where it came from."""

    value: Any
    source: str


@dataclass(frozen=True)
class EffectiveStrategy:
    definition_id: int
    name: str
    version: int
    risk_profile: str
    allocation: EffectiveWeights
    allocation_source: str
    sleeves: tuple[tuple[str, EffectiveWeights, str], ...]  # (class path, model, source)
    limits: Mapping[str, Sourced]
    settings: Mapping[str, Sourced]

    def sleeve(self, path: str) -> EffectiveWeights | None:
        for class_path, model, _ in self.sleeves:
            if class_path == path:
                return model
        return None


def effective_strategy(store: VersionStore, definition_id: int) -> EffectiveStrategy:
    key = ("strategy", definition_id)
    if key in store.cache:
        return store.cache[key]  # type: ignore[no-any-return]
    chain = store.chain(definition_id)
    leaf = chain[-1]
    if leaf.kind != DefinitionKind.STRATEGY:
        raise ResolutionError(f"{leaf.label} is a {leaf.kind}, not a strategy")
    allocation_id: int | None = None
    allocation_source = ""
    risk_profile = ""
    sleeves: dict[str, tuple[int, str]] = {}
    limits: dict[str, Sourced] = {}
    settings: dict[str, Sourced] = {}
    for version in chain:
        c = version.content
        if "allocation" in c:
            allocation_id = int(c["allocation"])
            allocation_source = f"set in {version.label}"
        if c.get("risk_profile"):
            risk_profile = str(c["risk_profile"])
        for path, model_id in c.get("sleeves", {}).items():
            sleeves[path] = (int(model_id), f"set in {version.label}")
        for name, value in c.get("limits", {}).items():
            limits[name] = Sourced(value, f"strategy {version.label}")
        for name, value in c.get("settings", {}).items():
            settings[name] = Sourced(value, f"strategy {version.label}")
    if allocation_id is None:
        raise ResolutionError(f"{leaf.label} has no allocation")
    allocation = effective_weights(store, allocation_id)
    if allocation.entries and store.get(allocation_id).kind != DefinitionKind.ALLOCATION:
        raise ResolutionError(f"{leaf.label}: definition {allocation_id} is not an allocation")
    resolved_sleeves = []
    for path in sorted(sleeves):
        model_id, source = sleeves[path]
        model = effective_weights(store, model_id)
        if store.get(model_id).kind != DefinitionKind.SECURITY_MODEL:
            raise ResolutionError(f"{leaf.label}: sleeve {path} is not a security model")
        resolved_sleeves.append((path, model, source))
    result = EffectiveStrategy(
        definition_id=leaf.definition_id,
        name=leaf.name,
        version=leaf.number,
        risk_profile=risk_profile,
        allocation=allocation,
        allocation_source=allocation_source,
        sleeves=tuple(resolved_sleeves),
        limits=dict(sorted(limits.items())),
        settings=dict(sorted(settings.items())),
    )
    store.cache[key] = result
    return result

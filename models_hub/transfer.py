"""Model import and export: an allocation or a security model as JSON or CSV (docs/models.md).

Export writes the *effective* model (inheritance applied), each security with its substitutes in
buy order (from the firm's equivalence sets). Import writes a new version of a model without a
parent (or creates the model) and says explicitly how:

* ``replace``: the file is the whole model. Securities (or classes) of the current version that
  the file leaves out are listed; the import is refused unless ``confirm_drops`` names exactly
  them: nothing is dropped silently.
* ``merge``: the file's entries are set (added or reweighted), the rest kept; with ``rescale``
  the kept entries are scaled pro rata so the total is 100 %.

Substitutes in a file must agree with the firm's equivalence sets; a security with substitutes
and no set gets a new set (not substantially identical). Bad files change nothing and every
problem is reported with its line.
"""

from __future__ import annotations

import csv
import io
import json
from collections.abc import Mapping
from dataclasses import dataclass, field
from decimal import Decimal, InvalidOperation
from typing import Any

from django.db import transaction

from models_hub.content import SUM_TOLERANCE, decimal_text
from models_hub.effective import StoredVersion, effective_weights
from models_hub.models import Definition, DefinitionKind
from models_hub.program_selectors import version_store_load
from models_hub.program_services import (
    ProgramError,
    SavedVersion,
    definition_create,
    definition_save,
)
from rebalancer.authz import Actor, authorize
from rebalancer.roles import Action, Resource

FORMAT = "rebalancer.model/1"
MODES = ("replace", "merge")
MAX_BYTES = 2_000_000
#: CSV columns per kind, in order; the first is the key.
CSV_COLUMNS: dict[str, tuple[str, ...]] = {
    DefinitionKind.SECURITY_MODEL: ("ticker", "weight", "substitutes"),
    DefinitionKind.ALLOCATION: ("asset_class", "weight", "band", "band_kind"),
}


class ModelFileError(ValueError):
    """A model file that cannot be imported; ``errors`` lists "line N: problem" texts."""

    def __init__(self, errors: list[str]) -> None:
        self.errors = errors
        super().__init__("; ".join(errors[:20]))


@dataclass(frozen=True)
class ModelFile:
    kind: str
    name: str
    asset_class: str
    index: str
    entries: dict[str, dict[str, str]]  # key -> {"weight", ...}
    substitutes: dict[str, list[str]] = field(default_factory=dict)


# --- export -------------------------------------------------------------------------------------


def _substitutes(store: Any, firm_id: int) -> dict[str, list[str]]:
    out: dict[str, list[str]] = {}
    for v in sorted(store.versions.values(), key=lambda v: v.definition_id):
        if v.kind == DefinitionKind.EQUIVALENCE_SET and v.firm_id == firm_id:
            members = list(v.content["members"])
            for ticker in members:
                out[ticker] = [m for m in members if m != ticker]
    return out


def model_export(*, actor: Actor, definition: Definition, fmt: str) -> str:
    """The effective model as JSON or CSV text."""
    authorize(actor=actor, firm=definition.firm_id, resource=Resource.MODEL, action=Action.VIEW)
    if definition.kind not in CSV_COLUMNS:
        raise ModelFileError([f"a {definition.kind} is not exported as a model file"])
    store = version_store_load(definition.firm_id)
    model = effective_weights(store, definition.pk)
    subs = _substitutes(store, definition.firm_id)
    if fmt == "csv":
        buffer = io.StringIO()
        writer = csv.writer(buffer, lineterminator="\n")
        writer.writerow(CSV_COLUMNS[definition.kind])
        for e in model.entries:
            if definition.kind == DefinitionKind.SECURITY_MODEL:
                writer.writerow([e.key, decimal_text(e.weight), " ".join(subs.get(e.key, []))])
            else:
                writer.writerow([e.key, decimal_text(e.weight), decimal_text(e.band), e.band_kind])
        return buffer.getvalue()
    if fmt != "json":
        raise ModelFileError([f"unknown format {fmt!r} (json or csv)"])
    entries = []
    for e in model.entries:
        if definition.kind == DefinitionKind.SECURITY_MODEL:
            entries.append(
                {
                    "ticker": e.key,
                    "weight": decimal_text(e.weight),
                    "substitutes": subs.get(e.key, []),
                }
            )
        else:
            entries.append(
                {
                    "asset_class": e.key,
                    "weight": decimal_text(e.weight),
                    "band": decimal_text(e.band),
                    "band_kind": e.band_kind,
                }
            )
    document = {
        "format": FORMAT,
        "kind": definition.kind,
        "name": definition.name,
        "version": model.version,
        "asset_class": model.asset_class,
        "index": model.index,
        "entries": entries,
    }
    return json.dumps(document, indent=2, sort_keys=True) + "\n"


# --- parsing ------------------------------------------------------------------------------------


def _weight(errors: list[str], where: str, value: Any) -> str | None:
    try:
        number = Decimal(str(value).strip())
    except InvalidOperation:
        errors.append(f"{where}: weight {value!r} is not a number")
        return None
    if not number.is_finite() or number < 0 or number > 1:
        errors.append(f"{where}: weight must be between 0 and 1 (a fraction, not a percent)")
        return None
    return decimal_text(number)


def model_file_parse(*, kind: str, text: str, fmt: str, name: str = "") -> ModelFile:
    """Read a model file; every problem reported with its line (JSON: its entry)."""
    if len(text.encode()) > MAX_BYTES:
        raise ModelFileError([f"the file is larger than {MAX_BYTES:,} bytes"])
    if kind not in CSV_COLUMNS:
        raise ModelFileError([f"kind must be one of {', '.join(CSV_COLUMNS)}"])
    key = CSV_COLUMNS[kind][0]
    errors: list[str] = []
    entries: dict[str, dict[str, str]] = {}
    substitutes: dict[str, list[str]] = {}
    asset_class = index = ""
    rows: list[tuple[str, Mapping[str, Any]]] = []
    if fmt == "json":
        try:
            document = json.loads(text)
        except json.JSONDecodeError as exc:
            raise ModelFileError([f"line {exc.lineno}: not valid JSON ({exc.msg})"]) from None
        if not isinstance(document, dict) or document.get("format") != FORMAT:
            raise ModelFileError([f"not a model file: 'format' must be {FORMAT!r}"])
        if document.get("kind") != kind:
            raise ModelFileError([f"the file holds a {document.get('kind')!r}, not a {kind}"])
        name = name or str(document.get("name") or "")
        asset_class = str(document.get("asset_class") or "")
        index = str(document.get("index") or "")
        raw_entries = document.get("entries")
        if not isinstance(raw_entries, list):
            raise ModelFileError(["'entries' must be a list"])
        rows = [
            (f"entry {i + 1}", e if isinstance(e, dict) else {}) for i, e in enumerate(raw_entries)
        ]
    elif fmt == "csv":
        reader = csv.DictReader(io.StringIO(text.lstrip("\ufeff")))
        header = [h.strip().lower() for h in (reader.fieldnames or [])]
        missing = [c for c in CSV_COLUMNS[kind][:2] if c not in header]
        if missing:
            raise ModelFileError([f"line 1: missing column(s) {', '.join(missing)}"])
        reader.fieldnames = header
        rows = [(f"line {n + 2}", r) for n, r in enumerate(reader)]
    else:
        raise ModelFileError([f"unknown format {fmt!r} (json or csv)"])
    for where, row in rows:
        raw_key = str(row.get(key) or "").strip()
        if not raw_key:
            errors.append(f"{where}: {key} is missing")
            continue
        item_key = (
            raw_key.upper()
            if key == "ticker"
            else " > ".join(n.strip() for n in raw_key.split(">"))
        )
        if item_key in entries:
            errors.append(f"{where}: {item_key} appears twice")
            continue
        weight = _weight(errors, where, row.get("weight", ""))
        if weight is None:
            continue
        entry = {"weight": weight}
        if kind == DefinitionKind.ALLOCATION:
            band = _weight(errors, where, row.get("band") or "0")
            entry["band"] = band or "0"
            entry["band_kind"] = str(row.get("band_kind") or "absolute").strip()
        else:
            subs = row.get("substitutes") or []
            if isinstance(subs, str):
                subs = subs.split()
            substitutes[item_key] = [str(s).strip().upper() for s in subs if str(s).strip()]
        entries[item_key] = entry
    if not entries and not errors:
        errors.append("the file has no entries")
    if errors:
        raise ModelFileError(errors)
    return ModelFile(kind, name.strip(), asset_class, index, entries, substitutes)


# --- import -------------------------------------------------------------------------------------


@dataclass(frozen=True)
class ImportResult:
    saved: SavedVersion
    added: list[str]
    reweighted: list[str]
    dropped: list[str]
    equivalence_sets_created: list[str]


def _content(
    kind: str, entries: Mapping[str, Mapping[str, str]], file: ModelFile, prior: Mapping[str, Any]
) -> dict[str, Any]:
    if kind == DefinitionKind.ALLOCATION:
        return {"classes": {k: dict(v) for k, v in entries.items()}}
    return {
        "asset_class": file.asset_class or prior.get("asset_class", ""),
        "index": file.index or prior.get("index", ""),
        "securities": {k: v["weight"] for k, v in entries.items()},
    }


def model_import(
    *,
    actor: Actor,
    firm_id: int,
    kind: str,
    text: str,
    fmt: str,
    mode: str,
    reason: str,
    definition: Definition | None = None,
    name: str = "",
    expected_version: int | None = None,
    confirm_drops: list[str] | None = None,
    rescale: bool = False,
) -> ImportResult:
    """Import a model file into ``definition`` (a new version) or a new model named ``name``."""
    authorize(actor=actor, firm=firm_id, resource=Resource.MODEL)
    if mode not in MODES:
        raise ModelFileError([f"say how to import: mode must be one of {', '.join(MODES)}"])
    if not reason.strip():
        raise ModelFileError(["say why (kept in the model's history)"])
    file = model_file_parse(kind=kind, text=text, fmt=fmt, name=name)
    with transaction.atomic():
        store = version_store_load(firm_id)
        current: StoredVersion | None = None
        if definition is not None:
            if definition.firm_id != firm_id or definition.kind != kind:
                raise ModelFileError([f"{definition} is not a {kind} of your firm"])
            current = store.get(definition.pk)
            if current.parent_id is not None:
                raise ModelFileError(
                    ["import into a model without a parent (a child stores only its overrides)"]
                )
        old: dict[str, dict[str, str]] = {}
        if current is not None:
            field_name = "classes" if kind == DefinitionKind.ALLOCATION else "securities"
            for k, v in current.content.get(field_name, {}).items():
                old[k] = dict(v) if isinstance(v, Mapping) else {"weight": str(v)}
        if mode == "replace":
            entries = dict(file.entries)
            dropped = sorted(set(old) - set(entries))
            if dropped and sorted(confirm_drops or []) != dropped:
                raise ModelFileError(
                    [
                        f"replacing would drop {', '.join(dropped)}: confirm by naming them "
                        "(confirm_drops), or merge instead"
                    ]
                )
        else:
            dropped = []
            entries = {**old, **file.entries}
            if rescale:
                fixed = sum((Decimal(e["weight"]) for e in file.entries.values()), Decimal(0))
                kept = [k for k in old if k not in file.entries]
                kept_total = sum((Decimal(old[k]["weight"]) for k in kept), Decimal(0))
                if kept_total > 0:
                    factor = (Decimal(1) - fixed) / kept_total
                    for k in kept:
                        entries[k] = {
                            **old[k],
                            "weight": decimal_text(
                                (Decimal(old[k]["weight"]) * factor).quantize(Decimal("1e-8"))
                            ),
                        }
        total = sum((Decimal(e["weight"]) for e in entries.values()), Decimal(0))
        if abs(total - 1) > SUM_TOLERANCE * max(len(entries), 1):
            raise ModelFileError(
                [
                    f"after the {mode} the weights sum to {decimal_text(total * 100)} %, not 100 %"
                    + ("" if mode == "replace" or rescale else "; merge with rescale to make room")
                ]
            )
        sets_created = _equivalence_for(actor, firm_id, store, file, reason)
        content = _content(kind, entries, file, current.content if current else {})
        try:
            if definition is None:
                saved = definition_create(
                    actor=actor,
                    firm_id=firm_id,
                    kind=kind,
                    name=file.name or name,
                    content=content,
                    reason=reason,
                )
            else:
                saved = definition_save(
                    actor=actor,
                    definition=definition,
                    content=content,
                    reason=reason,
                    expected_version=(
                        definition.current_version if expected_version is None else expected_version
                    ),
                )
        except ProgramError as exc:
            raise ModelFileError([f"{k}: {v}" if k else v for k, v in exc.errors.items()]) from None
    return ImportResult(
        saved=saved,
        added=sorted(set(entries) - set(old)),
        reweighted=sorted(
            k for k in entries if k in old and old[k]["weight"] != entries[k]["weight"]
        ),
        dropped=dropped,
        equivalence_sets_created=sets_created,
    )


def _equivalence_for(
    actor: Actor, firm_id: int, store: Any, file: ModelFile, reason: str
) -> list[str]:
    existing = _substitutes(store, firm_id)
    created: list[str] = []
    for ticker, subs in sorted(file.substitutes.items()):
        if not subs:
            continue
        if ticker in existing:
            if existing[ticker] != subs:
                raise ModelFileError(
                    [
                        f"{ticker}: substitutes {' '.join(subs)} differ from the firm's "
                        f"equivalence set ({' '.join(existing[ticker])}); edit the set"
                    ]
                )
            continue
        set_name = f"{ticker} and substitutes"
        try:
            definition_create(
                actor=actor,
                firm_id=firm_id,
                kind=DefinitionKind.EQUIVALENCE_SET,
                name=set_name,
                content={"members": [ticker, *subs]},
                reason=f"model import: {reason}",
            )
        except ProgramError as exc:
            raise ModelFileError([f"{ticker}: {exc}"]) from None
        created.append(set_name)
    return created

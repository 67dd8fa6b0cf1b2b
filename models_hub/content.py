"""The content of each kind of definition: parsed, checked and written in one canonical form.

Content is plain JSON (docs/models.md). Securities are named by ticker and asset classes by path,
so a version reads the same in the history, in an export and at a subscribing firm. Weights are
decimal strings (at most :data:`WEIGHT_PLACES` places). :func:`content_clean` returns the
canonical dict (sorted keys, normalised decimals) or raises :class:`ContentError` naming every
bad field; :func:`content_hash` is the sha256 of its canonical JSON.

This module checks the shape of one definition's content. Checks that need other rows (tickers
that exist, classes that are leaves, sums after inheritance) are in :mod:`models_hub.services`.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Callable, Mapping
from decimal import Decimal, InvalidOperation
from typing import Any

from models_hub.models.programs import DefinitionKind

#: Decimal places kept in a weight (1e-8 of the account).
WEIGHT_PLACES = 8
#: Weights of a model (after inheritance) must sum to 1 within this (0.01 %).
SUM_TOLERANCE = Decimal("0.0001")
BAND_KINDS = ("absolute", "relative")
SUBSTITUTION_POLICIES = ("same_asset_class", "any", "none")
TAX_SENSITIVITY_ORDER = ("indifferent", "moderate", "sensitive", "maximum")


class ContentError(ValueError):
    """Content that cannot be saved; ``errors`` maps a field path to its message."""

    def __init__(self, errors: Mapping[str, str]) -> None:
        self.errors = dict(sorted(errors.items()))
        super().__init__("; ".join(f"{k}: {v}" for k, v in self.errors.items()))


def decimal_text(value: Decimal) -> str:
    """A decimal as plain text without exponent or trailing zeros ('0.4', '12', '-0.05')."""
    text = format(value, "f")
    if "." in text:
        text = text.rstrip("0").rstrip(".")
    return "0" if text in ("-0", "") else text


def content_hash(content: Mapping[str, Any]) -> str:
    return hashlib.sha256(canonical_json(content).encode()).hexdigest()


def canonical_json(content: Mapping[str, Any]) -> str:
    return json.dumps(content, sort_keys=True, separators=(",", ":"), ensure_ascii=False)


class _Reader:
    """Collects errors while reading one content dict."""

    def __init__(self, raw: Any) -> None:
        self.errors: dict[str, str] = {}
        if not isinstance(raw, Mapping):
            self.errors[""] = "content must be a JSON object"
            raw = {}
        self.raw: Mapping[str, Any] = raw

    def fail(self, path: str, message: str) -> None:
        self.errors.setdefault(path, message)

    def unknown(self, allowed: set[str]) -> None:
        for key in sorted(set(self.raw) - allowed):
            self.fail(key, f"unknown field (allowed: {', '.join(sorted(allowed))})")

    def weight(
        self, path: str, value: Any, *, low: Decimal = Decimal(0), high: Decimal = Decimal(1)
    ) -> str | None:
        if isinstance(value, bool) or not isinstance(value, str | int | float):
            self.fail(path, "must be a decimal number given as text, e.g. '0.25'")
            return None
        try:
            number = Decimal(str(value))
        except InvalidOperation:
            self.fail(path, f"{value!r} is not a number")
            return None
        if not number.is_finite():
            self.fail(path, f"{value!r} is not a finite number")
            return None
        if number < low or number > high:
            self.fail(path, f"must be between {decimal_text(low)} and {decimal_text(high)}")
            return None
        quantum = Decimal(1).scaleb(-WEIGHT_PLACES)
        if number != number.quantize(quantum):
            self.fail(path, f"at most {WEIGHT_PLACES} decimal places")
            return None
        return decimal_text(number)

    def text(self, path: str, value: Any, *, max_length: int = 200, blank: bool = True) -> str:
        if not isinstance(value, str):
            self.fail(path, "must be text")
            return ""
        value = value.strip()
        if len(value) > max_length:
            self.fail(path, f"at most {max_length} characters")
        if not value and not blank:
            self.fail(path, "must not be blank")
        if "\x00" in value:
            self.fail(path, "contains a NUL character")
        return str(value)

    def texts(self, path: str, value: Any, *, upper: bool = False) -> list[str]:
        if value is None:
            return []
        if not isinstance(value, list):
            self.fail(path, "must be a list")
            return []
        out: list[str] = []
        for i, item in enumerate(value):
            text = self.text(f"{path}[{i}]", item, blank=False)
            text = text.upper() if upper else text
            if text in out:
                self.fail(f"{path}[{i}]", f"{text!r} appears twice")
            out.append(text)
        return sorted(out)

    def boolean(self, path: str, value: Any) -> bool:
        if not isinstance(value, bool):
            self.fail(path, "must be true or false")
            return False
        return value

    def definition_id(self, path: str, value: Any) -> int | None:
        if isinstance(value, bool) or not isinstance(value, int) or value < 1:
            self.fail(path, "must be a definition id (a positive integer)")
            return None
        return value

    def done(self, content: dict[str, Any]) -> dict[str, Any]:
        if self.errors:
            raise ContentError(self.errors)
        return content


def _allocation(raw: Any) -> dict[str, Any]:
    r = _Reader(raw)
    r.unknown({"classes", "remove", "rescale"})
    classes: dict[str, dict[str, str]] = {}
    raw_classes = r.raw.get("classes", {})
    if not isinstance(raw_classes, Mapping):
        r.fail("classes", "must be an object: asset-class path -> {weight, band, band_kind}")
        raw_classes = {}
    for path, entry in sorted(raw_classes.items()):
        key = f"classes[{path}]"
        if not isinstance(entry, Mapping):
            entry = {"weight": entry}
        for field in sorted(set(entry) - {"weight", "band", "band_kind"}):
            r.fail(f"{key}.{field}", "unknown field (allowed: band, band_kind, weight)")
        weight = r.weight(f"{key}.weight", entry.get("weight"))
        band = r.weight(f"{key}.band", entry.get("band", "0"))
        band_kind = entry.get("band_kind", "absolute")
        if band_kind not in BAND_KINDS:
            r.fail(f"{key}.band_kind", f"must be one of {', '.join(BAND_KINDS)}")
        if weight is not None and band is not None:
            classes[r.text(key, path, blank=False)] = {
                "weight": weight,
                "band": band,
                "band_kind": str(band_kind),
            }
    remove = r.texts("remove", r.raw.get("remove"))
    for path in remove:
        if path in classes:
            r.fail("remove", f"{path!r} is both set and removed")
    rescale = r.boolean("rescale", r.raw.get("rescale", False))
    return r.done({"classes": classes, "remove": remove, "rescale": rescale})


def _security_model(raw: Any) -> dict[str, Any]:
    r = _Reader(raw)
    r.unknown({"asset_class", "index", "securities", "remove", "swap", "rescale"})
    securities: dict[str, str] = {}
    raw_securities = r.raw.get("securities", {})
    if not isinstance(raw_securities, Mapping):
        r.fail("securities", "must be an object: ticker -> weight")
        raw_securities = {}
    for ticker, weight in sorted(raw_securities.items()):
        cleaned = r.weight(f"securities[{ticker}]", weight)
        name = r.text("securities", ticker, max_length=16, blank=False).upper()
        if cleaned is not None:
            if name in securities:
                r.fail(f"securities[{ticker}]", f"{name} appears twice")
            securities[name] = cleaned
    swap: dict[str, str] = {}
    raw_swap = r.raw.get("swap", {})
    if not isinstance(raw_swap, Mapping):
        r.fail("swap", "must be an object: ticker held by the parent -> ticker instead")
        raw_swap = {}
    for old, new in sorted(raw_swap.items()):
        old_t = r.text("swap", old, max_length=16, blank=False).upper()
        new_t = r.text(f"swap[{old}]", new, max_length=16, blank=False).upper()
        if old_t == new_t:
            r.fail(f"swap[{old}]", "swaps a security for itself")
        swap[old_t] = new_t
    remove = r.texts("remove", r.raw.get("remove"), upper=True)
    for ticker in remove:
        if ticker in securities:
            r.fail("remove", f"{ticker} is both set and removed")
    return r.done(
        {
            "asset_class": r.text("asset_class", r.raw.get("asset_class", ""), max_length=400),
            "index": r.text("index", r.raw.get("index", "")),
            "securities": securities,
            "remove": remove,
            "swap": swap,
            "rescale": r.boolean("rescale", r.raw.get("rescale", False)),
        }
    )


def _strategy(raw: Any) -> dict[str, Any]:
    r = _Reader(raw)
    r.unknown({"allocation", "sleeves", "risk_profile", "limits", "settings", "description"})
    allocation = r.raw.get("allocation")
    allocation_id = None if allocation is None else r.definition_id("allocation", allocation)
    sleeves: dict[str, int] = {}
    raw_sleeves = r.raw.get("sleeves", {})
    if not isinstance(raw_sleeves, Mapping):
        r.fail("sleeves", "must be an object: asset-class path -> security model id")
        raw_sleeves = {}
    for path, model_id in sorted(raw_sleeves.items()):
        cleaned = r.definition_id(f"sleeves[{path}]", model_id)
        if cleaned is not None:
            sleeves[r.text("sleeves", path, blank=False)] = cleaned
    limits_raw = r.raw.get("limits", {})
    limits: dict[str, Any] = {}
    try:
        limits = _limits(limits_raw)
    except ContentError as exc:
        for key, message in exc.errors.items():
            r.fail(f"limits.{key}" if key else "limits", message)
    settings = r.raw.get("settings", {})
    if not isinstance(settings, Mapping):
        r.fail("settings", "must be an object of menu choices (docs/customization.md)")
        settings = {}
    content: dict[str, Any] = {
        "sleeves": sleeves,
        "risk_profile": r.text("risk_profile", r.raw.get("risk_profile", ""), max_length=64),
        "limits": limits,
        "settings": dict(sorted(settings.items())),
        "description": r.text("description", r.raw.get("description", ""), max_length=1000),
    }
    if allocation_id is not None:
        content["allocation"] = allocation_id
    return r.done(content)


def _equivalence_set(raw: Any) -> dict[str, Any]:
    r = _Reader(raw)
    r.unknown({"members", "sell_order", "substantially_identical"})
    members_raw = r.raw.get("members")
    if not isinstance(members_raw, list):
        r.fail("members", "must be a list of tickers, the primary first, in buy preference")
        members_raw = []
    members: list[str] = []
    for i, ticker in enumerate(members_raw):
        t = r.text(f"members[{i}]", ticker, max_length=16, blank=False).upper()
        if t in members:
            r.fail(f"members[{i}]", f"{t} appears twice")
        members.append(t)
    if len(members) < 2:
        r.fail("members", "an equivalence set needs a primary and at least one substitute")
    sell_raw = r.raw.get("sell_order", members)
    sell_order: list[str] = []
    if not isinstance(sell_raw, list):
        r.fail("sell_order", "must be a list of the members, the first sold first")
    else:
        sell_order = [str(t).strip().upper() for t in sell_raw]
        if sorted(sell_order) != sorted(members):
            r.fail("sell_order", "must list exactly the members")
    return r.done(
        {
            "members": members,
            "sell_order": sell_order,
            "substantially_identical": r.boolean(
                "substantially_identical", r.raw.get("substantially_identical", False)
            ),
        }
    )


def _screen(raw: Any) -> dict[str, Any]:
    r = _Reader(raw)
    r.unknown({"sectors", "industries", "securities", "description"})
    content = {
        "sectors": r.texts("sectors", r.raw.get("sectors")),
        "industries": r.texts("industries", r.raw.get("industries")),
        "securities": r.texts("securities", r.raw.get("securities"), upper=True),
        "description": r.text("description", r.raw.get("description", ""), max_length=1000),
    }
    if not (content["sectors"] or content["industries"] or content["securities"]):
        r.fail("", "a screen must exclude something: sectors, industries or securities")
    return r.done(content)


LIMIT_FIELDS = (
    "max_tilt",
    "max_restrictions",
    "max_cash_target",
    "allowed_screens",
    "substitutions",
    "min_tax_sensitivity_taxable",
)


def _limits(raw: Any) -> dict[str, Any]:
    """Limits, every field optional (a strategy overrides only some of the firm's)."""
    r = _Reader(raw)
    r.unknown(set(LIMIT_FIELDS))
    out: dict[str, Any] = {}
    if "max_tilt" in r.raw:
        out["max_tilt"] = r.weight("max_tilt", r.raw["max_tilt"])
    if "max_cash_target" in r.raw:
        out["max_cash_target"] = r.weight("max_cash_target", r.raw["max_cash_target"])
    if "max_restrictions" in r.raw:
        value = r.raw["max_restrictions"]
        if isinstance(value, bool) or not isinstance(value, int) or not 0 <= value <= 1000:
            r.fail("max_restrictions", "must be a whole number from 0 to 1000")
        out["max_restrictions"] = value
    if "allowed_screens" in r.raw:
        value = r.raw["allowed_screens"]
        if value is None:
            out["allowed_screens"] = None
        elif isinstance(value, list):
            ids = [r.definition_id(f"allowed_screens[{i}]", v) for i, v in enumerate(value)]
            out["allowed_screens"] = sorted({i for i in ids if i is not None})
        else:
            r.fail("allowed_screens", "must be a list of screen ids, or null for every screen")
    if "substitutions" in r.raw:
        if r.raw["substitutions"] not in SUBSTITUTION_POLICIES:
            r.fail("substitutions", f"must be one of {', '.join(SUBSTITUTION_POLICIES)}")
        out["substitutions"] = r.raw["substitutions"]
    if "min_tax_sensitivity_taxable" in r.raw:
        if r.raw["min_tax_sensitivity_taxable"] not in TAX_SENSITIVITY_ORDER:
            r.fail(
                "min_tax_sensitivity_taxable",
                f"must be one of {', '.join(TAX_SENSITIVITY_ORDER)}",
            )
        out["min_tax_sensitivity_taxable"] = r.raw["min_tax_sensitivity_taxable"]
    return r.done(out)


_CLEANERS: dict[str, Callable[[Any], dict[str, Any]]] = {
    DefinitionKind.ALLOCATION: _allocation,
    DefinitionKind.SECURITY_MODEL: _security_model,
    DefinitionKind.STRATEGY: _strategy,
    DefinitionKind.EQUIVALENCE_SET: _equivalence_set,
    DefinitionKind.SCREEN: _screen,
    DefinitionKind.LIMITS: _limits,
}


def nul_path(raw: Any, path: str = "") -> str | None:
    """The path of the first key or text holding a NUL character (PostgreSQL refuses them in
    text and JSON), or None."""
    if isinstance(raw, str):
        return path if "\x00" in raw else None
    if isinstance(raw, Mapping):
        for key, value in raw.items():
            where = f"{path}.{key}" if path else str(key)
            if "\x00" in str(key):
                return where
            found = nul_path(value, where)
            if found is not None:
                return found
    elif isinstance(raw, list | tuple):
        for i, value in enumerate(raw):
            found = nul_path(value, f"{path}[{i}]")
            if found is not None:
                return found
    return None


def content_clean(kind: str, raw: Any) -> dict[str, Any]:
    """The canonical content of a ``kind`` definition, or :class:`ContentError`."""
    try:
        cleaner = _CLEANERS[kind]
    except KeyError:
        raise ContentError({"kind": f"unknown kind {kind!r}"}) from None
    where = nul_path(raw)
    if where is not None:
        raise ContentError({where: "contains a NUL character"})
    return cleaner(raw)

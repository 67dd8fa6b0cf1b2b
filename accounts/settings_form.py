"""The advisor's customization form: the menus of :mod:`models_hub.menus` as form fields.

:func:`menu_rows` lays out one row per choice (its input, the inherited value and its source,
its errors); :func:`menu_form_parse` turns the posted form back into menu choices for
:func:`accounts.customization.settings_save`, which checks them (limits included). A blank
input means "inherit". List choices are typed one per line:

* restrictions: ``never_buy security IBM | client works there`` (rule, security|sector|industry,
  what, then the reason after ``|``);
* substitutions: ``IVV -> VOO | client preference``;
* legacy holdings: tickers separated by spaces or commas.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from django.http import QueryDict

from accounts.resolve import ResolvedSetting
from models_hub.content import TAX_SENSITIVITY_ORDER
from models_hub.effective import ResolutionError, VersionStore, effective_strategy
from models_hub.menus import (
    BUDGET_PERIODS,
    HARVEST_STYLES,
    HARVESTING,
    ONLY_AT,
    RESTRICTION_RULES,
    TAX_BRACKETS,
    TAX_BUDGET_KINDS,
)
from models_hub.models import DefinitionKind

#: (choice, label, widget, options) in the order the form shows them.
MENU: tuple[tuple[str, str, str, tuple[str, ...]], ...] = (
    ("strategy", "Strategy", "strategy", ()),
    ("tilts", "Asset-class tilts (fraction of the account, e.g. 0.02 = 2 points)", "tilts", ()),
    (
        "restrictions",
        "Restrictions (one per line: rule security|sector|industry NAME | reason)",
        "lines",
        (),
    ),
    ("screens", "Screens", "screens", ()),
    ("substitutions", "Substitutions (one per line: HELD -> INSTEAD | reason)", "lines", ()),
    ("legacy_holdings", "Legacy holdings to keep (tickers)", "text", ()),
    ("tax_sensitivity", "Tax sensitivity", "select", TAX_SENSITIVITY_ORDER),
    ("tax_budget_kind", "Tax budget on", "select", TAX_BUDGET_KINDS),
    ("tax_budget_amount", "Tax budget (dollars)", "text", ()),
    ("tax_budget_period", "Budget period", "select", BUDGET_PERIODS),
    ("loss_harvesting", "Loss harvesting", "select", HARVESTING),
    ("harvest_style", "Harvesting style", "select", HARVEST_STYLES),
    ("tax_bracket", "Federal bracket", "select", tuple(TAX_BRACKETS)),
    ("state_rate", "State rate (fraction, e.g. 0.05)", "text", ()),
    ("carry_forward_short", "Loss carry-forward, short term (dollars)", "text", ()),
    ("carry_forward_long", "Loss carry-forward, long term (dollars)", "text", ()),
    ("outside_gains_short", "Expected outside gains, short term (dollars)", "text", ()),
    ("outside_gains_long", "Expected outside gains, long term (dollars)", "text", ()),
    ("cash_target", "Cash target (fraction, e.g. 0.02)", "text", ()),
    ("cash_flow_amount", "Withdrawal (negative) or contribution (dollars)", "text", ()),
    ("cash_flow_date", "Date of the cash flow (YYYY-MM-DD)", "date", ()),
    ("max_turnover", "Max turnover per rebalance (fraction)", "text", ()),
    ("min_trade", "Minimum trade (dollars)", "text", ()),
    ("fractional_shares", "Fractional shares", "select", ("yes", "no")),
    ("cost_schedule", "Cost schedule", "cost_schedule", ()),
    (
        "cost_schedules",
        "Cost schedules (JSON: name -> {commission_bps, spread_bps})",
        "json",
        (),
    ),
)
CHOICES = tuple(name for name, *_ in MENU)


@dataclass
class MenuRow:
    name: str
    label: str
    widget: str
    options: Sequence[Any]
    raw: str
    inherited: str = ""
    source: str = ""
    errors: list[str] = field(default_factory=list)
    #: For tilts: (index, class path, raw value, errors) per class of the allocation.
    tilts: list[tuple[int, str, str, list[str]]] = field(default_factory=list)
    selected: Sequence[str] = ()


def setting_text(value: Any) -> str:
    """A resolved value as a short text for the page."""
    if value is None:
        return "—"
    if isinstance(value, bool):
        return "yes" if value else "no"
    if isinstance(value, list):
        if not value:
            return "none"
        return "; ".join(_entry_text(v) for v in value)
    if isinstance(value, Mapping):
        if not value:
            return "none"
        return "; ".join(f"{k}: {_entry_text(v)}" for k, v in sorted(value.items()))
    return str(value)


def _entry_text(value: Any) -> str:
    if isinstance(value, Mapping):
        if "rule" in value:
            what = value.get("security") or value.get("sector") or value.get("industry")
            return f"{value['rule'].replace('_', ' ')} {what} ({value.get('reason', '')})"
        if "instead_of" in value:
            return f"{value['hold']} instead of {value['instead_of']}"
        return json.dumps(value, sort_keys=True)
    return str(value)


def content_raw(content: Mapping[str, Any]) -> dict[str, str]:
    """The form's inputs for a saved settings version (blank where the level inherits)."""
    raw: dict[str, str] = {}
    for name in CHOICES:
        if name not in content:
            continue
        value = content[name]
        if name == "restrictions":
            raw[name] = "\n".join(
                f"{r['rule']} {t} {r[t]} | {r['reason']}"
                for r in value
                for t in ("security", "sector", "industry")
                if t in r
            )
        elif name == "substitutions":
            raw[name] = "\n".join(
                f"{s['instead_of']} -> {s['hold']} | {s['reason']}" for s in value
            )
        elif name == "legacy_holdings":
            raw[name] = " ".join(value)
        elif name == "fractional_shares":
            raw[name] = "yes" if value else "no"
        elif name in ("tilts", "screens", "cost_schedules"):
            raw[name] = json.dumps(value, sort_keys=True)
        elif value is not None:
            raw[name] = str(value)
    return raw


def _lines(text: str) -> list[tuple[int, str, str]]:
    out = []
    for number, line in enumerate(text.splitlines(), start=1):
        if line.strip():
            left, _, reason = line.partition("|")
            out.append((number, left.strip(), reason.strip()))
    return out


def menu_form_parse(
    post: QueryDict, *, scope: str, tilt_paths: Sequence[str]
) -> tuple[dict[str, Any], dict[str, str], dict[str, str]]:
    """(menu choices, form errors, the raw inputs to show again) from a posted form."""
    content: dict[str, Any] = {}
    errors: dict[str, str] = {}
    raw: dict[str, str] = {}
    for name, _, widget, _ in MENU:
        if name in ONLY_AT and scope not in ONLY_AT[name]:
            continue
        text = post.get(name, "").strip()
        raw[name] = text
        if widget == "tilts":
            tilts = {}
            for i, path in enumerate(tilt_paths):
                value = post.get(f"tilt-{i}", "").strip()
                raw[f"tilt-{i}"] = value
                if value:
                    tilts[path] = value
            if tilts:
                content["tilts"] = tilts
        elif widget == "screens":
            chosen = post.getlist("screens")
            raw[name] = json.dumps(chosen)
            if any(not (c.isascii() and c.isdigit() and len(c) < 18) for c in chosen):
                errors[name] = "choose screens from the list"
            elif chosen:
                content[name] = sorted({int(c) for c in chosen})
        elif not text:
            continue
        elif name == "strategy":
            if text.isascii() and text.isdigit() and len(text) < 18:
                content[name] = int(text)
            else:
                errors[name] = "choose a strategy from the list"
        elif name == "restrictions":
            entries = []
            for number, left, reason in _lines(text):
                parts = left.split(None, 2)
                if len(parts) != 3 or parts[1] not in ("security", "sector", "industry"):
                    errors[name] = (
                        f"line {number}: write 'rule security|sector|industry NAME | reason' "
                        f"(rules: {', '.join(RESTRICTION_RULES)})"
                    )
                    break
                entries.append({"rule": parts[0], parts[1]: parts[2], "reason": reason})
            content[name] = entries
        elif name == "substitutions":
            entries = []
            for number, left, reason in _lines(text):
                held, arrow, instead = left.partition("->")
                if not arrow or not held.strip() or not instead.strip():
                    errors[name] = f"line {number}: write 'HELD -> INSTEAD | reason'"
                    break
                entries.append(
                    {
                        "instead_of": held.strip(),
                        "hold": instead.strip(),
                        "reason": reason or "client preference",
                    }
                )
            content[name] = entries
        elif name == "legacy_holdings":
            content[name] = [t for t in text.replace(",", " ").split() if t]
        elif name == "fractional_shares":
            content[name] = text == "yes"
        elif widget == "json":
            try:
                content[name] = json.loads(text)
            except json.JSONDecodeError as exc:
                errors[name] = f"not valid JSON: {exc.msg}"
        else:
            content[name] = text
    return content, errors, raw


def strategy_options(store: VersionStore) -> list[tuple[str, list[tuple[int, str]]]]:
    """Usable strategies grouped by risk profile: [(profile, [(id, name)])]."""
    groups: dict[str, list[tuple[int, str]]] = {}
    for d_id, version in sorted(store.versions.items(), key=lambda kv: kv[1].name):
        if version.kind != DefinitionKind.STRATEGY:
            continue
        try:
            profile = effective_strategy(store, d_id).risk_profile or "Other"
        except ResolutionError:
            continue
        groups.setdefault(profile, []).append((d_id, version.name))
    return sorted(groups.items())


def screen_options(store: VersionStore) -> list[tuple[int, str]]:
    return sorted(
        ((d_id, v.name) for d_id, v in store.versions.items() if v.kind == DefinitionKind.SCREEN),
        key=lambda x: x[1],
    )


def tilt_paths_of(store: VersionStore, strategy_id: int | None) -> list[str]:
    """The asset classes of the strategy's allocation (the classes a tilt may move)."""
    if strategy_id is None:
        return []
    try:
        return [e.key for e in effective_strategy(store, strategy_id).allocation.entries]
    except ResolutionError:
        return []


def _base(key: str) -> str:
    return key.split("[", 1)[0].split(".", 1)[0]


def menu_rows(
    *,
    scope: str,
    raw: Mapping[str, str],
    inherited: Iterable[ResolvedSetting],
    errors: Mapping[str, str],
    tilt_paths: Sequence[str],
    strategies: Any,
    screens: Any,
) -> tuple[list[MenuRow], dict[str, str]]:
    """The form's rows, and the errors that belong to no row (shown above the form)."""
    by_name = {s.name: s for s in inherited}
    placed: set[str] = set()
    rows = []
    current_tilts: dict[str, str] = {}
    if raw.get("tilts", "").startswith("{"):
        current_tilts = json.loads(raw["tilts"])
    for name, label, widget, options in MENU:
        if name in ONLY_AT and scope not in ONLY_AT[name]:
            continue
        setting = by_name.get(name)
        row = MenuRow(
            name=name,
            label=label,
            widget=widget,
            options=options,
            raw=raw.get(name, ""),
            inherited=setting_text(setting.value) if setting else "",
            source=setting.source if setting else "",
        )
        if widget == "strategy":
            row.options = strategies
        elif widget == "screens":
            row.options = screens
            row.selected = [str(s) for s in json.loads(row.raw or "[]")]
        elif widget == "cost_schedule":
            schedules = by_name.get("cost_schedules")
            row.options = tuple(sorted(schedules.value)) if schedules else ()
        for key, message in errors.items():
            if _base(key) == name and not key.startswith("tilts["):
                row.errors.append(message)
                placed.add(key)
        if widget == "tilts":
            for i, path in enumerate(tilt_paths):
                value = raw.get(f"tilt-{i}", current_tilts.get(path, ""))
                tilt_errors = [m for k, m in errors.items() if k == f"tilts[{path}]"]
                placed |= {f"tilts[{path}]"} if tilt_errors else set()
                row.tilts.append((i, path, value, tilt_errors))
            for key, message in errors.items():
                if key.startswith("tilts[") and key not in placed:
                    row.errors.append(message)
                    placed.add(key)
        rows.append(row)
    loose = {k: v for k, v in errors.items() if k not in placed}
    return rows, loose

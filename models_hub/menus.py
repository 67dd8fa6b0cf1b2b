"""The advisor's menus: every customization choice, its allowed values and its built-in default.

A settings version (firm default, strategy, household, account) stores only the choices made at
its level; :func:`menu_clean` checks them and returns the canonical form. What each choice means
to the optimizer is in :mod:`accounts.translation` (the one translation table) and
``docs/customization.md``. Limits that depend on the account (tilt size, restriction count, cash
target) are checked by :mod:`accounts.customization`, which knows the account's strategy.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping
from decimal import Decimal, InvalidOperation
from typing import Any

from models_hub.content import (
    TAX_SENSITIVITY_ORDER,
    WEIGHT_PLACES,
    ContentError,
    decimal_text,
    nul_path,
)

SCOPES = ("firm", "strategy", "household", "account")
RESTRICTION_RULES = ("never_buy", "never_sell", "do_not_trade")
TAX_BUDGET_KINDS = ("none", "gains", "tax")
BUDGET_PERIODS = ("annual", "quarterly", "monthly")
HARVESTING = ("off", "normal", "aggressive")
HARVEST_STYLES = ("maximize", "offset_gains")
#: Named brackets: (federal short-term, federal long-term) marginal rates incl. the 3.8 % NIIT
#: where it applies (2026 schedules, rounded).
TAX_BRACKETS: dict[str, tuple[str, str]] = {
    "top": ("0.408", "0.238"),
    "high": ("0.388", "0.238"),
    "upper_middle": ("0.32", "0.15"),
    "middle": ("0.24", "0.15"),
    "low": ("0.12", "0"),
}

#: Every choice with its built-in default (the bottom layer, source "built-in default").
DEFAULTS: dict[str, Any] = {
    "tilts": {},
    "restrictions": [],
    "screens": [],
    "substitutions": [],
    "legacy_holdings": [],
    "tax_sensitivity": "sensitive",
    "tax_budget_kind": "none",
    "tax_budget_amount": "0",
    "tax_budget_period": "annual",
    "loss_harvesting": "normal",
    "harvest_style": "maximize",
    "tax_bracket": "high",
    "state_rate": "0.05",
    "carry_forward_short": "0",
    "carry_forward_long": "0",
    "outside_gains_short": "0",
    "outside_gains_long": "0",
    "cash_target": "0.01",
    "cash_flow_amount": "0",
    "cash_flow_date": None,
    "max_turnover": None,
    "min_trade": "50",
    "fractional_shares": False,
    "cost_schedule": "standard",
    "cost_schedules": {"standard": {"commission_bps": "0", "spread_bps": "5"}},
}

#: Choices allowed only at some levels; the rest are allowed everywhere.
ONLY_AT: dict[str, tuple[str, ...]] = {
    "strategy": ("account",),
    "cost_schedules": ("firm",),
}
#: List choices whose entries add up over the levels (firm + strategy + household + account)
#: instead of the nearest level replacing the rest.
ADDITIVE = frozenset({"restrictions", "screens", "substitutions", "legacy_holdings"})

_MONEY_MAX = Decimal("1e12")


def _decimal(
    errors: dict[str, str], key: str, value: Any, low: Decimal, high: Decimal, places: int
) -> str | None:
    if isinstance(value, bool) or not isinstance(value, str | int | float):
        errors[key] = "must be a number given as text"
        return None
    try:
        number = Decimal(str(value))
    except InvalidOperation:
        errors[key] = f"{value!r} is not a number"
        return None
    if not number.is_finite() or number < low or number > high:
        errors[key] = f"must be between {decimal_text(low)} and {decimal_text(high)}"
        return None
    if number != number.quantize(Decimal(1).scaleb(-places)):
        errors[key] = f"at most {places} decimal places"
        return None
    return decimal_text(number)


def _choice(errors: dict[str, str], key: str, value: Any, allowed: tuple[str, ...]) -> str:
    if value not in allowed:
        errors[key] = f"must be one of {', '.join(allowed)}"
        return ""
    return str(value)


def _ticker(errors: dict[str, str], key: str, value: Any) -> str:
    if not isinstance(value, str) or not value.strip() or len(value.strip()) > 16:
        errors[key] = "must be a ticker"
        return ""
    return value.strip().upper()


def _reason(errors: dict[str, str], key: str, value: Any) -> str:
    if not isinstance(value, str) or not value.strip():
        errors[key] = "give a reason"
        return ""
    if len(value) > 500 or "\x00" in value:
        errors[key] = "at most 500 characters of text"
        return ""
    return value.strip()


def _restrictions(errors: dict[str, str], value: Any) -> list[dict[str, str]]:
    if not isinstance(value, list):
        errors["restrictions"] = "must be a list"
        return []
    out: list[dict[str, str]] = []
    for i, item in enumerate(value):
        key = f"restrictions[{i}]"
        if not isinstance(item, Mapping):
            errors[key] = "must be an object {rule, security|sector|industry, reason}"
            continue
        targets = [t for t in ("security", "sector", "industry") if item.get(t)]
        if len(targets) != 1:
            errors[key] = "name exactly one of security, sector or industry"
            continue
        extra = sorted(set(item) - {"rule", "security", "sector", "industry", "reason"})
        if extra:
            errors[key] = f"unknown field {extra[0]!r}"
            continue
        target = targets[0]
        what = (
            _ticker(errors, f"{key}.security", item["security"])
            if target == "security"
            else str(item[target]).strip()
        )
        entry = {
            "rule": _choice(errors, f"{key}.rule", item.get("rule"), RESTRICTION_RULES),
            target: what,
            "reason": _reason(errors, f"{key}.reason", item.get("reason")),
        }
        if any(e.get(target) == what and e["rule"] == entry["rule"] for e in out):
            errors[key] = f"{entry['rule']} {what} is listed twice"
        out.append(entry)
    return sorted(out, key=lambda e: (e["rule"], sorted(e.items())))


def _substitutions(errors: dict[str, str], value: Any) -> list[dict[str, str]]:
    if not isinstance(value, list):
        errors["substitutions"] = "must be a list"
        return []
    out: list[dict[str, str]] = []
    for i, item in enumerate(value):
        key = f"substitutions[{i}]"
        if not isinstance(item, Mapping) or set(item) - {"instead_of", "hold", "reason"}:
            errors[key] = "must be an object {instead_of, hold, reason}"
            continue
        entry = {
            "instead_of": _ticker(errors, f"{key}.instead_of", item.get("instead_of")),
            "hold": _ticker(errors, f"{key}.hold", item.get("hold")),
            "reason": _reason(errors, f"{key}.reason", item.get("reason", "client preference")),
        }
        if entry["instead_of"] and entry["instead_of"] == entry["hold"]:
            errors[key] = "substitutes a security for itself"
        if any(e["instead_of"] == entry["instead_of"] for e in out):
            errors[key] = f"{entry['instead_of']} is substituted twice"
        out.append(entry)
    return sorted(out, key=lambda e: e["instead_of"])


def _cost_schedules(errors: dict[str, str], value: Any) -> dict[str, dict[str, str]]:
    if not isinstance(value, Mapping) or not value:
        errors["cost_schedules"] = "must be an object: name -> {commission_bps, spread_bps}"
        return {}
    out: dict[str, dict[str, str]] = {}
    for name, schedule in sorted(value.items()):
        key = f"cost_schedules[{name}]"
        if not isinstance(schedule, Mapping) or set(schedule) != {"commission_bps", "spread_bps"}:
            errors[key] = "must be {commission_bps, spread_bps}"
            continue
        c = _decimal(
            errors, f"{key}.commission_bps", schedule["commission_bps"], Decimal(0), Decimal(500), 4
        )
        s = _decimal(
            errors, f"{key}.spread_bps", schedule["spread_bps"], Decimal(0), Decimal(500), 4
        )
        if c is not None and s is not None:
            out[str(name)] = {"commission_bps": c, "spread_bps": s}
    return out


def menu_clean(raw: Any, *, scope: str) -> dict[str, Any]:
    """The canonical menu choices of one level, or :class:`ContentError` naming each bad one."""
    if scope not in SCOPES:
        raise ContentError({"scope": f"must be one of {', '.join(SCOPES)}"})
    if not isinstance(raw, Mapping):
        raise ContentError({"": "settings must be a JSON object of menu choices"})
    where = nul_path(raw)
    if where is not None:
        raise ContentError({where: "contains a NUL character"})
    errors: dict[str, str] = {}
    out: dict[str, Any] = {}
    allowed = set(DEFAULTS) | {"strategy"}
    for key in sorted(raw):
        value = raw[key]
        if key not in allowed:
            errors[key] = "unknown choice (docs/customization.md lists them)"
            continue
        if key in ONLY_AT and scope not in ONLY_AT[key]:
            errors[key] = f"can be chosen only for: {', '.join(ONLY_AT[key])}"
            continue
        if key == "strategy":
            if isinstance(value, bool) or not isinstance(value, int) or value < 1:
                errors[key] = "must be a strategy id"
            out[key] = value
        elif key == "tilts":
            tilts: dict[str, str] = {}
            if not isinstance(value, Mapping):
                errors[key] = "must be an object: asset-class path -> points (e.g. '0.02')"
            else:
                for path, tilt in sorted(value.items()):
                    t = _decimal(
                        errors, f"tilts[{path}]", tilt, Decimal(-1), Decimal(1), WEIGHT_PLACES
                    )
                    if t is not None and t != "0":
                        tilts[str(path)] = t
            out[key] = tilts
        elif key == "restrictions":
            out[key] = _restrictions(errors, value)
        elif key == "screens":
            if not isinstance(value, list) or any(
                isinstance(v, bool) or not isinstance(v, int) or v < 1 for v in value
            ):
                errors[key] = "must be a list of screen ids"
            else:
                out[key] = sorted(set(value))
        elif key == "substitutions":
            out[key] = _substitutions(errors, value)
        elif key == "legacy_holdings":
            if not isinstance(value, list):
                errors[key] = "must be a list of tickers"
            else:
                out[key] = sorted({_ticker(errors, f"{key}[{i}]", v) for i, v in enumerate(value)})
        elif key == "tax_sensitivity":
            out[key] = _choice(errors, key, value, TAX_SENSITIVITY_ORDER)
        elif key == "tax_budget_kind":
            out[key] = _choice(errors, key, value, TAX_BUDGET_KINDS)
        elif key == "tax_budget_period":
            out[key] = _choice(errors, key, value, BUDGET_PERIODS)
        elif key == "loss_harvesting":
            out[key] = _choice(errors, key, value, HARVESTING)
        elif key == "harvest_style":
            out[key] = _choice(errors, key, value, HARVEST_STYLES)
        elif key == "tax_bracket":
            out[key] = _choice(errors, key, value, tuple(TAX_BRACKETS))
        elif key == "state_rate":
            out[key] = _decimal(errors, key, value, Decimal(0), Decimal("0.15"), 4)
        elif key in (
            "tax_budget_amount",
            "carry_forward_short",
            "carry_forward_long",
            "outside_gains_short",
            "outside_gains_long",
            "min_trade",
        ):
            low = -_MONEY_MAX if key.startswith("outside_gains") else Decimal(0)
            out[key] = _decimal(errors, key, value, low, _MONEY_MAX, 2)
        elif key == "cash_flow_amount":
            out[key] = _decimal(errors, key, value, -_MONEY_MAX, _MONEY_MAX, 2)
        elif key == "cash_flow_date":
            if value is None:
                out[key] = None
            else:
                try:
                    out[key] = dt.date.fromisoformat(str(value)).isoformat()
                except ValueError:
                    errors[key] = "must be a date, YYYY-MM-DD"
        elif key == "cash_target":
            out[key] = _decimal(errors, key, value, Decimal(0), Decimal(1), 4)
        elif key == "max_turnover":
            out[key] = (
                None
                if value is None
                else _decimal(errors, key, value, Decimal("0.001"), Decimal(2), 4)
            )
        elif key == "fractional_shares":
            if not isinstance(value, bool):
                errors[key] = "must be true or false"
            out[key] = bool(value)
        elif key == "cost_schedule":
            if not isinstance(value, str) or not value.strip():
                errors[key] = "must name a cost schedule"
            out[key] = str(value).strip()
        elif key == "cost_schedules":
            out[key] = _cost_schedules(errors, value)
    if errors:
        raise ContentError(errors)
    return out

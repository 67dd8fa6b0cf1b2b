"""One effective target and one set of optimizer settings per account, with provenance.

:func:`resolve_accounts` is the only thing the nightly batch reads about what an account should
hold and how it may be traded. For each account it returns a frozen, hashable
:class:`ResolvedAccount`:

* **targets**: security -> weight of the account, the strategy's allocation (with the account's
  tilts) times each class's security model, after substitutions, screens and never-buy
  restrictions (their weight goes pro rata to the rest of the class's model), scaled so that the
  cash target stays in cash;
* **restrictions** as ticker sets (sector and industry rules expanded over the security master),
  legacy holdings to keep, the equivalence sets;
* **settings**: every menu choice with its value and source (built-in default, firm default,
  strategy, household, account), and **knobs**: the optimizer inputs from
  :mod:`accounts.translation`;
* ``digest``: sha256 over all of it, the same bytes for the same inputs.

History: everything is read as of a moment (a date means the end of that day, UTC): the newest
settings versions and definition versions created by then. Today's rows never leak into a
resolution of the past.

Queries: a fixed number per call (definitions, securities, classes, firm defaults) plus three per
batch of :data:`BATCH` accounts, whatever the number of securities or versions.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import json
from collections import defaultdict
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any

from accounts.models import Account, SettingsScope, SettingsVersion
from accounts.translation import Knob, translate
from models_hub.content import canonical_json
from models_hub.effective import (
    EffectiveStrategy,
    EffectiveWeights,
    ResolutionError,
    StoredVersion,
    VersionStore,
    effective_strategy,
)
from models_hub.menus import ADDITIVE, DEFAULTS
from models_hub.models import AssetClass, DefinitionKind, Security, SecurityStatus
from models_hub.program_selectors import as_of_moment, version_store_load
from models_hub.program_services import FIRM_LIMITS_NAME
from rebalancer.bulk import chunked

BATCH = 1000

#: The menu choices :func:`accounts.translation.translate` reads (a test keeps this list true):
#: the key of the knobs shared by accounts choosing alike.
TRANSLATED_CHOICES = frozenset(
    {
        "tax_sensitivity",
        "loss_harvesting",
        "harvest_style",
        "tax_bracket",
        "state_rate",
        "tax_budget_kind",
        "tax_budget_amount",
        "tax_budget_period",
        "carry_forward_short",
        "carry_forward_long",
        "outside_gains_short",
        "outside_gains_long",
        "cash_target",
        "cash_flow_amount",
        "cash_flow_date",
        "max_turnover",
        "min_trade",
        "fractional_shares",
        "cost_schedule",
        "cost_schedules",
    }
)

STATUS_OK = "ok"
STATUS_NO_STRATEGY = "no_strategy"
STATUS_INVALID = "invalid"

#: Limits that apply when neither the firm nor the strategy sets them.
BUILT_IN_LIMITS: dict[str, Any] = {
    "max_tilt": "0.05",
    "max_restrictions": 10,
    "max_cash_target": "0.1",
    "allowed_screens": None,
    "substitutions": "same_asset_class",
    "min_tax_sensitivity_taxable": "moderate",
}


@dataclass(frozen=True)
class TargetWeight:
    ticker: str
    security_id: int
    weight: float
    asset_class: str
    source: str


@dataclass(frozen=True)
class ClassBand:
    """An asset class's target in the account and its tolerance band (fractions of the account)."""

    asset_class: str
    target: float
    lower: float
    upper: float
    source: str


@dataclass(frozen=True)
class Restriction:
    rule: str  # never_buy / never_sell / do_not_trade / screen
    what: str  # "security AAPL", "sector Energy", "screen 'Fossil fuels'"
    reason: str
    source: str


@dataclass(frozen=True)
class Equivalence:
    name: str
    members: tuple[str, ...]  # buy preference, primary first
    sell_order: tuple[str, ...]
    substantially_identical: bool


@dataclass(frozen=True)
class ResolvedSetting:
    name: str
    value_json: str
    source: str

    @property
    def value(self) -> Any:
        return json.loads(self.value_json)


@dataclass(frozen=True)
class ResolvedAccount:
    account_id: int
    as_of: str
    status: str
    problems: tuple[str, ...]
    strategy_id: int | None
    strategy: str
    targets: tuple[TargetWeight, ...]
    cash_target: float
    bands: tuple[ClassBand, ...]
    never_buy: tuple[str, ...]
    never_sell: tuple[str, ...]
    do_not_trade: tuple[str, ...]
    keep: tuple[str, ...]
    restrictions: tuple[Restriction, ...]
    equivalence: tuple[Equivalence, ...]
    settings: tuple[ResolvedSetting, ...]
    knobs: tuple[Knob, ...]
    limits: tuple[ResolvedSetting, ...]
    digest: str
    #: A sleeve of the strategy is a direct-index model (its ``index`` is set): the account is
    #: run against the factor risk model rather than plain weight drift.
    risk_model: bool = False

    def setting(self, name: str) -> ResolvedSetting:
        for s in self.settings:
            if s.name == name:
                return s
        raise KeyError(name)

    def knob(self, field_name: str) -> Knob:
        for k in self.knobs:
            if k.field == field_name:
                return k
        raise KeyError(field_name)

    @property
    def target_total(self) -> float:
        return sum(t.weight for t in self.targets)


@dataclass(frozen=True)
class _SecurityInfo:
    id: int
    sector: str
    industry: str
    asset_class: str
    active: bool


@dataclass
class _Context:
    """What one call loads once and every account shares."""

    firm_id: int
    moment: dt.datetime
    store: VersionStore
    securities: dict[str, _SecurityInfo]
    by_sector: dict[str, tuple[str, ...]]
    by_industry: dict[str, tuple[str, ...]]
    cash_classes: frozenset[str]
    firm_layer: tuple[Mapping[str, Any], str]
    limits_layer: tuple[Mapping[str, Any], str]
    equivalence: tuple[Equivalence, ...]
    screens: dict[int, tuple[str, Mapping[str, Any]]]  # id -> (label, content)
    memo: dict[Any, Any] = field(default_factory=dict)
    row_json: dict[ResolvedSetting, str] = field(default_factory=dict)


def _layer_label(scope: str, number: int) -> str:
    return {"firm": "firm default", "household": "household", "account": "account"}[scope] + (
        f" v{number}"
    )


def _context(firm_id: int, moment: dt.datetime, draft: StoredVersion | None = None) -> _Context:
    store = version_store_load(firm_id, moment)
    if draft is not None:  # a what-if: the draft stands in for its definition's version
        store.versions[draft.definition_id] = draft
    classes = {a.path: a for a in AssetClass.objects.for_firm(firm_id)}
    securities: dict[str, _SecurityInfo] = {}
    by_sector: dict[str, list[str]] = defaultdict(list)
    by_industry: dict[str, list[str]] = defaultdict(list)
    rows = (
        Security.objects.for_firm(firm_id)
        .values_list("id", "ticker", "sector", "industry", "asset_class__path", "status")
        .order_by("ticker")
    )
    for sid, ticker, sector, industry, path, status in rows:
        securities[ticker] = _SecurityInfo(
            sid, sector, industry, path or "", status == SecurityStatus.ACTIVE
        )
        if sector:
            by_sector[sector].append(ticker)
        if industry:
            by_industry[industry].append(ticker)
    firm_version = (
        SettingsVersion.objects.filter(
            firm_id=firm_id, scope=SettingsScope.FIRM, created_at__lte=moment
        )
        .order_by("-number")
        .values_list("content", "number")
        .first()
    )
    firm_layer: tuple[Mapping[str, Any], str] = (
        (firm_version[0], _layer_label("firm", firm_version[1])) if firm_version else ({}, "")
    )
    limits_layer: tuple[Mapping[str, Any], str] = ({}, "")
    equivalence: list[Equivalence] = []
    screens: dict[int, tuple[str, Mapping[str, Any]]] = {}
    for d_id in sorted(store.versions):
        v = store.versions[d_id]
        if v.kind == DefinitionKind.LIMITS and v.firm_id == firm_id and v.name == FIRM_LIMITS_NAME:
            limits_layer = (v.content, f"firm limits v{v.number}")
        elif v.kind == DefinitionKind.EQUIVALENCE_SET and v.firm_id == firm_id:
            c = v.content
            equivalence.append(
                Equivalence(
                    v.name,
                    tuple(c["members"]),
                    tuple(c["sell_order"]),
                    bool(c["substantially_identical"]),
                )
            )
        elif v.kind == DefinitionKind.SCREEN:
            screens[d_id] = (f"screen '{v.name}'", v.content)
    return _Context(
        firm_id=firm_id,
        moment=moment,
        store=store,
        securities=securities,
        by_sector={k: tuple(v) for k, v in by_sector.items()},
        by_industry={k: tuple(v) for k, v in by_industry.items()},
        cash_classes=frozenset(p for p, a in classes.items() if a.is_cash),
        firm_layer=firm_layer,
        limits_layer=limits_layer,
        equivalence=tuple(sorted(equivalence, key=lambda e: e.name)),
        screens=screens,
    )


def _newest_versions(
    rows: Iterable[tuple[int, int, Any, str]],
) -> dict[int, tuple[Mapping[str, Any], str]]:
    newest: dict[int, tuple[int, Mapping[str, Any], str]] = {}
    for owner, number, content, scope in rows:
        if owner not in newest or number > newest[owner][0]:
            newest[owner] = (number, content, _layer_label(scope, number))
    return {owner: (content, label) for owner, (_, content, label) in newest.items()}


def resolve_accounts(
    firm_id: int, account_ids: Iterable[int], as_of: dt.date | dt.datetime | None = None
) -> dict[int, ResolvedAccount]:
    """Resolve each account of ``firm_id`` in ``account_ids`` as of ``as_of`` (None: now).

    Accounts of another firm are not returned. System code: callers authorize (the nightly run
    acts for the firm; pages resolve only accounts the user can see).
    """
    return _resolve(firm_id, account_ids, as_of_moment(as_of), overrides={})


#: A proposed settings layer, by (scope, owner id): what an edit would save, for checking it.
Overrides = Mapping[tuple[str, int], Mapping[str, Any]]


def resolve_proposed(
    firm_id: int, account_ids: Iterable[int], overrides: Overrides
) -> dict[int, ResolvedAccount]:
    """Resolve now as if the ``overrides`` layers were saved (the edit checks use this)."""
    return _resolve(firm_id, account_ids, as_of_moment(None), overrides=overrides)


def resolve_accounts_with_draft(
    firm_id: int,
    account_ids: Iterable[int],
    as_of: dt.date | dt.datetime | None,
    draft: StoredVersion,
) -> dict[int, ResolvedAccount]:
    """Resolve as of ``as_of`` as if ``draft`` were its definition's version (what-if runs)."""
    return _resolve(firm_id, account_ids, as_of_moment(as_of), overrides={}, draft=draft)


def _resolve(
    firm_id: int,
    account_ids: Iterable[int],
    moment: dt.datetime,
    *,
    overrides: Overrides,
    draft: StoredVersion | None = None,
) -> dict[int, ResolvedAccount]:
    ctx = _context(firm_id, moment, draft)
    if ("firm", firm_id) in overrides:
        ctx.firm_layer = (overrides[("firm", firm_id)], "firm default (proposed)")
    out: dict[int, ResolvedAccount] = {}
    ids = sorted(set(account_ids))
    for chunk in chunked(ids, BATCH):
        accounts = list(
            Account.objects.filter(firm_id=firm_id, pk__in=chunk)
            .values_list(
                "id", "household_id", "registration_type", "cash_balance", "securities_value"
            )
            .order_by("id")
        )
        account_layers = _newest_versions(
            SettingsVersion.objects.filter(
                firm_id=firm_id,
                scope=SettingsScope.ACCOUNT,
                account_id__in=chunk,
                created_at__lte=moment,
            ).values_list("account_id", "number", "content", "scope")
        )
        households = sorted({a[1] for a in accounts})
        household_layers = _newest_versions(
            SettingsVersion.objects.filter(
                firm_id=firm_id,
                scope=SettingsScope.HOUSEHOLD,
                household_id__in=households,
                created_at__lte=moment,
            ).values_list("household_id", "number", "content", "scope")
        )
        for account_id, household_id, registration, cash, securities_value in accounts:
            out[account_id] = _resolve_one(
                ctx,
                account_id=account_id,
                registration=registration,
                value=cash + securities_value,
                household_layer=(
                    (overrides[("household", household_id)], "household (proposed)")
                    if ("household", household_id) in overrides
                    else household_layers.get(household_id, ({}, ""))
                ),
                account_layer=(
                    (overrides[("account", account_id)], "account (proposed)")
                    if ("account", account_id) in overrides
                    else account_layers.get(account_id, ({}, ""))
                ),
            )
    return out


def _merged(
    layers: Sequence[tuple[Mapping[str, Any], str]],
) -> dict[str, tuple[Any, str]]:
    """Menu choices over the layers (lowest first), each with its source."""
    merged: dict[str, tuple[Any, str]] = {k: (v, "built-in default") for k, v in DEFAULTS.items()}
    for content, label in layers:
        for key, value in content.items():
            if key in ADDITIVE and key in merged and merged[key][1] != "built-in default":
                prior, prior_source = merged[key]
                combined = sorted(
                    {
                        canonical_json(x) if isinstance(x, dict) else json.dumps(x): x
                        for x in [*prior, *value]
                    }.items()
                )
                merged[key] = ([x for _, x in combined], f"{prior_source} + {label}")
            else:
                merged[key] = (value, label)
    return merged


def _resolve_one(
    ctx: _Context,
    *,
    account_id: int,
    registration: str,
    value: Decimal,
    household_layer: tuple[Mapping[str, Any], str],
    account_layer: tuple[Mapping[str, Any], str],
) -> ResolvedAccount:
    problems: list[str] = []
    strategy_id = account_layer[0].get("strategy")
    strategy: EffectiveStrategy | None = None
    if strategy_id is not None:
        try:
            strategy = ctx.memo.get(("strategy", strategy_id)) or effective_strategy(
                ctx.store, int(strategy_id)
            )
            ctx.memo[("strategy", strategy_id)] = strategy
        except ResolutionError as exc:
            problems.append(f"strategy {strategy_id}: {exc}")
    strategy_layer: tuple[Mapping[str, Any], str] = ({}, "")
    if strategy is not None:
        strategy_layer = (
            {k: s.value for k, s in strategy.settings.items()},
            f"strategy '{strategy.name}' v{strategy.version}",
        )
    choices = _merged([ctx.firm_layer, strategy_layer, household_layer, account_layer])
    limits: dict[str, tuple[Any, str]] = {
        k: (v, "built-in limit") for k, v in BUILT_IN_LIMITS.items()
    }
    for key, v in ctx.limits_layer[0].items():
        limits[key] = (v, ctx.limits_layer[1])
    if strategy is not None:
        for key, s in strategy.limits.items():
            limits[key] = (s.value, s.source)

    restrictions, never_buy, never_sell, do_not_trade = _restrictions(ctx, choices)
    keep = tuple(sorted(choices["legacy_holdings"][0]))
    never_sell = tuple(sorted({*never_sell, *keep}))
    as_of_date = ctx.moment.date()
    targets: tuple[TargetWeight, ...] = ()
    bands: tuple[ClassBand, ...] = ()
    cash_target = float(Decimal(choices["cash_target"][0]))
    target_digest = ""
    if strategy is None and not problems:
        status = STATUS_NO_STRATEGY
        problems.append("no strategy chosen")
    elif strategy is None:
        status = STATUS_INVALID
    else:
        # The targets read never-buy only through the strategy's securities (and substitutes):
        # restrictions of other securities share one computation.
        relevant = _strategy_tickers(ctx, strategy)
        subs = choices["substitutions"][0]
        memo_key = (
            "targets",
            strategy.definition_id,
            canonical_json(choices["tilts"][0]) if choices["tilts"][0] else "{}",
            tuple(choices["screens"][0]),
            canonical_json({"s": subs}) if subs else "",
            tuple(
                t
                for t in never_buy
                if t in relevant or (subs and any(t == s["hold"] for s in subs))
            ),
            choices["cash_target"][0],
        )
        built = ctx.memo.get(memo_key)
        if built is None:
            built = _targets(ctx, strategy, choices, never_buy)
            ctx.memo[memo_key] = built
        targets, bands, cash_target, target_problems, target_digest = built
        problems.extend(target_problems)
        status = STATUS_INVALID if target_problems else STATUS_OK
    # Values from the shared layers (built-in, firm default, the strategy) are the same objects
    # for every account: their rows are made once per call.
    strategy_key = None if strategy is None else strategy.definition_id
    shared = {"built-in default": None, ctx.firm_layer[1]: None, strategy_layer[1]: strategy_key}
    settings = tuple(_setting(ctx, k, v, src, shared) for k, (v, src) in sorted(choices.items()))
    limits_key = ("limits", strategy_key)
    limit_rows = ctx.memo.get(limits_key)
    if limit_rows is None:
        limit_rows = tuple(
            ResolvedSetting(k, canonical_json({"v": v})[5:-1], src)
            for k, (v, src) in sorted(limits.items())
        )
        ctx.memo[limits_key] = limit_rows
    # The knobs are a function of the choices translate reads (their values and sources, in
    # ``settings``), the registration and the date: accounts choosing alike share them.
    knobs_key = (
        "knobs",
        registration,
        tuple(row for row in settings if row.name in TRANSLATED_CHOICES),
    )
    knobs_built = ctx.memo.get(knobs_key)
    if knobs_built is None:
        knobs = translate(
            choices, registration_type=registration, as_of=as_of_date, account_value=value
        )
        knobs_built = (knobs, [[k.field, repr(k.value)] for k in knobs])
        ctx.memo[knobs_key] = knobs_built
    knobs, knob_rows = knobs_built
    bought_never = tuple(sorted({*never_buy, *(s for s, _ in _subs(choices))}))
    equivalence = ctx.equivalence
    # The canonical JSON of the digest's fields (keys sorted), assembled from pieces: the shared
    # ones (equivalence, knobs, settings rows) are encoded once per call.
    row_json = ctx.row_json
    setting_parts = []
    for row in settings:
        part = row_json.get(row)
        if part is None:
            part = _encode([row.name, row.value_json, row.source])
            row_json[row] = part
        setting_parts.append(part)
    knobs_json = ctx.memo.get(("knobs_json", knobs_key))
    if knobs_json is None:
        knobs_json = _encode(knob_rows)
        ctx.memo[("knobs_json", knobs_key)] = knobs_json
    equivalence_json = ctx.memo.get("equivalence_json")
    if equivalence_json is None:
        equivalence_json = _encode(
            [[e.name, e.members, e.sell_order, e.substantially_identical] for e in equivalence]
        )
        ctx.memo["equivalence_json"] = equivalence_json
    strategy_json = _encode(
        None if strategy is None else [strategy.definition_id, strategy.version]
    )
    digest_source = (
        f'{{"account":{_encode(account_id)},"cash":{_encode(repr(cash_target))},'
        f'"do_not_trade":{_encode(do_not_trade)},"equivalence":{equivalence_json},'
        f'"keep":{_encode(keep)},"knobs":{knobs_json},"never_buy":{_encode(bought_never)},'
        f'"never_sell":{_encode(never_sell)},"problems":{_encode(problems)},'
        f'"settings":[{",".join(setting_parts)}],"status":{_encode(status)},'
        f'"strategy":{strategy_json},'
        f'"targets":{_encode(target_digest)}}}'
    )
    return ResolvedAccount(
        account_id=account_id,
        as_of=ctx.moment.isoformat(),
        status=status,
        problems=tuple(problems),
        strategy_id=None if strategy is None else strategy.definition_id,
        strategy="" if strategy is None else strategy.name,
        targets=targets,
        cash_target=cash_target,
        bands=bands,
        never_buy=bought_never,
        never_sell=never_sell,
        do_not_trade=do_not_trade,
        keep=keep,
        restrictions=restrictions,
        equivalence=equivalence,
        settings=settings,
        knobs=knobs,
        limits=limit_rows,
        digest=hashlib.sha256(digest_source.encode()).hexdigest(),
        risk_model=strategy is not None and any(m.index for _, m, _ in strategy.sleeves),
    )


_SCALARS = (str, int, float, bool, type(None))
#: ``canonical_json`` of one value (the same encoder settings, made once).
_encode = json.JSONEncoder(sort_keys=True, separators=(",", ":"), ensure_ascii=False).encode


def _setting(
    ctx: _Context, name: str, value: Any, source: str, shared: Mapping[str, int | None]
) -> ResolvedSetting:
    """One resolved choice; rows of scalar values and of the shared layers' values are made
    once per call (a shared layer's value is one object per (choice, source, strategy))."""
    if isinstance(value, _SCALARS):
        key: tuple[Any, ...] = ("setting", name, type(value), value, source)
    elif source in shared:
        key = ("shared_setting", name, source, shared[source])
    else:
        return ResolvedSetting(name, canonical_json({"v": value})[5:-1], source)
    row = ctx.memo.get(key)
    if row is None:
        row = ResolvedSetting(name, canonical_json({"v": value})[5:-1], source)
        ctx.memo[key] = row
    return row


def _strategy_tickers(ctx: _Context, strategy: EffectiveStrategy) -> frozenset[str]:
    """Every security of the strategy's security models."""
    key = ("tickers", strategy.definition_id)
    tickers = ctx.memo.get(key)
    if tickers is None:
        tickers = frozenset(e.key for _, model, _ in strategy.sleeves for e in model.entries)
        ctx.memo[key] = tickers
    return tickers


def _subs(choices: Mapping[str, tuple[Any, str]]) -> list[tuple[str, str]]:
    return [(s["instead_of"], s["hold"]) for s in choices["substitutions"][0]]


def _restrictions(
    ctx: _Context, choices: Mapping[str, tuple[Any, str]]
) -> tuple[tuple[Restriction, ...], tuple[str, ...], tuple[str, ...], tuple[str, ...]]:
    rows: list[Restriction] = []
    sets: dict[str, set[str]] = {"never_buy": set(), "never_sell": set(), "do_not_trade": set()}
    entries, source = choices["restrictions"]
    for entry in entries:
        rule = entry["rule"]
        if "security" in entry:
            tickers: Iterable[str] = (entry["security"],)
            what = f"security {entry['security']}"
        elif "sector" in entry:
            tickers = ctx.by_sector.get(entry["sector"], ())
            what = f"sector {entry['sector']}"
        else:
            tickers = ctx.by_industry.get(entry["industry"], ())
            what = f"industry {entry['industry']}"
        sets[rule].update(tickers)
        rows.append(Restriction(rule, what, entry["reason"], source))
    screen_ids, screen_source = choices["screens"]
    for screen_id in screen_ids:
        label, content = ctx.screens.get(int(screen_id), (f"screen {screen_id}", None))
        if content is None:
            rows.append(Restriction("screen", label, "screen not found then", screen_source))
            continue
        sets["never_buy"].update(_screened(ctx, content))
        rows.append(Restriction("screen", label, content.get("description", ""), screen_source))
    return (
        tuple(sorted(rows, key=lambda r: (r.rule, r.what))),
        tuple(sorted(sets["never_buy"] | sets["do_not_trade"])),
        tuple(sorted(sets["never_sell"] | sets["do_not_trade"])),
        tuple(sorted(sets["do_not_trade"])),
    )


def _screened(ctx: _Context, content: Mapping[str, Any]) -> set[str]:
    out = set(content.get("securities", ()))
    for sector in content.get("sectors", ()):
        out.update(ctx.by_sector.get(sector, ()))
    for industry in content.get("industries", ()):
        out.update(ctx.by_industry.get(industry, ()))
    return out


def _class_weights(
    strategy: EffectiveStrategy,
    tilts: Mapping[str, str],
    problems: list[str],
    is_cash: Any,
) -> dict[str, tuple[float, str, Any]]:
    """Class path -> (weight, source, entry) with the account's tilts; the other invested
    classes rescaled pro rata to make room (cash classes keep their weight)."""
    entries = {e.key: e for e in strategy.allocation.entries}
    out: dict[str, tuple[float, str, Any]] = {}
    fixed_total = 0.0
    untilted_total = 0.0
    for path, e in entries.items():
        base = float(e.weight)
        if path in tilts:
            fixed_total += base + float(Decimal(tilts[path]))
        elif is_cash(path):
            fixed_total += base
        else:
            untilted_total += base
    for path in tilts:
        if path not in entries:
            problems.append(f"tilt on {path}: the strategy's allocation has no such class")
    factor = (1.0 - fixed_total) / untilted_total if untilted_total > 0 else 1.0
    for path in sorted(entries):
        e = entries[path]
        src = f"{path} {e.source} in allocation '{strategy.allocation.name}'"
        if path in tilts:
            w = float(e.weight) + float(Decimal(tilts[path]))
            src += f", tilted {tilts[path]} by the account"
        elif is_cash(path):
            w = float(e.weight)
        else:
            w = float(e.weight) * factor
            if tilts:
                src += ", rescaled for the account's tilts"
        if w < -1e-12:
            problems.append(f"tilts leave {path} below zero")
        out[path] = (max(w, 0.0), src, e)
    return out


def _targets(
    ctx: _Context,
    strategy: EffectiveStrategy,
    choices: Mapping[str, tuple[Any, str]],
    never_buy: tuple[str, ...],
) -> tuple[tuple[TargetWeight, ...], tuple[ClassBand, ...], float, list[str], str]:
    problems: list[str] = []
    classes = _class_weights(
        strategy, choices["tilts"][0], problems, lambda path: _is_cash(ctx, strategy, path)
    )
    subs = dict(_subs(choices))
    subs_key = tuple(sorted(subs.items()))
    excluded = set(never_buy)
    cash_alloc = sum(w for path, (w, _, _) in classes.items() if _is_cash(ctx, strategy, path))
    cash_target = max(float(Decimal(choices["cash_target"][0])), cash_alloc)
    invested = sum(w for path, (w, _, _) in classes.items() if not _is_cash(ctx, strategy, path))
    scale = (1.0 - cash_target) / invested if invested > 0 else 0.0
    weights: dict[str, list[Any]] = {}
    bands: list[ClassBand] = []
    for path, (class_weight, class_source, entry) in classes.items():
        lower, upper = entry.band_limits()
        if _is_cash(ctx, strategy, path):
            bands.append(ClassBand(path, class_weight, float(lower), float(upper), class_source))
            continue
        model = strategy.sleeve(path)
        if model is None:
            problems.append(f"asset class {path} has no security model")
            continue
        sleeve, rescaled = _sleeve(ctx, model, subs, subs_key, excluded, problems, path)
        account_class = class_weight * scale
        bands.append(
            ClassBand(path, account_class, float(lower) * scale, float(upper) * scale, class_source)
        )
        sources = _sources(ctx, model, subs, subs_key, class_source, rescaled)
        for ticker, (w, _) in sleeve.items():
            slot = weights.get(ticker)
            if slot is None:
                weights[ticker] = [0.0 + account_class * w, [sources[ticker]], path]
            else:
                slot[0] += account_class * w
                slot[1].append(sources[ticker])
    targets = []
    rows = []
    known = ctx.securities
    for ticker in sorted(weights):
        w, sources, path = weights[ticker]
        info = known.get(ticker)
        if info is None:
            problems.append(f"{ticker} is not in the firm's security master")
            continue
        if not info.active:
            problems.append(f"{ticker} is not active in the security master")
        if w > 0:
            source = sources[0] if len(sources) == 1 else " | ".join(sources)
            targets.append(TargetWeight(ticker, info.id, w, path, source))
            rows.append([ticker, repr(w)])
    digest = hashlib.sha256(
        canonical_json(
            {
                "t": rows,
                "b": [[b.asset_class, repr(b.target), repr(b.lower), repr(b.upper)] for b in bands],
            }
        ).encode()
    ).hexdigest()
    return tuple(targets), tuple(bands), cash_target, problems, digest


def _is_cash(ctx: _Context, strategy: EffectiveStrategy, path: str) -> bool:
    return path in ctx.cash_classes and strategy.sleeve(path) is None


def _raw_sleeve(
    ctx: _Context, model: EffectiveWeights, subs: Mapping[str, str], subs_key: tuple[Any, ...]
) -> tuple[dict[str, tuple[float, str]], dict[str, str]]:
    """The model's weights after substitutions, and each security's source once rescaled;
    made once per call for each model and set of substitutions."""
    key = ("raw_sleeve", model.definition_id, subs_key)
    cached = ctx.memo.get(key)
    if cached is not None:
        return cached  # type: ignore[no-any-return]
    label = f"'{model.name}' v{model.version}"
    raw: dict[str, tuple[float, str]] = {}
    for e in model.entries:
        ticker, src = e.key, f"{e.key} {e.source} in model {label}"
        if ticker in subs:
            src = f"{subs[ticker]} held instead of {ticker} (account); {src}"
            ticker = subs[ticker]
        prior = raw.get(ticker)
        raw[ticker] = (float(e.weight) + (prior[0] if prior else 0.0), src)
    rescaled = {t: f"{src}, rescaled after exclusions" for t, (_, src) in raw.items()}
    ctx.memo[key] = (raw, rescaled)
    return raw, rescaled


def _sources(
    ctx: _Context,
    model: EffectiveWeights,
    subs: Mapping[str, str],
    subs_key: tuple[Any, ...],
    class_source: str,
    rescaled: bool,
) -> dict[str, str]:
    """Each security's target source: its class's source, then its own in the model."""
    key = ("sources", model.definition_id, subs_key, class_source, rescaled)
    cached = ctx.memo.get(key)
    if cached is None:
        raw, rescaled_sources = _raw_sleeve(ctx, model, subs, subs_key)
        if rescaled:
            cached = {t: f"{class_source}; {src}" for t, src in rescaled_sources.items()}
        else:
            cached = {t: f"{class_source}; {src}" for t, (_, src) in raw.items()}
        ctx.memo[key] = cached
    return cached


def _sleeve(
    ctx: _Context,
    model: EffectiveWeights,
    subs: Mapping[str, str],
    subs_key: tuple[Any, ...],
    excluded: set[str],
    problems: list[str],
    path: str,
) -> tuple[dict[str, tuple[float, str]], bool]:
    """The model's weights (summing to 1) after substitutions and exclusions, and whether
    exclusions rescaled them. Read the returned mapping only (it may be shared)."""
    raw, _ = _raw_sleeve(ctx, model, subs, subs_key)
    kept = raw if excluded.isdisjoint(raw) else {t: v for t, v in raw.items() if t not in excluded}
    total = sum(w for w, _ in kept.values())
    if not kept or total <= 0:
        label = f"'{model.name}' v{model.version}"
        problems.append(
            f"the account's screens and restrictions exclude every security of {path} "
            f"(model {label})"
        )
        return {}, False
    if len(kept) == len(raw):
        return kept, False
    return {t: (w / total, "") for t, (w, _) in kept.items()}, True

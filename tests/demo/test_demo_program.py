"""The demo firm's investment program and its accounts' customizations (demo/book/program.py).

The book is built twice (the first build rolled back): the same program and the same resolved
accounts, compared by name (ids depend on what the database handed out). The second build stays
for the other tests of this module.
"""

from __future__ import annotations

import hashlib
import io
import json
from collections.abc import Iterator
from decimal import Decimal
from typing import Any

import pytest
from django.core.management import call_command
from django.db import transaction
from django.test import override_settings

from accounts.customization import limit_errors
from accounts.models import Account, SettingsVersion
from accounts.resolve import STATUS_NO_STRATEGY, STATUS_OK, ResolvedAccount, resolve_accounts
from demo.book.build import demo_book_build, demo_specs
from demo.book.plan import KIND_DIRECT_INDEXING, book_plan
from demo.book.program import (
    DI_ESG,
    PUBLISHED,
    RISKS,
    account_choices,
    direct_index_weights,
    esg_removed,
)
from demo.book.universe import universe_load
from demo.marketdata.real import caps_2015
from models_hub.effective import effective_strategy, effective_weights
from models_hub.models import Definition, DefinitionKind, ModelSubscription
from models_hub.program_selectors import version_store_load
from rebalancer.models import AuditEvent, Firm

ACCOUNTS = 40
MD5_HASHER = "django.contrib.auth.hashers.MD5PasswordHasher"

Projection = dict[str, Any]


def _build() -> None:
    with override_settings(
        DEMO_MODE=True, DEMO_PASSWORD="test-demo-password", PASSWORD_HASHERS=[MD5_HASHER]
    ):
        report = demo_book_build(seed=42, accounts=ACCOUNTS)
    assert report.created


def _names() -> dict[int, str]:
    return {
        pk: f"{slug}:{kind}:{name}"
        for pk, slug, kind, name in Definition.objects.values_list(
            "pk", "firm__slug", "kind", "name"
        )
    }


def _named(value: Any, names: dict[int, str], keys: tuple[str, ...]) -> Any:
    """``value`` with the definition ids under ``keys`` replaced by names."""
    if isinstance(value, dict):
        return {
            k: (_ids_named(v, names) if k in keys else _named(v, names, keys))
            for k, v in value.items()
        }
    return value


def _ids_named(value: Any, names: dict[int, str]) -> Any:
    if isinstance(value, int):
        return names[value]
    if isinstance(value, list):
        return [_ids_named(v, names) for v in value]
    if isinstance(value, dict):
        return {k: _ids_named(v, names) for k, v in value.items()}
    return value


def _resolved_projection(r: ResolvedAccount, names: dict[int, str]) -> dict[str, Any]:
    settings = []
    for s in r.settings:
        value = s.value
        if s.name in ("strategy", "screens") and value is not None:
            value = _ids_named(value, names)
        settings.append([s.name, json.dumps(value, sort_keys=True), s.source])
    return {
        "status": r.status,
        "problems": list(r.problems),
        "strategy": r.strategy,
        "targets": [[t.ticker, repr(t.weight), t.asset_class, t.source] for t in r.targets],
        "cash": repr(r.cash_target),
        "bands": [[b.asset_class, repr(b.target), repr(b.lower), repr(b.upper)] for b in r.bands],
        "never_buy": list(r.never_buy),
        "never_sell": list(r.never_sell),
        "do_not_trade": list(r.do_not_trade),
        "keep": list(r.keep),
        "restrictions": [[x.rule, x.what, x.reason, x.source] for x in r.restrictions],
        "settings": settings,
        "knobs": [[k.field, repr(k.value), k.source] for k in r.knobs],
        "limits": [
            [
                x.name,
                json.dumps(_ids_named(x.value, names) if x.name == "allowed_screens" else x.value),
                x.source,
            ]
            for x in r.limits
        ],
    }


def _project() -> Projection:
    """The program and every account's resolution, ids replaced by names; with digests."""
    names = _names()
    definitions = sorted(
        [
            f"{names[d.pk]}",
            d.is_synthetic,
            d.published,
            None if d.parent_id is None else names[d.parent_id],
            _named(
                v.content,
                names,
                ("allocation", "sleeves", "allowed_screens"),
            ),
        ]
        for d in Definition.objects.all()
        for v in d.versions.all()
    )
    accounts: dict[str, str] = {}
    for firm in Firm.objects.filter(slug__in=["demo", "second-street"]):
        numbers = dict(Account.objects.for_firm(firm.pk).values_list("pk", "account_number"))
        for pk, r in resolve_accounts(firm.pk, list(numbers)).items():
            text = json.dumps(_resolved_projection(r, names), sort_keys=True)
            accounts[numbers[pk]] = hashlib.sha256(text.encode()).hexdigest()
    return {"definitions": definitions, "accounts": accounts}


@pytest.fixture(scope="module")
def projections(django_db_setup: None, django_db_blocker: Any) -> Iterator[tuple[Any, Any]]:
    with django_db_blocker.unblock():
        with transaction.atomic():
            _build()
            first = _project()
            transaction.set_rollback(True)
        atomic = transaction.atomic()
        atomic.__enter__()
        try:
            _build()
            yield first, _project()
        finally:
            transaction.set_rollback(True)
            atomic.__exit__(None, None, None)


@pytest.fixture
def book(projections: tuple[Any, Any], db: None) -> tuple[Any, Any]:
    return projections


def _demo() -> Firm:
    return Firm.objects.get(slug="demo")


def test_two_builds_give_the_same_program_and_the_same_resolutions(book: tuple[Any, Any]) -> None:
    first, second = book
    assert len(first["definitions"]) >= 40
    assert len(first["accounts"]) > ACCOUNTS  # both firms
    assert first["definitions"] == second["definitions"]
    assert first["accounts"] == second["accounts"]


def test_the_program_has_what_the_demo_promises(book: tuple[Any, Any]) -> None:
    firm = _demo()
    rows = Definition.objects.for_firm(firm.pk)
    assert rows.filter(is_synthetic=False).count() == 0
    by_kind = {k: set(rows.filter(kind=k).values_list("name", flat=True)) for k in DefinitionKind}
    assert set(RISKS) <= by_kind[DefinitionKind.ALLOCATION]
    assert len(by_kind[DefinitionKind.SCREEN]) == 3
    assert len(by_kind[DefinitionKind.LIMITS]) == 1
    assert {"Growth, all ETFs", "Growth, direct-indexed US large cap", DI_ESG} <= by_kind[
        DefinitionKind.STRATEGY
    ]
    store = version_store_load(firm.pk)
    equivalence = {
        v.name: v.content for v in store.versions.values() if v.kind == "equivalence_set"
    }
    assert equivalence["International developed share classes"]["substantially_identical"]
    assert not equivalence["S&P 500-like ETFs"]["substantially_identical"]
    assert len(equivalence["S&P 500-like ETFs"]["members"]) == 3
    # Two levels of variants: ESG inherits from "no real estate", which inherits from the
    # direct-index strategy, which inherits from the ETF strategy.
    esg_id = rows.get(kind=DefinitionKind.STRATEGY, name=DI_ESG).pk
    assert [v.name for v in store.chain(esg_id)] == [
        "Growth, all ETFs",
        "Growth, direct-indexed US large cap",
        "Growth, direct-indexed US large cap, no real estate",
        DI_ESG,
    ]
    esg = effective_strategy(store, esg_id)
    assert "Equity > US > Real Estate" not in esg.allocation.as_dict()
    assert esg.allocation.total == pytest.approx(Decimal(1), abs=Decimal("0.0001"))
    assert esg.limits["max_restrictions"].value == 25  # the direct-index override
    lc = esg.sleeve("Equity > US > Large Cap")
    assert lc is not None and not set(esg_removed(universe_load())) & set(lc.as_dict())
    # The direct index: every 2015-07-08 member with prices then and today, by its 2015 cap.
    index = effective_weights(store, rows.get(name="S&P 500 direct index (2015-07-08 caps)").pk)
    weights = index.as_dict()
    caps = caps_2015()
    total = sum(caps[t] for t in weights)
    assert len(weights) == len(universe_load().di_tickers)
    # Each weight is the cap's share to 8 places; the largest (AAPL) absorbs the rounding.
    assert float(weights["MSFT"]) == pytest.approx(float(caps["MSFT"] / total), abs=1e-8)
    assert float(weights["AAPL"]) == pytest.approx(float(caps["AAPL"] / total), abs=1e-6)
    assert sum(weights.values()) == 1
    assert direct_index_weights(universe_load())["AAPL"] == str(weights["AAPL"])


def test_every_demo_account_resolves_within_its_limits(book: tuple[Any, Any]) -> None:
    firm = _demo()
    accounts = list(
        Account.objects.for_firm(firm.pk).values_list(
            "pk", "registration_type", "cash_balance", "securities_value"
        )
    )
    assert len(accounts) == ACCOUNTS
    resolved = resolve_accounts(firm.pk, [a[0] for a in accounts])
    for pk, registration, cash, securities in accounts:
        r = resolved[pk]
        assert r.status == STATUS_OK, (pk, r.problems)
        assert r.problems == ()
        assert r.targets
        errors = limit_errors(
            r, firm_id=firm.pk, registration=registration, value=cash + securities
        )
        assert errors == {}, (pk, errors)


def test_targets_leave_the_cash_target_and_never_buy_what_is_restricted(
    book: tuple[Any, Any],
) -> None:
    checked = 0
    for firm in Firm.objects.filter(slug__in=["demo", "second-street"]):
        ids = list(Account.objects.for_firm(firm.pk).values_list("pk", flat=True))
        for r in resolve_accounts(firm.pk, ids).values():
            if r.status == STATUS_NO_STRATEGY:
                continue
            assert r.target_total <= 1 - r.cash_target + 1e-9
            assert r.target_total == pytest.approx(1 - r.cash_target, abs=1e-9)
            never = set(r.never_buy)
            assert not [t.ticker for t in r.targets if t.ticker in never and t.weight > 0]
            assert all(t.weight > 0 for t in r.targets)
            checked += 1
    assert checked > ACCOUNTS


def test_the_settings_are_written_in_bulk_like_one_by_one(book: tuple[Any, Any]) -> None:
    firm = _demo()
    versions = SettingsVersion.objects.for_firm(firm.pk).filter(scope="account")
    assert versions.count() == ACCOUNTS
    pointers = dict(Account.objects.for_firm(firm.pk).values_list("pk", "settings_version_id"))
    assert {v.account_id: v.pk for v in versions} == pointers
    for v in versions.prefetch_related("screens", "restricted_securities"):
        assert v.number == 1 and v.strategy_id == v.content["strategy"]
        assert v.restriction_count == len(v.content.get("restrictions", []))
        assert sorted(s.pk for s in v.screens.all()) == v.content.get("screens", [])
        restricted = {r["security"] for r in v.content.get("restrictions", []) if "security" in r}
        assert {s.ticker for s in v.restricted_securities.all()} == restricted
        assert v.actor_label == "system:demo" and v.reason
    event = AuditEvent.objects.get(firm=firm, action="demo_book.build")
    assert event.after is not None and event.after["settings_versions"] == ACCOUNTS


def test_the_second_firm_uses_the_published_strategy_through_a_subscription(
    book: tuple[Any, Any],
) -> None:
    demo, second = _demo(), Firm.objects.get(slug="second-street")
    subscription = ModelSubscription.objects.get(firm=second)
    assert subscription.provider_id == demo.pk and subscription.ended_at is None
    published = Definition.objects.get(firm=demo, kind=DefinitionKind.STRATEGY, name=PUBLISHED)
    assert published.published
    ids = list(Account.objects.for_firm(second.pk).values_list("pk", flat=True))
    resolved = resolve_accounts(second.pk, ids)
    on_it = [r for r in resolved.values() if r.strategy_id == published.pk]
    assert on_it and all(r.status == STATUS_OK for r in on_it)
    assert len(on_it) < len(ids)  # some of its accounts, not all
    # The provider cannot see the subscriber's accounts.
    assert not Account.objects.for_firm(demo.pk).filter(pk__in=ids).exists()


def test_the_customization_mix_over_a_larger_planned_book() -> None:
    """Pure planning, no database: the shares the docs state, over 1,500 planned accounts."""
    spec, _ = demo_specs(seed=42, accounts=1_500)
    universe = universe_load()
    plans = [a for chunk in book_plan(spec=spec.book, universe=universe) for h in chunk
             for a in h.accounts]  # fmt: skip
    choices = [
        account_choices(
            spec=spec.book,
            plan=p,
            value_cents=p.cash_cents + sum(lot.basis_cents for lot in p.lots),
        )
        for p in plans
    ]
    n = len(choices)
    share = {
        "restrictions": sum(1 for c in choices if c.content.get("restrictions")) / n,
        "screens": sum(1 for c in choices if c.screens) / n,
        "withdrawals": sum(1 for c in choices if c.content.get("cash_flow_amount")) / n,
        "budgets": sum(1 for c in choices if c.content.get("tax_budget_kind")) / n,
        "tilts": sum(1 for c in choices if c.content.get("tilts")) / n,
    }
    assert 0.25 <= share["restrictions"] <= 0.40, share
    assert 0.07 <= share["screens"] <= 0.16, share
    assert 0.01 <= share["withdrawals"] <= 0.06, share
    assert 0.05 <= share["budgets"] <= 0.25, share
    assert 0.05 <= share["tilts"] <= 0.15, share
    assert all(c.strategy for c in choices)
    for plan, choice in zip(plans, choices, strict=True):
        if plan.kind == KIND_DIRECT_INDEXING:
            assert choice.strategy is not None and "direct-indexed" in choice.strategy
        else:
            assert choice.strategy is not None and "direct-indexed" not in choice.strategy
        flow = Decimal(choice.content.get("cash_flow_amount", "0"))
        assert flow <= 0
        if flow:
            assert choice.content["cash_flow_date"]
    again = [
        account_choices(
            spec=spec.book,
            plan=p,
            value_cents=p.cash_cents + sum(lot.basis_cents for lot in p.lots),
        )
        for p in plans[:100]
    ]
    assert again == choices[:100]


def test_bench_resolve_json_on_the_tiny_book(book: tuple[Any, Any]) -> None:
    out = io.StringIO()
    call_command("bench_resolve", accounts=ACCOUNTS, repeat=1, json=True, stdout=out)
    summary = json.loads(out.getvalue().strip().splitlines()[-1])
    assert {"accounts", "accounts_per_s", "queries", "peak_rss_mb"} <= set(summary)
    assert summary["accounts"] == ACCOUNTS
    assert summary["accounts_per_s"] > 0 and summary["peak_rss_mb"] > 0
    assert summary["queries"] == summary["queries_one_batch"]  # 40 accounts: one batch
    assert 0 < summary["queries"] <= 12


def test_bench_nightly_json_on_the_tiny_book(book: tuple[Any, Any]) -> None:
    out = io.StringIO()
    call_command("bench_nightly", workers=1, json=True, stdout=out)
    summary = json.loads(out.getvalue().strip().splitlines()[-1])
    keys = {
        "mode",
        "accounts",
        "workers",
        "wall_s",
        "accounts_per_s_per_core",
        "model_accounts_per_s_per_core",
        "p50_ms",
        "p99_ms",
        "p999_ms",
        "max_ms",
        "straggler_ratio",
        "bytes_per_analysis",
        "statuses",
    }
    assert keys <= set(summary)
    demo_accounts = Account.objects.filter(firm=_demo()).count()
    assert summary["accounts"] == demo_accounts
    assert sum(summary["statuses"].values()) == demo_accounts
    assert summary["statuses"].get("proposed", 0) > 0
    assert summary["p50_ms"] <= summary["p99_ms"] <= summary["max_ms"]
    assert summary["bytes_per_analysis"] > 0


def test_taxable_accounts_have_a_plausible_year_of_realized_sales(book: tuple[Any, Any]) -> None:
    import datetime as dt

    from accounts.models import Position, RealizedSale
    from models_hub.models import Security

    firm = _demo()
    sales = list(RealizedSale.objects.filter(firm=firm).select_related("account"))
    assert sales, "the demo book writes realized sales"
    last = (
        Security.objects.for_firm(firm.pk)
        .exclude(last_close_date=None)
        .order_by("-last_close_date")
        .values_list("last_close_date", flat=True)[0]
    )
    assert last is not None
    held = {
        (a, s): q
        for a, s, q in Position.objects.filter(firm=firm).values_list(
            "account_id", "security_id", "quantity"
        )
    }
    for sale in sales:
        assert sale.account.registration_type in ("taxable", "trust")
        assert (sale.account_id, sale.security_id) in held  # a slice of something it holds
        assert last - dt.timedelta(days=400) <= sale.trade_date <= last
        assert sale.term in ("ST", "LT") and sale.quantity >= 1
        assert sale.lot_id.startswith(sale.account.account_number + "-R")
    assert {s.term for s in sales} == {"ST", "LT"}
    assert any(s.gain < 0 for s in sales) and any(s.gain > 0 for s in sales)

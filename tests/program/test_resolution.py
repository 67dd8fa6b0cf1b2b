"""resolve_accounts: the effective target and settings of an account, with provenance."""

from __future__ import annotations

import datetime as dt

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

from accounts.resolve import STATUS_INVALID, STATUS_NO_STRATEGY, STATUS_OK, resolve_accounts
from models_hub.models import DefinitionKind
from models_hub.program_services import definition_create, definition_save
from tests.program.conftest import CORE, LC, Program

pytestmark = pytest.mark.django_db


def _weights(resolved: object) -> dict[str, float]:
    return {t.ticker: t.weight for t in resolved.targets}  # type: ignore[attr-defined]


def test_an_account_without_a_strategy_says_so(program: Program) -> None:
    account = program.cast.account_a1
    r = resolve_accounts(account.firm_id, [account.pk])[account.pk]
    assert r.status == STATUS_NO_STRATEGY
    assert r.targets == ()
    assert r.setting("tax_sensitivity").source == "built-in default"


def test_strategy_target_is_allocation_times_security_models(program: Program) -> None:
    account = program.cast.account_a1
    program.choose(account, {"strategy": program.strategy.pk, "cash_target": "0.05"})
    r = resolve_accounts(account.firm_id, [account.pk])[account.pk]
    assert r.status == STATUS_OK, r.problems
    w = _weights(r)
    assert w["AAPL"] == pytest.approx(0.6 * 0.4)
    assert w["AGG"] == pytest.approx(0.35 * 0.6)
    assert r.cash_target == pytest.approx(0.05)
    assert r.target_total == pytest.approx(0.95)
    aapl = next(t for t in r.targets if t.ticker == "AAPL")
    assert "'Balanced' v1" in aapl.source and "'US LC stocks' v1" in aapl.source
    bands = {b.asset_class: b for b in r.bands}
    assert bands[LC].lower == pytest.approx(0.55) and bands[LC].upper == pytest.approx(0.65)


def test_cash_target_above_the_allocation_cash_scales_the_rest(program: Program) -> None:
    account = program.cast.account_a1
    program.choose(account, {"strategy": program.strategy.pk, "cash_target": "0.1"})
    r = resolve_accounts(account.firm_id, [account.pk])[account.pk]
    assert r.cash_target == pytest.approx(0.1)
    assert r.target_total == pytest.approx(0.9)
    assert _weights(r)["AAPL"] == pytest.approx(0.6 * 0.4 * 0.9 / 0.95)


def test_screen_removes_its_securities_and_rescales_the_class(program: Program) -> None:
    account = program.cast.account_a1
    program.choose(
        account,
        {"strategy": program.strategy.pk, "screens": [program.screen.pk], "cash_target": "0.05"},
    )
    r = resolve_accounts(account.firm_id, [account.pk])[account.pk]
    w = _weights(r)
    assert "XOM" not in w
    assert "XOM" in r.never_buy
    assert w["AAPL"] == pytest.approx(0.6 * 0.4 / 0.8)
    assert sum(v for t, v in w.items() if t in ("AAPL", "MSFT", "JNJ")) == pytest.approx(0.6)
    assert any(x.what == "screen 'Fossil fuels'" for x in r.restrictions)


def test_restrictions_by_sector_security_and_substitution(program: Program) -> None:
    account = program.cast.account_a1
    program.choose(
        account,
        {
            "strategy": program.strategy.pk,
            "restrictions": [
                {"rule": "never_sell", "security": "AAPL", "reason": "low basis, client wish"},
                {"rule": "do_not_trade", "sector": "Health Care", "reason": "employer"},
            ],
            "substitutions": [{"instead_of": "AGG", "hold": "BND", "reason": "client preference"}],
        },
    )
    r = resolve_accounts(account.firm_id, [account.pk])[account.pk]
    assert r.status == STATUS_OK, r.problems
    assert "AAPL" in r.never_sell and "AAPL" not in r.never_buy
    assert "JNJ" in r.do_not_trade and "JNJ" in r.never_buy and "JNJ" in r.never_sell
    w = _weights(r)
    assert "JNJ" not in w  # never bought: its weight goes to the rest of the model
    assert "AGG" not in w and w["BND"] == pytest.approx(0.35)  # AGG's 60 % goes to BND
    assert "AGG" in r.never_buy


def test_tilt_moves_class_weight_and_rescales_the_others(program: Program) -> None:
    account = program.cast.account_a1
    program.choose(
        account, {"strategy": program.strategy.pk, "tilts": {LC: "0.05"}, "cash_target": "0.05"}
    )
    r = resolve_accounts(account.firm_id, [account.pk])[account.pk]
    bands = {b.asset_class: b for b in r.bands}
    assert bands[LC].target == pytest.approx(0.65)
    assert bands[CORE].target == pytest.approx(0.30)  # the other invested class makes room
    assert "tilted 0.05 by the account" in bands[LC].source


def test_every_setting_carries_its_source(program: Program) -> None:
    cast = program.cast
    firm_owner_content = {"tax_bracket": "top"}
    from accounts.customization import owner_of, settings_save

    settings_save(
        actor=program.ipc,
        owner=owner_of(firm_id=cast.firm_a.pk),
        content=firm_owner_content,
        expected_version=0,
        reason="firm default bracket",
    )
    settings_save(
        actor=program.advisor,
        owner=owner_of(firm_id=cast.firm_a.pk, household=cast.hh_a1),
        content={"state_rate": "0.093"},
        expected_version=0,
        reason="California household",
    )
    program.choose(cast.account_a1, {"strategy": program.strategy.pk, "min_trade": "250"})
    r = resolve_accounts(cast.firm_a.pk, [cast.account_a1.pk])[cast.account_a1.pk]
    assert r.setting("tax_bracket").source == "firm default v1"
    assert r.setting("state_rate").source == "household v1"
    assert r.setting("min_trade").source == "account v1"
    assert r.setting("loss_harvesting").source == "built-in default"
    assert r.knob("Problem.tax_rates.short_term").value == pytest.approx(0.408 + 0.093)
    assert r.knob("Settings.min_trade").value == 250.0
    assert r.knob("Problem.tax_rates.short_term").source == "firm default v1"


def test_parent_change_cascades_to_children_and_accounts_without_copying(
    program: Program,
) -> None:
    """Three levels: Balanced -> Balanced ex cash -> Balanced ex cash tilted; a change to the
    root reaches the grandchild and the account on it."""
    ipc, firm = program.ipc, program.cast.firm_a
    child = definition_create(
        actor=ipc,
        firm_id=firm.pk,
        kind=DefinitionKind.ALLOCATION,
        name="Balanced ex cash",
        content={"remove": ["Cash"], "rescale": True},
        parent_id=program.allocation.pk,
        reason="no cash sleeve",
    ).definition
    grandchild = definition_create(
        actor=ipc,
        firm_id=firm.pk,
        kind=DefinitionKind.ALLOCATION,
        name="Balanced more bonds",
        content={"classes": {CORE: {"weight": "0.5"}}, "rescale": True},
        parent_id=child.pk,
        reason="more bonds",
    ).definition
    strategy = definition_create(
        actor=ipc,
        firm_id=firm.pk,
        kind=DefinitionKind.STRATEGY,
        name="More bonds",
        content={"allocation": grandchild.pk},
        parent_id=program.strategy.pk,
        reason="variant",
    ).definition
    account = program.cast.account_a1
    program.choose(account, {"strategy": strategy.pk, "cash_target": "0"})
    before = resolve_accounts(firm.pk, [account.pk])[account.pk]
    bands = {b.asset_class: b for b in before.bands}
    assert bands[CORE].target == pytest.approx(0.5)
    assert bands[LC].target == pytest.approx(0.5)
    assert "rescaled in 'Balanced more bonds' v1" in bands[LC].source
    # The root's large-cap weight moves; only version 2 of the root is written.
    definition_save(
        actor=ipc,
        definition=program.allocation,
        expected_version=1,
        reason="IPC quarterly",
        content={
            "classes": {LC: {"weight": "0.7"}, CORE: {"weight": "0.25"}, "Cash": {"weight": "0.05"}}
        },
    )
    after = resolve_accounts(firm.pk, [account.pk])[account.pk]
    bands = {b.asset_class: b for b in after.bands}
    assert bands[CORE].target == pytest.approx(0.5)  # set in the grandchild
    assert bands[LC].target == pytest.approx(0.5)  # the only inherited class fills the rest
    assert after.digest != before.digest
    assert "'Balanced' v2" in bands[LC].source


def test_history_answers_with_the_old_value_after_a_change(program: Program) -> None:
    account = program.cast.account_a1
    program.choose(account, {"strategy": program.strategy.pk, "min_trade": "100"})
    then = timezone.now()
    first = resolve_accounts(account.firm_id, [account.pk], then)[account.pk]
    program.choose(account, {"strategy": program.strategy.pk, "min_trade": "900"})
    definition_save(
        actor=program.ipc,
        definition=program.stocks,
        expected_version=1,
        reason="drop XOM",
        content={"securities": {"AAPL": "0.5", "MSFT": "0.4", "JNJ": "0.1"}, "asset_class": LC},
    )
    now = resolve_accounts(account.firm_id, [account.pk])[account.pk]
    assert now.knob("Settings.min_trade").value == 900.0
    assert "XOM" not in _weights(now)
    again = resolve_accounts(account.firm_id, [account.pk], then)[account.pk]
    assert again == first
    assert again.digest == first.digest
    assert again.knob("Settings.min_trade").value == 100.0
    assert "XOM" in _weights(again)
    yesterday = resolve_accounts(account.firm_id, [account.pk], dt.date(2000, 1, 1))[account.pk]
    assert yesterday.status == STATUS_NO_STRATEGY


def test_query_count_does_not_grow_with_accounts(program: Program) -> None:
    from tests.factories import AccountFactory

    firm = program.cast.firm_a
    for _ in range(5):
        a = AccountFactory.create(household=program.cast.hh_a1)
        program.choose(a, {"strategy": program.strategy.pk})
    ids_small = [program.cast.account_a1.pk, program.cast.account_a2.pk]
    with CaptureQueriesContext(connection) as small:
        resolve_accounts(firm.pk, ids_small)
    from accounts.models import Account

    ids_all = list(Account.objects.for_firm(firm.pk).values_list("pk", flat=True))
    with CaptureQueriesContext(connection) as large:
        result = resolve_accounts(firm.pk, ids_all)
    assert len(result) == len(ids_all) == 7
    assert len(large.captured_queries) == len(small.captured_queries) <= 12


def test_other_firms_accounts_are_not_resolved(program: Program) -> None:
    cast = program.cast
    result = resolve_accounts(cast.firm_a.pk, [cast.account_a1.pk, cast.account_b1.pk])
    assert set(result) == {cast.account_a1.pk}


def test_a_broken_sleeve_makes_the_account_invalid_not_wrong(program: Program) -> None:
    account = program.cast.account_a1
    program.choose(account, {"strategy": program.strategy.pk})
    # A screen on every large-cap security empties the class: refused at save, so check the
    # resolver directly with a proposed layer.
    from accounts.resolve import resolve_proposed

    r = resolve_proposed(
        account.firm_id,
        [account.pk],
        {
            ("account", account.pk): {
                "strategy": program.strategy.pk,
                "restrictions": [
                    {"rule": "never_buy", "sector": s, "reason": "test"}
                    for s in ("Information Technology", "Energy", "Health Care")
                ],
            }
        },
    )[account.pk]
    assert r.status == STATUS_INVALID
    assert any("exclude every security of Equity > US > Large Cap" in p for p in r.problems)


def test_every_resolved_value_has_a_provenance(program: Program) -> None:
    account = program.cast.account_a1
    program.choose(
        account,
        {
            "strategy": program.strategy.pk,
            "screens": [program.screen.pk],
            "restrictions": [{"rule": "never_sell", "security": "AAPL", "reason": "basis"}],
            "tilts": {LC: "-0.02"},
        },
    )
    r = resolve_accounts(account.firm_id, [account.pk])[account.pk]
    assert r.status == STATUS_OK
    assert r.targets and all(t.source for t in r.targets)
    assert all(b.source for b in r.bands)
    assert all(s.source for s in r.settings) and all(s.source for s in r.limits)
    assert all(k.source and k.why for k in r.knobs)
    assert all(x.source for x in r.restrictions)
    assert {s.name for s in r.settings} >= {"tax_sensitivity", "cash_target", "restrictions"}

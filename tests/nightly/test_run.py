"""A nightly run: every account ends with exactly one terminal analysis; same inputs, same bytes."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal
from typing import Any

import pytest

from accounts.models import Account, AccountStatus
from accounts.services import book_revalue
from models_hub.services import security_last_close_refresh
from rebalancer.authz import NotAuthorized, SystemActor
from rebalancer.models import AppendOnlyError
from rebalancer.roles import Role
from tests.factories import AccountFactory, holding
from tests.program.conftest import Program
from workflow.models import (
    Analysis,
    AnalysisStatus,
    ProposedLotSale,
    ProposedTrade,
    Run,
    RunItem,
    RunStatus,
)
from workflow.nightly import run_execute, run_start
from workflow.optimizer_adapter import problem_text

pytestmark = pytest.mark.django_db

AS_OF = dt.date(2020, 1, 2)


def _prepare(program: Program) -> dict[str, Account]:
    cast = program.cast
    firm_id = cast.firm_a.pk
    security_last_close_refresh(firm_id=firm_id, actor=SystemActor.COMMAND)
    book_revalue(firm_id=firm_id, actor=SystemActor.COMMAND)
    on_strategy = cast.account_a1  # holds AAPL lots, $10,000 cash
    program.choose(on_strategy, {"strategy": program.strategy.pk})
    suspended = AccountFactory.create(household=cast.hh_a1, status=AccountStatus.SUSPENDED)
    program.choose(suspended, {"strategy": program.strategy.pk})
    cash_only = AccountFactory.create(household=cast.hh_a1, cash_balance=Decimal("50000"))
    program.choose(cash_only, {"strategy": program.strategy.pk, "min_trade": "10"})
    broken = AccountFactory.create(household=cast.hh_a1)
    holding(
        broken,
        program.securities["MSFT"],
        [("BR-1", Decimal("3"), Decimal("300"), dt.date(2018, 1, 2))],
    )
    program.choose(broken, {"strategy": program.strategy.pk})
    # The position says 4 shares while its lots say 3: the data is broken.
    from accounts.models import Position

    Position.objects.filter(account=broken).update(quantity=Decimal("4"))
    return {
        "on_strategy": on_strategy,
        "suspended": suspended,
        "cash_only": cash_only,
        "broken": broken,
        "no_strategy": cast.account_a2,
    }


@pytest.mark.parametrize("workers", [1, 2])
def test_every_account_ends_with_one_terminal_analysis(program: Program, workers: int) -> None:
    accounts = _prepare(program)
    firm_id = program.cast.firm_a.pk
    run = run_start(actor=program.cast.user(Role.OVERLAY_MANAGER), firm_id=firm_id, as_of=AS_OF)
    assert run.accounts == Account.objects.for_firm(firm_id).count()
    run = run_execute(run, workers=workers, batch=2)
    assert run.status == RunStatus.COMPLETE
    analyses = {a.account_id: a for a in Analysis.objects.filter(run=run)}
    assert set(analyses) == set(Account.objects.for_firm(firm_id).values_list("pk", flat=True))
    assert (
        not RunItem.objects.filter(run=run)
        .exclude(status__in=[s for s in AnalysisStatus.values if s not in ("pending", "running")])
        .exists()
    )
    status = {name: analyses[a.pk] for name, a in accounts.items()}
    assert status["suspended"].status == AnalysisStatus.SKIPPED
    assert status["suspended"].message == "account is suspended"
    assert status["no_strategy"].status == AnalysisStatus.SKIPPED
    assert status["no_strategy"].message == "no strategy chosen"
    assert status["broken"].status == AnalysisStatus.SKIPPED
    assert "add up to 3 shares but the position is 4" in status["broken"].message
    cash_only = status["cash_only"]
    assert cash_only.status == AnalysisStatus.PROPOSED, cash_only.message
    trades = list(ProposedTrade.objects.filter(analysis=cash_only))
    assert trades and all(t.side == "buy" and t.reason for t in trades)
    assert {t.security.ticker for t in trades} <= {"AAPL", "MSFT", "XOM", "JNJ", "AGG", "BND"}
    assert sum(run.counts.values()) == run.accounts


def test_same_inputs_give_the_same_problem_bytes_and_trades(program: Program) -> None:
    _prepare(program)
    firm_id = program.cast.firm_a.pk
    overlay = program.cast.user(Role.OVERLAY_MANAGER)
    first = run_execute(run_start(actor=overlay, firm_id=firm_id, as_of=AS_OF), workers=1)
    second = run_execute(run_start(actor=overlay, firm_id=firm_id, as_of=AS_OF), workers=2)

    def fingerprint(run: Run) -> list[tuple[object, ...]]:
        rows: list[tuple[object, ...]] = []
        for a in Analysis.objects.filter(run=run).order_by("account_id"):
            trades = sorted(
                (t.security_id, t.side, t.shares, t.value, t.reason)
                for t in ProposedTrade.objects.filter(analysis=a)
            )
            sales = sorted(
                (s.lot_id, s.shares, s.realized_gain)
                for s in ProposedLotSale.objects.filter(analysis=a)
            )
            rows.append((a.account_id, a.status, a.input_hash, a.resolved_digest, trades, sales))
        return rows

    assert fingerprint(first) == fingerprint(second)
    proposed = Analysis.objects.filter(run=first, status=AnalysisStatus.PROPOSED).first()
    assert proposed is not None and proposed.problem is not None
    assert '"account_id"' in problem_text(bytes(proposed.problem))


def test_analyses_are_append_only_and_runs_are_for_the_roles_allowed(program: Program) -> None:
    _prepare(program)
    firm_id = program.cast.firm_a.pk
    with pytest.raises(NotAuthorized):
        run_start(actor=program.cast.user(Role.ADVISOR), firm_id=firm_id)
    with pytest.raises(NotAuthorized):
        run_start(actor=program.cast.admin_b, firm_id=firm_id)
    run = run_execute(run_start(actor=SystemActor.SCHEDULER, firm_id=firm_id, as_of=AS_OF))
    analysis = Analysis.objects.filter(run=run).first()
    assert analysis is not None
    with pytest.raises(AppendOnlyError):
        Analysis.objects.filter(pk=analysis.pk).update(status="failed")
    with pytest.raises(AppendOnlyError):
        analysis.delete()


def test_rederive_confirms_the_stored_trades_bit_for_bit(program: Program) -> None:
    from workflow.rederive import rederive

    _prepare(program)
    run = run_execute(
        run_start(actor=SystemActor.SCHEDULER, firm_id=program.cast.firm_a.pk, as_of=AS_OF)
    )
    proposed = Analysis.objects.filter(run=run, status=AnalysisStatus.PROPOSED)
    assert proposed.exists()
    for analysis in proposed:
        result = rederive(actor=SystemActor.COMMAND, analysis=analysis)
        assert result.identical, result.differences
    skipped = Analysis.objects.filter(run=run, status=AnalysisStatus.SKIPPED).first()
    assert skipped is not None
    assert rederive(actor=SystemActor.COMMAND, analysis=skipped).identical


def test_rederive_reports_a_record_that_differs(program: Program) -> None:
    from django.utils import timezone

    from workflow.models import Run
    from workflow.rederive import rederive

    _prepare(program)
    run = run_execute(
        run_start(actor=SystemActor.SCHEDULER, firm_id=program.cast.firm_a.pk, as_of=AS_OF)
    )
    proposed = Analysis.objects.filter(run=run, status=AnalysisStatus.PROPOSED).first()
    assert proposed is not None
    other = Run.objects.create(firm=proposed.firm, as_of=AS_OF, trigger="manual", actor_label="t")
    damaged = Analysis.objects.create(  # the same problem, recorded without its trades
        firm=proposed.firm,
        run=other,
        account=proposed.account,
        status=proposed.status,
        problem=proposed.problem,
        input_hash=proposed.input_hash,
        created_at=timezone.now(),
    )
    result = rederive(actor=SystemActor.COMMAND, analysis=damaged)
    assert not result.identical
    assert any("trades stored" in d for d in result.differences)


def test_the_account_page_shows_the_latest_analysis_with_each_trades_reason(
    program: Program, client_for: Any
) -> None:
    accounts = _prepare(program)
    run = run_execute(
        run_start(actor=SystemActor.SCHEDULER, firm_id=program.cast.firm_a.pk, as_of=AS_OF)
    )
    client = client_for(program.advisor)
    cash_only = accounts["cash_only"]
    page = client.get(f"/runs/accounts/{cash_only.pk}/latest/")
    assert page.status_code == 200
    html = page.content.decode()
    assert "Proposed" in html and 'data-testid="proposed-trades"' in html
    trade = ProposedTrade.objects.filter(account=cash_only).first()
    assert trade is not None and trade.reason and trade.reason in html
    skipped = client.get(f"/runs/accounts/{accounts['suspended'].pk}/latest/").content.decode()
    assert "account is suspended" in skipped
    detail = client.get(f"/runs/{run.pk}/").content.decode()
    assert (
        "account is suspended" in detail and "no strategy chosen" not in detail.split("Slowest")[1]
    )
    assert client.get("/runs/").status_code == 200
    # The account page loads it (htmx) from the runs route.
    account_page = client.get(f"/accounts/{cash_only.pk}/").content.decode()
    assert f"/runs/accounts/{cash_only.pk}/latest/" in account_page


def test_reasons_name_the_custodians_lot_ids(program: Program) -> None:
    import re

    cast = program.cast
    _prepare(program)
    # Sell everything: a strategy of bonds only makes the AAPL lots go.
    from models_hub.models import DefinitionKind
    from models_hub.program_services import definition_create

    allocation = definition_create(
        actor=program.ipc,
        firm_id=cast.firm_a.pk,
        kind=DefinitionKind.ALLOCATION,
        name="All bonds",
        content={"classes": {"Fixed Income > Core": {"weight": "1"}}},
        reason="test",
    ).definition
    strategy = definition_create(
        actor=program.ipc,
        firm_id=cast.firm_a.pk,
        kind=DefinitionKind.STRATEGY,
        name="Bonds",
        reason="test",
        content={"allocation": allocation.pk, "sleeves": {"Fixed Income > Core": program.bonds.pk}},
    ).definition
    program.choose(cast.account_a1, {"strategy": strategy.pk, "tax_sensitivity": "moderate"})
    run = run_execute(run_start(actor=SystemActor.SCHEDULER, firm_id=cast.firm_a.pk, as_of=AS_OF))
    sales = list(ProposedLotSale.objects.filter(analysis__run=run, account=cast.account_a1))
    assert {s.lot_id for s in sales} <= {"A1-1", "A1-2"} and sales
    sell = ProposedTrade.objects.get(analysis__run=run, account=cast.account_a1, side="sell")
    mentioned = set(re.findall(r"\blot (\S+?)[:,)]", sell.reason))
    assert mentioned and mentioned <= {"A1-1", "A1-2"}, sell.reason


def test_a_schedule_starts_one_run_a_day_at_the_firms_local_time(
    program: Program, settings: Any
) -> None:
    settings.CELERY_TASK_ALWAYS_EAGER = True  # dispatch runs here (workers: tests/celery_worker)
    from zoneinfo import ZoneInfo

    from workflow.models import Run, RunTrigger
    from workflow.nightly import nightly_kickoff, nightly_schedule_set

    _prepare(program)
    firm_id = program.cast.firm_a.pk
    overlay = program.cast.user(Role.OVERLAY_MANAGER)
    with pytest.raises(ValueError, match="unknown time zone"):
        nightly_schedule_set(
            actor=overlay, firm_id=firm_id, start_at=dt.time(22, 0), time_zone="Mars/Olympus"
        )
    with pytest.raises(NotAuthorized):
        nightly_schedule_set(
            actor=program.advisor,
            firm_id=firm_id,
            start_at=dt.time(22, 0),
            time_zone="America/New_York",
        )
    nightly_schedule_set(
        actor=overlay,
        firm_id=firm_id,
        start_at=dt.time(22, 0),
        time_zone="America/New_York",
        deadline_minutes=300,
    )
    new_york = ZoneInfo("America/New_York")
    before = dt.datetime(2026, 12, 8, 21, 59, tzinfo=new_york)
    assert nightly_kickoff(actor=SystemActor.SCHEDULER, now=before) == []
    at = dt.datetime(2026, 12, 8, 22, 0, 30, tzinfo=new_york)
    started = nightly_kickoff(actor=SystemActor.SCHEDULER, now=at)
    assert len(started) == 1
    # Embedded mode: dispatched here, so the run is complete.
    run = Run.objects.get(pk=started[0])
    assert run.trigger == RunTrigger.SCHEDULE and run.status == RunStatus.COMPLETE
    assert run.deadline == at + dt.timedelta(minutes=300)
    # The same evening again, and a minute later: nothing more; the next evening: one more.
    assert nightly_kickoff(actor=SystemActor.SCHEDULER, now=at + dt.timedelta(minutes=1)) == []
    assert len(nightly_kickoff(actor=SystemActor.SCHEDULER, now=at + dt.timedelta(days=1))) == 1
    with pytest.raises(NotAuthorized):
        nightly_kickoff(actor=overlay, now=at)


def test_a_what_if_runs_the_draft_on_the_accounts_it_reaches_and_saves_nothing(
    program: Program, client_for: Any, settings: Any
) -> None:
    settings.CELERY_TASK_ALWAYS_EAGER = True  # dispatch runs here (workers: tests/celery_worker)
    import json

    from models_hub.models import DefinitionVersion
    from workflow.models import Run, RunTrigger
    from workflow.selectors import analysis_latest_get
    from workflow.what_if import what_if_start, what_if_summary

    accounts = _prepare(program)
    versions = DefinitionVersion.objects.count()
    # The draft drops XOM from the stock model: accounts on the strategy would sell / not buy it.
    draft = {
        "asset_class": "Equity > US > Large Cap",
        "securities": {"AAPL": "0.5", "MSFT": "0.4", "JNJ": "0.1"},
    }
    with pytest.raises(NotAuthorized):
        what_if_start(actor=program.advisor, definition=program.stocks, content=draft)
    run = what_if_start(
        actor=program.ipc, definition=program.stocks, content=draft, reason="drop XOM?"
    )
    assert run.trigger == RunTrigger.WHAT_IF and run.status == "complete"
    assert DefinitionVersion.objects.count() == versions  # nothing saved
    reached = set(Analysis.objects.filter(run=run).values_list("account_id", flat=True))
    on_strategy = {a.pk for name, a in accounts.items() if name != "no_strategy"}
    assert reached == on_strategy
    cash_only = accounts["cash_only"]
    tickers = set(
        ProposedTrade.objects.filter(analysis__run=run, account=cash_only).values_list(
            "security__ticker", flat=True
        )
    )
    assert "XOM" not in tickers and "MSFT" in tickers
    summary = what_if_summary(Run.objects.get(pk=run.pk))
    assert summary.accounts == len(on_strategy) and summary.trading >= 1
    # What-ifs never show as an account's latest analysis.
    assert analysis_latest_get(user=program.ipc, account_id=cash_only.pk) is None
    # The page: the IPC posts the editor's draft; the run page shows what it would do.
    client = client_for(program.ipc)
    response = client.post(
        f"/runs/what-if/{program.stocks.pk}/",
        {"content": json.dumps(draft), "reason": "from the editor"},
    )
    assert response.status_code == 302
    page = client.get(response["Location"]).content.decode()
    assert 'data-testid="what-if"' in page and "Would trade" in page
    bad = client.post(
        f"/runs/what-if/{program.stocks.pk}/", {"content": '{"securities": {"AAPL": "0.5"}}'}
    )
    assert bad.status_code == 400 and b"sum to 50 %" in bad.content


def _direct_index_strategy(program: Program) -> Any:
    from models_hub.models import DefinitionKind
    from models_hub.program_services import definition_create

    cast = program.cast
    index = definition_create(
        actor=program.ipc,
        firm_id=cast.firm_a.pk,
        kind=DefinitionKind.SECURITY_MODEL,
        name="Mini index",
        reason="test",
        content={
            "asset_class": "Equity > US > Large Cap",
            "index": "Mini 4",
            "securities": {"AAPL": "0.4", "MSFT": "0.3", "XOM": "0.2", "JNJ": "0.1"},
        },
    ).definition
    return definition_create(
        actor=program.ipc,
        firm_id=cast.firm_a.pk,
        kind=DefinitionKind.STRATEGY,
        name="Direct-indexed",
        reason="test",
        content={
            "allocation": program.allocation.pk,
            "sleeves": {
                "Equity > US > Large Cap": index.pk,
                "Fixed Income > Core": program.bonds.pk,
            },
        },
    ).definition


def test_direct_index_accounts_are_solved_against_the_runs_risk_model(program: Program) -> None:
    import random

    from models_hub.models import Price, Security
    from workflow.optimizer_adapter import problem_load

    accounts = _prepare(program)
    strategy = _direct_index_strategy(program)
    cash_only = accounts["cash_only"]
    program.choose(cash_only, {"strategy": strategy.pk, "min_trade": "10"})
    firm_id = program.cast.firm_a.pk
    # Too little price history: the account is skipped, saying why.
    run = run_execute(run_start(actor=SystemActor.SCHEDULER, firm_id=firm_id, as_of=AS_OF))
    skipped = Analysis.objects.get(run=run, account=cash_only)
    assert skipped.status == AnalysisStatus.SKIPPED and "no risk model" in skipped.message
    # 150 trading days of closes (a deterministic random walk) before the as-of date.
    rng = random.Random("risk-test")
    days = [
        AS_OF - dt.timedelta(days=d)
        for d in range(1, 220)
        if (AS_OF - dt.timedelta(days=d)).weekday() < 5
    ]
    rows = []
    for security in Security.objects.for_firm(firm_id).order_by("ticker"):
        level = 100.0
        for day in sorted(days):
            level *= 1 + rng.gauss(0, 0.01)
            if not Price.objects.filter(security=security, date=day).exists():
                rows.append(
                    Price(
                        firm_id=firm_id, security=security, date=day, close=Decimal(f"{level:.4f}")
                    )
                )
    Price.objects.bulk_create(rows)
    run = run_execute(run_start(actor=SystemActor.SCHEDULER, firm_id=firm_id, as_of=AS_OF))
    analysis = Analysis.objects.get(run=run, account=cash_only)
    assert analysis.status == AnalysisStatus.PROPOSED, analysis.message
    assert analysis.problem is not None
    problem = problem_load(bytes(analysis.problem))
    assert problem.risk_model is not None
    assert problem.risk_model.loadings.shape[0] == len(problem.security_ids)
    assert "risk_model" in run.timings
    # Model-portfolio accounts stay on weight drift.
    other = Analysis.objects.get(run=run, account=program.cast.account_a1)
    assert other.problem is not None and problem_load(bytes(other.problem)).risk_model is None

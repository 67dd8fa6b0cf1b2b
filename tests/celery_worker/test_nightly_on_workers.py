"""A nightly run on real Celery workers (PostgreSQL + Redis): tasks compete for batches through
claims, every account ends with exactly one terminal analysis, a lost claim is swept back."""

from __future__ import annotations

import datetime as dt
import subprocess
import time

import pytest
from django.utils import timezone

from accounts.services import book_revalue
from models_hub.services import security_last_close_refresh
from rebalancer.authz import SystemActor
from tests.conftest import Cast
from tests.factories import AccountFactory
from tests.program.conftest import program_build
from workflow.models import Analysis, AnalysisStatus, Run, RunItem, RunStatus
from workflow.nightly import run_dispatch, run_start, run_sweep

pytestmark = [pytest.mark.services, pytest.mark.django_db(transaction=True)]


def _wait_complete(run_id: int, timeout: float = 90.0) -> Run:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        run = Run.objects.get(pk=run_id)
        if run.status == RunStatus.COMPLETE:
            return run
        time.sleep(0.3)
    raise AssertionError(f"run {run_id} not complete after {timeout}s")


def _book(cast: Cast, accounts: int) -> int:
    program = program_build(cast)
    firm_id: int = cast.firm_a.pk
    security_last_close_refresh(firm_id=firm_id, actor=SystemActor.COMMAND)
    book_revalue(firm_id=firm_id, actor=SystemActor.COMMAND)
    for _ in range(accounts):
        a = AccountFactory.create(household=cast.hh_a1)
        program.choose(a, {"strategy": program.strategy.pk})
    return firm_id


def test_a_run_on_workers_gives_every_account_one_terminal_analysis(
    cast: Cast, celery_worker_process: subprocess.Popen[str]
) -> None:
    firm_id = _book(cast, 12)
    run = run_start(actor=SystemActor.SCHEDULER, firm_id=firm_id, as_of=dt.date(2020, 1, 2))
    run_dispatch(run, chunks=3)  # outside a transaction: sent at once
    run = _wait_complete(run.pk)
    analyses = list(Analysis.objects.filter(run=run).values_list("account_id", flat=True))
    assert sorted(analyses) == sorted(set(analyses))
    assert len(analyses) == run.accounts == sum(run.counts.values())
    assert run.counts.get(AnalysisStatus.PROPOSED, 0) >= 12


def test_a_lost_claim_is_swept_back_and_finished_once(
    cast: Cast, celery_worker_process: subprocess.Popen[str], settings: object
) -> None:
    firm_id = _book(cast, 3)
    run = run_start(actor=SystemActor.SCHEDULER, firm_id=firm_id, as_of=dt.date(2020, 1, 2))
    # A worker claimed two accounts and died: its claim is older than the lease.
    lost = list(RunItem.objects.filter(run=run).order_by("pk")[:2])
    RunItem.objects.filter(pk__in=[i.pk for i in lost]).update(
        status=AnalysisStatus.RUNNING,
        claim="dead-worker",
        claimed_at=timezone.now() - dt.timedelta(hours=2),
    )
    touched = run_sweep(actor=SystemActor.SCHEDULER)  # back to pending, a worker task sent
    assert run.pk in touched
    run = _wait_complete(run.pk)
    assert Analysis.objects.filter(run=run).count() == run.accounts
    assert set(
        RunItem.objects.filter(pk__in=[i.pk for i in lost]).values_list("attempts", flat=True)
    ) == {1}

"""Nightly runs: every account of a firm analysed, each ending with exactly one terminal analysis.

:func:`run_start` creates the run and its work queue (one :class:`~workflow.models.RunItem` per
account, heaviest first) in bulk. :func:`run_execute` works the queue: it claims a batch with a
conditional update (pending -> running, under a claim token, so a second worker or a duplicate
delivery takes nothing twice), loads the batch's rows in a fixed number of queries, resolves the
accounts (:func:`accounts.resolve.resolve_accounts`, as of the run's creation), builds each
problem (:mod:`workflow.optimizer_adapter`), solves them (in a local process pool across the
machine's cores in the embedded mode: workers compute, this process writes) and writes the
analyses, trades and lot sales in bulk. The run is complete when no item is left.

Terminal statuses: proposed / no trade needed / fallback (the engine's message) / skipped (why)
/ failed (the error).
"""

from __future__ import annotations

import datetime as dt
import os
import time
import uuid
from collections import Counter, defaultdict
from collections.abc import Callable, Sequence
from concurrent.futures import ProcessPoolExecutor
from dataclasses import dataclass
from decimal import Decimal
from multiprocessing import get_context
from typing import Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from django.conf import settings
from django.db import transaction
from django.db.models import Count
from django.utils import timezone

from accounts.models import Account, Position, RealizedSale, TaxLot
from accounts.resolve import resolve_accounts, resolve_accounts_with_draft
from models_hub.effective import StoredVersion
from models_hub.models import Price, Security
from rebalancer.audit import audit_record
from rebalancer.authz import Actor, SystemActor, actor_label, actor_user, authorize
from rebalancer.bulk import rows_insert
from rebalancer.models import Firm
from rebalancer.roles import Resource
from workflow.models import (
    Analysis,
    AnalysisStatus,
    NightlySchedule,
    ProposedLotSale,
    ProposedTrade,
    Run,
    RunItem,
    RunStatus,
    RunTrigger,
)
from workflow.optimizer_adapter import (
    AccountData,
    FactorModelArrays,
    LotRow,
    MarketData,
    Packed,
    Problem,
    RecentBuy,
    SaleRow,
    Skip,
    problem_build,
    risk_arrays_estimate,
    solve_packed,
)

#: Accounts claimed, loaded and written together.
BATCH = 500
WASH_WINDOW_DAYS = 30


def run_start(
    *,
    actor: Actor,
    firm_id: int,
    as_of: dt.date | None = None,
    account_ids: Sequence[int] | None = None,
    trigger: str = RunTrigger.MANUAL,
    deadline: dt.datetime | None = None,
) -> Run:
    """A run over the firm's accounts (or ``account_ids`` of the firm), with its work queue."""
    authorize(actor=actor, firm=firm_id, resource=Resource.RUN)
    return run_create(
        actor=actor,
        firm_id=firm_id,
        as_of=as_of,
        account_ids=account_ids,
        trigger=trigger,
        deadline=deadline,
        resource=Resource.RUN,
    )


def run_create(
    *,
    actor: Actor,
    firm_id: int,
    as_of: dt.date | None,
    account_ids: Sequence[int] | None,
    trigger: str,
    resource: Resource,
    deadline: dt.datetime | None = None,
    draft: dict[str, Any] | None = None,
    note: str = "",
) -> Run:
    """The run and its work queue; ``resource`` is what the actor must be allowed to change:
    runs (``run_start``) or models (``workflow.what_if.what_if_start``, the IPC's drafts)."""
    authorize(actor=actor, firm=firm_id, resource=resource)
    accounts = Account.objects.for_firm(firm_id)
    if account_ids is not None:
        accounts = accounts.filter(pk__in=sorted(set(account_ids)))
    weights = list(accounts.annotate(n=Count("lots")).values_list("pk", "n").order_by("-n", "pk"))
    with transaction.atomic():
        run = Run.objects.create(
            firm_id=firm_id,
            as_of=as_of or timezone.localdate(),
            trigger=trigger,
            accounts=len(weights),
            deadline=deadline,
            created_by=actor_user(actor),
            actor_label=actor_label(actor),
            versions=_versions(),
            draft=draft,
            note=note,
        )
        RunItem.objects.bulk_create(
            [RunItem(firm_id=firm_id, run=run, account_id=pk, weight=n) for pk, n in weights],
            batch_size=1000,
        )
        audit_record(
            firm=Firm.objects.get(pk=firm_id),
            actor=actor,
            action="run.start",
            obj=run,
            after={"accounts": len(weights), "as_of": run.as_of.isoformat(), "trigger": trigger},
            reason=note,
        )
    return run


def _versions() -> dict[str, str]:
    from importlib.metadata import version

    out = {}
    for package in ("numpy", "scipy", "clarabel", "piqp", "django"):
        try:
            out[package] = version(package)
        except Exception:
            continue
    return out


def _claim(run: Run, size: int) -> list[RunItem]:
    token = str(uuid.uuid4())
    pending = list(
        RunItem.objects.filter(run=run, status=AnalysisStatus.PENDING)
        .order_by("-weight", "account_id")
        .values_list("pk", flat=True)[:size]
    )
    if not pending:
        return []
    RunItem.objects.filter(pk__in=pending, status=AnalysisStatus.PENDING).update(
        status=AnalysisStatus.RUNNING, claim=token, claimed_at=timezone.now()
    )
    return list(RunItem.objects.filter(run=run, claim=token).order_by("-weight", "account_id"))


def price_date_latest_of(firm_id: int) -> dt.date | None:
    """The firm's latest close date (the natural as-of date of a run on that data)."""
    from django.db.models import Max

    latest: dt.date | None = Security.objects.for_firm(firm_id).aggregate(d=Max("last_close_date"))[
        "d"
    ]
    return latest


#: Calendar days of closes read for the run's risk model (its window is 252 trading days).
RISK_HISTORY_DAYS = 380


def risk_model_load(firm_id: int, as_of: dt.date) -> FactorModelArrays | None:
    """The run's factor risk model, estimated once from the firm's closes up to ``as_of``."""
    closes: dict[str, dict[dt.date, float]] = defaultdict(dict)
    rows = (
        Price.objects.for_firm(firm_id)
        .filter(date__gt=as_of - dt.timedelta(days=RISK_HISTORY_DAYS), date__lte=as_of)
        .values_list("security__ticker", "date", "close")
        .order_by("security__ticker", "date")
    )
    for ticker, date, close in rows.iterator(chunk_size=20_000):
        closes[ticker][date] = float(close)
    sectors = {
        ticker: sector or "Unknown"
        for ticker, sector in Security.objects.for_firm(firm_id).values_list("ticker", "sector")
    }
    return risk_arrays_estimate(as_of=as_of, closes=closes, sectors=sectors)


def market_data_load(firm_id: int) -> MarketData:
    rows = Security.objects.for_firm(firm_id).values_list(
        "ticker", "pk", "last_close", "last_close_date", "status"
    )
    return MarketData(
        securities={
            ticker: (pk, None if close is None else float(close), date, status)
            for ticker, pk, close, date, status in rows
        }
    )


def accounts_data_load(
    firm_id: int, account_ids: Sequence[int], as_of: dt.date
) -> dict[int, AccountData]:
    """Accounts, lots, positions, the household's recent buys and realized sales: five queries
    per batch."""
    accounts = list(
        Account.objects.filter(firm_id=firm_id, pk__in=account_ids).values_list(
            "pk", "household_id", "registration_type", "status", "cash_balance"
        )
    )
    lots: dict[int, list[LotRow]] = defaultdict(list)
    for pk, account_id, ticker, lot_id, quantity, cost, acquired in TaxLot.objects.filter(
        firm_id=firm_id, account_id__in=account_ids
    ).values_list(
        "pk", "account_id", "security__ticker", "lot_id", "quantity", "cost_basis", "acquired_on"
    ):
        lots[account_id].append(LotRow(pk, ticker, lot_id, quantity, cost, acquired))
    positions: dict[int, dict[str, Decimal]] = defaultdict(dict)
    for account_id, ticker, quantity in Position.objects.filter(
        firm_id=firm_id, account_id__in=account_ids
    ).values_list("account_id", "security__ticker", "quantity"):
        positions[account_id][ticker] = quantity
    households = sorted({row[1] for row in accounts})
    sales: dict[int, list[SaleRow]] = defaultdict(list)
    year_start = dt.date(as_of.year, 1, 1)
    window_start = as_of - dt.timedelta(days=WASH_WINDOW_DAYS)
    for (
        ticker,
        date,
        account_id,
        term,
        proceeds,
        basis,
        household_id,
    ) in RealizedSale.objects.filter(
        firm_id=firm_id,
        account__household_id__in=households,
        trade_date__gte=min(year_start, window_start),
        trade_date__lte=as_of,
    ).values_list(
        "security__ticker",
        "trade_date",
        "account_id",
        "term",
        "proceeds",
        "cost_basis",
        "account__household_id",
    ):
        sales[household_id].append(SaleRow(ticker, date, account_id, term, proceeds - basis))
    buys: dict[int, list[RecentBuy]] = defaultdict(list)
    for ticker, acquired, account_id, pk, household_id in TaxLot.objects.filter(
        firm_id=firm_id,
        account__household_id__in=households,
        acquired_on__gte=as_of - dt.timedelta(days=WASH_WINDOW_DAYS),
        acquired_on__lte=as_of,
    ).values_list("security__ticker", "acquired_on", "account_id", "pk", "account__household_id"):
        buys[household_id].append(RecentBuy(ticker, acquired, account_id, pk))
    return {
        pk: AccountData(
            account_id=pk,
            household_id=household_id,
            registration_type=registration,
            status=status,
            cash=cash,
            lots=tuple(lots.get(pk, ())),
            positions=positions.get(pk, {}),
            recent_buys=tuple(buys.get(household_id, ())),
            sales=tuple(
                s
                for s in sales.get(household_id, ())
                if s.account_id == pk or (s.gain < 0 and s.trade_date >= window_start)
            ),
        )
        for pk, household_id, registration, status, cash in accounts
    }


@dataclass(frozen=True)
class Outcome:
    """One account's result before it is written."""

    account_id: int
    status: str
    message: str = ""
    packed: Packed | None = None
    digest: str = ""


@dataclass
class RunProgress:
    done: int
    total: int
    counts: Counter[str]
    elapsed_s: float


def run_execute(
    run: Run,
    *,
    workers: int | None = None,
    batch: int = BATCH,
    progress: Callable[[RunProgress], None] | None = None,
) -> Run:
    """Embedded mode: work ``run``'s queue here, across ``workers`` local processes (default:
    every core), until no item is pending; returns the finished run."""
    authorize(actor=SystemActor.SCHEDULER, firm=run.firm_id, resource=Resource.RUN)
    workers = workers or len(os.sched_getaffinity(0))
    pool = (
        ProcessPoolExecutor(max_workers=workers, mp_context=get_context("fork"))
        if workers > 1
        else None
    )
    try:
        timings = _work(run, pool=pool, batch=batch, progress=progress)
    finally:
        if pool is not None:
            pool.shutdown()
    return run_finish(run, timings=timings)


def run_dispatch(run: Run, *, chunks: int | None = None) -> None:
    """Start working ``run``: on Celery workers (``REDIS_URL`` set) ``chunks`` competing tasks on
    the ``nightly`` queue, sent after the transaction commits; embedded: here, now."""
    authorize(actor=SystemActor.SCHEDULER, firm=run.firm_id, resource=Resource.RUN)
    if settings.CELERY_TASK_ALWAYS_EAGER:
        run_execute(run)
        return
    from workflow.tasks import run_work

    count = chunks or settings.NIGHTLY_TASKS_PER_RUN
    transaction.on_commit(lambda: [run_work.delay(run.pk) for _ in range(count)])


def run_work_here(*, run_id: int) -> None:
    """In a Celery worker: claim and analyse batches of the run until none is left, then close
    the run if every item is terminal. Competing workers share the queue through the claims."""
    run = Run.objects.filter(pk=run_id).first()
    if run is None or run.status in (RunStatus.COMPLETE, RunStatus.FAILED):
        return
    authorize(actor=SystemActor.SCHEDULER, firm=run.firm_id, resource=Resource.RUN)
    timings = _work(run, pool=None, batch=settings.NIGHTLY_BATCH, progress=None)
    Run.objects.filter(pk=run.pk).update(timings=_merged_timings(run.pk, timings))
    run_finish(run)


def _merged_timings(run_id: int, timings: dict[str, float]) -> dict[str, float]:
    with transaction.atomic():
        current = Run.objects.select_for_update().get(pk=run_id).timings or {}
        return {
            k: round(current.get(k, 0.0) + timings.get(k, 0.0), 3)
            for k in sorted(set(current) | set(timings))
        }


def _work(
    run: Run,
    *,
    pool: ProcessPoolExecutor | None,
    batch: int,
    progress: Callable[[RunProgress], None] | None,
) -> dict[str, float]:
    Run.objects.filter(pk=run.pk, status=RunStatus.PENDING).update(
        status=RunStatus.RUNNING, started_at=timezone.now()
    )
    started = time.perf_counter()
    timings: dict[str, float] = defaultdict(float)
    market = market_data_load(run.firm_id)
    counts: Counter[str] = Counter()
    done = 0
    # Pipelined: while the pool solves one batch, this process claims, loads, resolves and
    # builds the next, then writes the first (SQLite has one writer; the solves run meanwhile).
    ahead: _Batch | None = None
    risk: dict[str, FactorModelArrays | None] = {}  # estimated once, when an account needs it
    while True:
        items = _claim(run, batch)
        current = _prepare(run, items, market, pool, timings, risk) if items else None
        if ahead is not None:
            outcomes = _finish(ahead, timings)
            t = time.perf_counter()
            written = _write(run, ahead.items, outcomes)
            timings["persist"] += time.perf_counter() - t
            counts.update(o.status for o in written)
            done += len(written)
            if progress is not None:
                progress(RunProgress(done, run.accounts, counts, time.perf_counter() - started))
        if current is None:
            break
        ahead = current
    return {k: round(v, 3) for k, v in sorted(timings.items())}


def run_sweep(*, actor: Actor) -> list[int]:
    """Every minute: claims older than the lease lost their worker. They go back to pending
    (their attempt counted), or, after NIGHTLY_MAX_ATTEMPTS, end failed with that reason. Runs
    with work left and no live claim get a worker task again; runs with none left are closed.
    Returns the ids of the runs it touched."""
    authorize(actor=actor, firm=None, resource=Resource.RUN)
    now = timezone.now()
    lease = dt.timedelta(seconds=settings.NIGHTLY_LEASE_SECONDS)
    touched: set[int] = set()
    stale = list(
        RunItem.objects.filter(status=AnalysisStatus.RUNNING, claimed_at__lt=now - lease)
        .select_related("run")
        .order_by("pk")
    )
    for item in stale:
        touched.add(item.run_id)
        if item.attempts + 1 >= settings.NIGHTLY_MAX_ATTEMPTS:
            with transaction.atomic():
                lost = RunItem.objects.filter(
                    pk=item.pk, status=AnalysisStatus.RUNNING, claim=item.claim
                ).update(status=AnalysisStatus.FAILED, attempts=item.attempts + 1)
                if (
                    lost
                    and not Analysis.objects.filter(
                        run_id=item.run_id, account_id=item.account_id
                    ).exists()
                ):
                    Analysis.objects.create(
                        firm_id=item.firm_id,
                        run_id=item.run_id,
                        account_id=item.account_id,
                        status=AnalysisStatus.FAILED,
                        created_at=now,
                        message=f"the worker was lost {item.attempts + 1} times on this account",
                    )
        else:
            RunItem.objects.filter(
                pk=item.pk, status=AnalysisStatus.RUNNING, claim=item.claim
            ).update(status=AnalysisStatus.PENDING, claim="", attempts=item.attempts + 1)
    for run in Run.objects.filter(status__in=[RunStatus.PENDING, RunStatus.RUNNING]).order_by("pk"):
        open_items = RunItem.objects.filter(
            run=run, status__in=[AnalysisStatus.PENDING, AnalysisStatus.RUNNING]
        )
        if not open_items.exists():
            run_finish(run)
            touched.add(run.pk)
        elif run.pk in touched and not settings.CELERY_TASK_ALWAYS_EAGER:
            from workflow.tasks import run_work

            run_work.delay(run.pk)
    return sorted(touched)


@dataclass
class _Batch:
    """A claimed batch whose problems are built and whose solves are under way."""

    items: Sequence[RunItem]
    ids: list[int]
    outcomes: dict[int, Outcome]
    problems: list[tuple[int, Problem, str]]
    results: Any  # an iterator of Packed: the pool's, or computed here
    solve_started: float


def _prepare(
    run: Run,
    items: Sequence[RunItem],
    market: MarketData,
    pool: ProcessPoolExecutor | None,
    timings: dict[str, float],
    risk: dict[str, FactorModelArrays | None],
) -> _Batch:
    """Load, resolve and build the batch's problems, and start solving them."""
    ids = [item.account_id for item in items]
    t = time.perf_counter()
    data = accounts_data_load(run.firm_id, ids, run.as_of)
    timings["load"] += time.perf_counter() - t
    t = time.perf_counter()
    if run.draft is not None:
        resolved = resolve_accounts_with_draft(
            run.firm_id, ids, run.created_at, StoredVersion(**run.draft)
        )
    else:
        resolved = resolve_accounts(run.firm_id, ids, run.created_at)
    timings["resolve"] += time.perf_counter() - t
    if "model" not in risk and any(r.risk_model for r in resolved.values()):
        t = time.perf_counter()
        risk["model"] = risk_model_load(run.firm_id, run.as_of)
        timings["risk_model"] += time.perf_counter() - t
    t = time.perf_counter()
    outcomes: dict[int, Outcome] = {}
    problems: list[tuple[int, Problem, str]] = []
    for account_id in ids:
        try:
            built = problem_build(
                data[account_id], resolved[account_id], market, run.as_of, risk.get("model")
            )
        except Exception as exc:
            outcomes[account_id] = Outcome(account_id, AnalysisStatus.FAILED, f"build: {exc!r}")
            continue
        if isinstance(built, Skip):
            outcomes[account_id] = Outcome(
                account_id,
                AnalysisStatus.SKIPPED,
                built.reason,
                digest=resolved[account_id].digest,
            )
        else:
            problems.append((account_id, built, resolved[account_id].digest))
    timings["build"] += time.perf_counter() - t
    solve_started = time.perf_counter()
    jobs = [
        (p, {lot.pk: (lot.lot_id, lot.acquired_on) for lot in data[account_id].lots})
        for account_id, p, _ in problems
    ]
    results: Any = (
        pool.map(solve_packed, jobs, chunksize=4)
        if pool is not None
        else iter([solve_packed(job) for job in jobs])
    )
    return _Batch(items, ids, outcomes, problems, results, solve_started)


def _finish(ahead: _Batch, timings: dict[str, float]) -> list[Outcome]:
    """Collect the batch's solves (waiting for the pool if it is still at them)."""
    t = time.perf_counter()
    results = list(ahead.results)
    timings["solve_wait"] += time.perf_counter() - t
    outcomes = ahead.outcomes
    for (account_id, _, digest), packed in zip(ahead.problems, results, strict=True):
        outcomes[account_id] = Outcome(
            account_id, packed.status, packed.message, packed=packed, digest=digest
        )
        timings["solve"] += packed.solve_ms / 1000
    return [outcomes[a] for a in ahead.ids]


def _write(run: Run, items: Sequence[RunItem], outcomes: Sequence[Outcome]) -> list[Outcome]:
    """Write the batch's analyses, trades and lot sales in bulk; items still held by this claim
    only (an item the sweeper took back meanwhile is left to its new claim)."""
    now = timezone.now()
    with transaction.atomic():
        held = set(
            RunItem.objects.select_for_update()
            .filter(
                pk__in=[i.pk for i in items], status=AnalysisStatus.RUNNING, claim=items[0].claim
            )
            .values_list("pk", flat=True)
        )
        kept = [(i, o) for i, o in zip(items, outcomes, strict=True) if i.pk in held]
        items = [i for i, _ in kept]
        outcomes = [o for _, o in kept]
        analyses = []
        for o in outcomes:
            p = o.packed
            analyses.append(
                Analysis(
                    firm_id=run.firm_id,
                    run=run,
                    account_id=o.account_id,
                    status=o.status,
                    message=o.message[:4000],
                    problem=None if p is None else p.problem_zip,
                    input_hash="" if p is None else p.input_hash,
                    resolved_digest=o.digest,
                    solve_ms=0.0 if p is None else p.solve_ms,
                    created_at=now,
                    **({} if p is None else p.fields),
                )
            )
        created = Analysis.objects.bulk_create(analyses, batch_size=500)
        security_ids = dict(Security.objects.for_firm(run.firm_id).values_list("ticker", "pk"))
        # Plain rows, inserted in bulk (COPY on PostgreSQL): a direct-index account proposes
        # hundreds of trades and lot sales, and model objects would cost more than the solve.
        trades: list[tuple[Any, ...]] = []
        sales: list[tuple[Any, ...]] = []
        for analysis, o in zip(created, outcomes, strict=True):
            if o.packed is None:
                continue
            for tr in o.packed.trades:
                trades.append(
                    (
                        run.firm_id,
                        analysis.pk,
                        o.account_id,
                        security_ids[tr.ticker],
                        tr.side,
                        tr.shares,
                        tr.value,
                        tr.cost,
                        tr.realized_gain,
                        tr.tax,
                        tr.reason_kind,
                        tr.reason_rule,
                        tr.reason,
                    )
                )
            for sr, lot_id, acquired in o.packed.sales:
                sales.append(
                    (
                        run.firm_id,
                        analysis.pk,
                        o.account_id,
                        security_ids[sr.ticker],
                        lot_id,
                        sr.lot_pk,
                        acquired.isoformat(),
                        sr.shares,
                        sr.proceeds,
                        sr.realized_gain,
                        sr.term,
                        sr.tax,
                    )
                )
        rows_insert(model=ProposedTrade, fields=_TRADE_FIELDS, rows=trades)
        rows_insert(model=ProposedLotSale, fields=_LOT_SALE_FIELDS, rows=sales)
        by_status: dict[str, list[int]] = defaultdict(list)
        for item, o in zip(items, outcomes, strict=True):
            by_status[o.status].append(item.pk)
        for status, pks in sorted(by_status.items()):
            RunItem.objects.filter(pk__in=pks).update(status=status)
    return list(outcomes)


_TRADE_FIELDS = (
    "firm_id",
    "analysis_id",
    "account_id",
    "security_id",
    "side",
    "shares",
    "value",
    "cost",
    "realized_gain",
    "tax",
    "reason_kind",
    "reason_rule",
    "reason",
)
_LOT_SALE_FIELDS = (
    "firm_id",
    "analysis_id",
    "account_id",
    "security_id",
    "lot_id",
    "lot_ref",
    "acquired_on",
    "shares",
    "proceeds",
    "realized_gain",
    "term",
    "tax",
)


def run_finish(run: Run, *, timings: dict[str, float] | None = None) -> Run:
    """Mark the run complete once every item is terminal (counts per status recorded)."""
    authorize(actor=SystemActor.SCHEDULER, firm=run.firm_id, resource=Resource.RUN)
    open_items = RunItem.objects.filter(
        run=run, status__in=[AnalysisStatus.PENDING, AnalysisStatus.RUNNING]
    ).count()
    counts = dict(
        Analysis.objects.filter(run=run)
        .values_list("status")
        .annotate(n=Count("pk"))
        .values_list("status", "n")
    )
    fields: dict[str, Any] = {"counts": dict(sorted(counts.items()))}
    if timings is not None:
        fields["timings"] = timings
    if open_items == 0:
        fields.update(status=RunStatus.COMPLETE, finished_at=timezone.now())
    Run.objects.filter(pk=run.pk).update(**fields)
    run.refresh_from_db()
    return run


# --- schedules -------------------------------------------------------------------------------


def nightly_schedule_set(
    *,
    actor: Actor,
    firm_id: int,
    start_at: dt.time,
    time_zone: str,
    deadline_minutes: int = 360,
    enabled: bool = True,
) -> NightlySchedule:
    """Set when the firm's nightly run starts (local time) and its deadline; audited."""
    authorize(actor=actor, firm=firm_id, resource=Resource.RUN)
    try:
        ZoneInfo(time_zone)
    except (ZoneInfoNotFoundError, ValueError):
        raise ValueError(f"unknown time zone {time_zone!r} (e.g. America/New_York)") from None
    if not 1 <= deadline_minutes <= 24 * 60:
        raise ValueError("the deadline is 1 to 1,440 minutes after the start")
    with transaction.atomic():
        schedule, _ = NightlySchedule.objects.update_or_create(
            firm_id=firm_id,
            defaults={
                "start_at": start_at,
                "time_zone": time_zone,
                "deadline_minutes": deadline_minutes,
                "enabled": enabled,
            },
        )
        audit_record(
            firm=Firm.objects.get(pk=firm_id),
            actor=actor,
            action="nightly.schedule",
            obj=schedule,
            after={
                "start_at": start_at.isoformat(),
                "time_zone": time_zone,
                "deadline_minutes": deadline_minutes,
                "enabled": enabled,
            },
        )
    return schedule


def nightly_kickoff(*, actor: Actor, now: dt.datetime | None = None) -> list[int]:
    """Every minute (Celery beat): start and dispatch the scheduled run of each firm whose local
    start time has come today and whose run has not started today (one a day: the schedule row
    is claimed with a conditional update). Returns the runs started."""
    authorize(actor=actor, firm=None, resource=Resource.RUN)
    now = now or timezone.now()
    runs: list[Run] = []
    for schedule in NightlySchedule.objects.filter(enabled=True, firm__is_active=True).order_by(
        "firm_id"
    ):
        local = now.astimezone(ZoneInfo(schedule.time_zone))
        if local.time() < schedule.start_at or schedule.last_started_on == local.date():
            continue
        with transaction.atomic():
            claimed = (
                NightlySchedule.objects.filter(pk=schedule.pk)
                .exclude(last_started_on=local.date())
                .update(last_started_on=local.date())
            )
            if claimed != 1:
                continue
            runs.append(
                run_start(
                    actor=SystemActor.SCHEDULER,
                    firm_id=schedule.firm_id,
                    as_of=price_date_latest_of(schedule.firm_id) or local.date(),
                    trigger=RunTrigger.SCHEDULE,
                    deadline=now + dt.timedelta(minutes=schedule.deadline_minutes),
                )
            )
    for run in runs:
        run_dispatch(run)
    return [run.pk for run in runs]

"""``manage.py bench_nightly [--accounts N] [--workers K] [--scaling] [--json]``: a nightly run of
the demo book end to end, in the embedded mode (this process writes, K local processes solve).

Builds the demo book of N accounts if the database has none, then runs ``run_start`` +
``run_execute`` over every account of the demo firm and prints: wall time, accounts per second
(and per core), the time per phase (load, resolve, build, solve, persist), the per-account solve
time by kind (p50 / p99 / p99.9 / max; "direct index" = an account with 100 lots or more), the
straggler ratio (wall time over the solve time per worker: 1.0 means no tail), the bytes the run
stored per analysis (the growth of the analyses, trades and lot-sale tables), the statuses, and
the peak memory of this process and of a worker. ``--scaling`` runs with 1 worker first and
reports the speed-up. With ``--json`` the last line is one JSON object with ``mode``,
``accounts``, ``workers``, ``wall_s``, ``accounts_per_s_per_core``,
``model_accounts_per_s_per_core``, ``p50_ms``, ``p99_ms``, ``p999_ms``, ``max_ms``,
``straggler_ratio``, ``bytes_per_analysis``, ``statuses`` and more.

The Celery mode (PostgreSQL, Redis, K worker processes) is measured the same way once workers
run: ``run_dispatch`` instead of ``run_execute`` (docs/nightly.md).
"""

from __future__ import annotations

import json
import os
import resource
import time
from typing import Any

import numpy as np
from django.core.management.base import BaseCommand, CommandParser
from django.db import connection

from demo.book.build import DEFAULT_SEED, demo_book_build
from rebalancer.authz import SystemActor
from rebalancer.models import Firm
from workflow.models import Analysis, ProposedLotSale, ProposedTrade, Run, RunItem
from workflow.nightly import price_date_latest_of, run_execute, run_start

#: An account with at least this many lots counts as direct indexing in the figures.
DIRECT_INDEX_LOTS = 100
_TABLES = (Analysis, ProposedTrade, ProposedLotSale)


def _stored_bytes() -> int:
    """Bytes the run tables take now (PostgreSQL: their relations; SQLite: the database file)."""
    if connection.vendor == "postgresql":
        with connection.cursor() as cursor:
            total = 0
            for model in _TABLES:
                cursor.execute("SELECT pg_total_relation_size(%s)", [model._meta.db_table])
                total += int(cursor.fetchone()[0])
            return total
    name = str(connection.settings_dict["NAME"])
    if not os.path.isfile(name):  # an in-memory test database: the stored problems only
        from django.db.models import Sum
        from django.db.models.functions import Length

        total = Analysis.objects.aggregate(n=Sum(Length("problem")))["n"]
        return int(total or 0)
    with connection.cursor() as cursor:
        cursor.execute("PRAGMA wal_checkpoint(TRUNCATE)")
    return os.path.getsize(name)


def _percentiles(values: list[float]) -> dict[str, float]:
    if not values:
        return {"p50_ms": 0.0, "p99_ms": 0.0, "p999_ms": 0.0, "max_ms": 0.0, "count": 0}
    a = np.asarray(values)
    return {
        "p50_ms": round(float(np.percentile(a, 50)), 2),
        "p99_ms": round(float(np.percentile(a, 99)), 2),
        "p999_ms": round(float(np.percentile(a, 99.9)), 2),
        "max_ms": round(float(a.max()), 2),
        "count": len(values),
    }


def _maxrss_mb(who: int) -> float:
    return round(resource.getrusage(who).ru_maxrss / 1024, 1)


class Command(BaseCommand):
    help = "A nightly run of the demo book end to end (embedded mode), with its figures."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--accounts", type=int, default=2_000, help="book size (default 2,000)")
        parser.add_argument("--workers", type=int, default=len(os.sched_getaffinity(0)))
        parser.add_argument("--scaling", action="store_true", help="also run with 1 worker")
        parser.add_argument("--json", action="store_true", help="end with one JSON line")

    def _run(self, firm: Firm, workers: int) -> dict[str, Any]:
        before = _stored_bytes()
        started = time.perf_counter()
        run = run_start(
            actor=SystemActor.COMMAND, firm_id=firm.pk, as_of=price_date_latest_of(firm.pk)
        )
        run = run_execute(run, workers=workers)
        wall = time.perf_counter() - started
        stored = _stored_bytes() - before
        return self._figures(run, wall, workers, stored)

    def _figures(self, run: Run, wall: float, workers: int, stored: int) -> dict[str, Any]:
        weights = dict(RunItem.objects.filter(run=run).values_list("account_id", "weight"))
        solve: dict[str, list[float]] = {"model": [], "direct_index": []}
        for account_id, ms, status in Analysis.objects.filter(run=run).values_list(
            "account_id", "solve_ms", "status"
        ):
            if status == "skipped":
                continue
            kind = "direct_index" if weights.get(account_id, 0) >= DIRECT_INDEX_LOTS else "model"
            solve[kind].append(ms)
        every = solve["model"] + solve["direct_index"]
        solve_total_s = sum(every) / 1000
        cores = max(workers, 1)
        models_s = sum(solve["model"]) / 1000
        figures: dict[str, Any] = {
            "mode": "embedded",
            "database": connection.vendor,
            "accounts": run.accounts,
            "workers": workers,
            "wall_s": round(wall, 2),
            "accounts_per_s": round(run.accounts / wall, 1),
            "accounts_per_s_per_core": round(run.accounts / wall / cores, 1),
            # Model-portfolio accounts' own solve rate on one core (the batch phases are shared).
            "model_accounts_per_s_per_core": (
                round(len(solve["model"]) / models_s, 1) if models_s > 0 else None
            ),
            **{k: v for k, v in _percentiles(every).items() if k != "count"},
            "by_kind": {kind: _percentiles(v) for kind, v in solve.items()},
            "straggler_ratio": round(wall / (solve_total_s / cores), 2) if solve_total_s else None,
            "phases_s": run.timings,
            "bytes_per_analysis": round(stored / run.accounts) if run.accounts else 0,
            "statuses": run.counts,
            "peak_rss_mb": _maxrss_mb(resource.RUSAGE_SELF),
            "peak_worker_rss_mb": _maxrss_mb(resource.RUSAGE_CHILDREN),
        }
        return figures

    def handle(self, *args: Any, **options: Any) -> None:
        firm = Firm.objects.filter(slug="demo").first()
        if firm is None:
            self.stdout.write(f"Building the demo book ({options['accounts']:,} accounts) ...")
            report = demo_book_build(seed=DEFAULT_SEED, accounts=options["accounts"])
            self.stdout.write(f"Built in {report.seconds:.1f} s.")
            firm = Firm.objects.get(slug="demo")
        scaling = None
        if options["scaling"] and options["workers"] > 1:
            single = self._run(firm, 1)
            self.stdout.write(f"1 worker: {single['wall_s']} s")
            scaling = single
        figures = self._run(firm, options["workers"])
        if scaling is not None:
            figures["speedup_vs_1_worker"] = round(scaling["wall_s"] / figures["wall_s"], 2)
            figures["wall_s_1_worker"] = scaling["wall_s"]
        self.stdout.write(
            f"{figures['accounts']:,} accounts in {figures['wall_s']} s with "
            f"{figures['workers']} worker(s) on {figures['database']}: "
            f"{figures['accounts_per_s']} accounts/s ({figures['accounts_per_s_per_core']} per "
            f"core); phases {figures['phases_s']}"
        )
        for kind, p in figures["by_kind"].items():
            self.stdout.write(
                f"  {kind}: {p['count']:,} accounts, solve p50 {p['p50_ms']} ms, p99 "
                f"{p['p99_ms']}, p99.9 {p['p999_ms']}, max {p['max_ms']}"
            )
        self.stdout.write(
            f"Straggler ratio {figures['straggler_ratio']}, {figures['bytes_per_analysis']:,} "
            f"bytes stored per analysis, statuses {figures['statuses']}, peak RSS "
            f"{figures['peak_rss_mb']} MB (a worker {figures['peak_worker_rss_mb']} MB)"
        )
        if "speedup_vs_1_worker" in figures:
            self.stdout.write(
                f"Speed-up 1 -> {figures['workers']}: {figures['speedup_vs_1_worker']}x"
            )
        if options["json"]:
            self.stdout.write(json.dumps(figures, sort_keys=True))

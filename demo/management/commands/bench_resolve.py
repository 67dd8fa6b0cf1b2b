"""``manage.py bench_resolve [--accounts N] [--repeat R] [--json]``: speed of ``resolve_accounts``.

Builds the demo book of N accounts if the database has none (like ``bench_pages``), then resolves
every account of the demo firm in one call, R times (the best run counts: the machine is shared),
and prints accounts per second (wall clock, and per second of the process's CPU time), the SQL
queries of the call (and per batch of :data:`accounts.resolve.BATCH` accounts, which must not
grow with N), and the peak resident memory of the process. With ``--json`` the last line is
``{"accounts": N, "accounts_per_s": ..., "queries": ..., "peak_rss_mb": ...}`` (plus the
database, the batches, the queries per batch and the CPU-time rate).
"""

from __future__ import annotations

import json
import math
import resource
import sys
import time
from collections import Counter
from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser
from django.db import connection
from django.test.utils import CaptureQueriesContext

from accounts.models import Account
from accounts.resolve import BATCH, resolve_accounts
from demo.book.build import DEFAULT_SEED, demo_book_build
from rebalancer.models import Firm


def peak_rss_mb() -> float:
    """Peak resident set size of this process in MB (ru_maxrss: KiB on Linux, bytes on macOS)."""
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    return round(peak / (1024 * 1024 if sys.platform == "darwin" else 1024), 1)


class Command(BaseCommand):
    help = "Accounts resolved per second, queries and memory of resolve_accounts on a demo book."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--accounts", type=int, default=2_000, help="book size (default 2,000)")
        parser.add_argument("--repeat", type=int, default=3, help="timed runs (the best counts)")
        parser.add_argument("--json", action="store_true", help="end with one JSON line")

    def handle(self, *args: Any, **options: Any) -> None:
        accounts: int = options["accounts"]
        repeat: int = max(1, options["repeat"])
        firm = Firm.objects.filter(slug="demo").first()
        if firm is None:
            self.stdout.write(f"Building the demo book ({accounts:,} accounts) ...")
            report = demo_book_build(seed=DEFAULT_SEED, accounts=accounts)
            self.stdout.write(f"Built in {report.seconds:.1f} s.")
            firm = Firm.objects.get(slug="demo")
        ids = list(Account.objects.for_firm(firm.pk).order_by("pk").values_list("pk", flat=True))
        if not ids:
            raise CommandError("the demo firm has no accounts")
        if len(ids) != accounts:
            self.stdout.write(
                f"Note: the database holds a book of {len(ids):,} accounts; measuring it."
            )
        best = math.inf
        best_cpu = math.inf
        queries = 0
        statuses: Counter[str] = Counter()
        for _ in range(repeat):
            with CaptureQueriesContext(connection) as captured:
                started = time.perf_counter()
                cpu_started = time.process_time()
                resolved = resolve_accounts(firm.pk, ids)
                elapsed = time.perf_counter() - started
                cpu = time.process_time() - cpu_started
            best = min(best, elapsed)
            best_cpu = min(best_cpu, cpu)
            queries = len(captured.captured_queries)
            statuses = Counter(r.status for r in resolved.values())
            del resolved
        batches = math.ceil(len(ids) / BATCH)
        # One batch alone: the fixed per-call queries plus one batch's.
        with CaptureQueriesContext(connection) as captured:
            resolve_accounts(firm.pk, ids[:BATCH])
        one_batch = len(captured.captured_queries)
        per_batch = (queries - one_batch) / (batches - 1) if batches > 1 else None
        rate = len(ids) / best
        summary: dict[str, Any] = {
            "accounts": len(ids),
            "accounts_per_s": round(rate),
            "queries": queries,
            "peak_rss_mb": peak_rss_mb(),
            "database": connection.vendor,
            "batches": batches,
            "queries_one_batch": one_batch,
            "queries_per_further_batch": per_batch,
            "seconds": round(best, 3),
            # This process's CPU time alone: the rate on one core even on a shared machine (on
            # PostgreSQL the server's own work is not in it; the wall-clock rate includes it).
            "cpu_seconds": round(best_cpu, 3),
            "accounts_per_cpu_s": round(len(ids) / best_cpu) if best_cpu > 0 else None,
        }
        self.stdout.write(
            f"{len(ids):,} accounts resolved in {best:.2f} s (best of {repeat}): "
            f"{rate:,.0f} accounts/s on {connection.vendor} "
            f"({summary['accounts_per_cpu_s']:,} per second of this process's CPU time)"
        )
        self.stdout.write(
            f"Queries: {queries} for {batches} batch(es) of {BATCH:,}; {one_batch} for one batch"
            + ("" if per_batch is None else f", {per_batch:g} per further batch")
        )
        self.stdout.write(
            "Statuses: " + ", ".join(f"{n:,} {s}" for s, n in sorted(statuses.items()))
        )
        self.stdout.write(f"Peak RSS: {summary['peak_rss_mb']} MB")
        if options["json"]:
            self.stdout.write(json.dumps(summary, sort_keys=True))

"""``manage.py run_nightly --firm <slug>``: analyse every account of a firm now (embedded mode).

Prints progress (accounts done, rate, projected finish) and, at the end, the count per terminal
status and the time per phase.
"""

from __future__ import annotations

import datetime as dt
from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser

from rebalancer.authz import SystemActor
from rebalancer.models import Firm
from workflow.models import RunTrigger
from workflow.nightly import (
    RunProgress,
    price_date_latest_of,
    run_execute,
    run_start,
    run_sweep,
)


class Command(BaseCommand):
    help = "Analyse every account of a firm: one terminal analysis per account."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--firm", required=True, help="The firm's slug.")
        parser.add_argument(
            "--as-of",
            type=dt.date.fromisoformat,
            default=None,
            help="Default: the firm's latest price date (today if it has no prices).",
        )
        parser.add_argument("--workers", type=int, default=None, help="Default: every core.")

    def handle(self, *args: Any, **options: Any) -> None:
        firm = Firm.objects.filter(slug=options["firm"], is_active=True).first()
        if firm is None:
            raise CommandError(f"no active firm {options['firm']!r}")
        # In the embedded mode nothing else sweeps: take back claims a crashed run left behind.
        run_sweep(actor=SystemActor.COMMAND)
        as_of = options["as_of"] or price_date_latest_of(firm.pk)
        run = run_start(
            actor=SystemActor.COMMAND,
            firm_id=firm.pk,
            as_of=as_of,
            trigger=RunTrigger.MANUAL,
        )
        self.stdout.write(
            f"run {run.pk}: {run.accounts} accounts of {firm.name}, as of {run.as_of}"
        )

        def progress(p: RunProgress) -> None:
            rate = p.done / p.elapsed_s if p.elapsed_s > 0 else 0.0
            left = (p.total - p.done) / rate if rate > 0 else 0.0
            self.stdout.write(
                f"  {p.done:>7,}/{p.total:,} accounts  {rate:8.0f}/s  about {left:5.0f} s left"
            )

        run = run_execute(run, workers=options["workers"], progress=progress)
        self.stdout.write(f"run {run.pk} {run.status}: {run.counts}")
        self.stdout.write(f"seconds per phase: {run.timings}")

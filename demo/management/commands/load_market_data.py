"""``manage.py load_market_data --firm SLUG [--tickers A,B,...]``: thin wrapper over the loader."""

from __future__ import annotations

import time
from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser

from demo.marketdata.load import market_data_load
from rebalancer.authz import SystemActor
from rebalancer.models import Firm


class Command(BaseCommand):
    help = (
        "Load the real S&P 500 securities and synthetic funds, with their full daily price "
        "history, into one firm (idempotent). Runs as the system; one audit event per load."
    )

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--firm", required=True, help="slug of the firm to load into")
        parser.add_argument(
            "--tickers", default="", help="comma-separated tickers (default: every security)"
        )

    def handle(self, *args: Any, **options: Any) -> None:
        firm = Firm.objects.filter(slug=options["firm"]).first()
        if firm is None:
            raise CommandError(f"no firm with slug {options['firm']!r}")
        tickers = [t.strip() for t in options["tickers"].split(",") if t.strip()] or None
        started = time.perf_counter()
        try:
            counts = market_data_load(firm=firm, actor=SystemActor.COMMAND, tickers=tickers)
        except ValueError as exc:
            raise CommandError(str(exc)) from exc
        elapsed = time.perf_counter() - started
        for name, value in counts.as_dict().items():
            self.stdout.write(f"{name.replace('_', ' '):>22}: {value:,}")
        self.stdout.write(f"Loaded market data into {firm.name} in {elapsed:.1f} s.")

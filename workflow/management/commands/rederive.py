"""``manage.py rederive <analysis id>``: solve the stored problem again and compare."""

from __future__ import annotations

from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser

from rebalancer.authz import SystemActor
from workflow.models import Analysis
from workflow.rederive import rederive


class Command(BaseCommand):
    help = (
        "Re-solve an analysis's stored problem; confirm identical trades or print the difference."
    )

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("analysis_id", type=int)

    def handle(self, *args: Any, **options: Any) -> None:
        analysis = Analysis.objects.filter(pk=options["analysis_id"]).first()
        if analysis is None:
            raise CommandError(f"no analysis {options['analysis_id']}")
        result = rederive(actor=SystemActor.COMMAND, analysis=analysis)
        if result.identical:
            self.stdout.write(f"analysis {analysis.pk}: identical ({analysis.status})")
            for line in result.differences:
                self.stdout.write(f"  {line}")
            return
        for line in result.differences:
            self.stdout.write(f"  {line}")
        raise CommandError(f"analysis {analysis.pk}: {len(result.differences)} difference(s)")

"""``python manage.py import_csv KIND PATH --firm SLUG [--user USERNAME] [--force]``.

Imports one CSV file (``.csv`` or ``.csv.gz``) for one firm now, in this process, and prints the
result, counts and rows/s. Exits 1 with the error report when the file is rejected, 2 when the
import failed unexpectedly.
"""

from __future__ import annotations

from argparse import ArgumentParser
from pathlib import Path
from typing import Any

from django.contrib.auth import get_user_model
from django.core.management.base import BaseCommand, CommandError

from rebalancer.authz import Actor, NotAuthorized, SystemActor
from rebalancer.models import Firm, Membership
from workflow.feeds.service import import_file
from workflow.models import ImportKind, ImportRecord, ImportStatus


class Command(BaseCommand):
    help = "Import a CSV file of securities, prices, accounts or lots for one firm."

    def add_arguments(self, parser: ArgumentParser) -> None:
        parser.add_argument("kind", choices=ImportKind.values)
        parser.add_argument("path", type=Path)
        parser.add_argument("--firm", required=True, help="The firm's slug.")
        parser.add_argument(
            "--user",
            help="Import as this member of the firm (a data manager); default: the system.",
        )
        parser.add_argument(
            "--force",
            action="store_true",
            help="Compare every row even if this exact file was the last one applied.",
        )

    def handle(self, *args: Any, **options: Any) -> None:
        path: Path = options["path"]
        if not path.is_file():
            raise CommandError(f"no such file: {path}")
        firm = Firm.objects.filter(slug=options["firm"], is_active=True).first()
        if firm is None:
            raise CommandError(f"no active firm with slug {options['firm']!r}")
        actor: Actor = SystemActor.COMMAND
        if options["user"]:
            user = get_user_model().objects.filter(username=options["user"]).first()
            if user is None or not Membership.objects.filter(user=user, firm=firm).exists():
                raise CommandError(f"{options['user']!r} is not a member of {firm.slug}")
            actor = user
        try:
            record = import_file(
                firm=firm,
                actor=actor,
                kind=options["kind"],
                file_name=path.name,
                path=path,
                force=options["force"],
            )
        except NotAuthorized as exc:
            raise CommandError(f"{options['user']!r} may not import: {exc}") from exc
        self.stdout.write(summary(record))
        if record.status == ImportStatus.REJECTED:
            for error in record.errors:
                where = f"line {error['line']}" if error["line"] else "file"
                column = f", column {error['column']}" if error["column"] else ""
                value = f" (value {error['value']!r})" if error["value"] else ""
                self.stderr.write(f"  {where}{column}: {error['reason']}{value}")
            raise CommandError(record.message, returncode=1)
        if record.status == ImportStatus.FAILED:
            raise CommandError(record.message, returncode=2)


def summary(record: ImportRecord) -> str:
    rate = record.rows_per_second
    speed = f", {rate:,} rows/s" if rate else ""
    parts = [
        f"{record.created:,} created",
        f"{record.updated:,} updated",
        f"{record.unchanged:,} unchanged",
        f"{record.deleted:,} deleted",
        f"{record.skipped:,} skipped",
    ]
    return (
        f"import #{record.pk} {record.kind} {record.file_name}: {record.status}. "
        f"{record.rows:,} rows in {record.lines:,} lines ({', '.join(parts)}) "
        f"in {record.duration_ms / 1000:.2f} s{speed}. {record.message}"
    )

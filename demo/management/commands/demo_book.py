"""``manage.py demo_book [--accounts N] [--seed S]``: build the demo book (idempotent), time it.

Thin: parses options, calls :func:`demo.book.build.demo_book_build`, prints the report and,
only in demo mode (``settings.DEMO_MODE``), the demo logins.
"""

from __future__ import annotations

from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser

from demo.book.build import (
    DEFAULT_ACCOUNTS,
    DEFAULT_SEED,
    BookReport,
    DemoBookError,
    demo_book_build,
    demo_logins,
    demo_password,
)


class Command(BaseCommand):
    help = (
        "Build the demo book deterministically from a seed: 'Demo Wealth Partners' (one user per "
        "role, ACCOUNTS accounts) and 'Second Street Advisors' (a small book, to show isolation), "
        "with real S&P 500 prices and labelled synthetic funds. Does nothing if the demo firm "
        "exists."
    )

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument(
            "--accounts",
            type=int,
            default=DEFAULT_ACCOUNTS,
            help=f"accounts in the demo firm (default {DEFAULT_ACCOUNTS:,})",
        )
        parser.add_argument(
            "--seed", type=int, default=DEFAULT_SEED, help=f"random seed (default {DEFAULT_SEED})"
        )

    def handle(self, *args: Any, **options: Any) -> None:
        try:
            report = demo_book_build(seed=options["seed"], accounts=options["accounts"])
        except DemoBookError as exc:
            raise CommandError(str(exc)) from exc
        if report.created:
            self._report(report)
        else:
            self.stdout.write(
                "The demo book exists (firm 'demo'): left as it is. "
                "A fresh book needs a fresh database."
            )
        self._logins(report.password if report.created else demo_password())

    def _report(self, report: BookReport) -> None:
        self.stdout.write(self.style.SUCCESS(f"Built the demo book from seed {report.seed}."))
        for firm in report.firms:
            c = firm.counts
            kinds = ", ".join(f"{n:,} {k.replace('_', ' ')}" for k, n in sorted(c.by_kind.items()))
            self.stdout.write(
                f"  {firm.name} ({firm.slug}): {firm.users} users, {c.households:,} households, "
                f"{c.accounts:,} accounts ({kinds}), {c.positions:,} positions, {c.lots:,} lots; "
                f"{firm.securities:,} securities, {firm.prices:,} prices"
            )
            self.stdout.write(
                f"    market data {firm.seconds_market_data:.1f} s, program "
                f"{firm.seconds_program:.1f} s, book {firm.seconds_book:.1f} s (of which the "
                f"accounts' settings {firm.seconds_settings:.1f} s)"
            )
            if firm.program is not None and firm.program.definitions:
                self.stdout.write(
                    f"    program: {firm.program.definitions} definitions (synthetic), "
                    f"{len(firm.program.strategies)} strategies, {c.settings:,} accounts "
                    "customized"
                )
            elif firm.program is not None:
                self.stdout.write(
                    f"    subscribes to {', '.join(sorted(firm.program.strategies))}; "
                    f"{c.settings:,} accounts with settings"
                )
        self.stdout.write(
            f"Total {report.seconds:.1f} s (reading files {report.seconds_setup:.1f} s, "
            f"commit {report.seconds_commit:.1f} s, statistics {report.seconds_statistics:.1f} s)."
        )

    def _logins(self, password: str | None) -> None:
        logins = demo_logins()
        if not logins:
            return
        shown = password or "(printed when the book was built; set REBALANCER_DEMO_PASSWORD)"
        self.stdout.write(f"\nDemo logins (demo mode only), password for all: {shown}")
        rows: list[tuple[str, str, str]] = []
        groups: dict[tuple[str, str], list[str]] = {}
        for login in logins:
            groups.setdefault((login.role, login.firm), []).append(login.username)
        for (role, firm), usernames in groups.items():
            names = sorted(usernames, key=_natural)
            rows.append((names[0], role, firm))
            if len(names) > 2:  # many advisors: one line for the others
                rows.append((f"{names[1]} .. {names[-1]}", f"{role} ({len(names) - 1} more)", firm))
            elif len(names) == 2:
                rows.append((names[1], role, firm))
        width = max(len(r[0]) for r in rows)
        role_width = max(len(r[1]) for r in rows)
        for username, role, firm in rows:
            self.stdout.write(f"  {username:<{width}}  {role:<{role_width}}  {firm}")


def _natural(username: str) -> tuple[str, int]:
    """demo_advisor < demo_advisor2 < demo_advisor10."""
    stem = username.rstrip("0123456789")
    return stem, int(username[len(stem) :] or 0)

"""``manage.py bench_pages [--accounts N] [--repeat R] [--json]``: server time of every list page.

Builds the demo book of N accounts if the database has none, then requests every list and home
page (and the API's lists) the way a browser would, through Django's test client with a logged-in
session, R times each. Prints, per page, the median server time (the request through the whole
middleware stack and the template, without a network) and the number of SQL queries. With
``--json`` the last line is ``{"accounts": N, "database": ..., "pages": {"<page>": {"median_ms":
..., "queries": ...}, ...}}``.

Pages are requested as the role that works on them day to day: the lists and the API as the
overlay manager, members and the audit log as the firm admin, imports as the data manager, and
every role's home page as that role.
"""

from __future__ import annotations

import json
import statistics
import time
from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser
from django.db import connection
from django.db.models import Count
from django.test import Client
from django.test.utils import CaptureQueriesContext

from accounts.models import Account
from demo.book.build import DEFAULT_SEED, demo_book_build
from rebalancer.models import Firm, Membership
from rebalancer.roles import Role

#: (name, path, role) of every measured page. ``{account}`` is the firm's largest account.
PAGES: tuple[tuple[str, str, Role], ...] = (
    *((f"home_{role.value}", "/", role) for role in Role),
    ("households", "/households/", Role.OVERLAY_MANAGER),
    ("households_search", "/households/?q=smith", Role.OVERLAY_MANAGER),
    ("accounts", "/accounts/", Role.OVERLAY_MANAGER),
    ("accounts_last_page", "/accounts/?page=last", Role.OVERLAY_MANAGER),
    ("securities", "/securities/", Role.OVERLAY_MANAGER),
    ("account_largest", "/accounts/{account}/", Role.OVERLAY_MANAGER),
    ("members", "/members/", Role.FIRM_ADMIN),
    ("audit", "/audit/", Role.FIRM_ADMIN),
    ("imports", "/feeds/", Role.DATA_MANAGER),
    ("api_households", "/api/v1/households/", Role.OVERLAY_MANAGER),
    ("api_accounts", "/api/v1/accounts/", Role.OVERLAY_MANAGER),
    ("api_positions", "/api/v1/positions/", Role.OVERLAY_MANAGER),
    ("api_lots", "/api/v1/lots/", Role.OVERLAY_MANAGER),
    ("api_securities", "/api/v1/securities/", Role.OVERLAY_MANAGER),
)


class Command(BaseCommand):
    help = "Median server time and query count of every list and home page on a demo book."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--accounts", type=int, default=2_000, help="book size (default 2,000)")
        parser.add_argument("--repeat", type=int, default=3, help="requests per page (median)")
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
        book = Account.objects.for_firm(firm.pk).count()
        if book != accounts:
            self.stdout.write(
                f"Note: the database holds a book of {book:,} accounts; measuring it."
            )
        largest = _largest_account(firm.pk)
        clients: dict[Role, Client] = {}
        results: dict[str, dict[str, Any]] = {}
        for name, path, role in PAGES:
            client = clients.get(role) or _client_for(firm, role)
            clients[role] = client
            url = path.format(account=largest)
            times: list[float] = []
            queries = 0
            for _ in range(repeat + 1):  # the first request warms caches and is not counted
                with CaptureQueriesContext(connection) as captured:
                    started = time.perf_counter()
                    response = client.get(url, HTTP_HOST="localhost")
                    elapsed = time.perf_counter() - started
                if response.status_code != 200:
                    raise CommandError(f"{url} as {role}: HTTP {response.status_code}")
                times.append(elapsed)
                queries = len(captured.captured_queries)
            median_ms = round(statistics.median(times[1:]) * 1000, 1)
            results[name] = {"median_ms": median_ms, "queries": queries}
            self.stdout.write(f"{name:<26} {median_ms:>8.1f} ms {queries:>4} queries  {url}")
        summary = {"accounts": book, "database": connection.vendor, "pages": results}
        worst = max(results.items(), key=lambda item: item[1]["median_ms"])
        self.stdout.write(f"Slowest: {worst[0]} {worst[1]['median_ms']} ms")
        if options["json"]:
            self.stdout.write(json.dumps(summary, sort_keys=True))


def _client_for(firm: Firm, role: Role) -> Client:
    membership = (
        Membership.objects.filter(firm=firm, role=role, user__is_active=True)
        .select_related("user")
        .order_by("user__username")
        .first()
    )
    if membership is None:
        raise CommandError(f"the demo firm has no active {role.label}")
    client = Client()
    client.force_login(membership.user)
    return client


def _largest_account(firm_id: int) -> int:
    """The account with the most lots: the heaviest account page."""
    row = (
        Account.objects.for_firm(firm_id)
        .annotate(n=Count("lots"))
        .order_by("-n", "pk")
        .values_list("pk", flat=True)
        .first()
    )
    if row is None:
        raise CommandError("the demo firm has no accounts")
    return int(row)

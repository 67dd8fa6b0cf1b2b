"""Build the demo book: the demo firm, a second firm to show isolation, users, market data, and the
planned households, accounts, positions and lots, written in bulk in one transaction.

The build is idempotent at the firm level: when the demo firm exists nothing is written (audit
events are append-only and protect their firm, so a fresh book needs a fresh database). One audit
event per firm records what was built.
"""

from __future__ import annotations

import secrets
import time
from collections.abc import Sequence
from dataclasses import dataclass, field
from functools import partial
from typing import Literal

from django.conf import settings
from django.contrib.auth import get_user_model
from django.contrib.auth.hashers import make_password
from django.contrib.auth.models import AbstractUser, Permission
from django.contrib.contenttypes.models import ContentType
from django.db import connection, transaction
from django.utils import timezone

from accounts.models import AccountFlag, Household
from demo.book.names import FLAGS
from demo.book.plan import AccountPlan, BookSpec, HouseholdPlan, book_plan
from demo.book.program import (
    DemoProgram,
    customizations_write,
    program_build,
    program_tickers,
    subscribed_tickers,
    subscriber_build,
)
from demo.book.sales import realized_sales_build
from demo.book.universe import Universe, universe_load
from demo.book.write import Customize, WriteContext, WriteCounts, chunk_write
from demo.marketdata.load import market_data_load
from models_hub.models import Security
from rebalancer.audit import audit_record
from rebalancer.authz import SystemActor
from rebalancer.bulk import bulk_session, statistics_refresh
from rebalancer.models import Firm, Membership
from rebalancer.roles import Role
from rebalancer.tenancy import HOUSEHOLD_ASSIGNMENT_PERMISSION

#: The one password of every demo login (documented in docs/demo-book.md; demo data only).
#: The password of the demo logins of the embedded local demo only (SQLite in var/, local hosts).
LOCAL_DEMO_PASSWORD = "demo-rebalance-2020"


def demo_password() -> str | None:
    """The demo logins' password when it is known before the build: ``REBALANCER_DEMO_PASSWORD``,
    or on the embedded local demo the repository's :data:`LOCAL_DEMO_PASSWORD`. None elsewhere
    (a shared database, e.g. docker-compose): a random one is made and printed once."""
    if settings.DEMO_PASSWORD:
        return str(settings.DEMO_PASSWORD)
    return LOCAL_DEMO_PASSWORD if settings.EMBEDDED_DATABASE else None


OPERATOR_USERNAME = "operator"
DEFAULT_SEED = 42
DEFAULT_ACCOUNTS = 2_000
MAX_ACCOUNTS = 1_000_000
DEMO_SLUG = "demo"
SECOND_SLUG = "second-street"

PriceScope = Literal["all", "held", "none"]
#: "own": the firm gets the demo investment program (demo/book/program.py); "subscriber": it
#: subscribes to the first firm's published strategy; "none": no program, no account settings.
ProgramScope = Literal["own", "subscriber", "none"]


class DemoBookError(Exception):
    """The demo book cannot be built here (e.g. its usernames are taken); nothing was written."""


@dataclass(frozen=True)
class DemoFirmSpec:
    """One firm of the demo: who works there, what book it has, which prices it loads.

    ``prices``: "all" = every real and synthetic security with full history; "held" = only the
    securities its lots hold, with full history; "none" = those securities without prices.
    """

    name: str
    slug: str
    user_prefix: str
    roles: tuple[Role, ...]
    extra_advisors: int
    book: BookSpec
    prices: PriceScope
    program: ProgramScope = "none"

    def usernames(self) -> list[tuple[str, Role]]:
        users = [(f"{self.user_prefix}_{role.value}", role) for role in self.roles]
        users += [
            (f"{self.user_prefix}_advisor{n}", Role.ADVISOR)
            for n in range(2, 2 + self.extra_advisors)
        ]
        return users


@dataclass
class FirmReport:
    name: str
    slug: str
    users: int
    securities: int
    prices: int
    counts: WriteCounts
    seconds_market_data: float
    seconds_book: float
    program: DemoProgram | None = None
    seconds_program: float = 0.0  # writing the definitions and firm defaults
    seconds_settings: float = 0.0  # planning and writing the accounts' settings (part of book)


@dataclass
class BookReport:
    created: bool
    seed: int
    firms: list[FirmReport] = field(default_factory=list)
    seconds_setup: float = 0.0  # reading the market data files, hashing the password
    seconds_commit: float = 0.0
    seconds: float = 0.0
    password: str = ""  # of every demo login; printed once by the command
    seconds_statistics: float = 0.0  # ANALYZE after the load


def demo_specs(*, seed: int, accounts: int) -> tuple[DemoFirmSpec, DemoFirmSpec]:
    """The demo firm (``accounts`` accounts, advisors scaled to the book) and the second firm."""
    advisors = max(2, min(50, accounts // 400))
    demo = DemoFirmSpec(
        name="Demo Wealth Partners",
        slug=DEMO_SLUG,
        user_prefix="demo",
        roles=tuple(Role),
        extra_advisors=advisors - 1,
        book=BookSpec(
            stream="demo", seed=seed, accounts=accounts, advisors=advisors, number_prefix="DW"
        ),
        prices="all",
        program="own",
    )
    second = DemoFirmSpec(
        name="Second Street Advisors",
        slug=SECOND_SLUG,
        user_prefix="second",
        roles=(Role.FIRM_ADMIN, Role.ADVISOR),
        extra_advisors=0,
        book=BookSpec(
            stream="second-street",
            seed=seed,
            accounts=max(10, min(200, accounts // 50)),
            advisors=1,
            number_prefix="SS",
            # Funds and a few legacy stocks: a small firm, and a small price history to load.
            direct_indexing=False,
        ),
        prices="held",
        program="subscriber",
    )
    return demo, second


def _users_create(*, firm: Firm, spec: DemoFirmSpec, password_hash: str) -> dict[str, AbstractUser]:
    user_model = get_user_model()
    wanted = spec.usernames()
    users = user_model.objects.bulk_create(
        [
            user_model(
                username=username,
                email=f"{username}@demo.example",
                first_name="Demo",
                last_name=role.label,
                password=password_hash,
            )
            for username, role in wanted
        ]
    )
    by_name = {
        u.username: u for u in user_model.objects.filter(username__in=[n for n, _ in wanted])
    }
    Membership.objects.bulk_create(
        [Membership(firm=firm, user=by_name[username], role=role) for username, role in wanted]
    )
    assert len(users) == len(by_name)
    return by_name  # type: ignore[return-value]


def _assignment_permission_id() -> int:
    content_type = ContentType.objects.get_for_model(Household)
    return Permission.objects.get(
        content_type=content_type, codename=HOUSEHOLD_ASSIGNMENT_PERMISSION
    ).pk


def firm_book_build(
    *,
    spec: DemoFirmSpec,
    universe: Universe,
    password_hash: str,
    provider: DemoProgram | None = None,
) -> FirmReport:
    """Create one firm with its users, market data, program and planned book; one audit event.

    ``provider``: the program a "subscriber" firm subscribes to (the first firm's).

    Call inside a transaction (``demo_book_build`` does): the ids of the book are reserved per
    chunk, which on SQLite relies on holding the write lock.
    """
    if not connection.in_atomic_block:
        raise DemoBookError("firm_book_build must run inside a transaction")
    started = time.perf_counter()
    firm = Firm.objects.create(name=spec.name, slug=spec.slug)
    users = _users_create(firm=firm, spec=spec, password_hash=password_hash)
    advisor_ids = [users[name].pk for name, role in spec.usernames() if role == Role.ADVISOR]
    flags = AccountFlag.objects.bulk_create([AccountFlag(firm=firm, name=n) for n in FLAGS])
    flag_ids = {f.name: f.pk for f in AccountFlag.objects.for_firm(firm.pk)}
    assert len(flags) == len(flag_ids)

    planned: list[list[HouseholdPlan]] | None = None
    if spec.prices == "all":
        tickers: list[str] | None = None
    else:  # a small book: plan it whole first to learn what it holds
        planned = list(book_plan(spec=spec.book, universe=universe))
        tickers = sorted(
            {lot.ticker for chunk in planned for h in chunk for a in h.accounts for lot in a.lots}
        )
        if spec.program == "subscriber":
            tickers = sorted({*tickers, *subscribed_tickers()})
        elif spec.program == "own":
            tickers = sorted({*tickers, *program_tickers(universe)})
    loaded = market_data_load(
        firm=firm, actor=SystemActor.DEMO, tickers=tickers, prices=spec.prices != "none"
    )
    market_seconds = time.perf_counter() - started

    started = time.perf_counter()
    program: DemoProgram | None = None
    if spec.program == "own":
        program = program_build(firm_id=firm.pk, universe=universe)
    elif spec.program == "subscriber":
        if provider is None:
            raise DemoBookError(f"{spec.slug} subscribes to a provider: build the provider first")
        program = subscriber_build(firm_id=firm.pk, provider=provider)
    customize: Customize | None = None
    settings_seconds = [0.0]
    if program is not None:
        customize = partial(
            _customize,
            program=program,
            spec=spec.book,
            subscriber=spec.program == "subscriber",
            seconds=settings_seconds,
        )
    program_seconds = time.perf_counter() - started

    started = time.perf_counter()
    ctx = WriteContext(
        firm_id=firm.pk,
        advisor_ids=advisor_ids,
        security_ids=dict(Security.objects.for_firm(firm.pk).values_list("ticker", "id")),
        flag_ids=flag_ids,
        assignment_permission_id=_assignment_permission_id(),
        created_at=connection.ops.adapt_datetimefield_value(timezone.now()),
        dates=universe.closes.dates,
    )
    counts = WriteCounts()
    chunks = planned if planned is not None else book_plan(spec=spec.book, universe=universe)
    for chunk in chunks:
        counts.add(
            chunk_write(
                ctx=ctx,
                households=chunk,
                customize=customize,
            )
        )
    sales = (
        realized_sales_build(
            firm_id=firm.pk, universe=universe, stream=spec.book.stream, seed=spec.book.seed
        )
        if spec.prices != "none"
        else 0
    )
    audit_record(
        firm=firm,
        actor=SystemActor.DEMO,
        action="demo_book.build",
        after={
            "realized_sales": sales,
            "seed": spec.book.seed,
            "households": counts.households,
            "accounts": counts.accounts,
            "positions": counts.positions,
            "lots": counts.lots,
            "accounts_by_kind": dict(sorted(counts.by_kind.items())),
            "settings_versions": counts.settings,
            "definitions": 0 if program is None else program.definitions,
            "users": len(users),
        },
        reason=f"demo book planned from seed {spec.book.seed} (demo data, not client data)",
    )
    return FirmReport(
        name=firm.name,
        slug=firm.slug,
        users=len(users),
        securities=loaded.securities_created,
        prices=loaded.prices_created,
        counts=counts,
        seconds_market_data=market_seconds,
        seconds_book=time.perf_counter() - started,
        program=program,
        seconds_program=program_seconds,
        seconds_settings=settings_seconds[0],
    )


def _customize(
    accounts: Sequence[tuple[int, int, AccountPlan]],
    *,
    program: DemoProgram,
    spec: BookSpec,
    subscriber: bool,
    seconds: list[float],
) -> int:
    started = time.perf_counter()
    written = customizations_write(
        program=program, spec=spec, accounts=accounts, subscriber=subscriber
    )
    seconds[0] += time.perf_counter() - started
    return written


def _check_free(specs: tuple[DemoFirmSpec, ...]) -> None:
    user_model = get_user_model()
    names = [name for spec in specs for name, _ in spec.usernames()]
    taken = sorted(user_model.objects.filter(username__in=names).values_list("username", flat=True))
    if taken:
        raise DemoBookError(f"usernames already taken: {', '.join(taken)}; use a fresh database")
    firms = Firm.objects.filter(slug__in=[s.slug for s in specs]) | Firm.objects.filter(
        name__in=[s.name for s in specs]
    )
    clash = sorted(firms.values_list("slug", flat=True))
    if clash:
        raise DemoBookError(f"firms already exist: {', '.join(clash)}; use a fresh database")


def demo_book_build(*, seed: int = DEFAULT_SEED, accounts: int = DEFAULT_ACCOUNTS) -> BookReport:
    """Build the whole demo (both firms and the ``operator`` superuser) unless it exists.

    Only in demo mode: the demo creates logins (a platform superuser among them) whose password
    is printed, so it must never run against a real installation by accident.
    """
    if not settings.DEMO_MODE:
        raise DemoBookError(
            "demo_book runs only in demo mode (REBALANCER_DEMO=true): it creates logins, a "
            "platform superuser among them, with a printed password"
        )
    if not 1 <= accounts <= MAX_ACCOUNTS:
        raise DemoBookError(f"accounts must be between 1 and {MAX_ACCOUNTS:,}, got {accounts}")
    started = time.perf_counter()
    report = BookReport(created=False, seed=seed)
    if Firm.objects.filter(slug=DEMO_SLUG).exists():
        return report
    specs = demo_specs(seed=seed, accounts=accounts)
    universe = universe_load()
    # A fixed salt makes the hash, like the rest of the book, a function of the seed.
    password = demo_password() or secrets.token_urlsafe(12)
    password_hash = make_password(password, salt=f"demobook{seed}")
    report.seconds_setup = time.perf_counter() - started
    with transaction.atomic(), bulk_session():
        _check_free(specs)
        user_model = get_user_model()
        if not user_model.objects.filter(username=OPERATOR_USERNAME).exists():
            user_model.objects.create(
                username=OPERATOR_USERNAME,
                email=f"{OPERATOR_USERNAME}@demo.example",
                password=password_hash,
                is_staff=True,
                is_superuser=True,
            )
        provider: DemoProgram | None = None
        for spec in specs:
            firm_report = firm_book_build(
                spec=spec, universe=universe, password_hash=password_hash, provider=provider
            )
            provider = provider or firm_report.program
            report.firms.append(firm_report)
        committing = time.perf_counter()
    # On PostgreSQL the commit runs the deferred foreign-key checks of every inserted row.
    report.seconds_commit = time.perf_counter() - committing
    if not connection.in_atomic_block:  # a test may build inside its own transaction
        analyzing = time.perf_counter()
        statistics_refresh()
        report.seconds_statistics = time.perf_counter() - analyzing
    report.created = True
    report.password = password
    report.seconds = time.perf_counter() - started
    return report


@dataclass(frozen=True)
class DemoLogin:
    username: str
    role: str
    firm: str


def demo_logins() -> list[DemoLogin]:
    """The demo's logins as they exist now: the platform operator, then each firm's users."""
    out = []
    user_model = get_user_model()
    if user_model.objects.filter(username=OPERATOR_USERNAME, is_superuser=True).exists():
        out.append(DemoLogin(OPERATOR_USERNAME, "Platform operator (superuser)", "-"))
    memberships = (
        Membership.objects.filter(firm__slug__in=[DEMO_SLUG, SECOND_SLUG])
        .select_related("firm", "user")
        .order_by("firm__name", "role", "user__username")
    )
    out += [DemoLogin(m.user.username, m.get_role_display(), m.firm.name) for m in memberships]
    return out

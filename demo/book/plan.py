"""Plan a demo book: pure functions of (spec, seed, universe), no database, no clock.

Every household draws from its own ``random.Random`` seeded with the text
``"<stream>:<seed>:<what>:<household index>"`` (string seeds hash with SHA-512, independent of
``PYTHONHASHSEED``), so household i is the same whether the book is planned in one go or in chunks,
and the same seed gives the same book row for row.

Units: quantities are whole shares; money is integer cents; closes are 1/10,000 dollar
(``Universe.closes.ticks``). A lot bought on row r costs quantity x close(r), rounded half up to the
cent: the real split-adjusted close for stocks, the synthetic close for funds.
"""

from __future__ import annotations

import math
import random
from collections.abc import Iterator, Sequence
from dataclasses import dataclass

import numpy as np

from accounts.models import AccountStatus, RegistrationType
from demo.book.names import (
    CUSTODIANS,
    FIRST_NAMES,
    FLAG_DO_NOT_CONTACT,
    FLAG_ESG,
    FLAG_LEGACY,
    FLAG_NEW_CLIENT,
    FLAG_PENDING_TRANSFER,
    FLAG_TLH,
    SURNAMES,
)
from demo.book.universe import ModelPortfolio, Universe

TAXABLE = RegistrationType.TAXABLE.value
TRADITIONAL_IRA = RegistrationType.TRADITIONAL_IRA.value
ROTH_IRA = RegistrationType.ROTH_IRA.value
TRUST = RegistrationType.TRUST.value

KIND_MODEL = "model"
KIND_DIRECT_INDEXING = "direct_indexing"
KIND_LEGACY = "legacy_concentrated"

#: Household compositions (registration types of its accounts) and their weights.
COMPOSITIONS: tuple[tuple[tuple[str, ...], int], ...] = (
    ((TAXABLE,), 28),
    ((TAXABLE, TRADITIONAL_IRA), 24),
    ((TAXABLE, TRADITIONAL_IRA, ROTH_IRA), 20),
    ((TAXABLE, TRADITIONAL_IRA, ROTH_IRA, TRUST), 10),
    ((TRADITIONAL_IRA,), 8),
    ((TRUST, TAXABLE), 6),
    ((TAXABLE, TRADITIONAL_IRA, TRADITIONAL_IRA, ROTH_IRA), 4),
)
#: Account value at purchase prices: lognormal (median $, sigma) per registration type.
VALUE_MEDIAN_SIGMA = {
    TAXABLE: (350_000.0, 1.0),
    TRUST: (900_000.0, 0.9),
    TRADITIONAL_IRA: (180_000.0, 0.9),
    ROTH_IRA: (60_000.0, 0.8),
}
VALUE_MIN, VALUE_MAX = 25_000.0, 15_000_000.0
DI_MIN_VALUE = 250_000.0
DI_MIN_NAMES = 100
ESG_EXCLUDED_SECTOR = "Energy"
SHORT_TERM_ROWS = 252  # about one year of trading days
TICKS = 10_000


@dataclass(frozen=True)
class BookSpec:
    """What to plan: ``stream`` names the random streams (same stream + seed = same book)."""

    stream: str
    seed: int
    accounts: int
    advisors: int
    number_prefix: str
    direct_indexing: bool = True  # False: no direct-indexing accounts (a book of funds)


@dataclass(frozen=True)
class LotPlan:
    """``quantity`` whole shares of ``ticker`` bought at the close of row ``row``."""

    ticker: str
    row: int
    quantity: int
    basis_cents: int


@dataclass(frozen=True)
class AccountPlan:
    number: str
    name: str
    registration_type: str
    kind: str
    model: str  # the model portfolio followed ("" for direct indexing)
    status: str
    discretionary: bool
    cash_cents: int
    flags: tuple[str, ...]
    lots: tuple[LotPlan, ...]  # sorted by (ticker, row)

    def lot_id(self, k: int) -> str:
        """The id of ``lots[k]``: unique in the firm because account numbers are."""
        return f"{self.number}-{k + 1:04d}"


@dataclass(frozen=True)
class HouseholdPlan:
    index: int
    external_id: str
    name: str
    custodian: str
    advisor: int | None  # index into the firm's advisors; None = not assigned to anyone
    accounts: tuple[AccountPlan, ...]


def _rng(spec: BookSpec, what: str, index: int) -> random.Random:
    return random.Random(f"{spec.stream}:{spec.seed}:{what}:{index}")


def _composition(spec: BookSpec, index: int) -> tuple[str, ...]:
    rng = _rng(spec, "composition", index)
    shapes = [shape for shape, _ in COMPOSITIONS]
    return rng.choices(shapes, weights=[w for _, w in COMPOSITIONS])[0]


def household_sizes(spec: BookSpec) -> list[int]:
    """Accounts per household, summing to ``spec.accounts`` (the last household may be cut)."""
    sizes: list[int] = []
    left = spec.accounts
    while left > 0:
        size = min(len(_composition(spec, len(sizes))), left)
        sizes.append(size)
        left -= size
    return sizes


def _value(rng: random.Random, registration: str) -> float:
    median, sigma = VALUE_MEDIAN_SIGMA[registration]
    return min(VALUE_MAX, max(VALUE_MIN, rng.lognormvariate(math.log(median), sigma)))


def _contribution_rows(rng: random.Random, today: int, count: int, spread: bool) -> list[int]:
    """``count`` distinct ascending rows <= today: a first purchase, then later contributions."""
    first = rng.randrange(0, today - 60)
    if count == 1:
        return [first]
    if spread:  # periodic: roughly even gaps after the first purchase
        gap = max(20, (today - first) // count)
        rows = [first + k * rng.randint(gap // 2, gap) for k in range(count)]
        return sorted({min(r, today) for r in rows})
    return sorted({first, *rng.sample(range(first + 1, today + 1), count - 1)})


def _split(rng: random.Random, total: float, parts: int) -> list[float]:
    """``total`` dollars over ``parts`` contributions, the first the largest."""
    if parts == 1:
        return [total]
    first = rng.uniform(0.5, 0.8)
    rest = [rng.random() + 0.2 for _ in range(parts - 1)]
    scale = (1.0 - first) / sum(rest)
    return [total * first] + [total * r * scale for r in rest]


def _buy(
    universe: Universe, cols: np.ndarray, weights: np.ndarray, row: int, dollars: float
) -> list[tuple[int, int, int]]:
    """(column, quantity, basis cents) of whole-share buys of ``dollars`` split by ``weights``."""
    ticks = universe.closes.ticks[row, cols]
    quoted = ticks > 0
    w = np.where(quoted, weights, 0.0)
    total = w.sum()
    if total <= 0:
        return []
    spend = dollars * w / total
    qty = np.zeros(len(cols), dtype=np.int64)
    qty[quoted] = np.floor(spend[quoted] * TICKS / ticks[quoted]).astype(np.int64)
    out = []
    for j in np.flatnonzero(qty > 0):
        q = int(qty[j])
        out.append((int(cols[j]), q, (q * int(ticks[j]) + 50) // 100))
    return out


def _lots(universe: Universe, buys: Sequence[tuple[int, int, int, int]]) -> tuple[LotPlan, ...]:
    tickers = universe.closes.tickers
    return tuple(
        sorted(
            (LotPlan(tickers[col], row, q, basis) for row, col, q, basis in buys),
            key=lambda lot: (lot.ticker, lot.row),
        )
    )


def _model_buys(
    rng: random.Random, universe: Universe, model: ModelPortfolio, value: float
) -> list[tuple[int, int, int, int]]:
    """(row, column, quantity, basis) of a model account funded over 2-4 dates."""
    rows = _contribution_rows(rng, universe.today_row, rng.choice((2, 3, 3, 4)), spread=False)
    amounts = _split(rng, value, len(rows))
    cols = np.array([universe.closes.column(t) for t, _ in model.weights], dtype=np.int64)
    base = np.array([w for _, w in model.weights], dtype=np.float64)
    buys = []
    for k, (row, amount) in enumerate(zip(rows, amounts, strict=True)):
        # Later contributions skip some funds, so lot counts differ from fund to fund.
        weights = base if k == 0 else base * np.array([rng.random() > 0.3 for _ in base])
        buys += [
            (row, col, q, basis) for col, q, basis in _buy(universe, cols, weights, row, amount)
        ]
    return buys


def _direct_indexing_buys(
    rng: random.Random, universe: Universe, value: float
) -> tuple[list[tuple[int, int, int, int]], bool]:
    """(buys, screened) of a direct-indexing account: top-n names by cap, 1-4 contributions."""
    largest = len(universe.di_tickers)
    names = rng.randint(DI_MIN_NAMES, largest if value >= 1_000_000 else min(250, largest))
    screened = rng.random() < 0.15  # an ESG screen: no fossil-fuel producers
    chosen = [
        i for i in range(names) if not (screened and universe.di_sectors[i] == ESG_EXCLUDED_SECTOR)
    ]
    sel = np.array(chosen, dtype=np.int64)
    cols = universe.di_cols[sel]
    per_dollar = universe.di_cap_per_dollar[sel]
    rows = _contribution_rows(rng, universe.today_row, rng.randint(1, 4), spread=True)
    buys = []
    for row, amount in zip(rows, _split(rng, value, len(rows)), strict=True):
        close = universe.closes.ticks[row, cols].astype(np.float64)
        caps = per_dollar * close  # cap on this day, up to a constant factor
        buys += [(row, col, q, basis) for col, q, basis in _buy(universe, cols, caps, row, amount)]
    return buys, screened


def _legacy_buys(
    rng: random.Random, universe: Universe, rest_value: float, weight: float
) -> list[tuple[int, int, int, int]]:
    """Lots of one stock bought cheaply in 2015-16, worth ``weight`` of the account today."""
    ticker = rng.choice(universe.legacy_tickers)
    col = universe.closes.column(ticker)
    today = int(universe.closes.ticks[universe.today_row, col])
    wanted = weight / (1.0 - weight) * rest_value
    quantity = max(1, int(wanted * TICKS // today))
    candidates = [int(r) for r in universe.legacy_rows(ticker)]
    count = min(rng.choice((1, 1, 2, 3)), len(candidates), quantity)
    rows = sorted(rng.sample(candidates, count))
    cuts = sorted(rng.sample(range(1, quantity), count - 1)) if count > 1 else []
    parts = [b - a for a, b in zip([0, *cuts], [*cuts, quantity], strict=True)]
    out = []
    for row, q in zip(rows, parts, strict=True):
        close = int(universe.closes.ticks[row, col])
        out.append((row, col, q, (q * close + 50) // 100))
    return out


def _value_today(universe: Universe, buys: Sequence[tuple[int, int, int, int]]) -> float:
    ticks = universe.closes.ticks[universe.today_row]
    return sum(q * int(ticks[col]) for _, col, q, _ in buys) / TICKS


def _pick_model(rng: random.Random, universe: Universe, registration: str) -> ModelPortfolio:
    taxable = registration in (TAXABLE, TRUST)
    weights = [
        (3 if m.taxable_preferred else 1) if taxable else (0 if m.taxable_preferred else 1)
        for m in universe.models
    ]
    return rng.choices(universe.models, weights=weights)[0]


def _account_plan(
    *,
    spec: BookSpec,
    universe: Universe,
    rng: random.Random,
    number: str,
    name: str,
    registration: str,
) -> AccountPlan:
    value = _value(rng, registration)
    roll = rng.random()
    taxable = registration in (TAXABLE, TRUST)
    if spec.direct_indexing and taxable and value >= DI_MIN_VALUE and roll < 0.30:
        kind = KIND_DIRECT_INDEXING
    elif taxable and roll < (0.48 if value >= DI_MIN_VALUE else 0.20):
        kind = KIND_LEGACY
    else:
        kind = KIND_MODEL
    status_roll = rng.random()
    status = (
        AccountStatus.CLOSED.value
        if status_roll < 0.02
        else AccountStatus.SUSPENDED.value
        if status_roll < 0.05
        else AccountStatus.ACTIVE.value
    )
    discretionary = rng.random() >= 0.08
    flags: set[str] = set()
    model_name = ""
    buys: list[tuple[int, int, int, int]] = []
    if kind == KIND_DIRECT_INDEXING:
        buys, screened = _direct_indexing_buys(rng, universe, value)
        if rng.random() < 0.8:
            flags.add(FLAG_TLH)
        if screened:
            flags.add(FLAG_ESG)
    else:
        model = _pick_model(rng, universe, registration)
        model_name = model.name
        buys = _model_buys(rng, universe, model, value)
    cash_fraction = rng.uniform(0.30, 0.60) if rng.random() < 0.05 else rng.uniform(0.003, 0.04)
    if kind == KIND_LEGACY:
        rest = _value_today(universe, buys) * (1.0 + cash_fraction)
        buys += _legacy_buys(rng, universe, rest, rng.uniform(0.30, 0.60))
        flags.add(FLAG_LEGACY)
    if buys and min(row for row, *_ in buys) >= universe.today_row - SHORT_TERM_ROWS:
        flags.add(FLAG_NEW_CLIENT)
    if rng.random() < 0.03:
        flags.add(FLAG_DO_NOT_CONTACT)
    if rng.random() < 0.02:
        flags.add(FLAG_PENDING_TRANSFER)
    lots = _lots(universe, buys)
    cash_cents = round(_value_today(universe, buys) * cash_fraction * 100)
    if status == AccountStatus.CLOSED:  # a closed account has been emptied
        lots, cash_cents = (), 0
    return AccountPlan(
        number=number,
        name=name,
        registration_type=registration,
        kind=kind,
        model=model_name,
        status=status,
        discretionary=discretionary,
        cash_cents=cash_cents,
        flags=tuple(sorted(flags)),
        lots=lots,
    )


_REGISTRATION_LABEL = {
    TAXABLE: "Taxable",
    TRADITIONAL_IRA: "Traditional IRA",
    ROTH_IRA: "Roth IRA",
    TRUST: "Family Trust",
}


def household_plan(
    *, spec: BookSpec, universe: Universe, index: int, first_account: int, size: int
) -> HouseholdPlan:
    """Household ``index`` with ``size`` accounts numbered from ``first_account`` (0-based)."""
    rng = _rng(spec, "household", index)
    surname = rng.choice(SURNAMES)
    first, partner = rng.sample(FIRST_NAMES, 2)
    advisor = None if rng.random() < 0.03 else rng.randrange(spec.advisors)
    custodian = rng.choice(CUSTODIANS)
    accounts = []
    seen: dict[str, int] = {}
    for k, registration in enumerate(_composition(spec, index)[:size]):
        owner = (first, partner)[seen.get(registration, 0) % 2]  # two IRAs: one per spouse
        seen[registration] = seen.get(registration, 0) + 1
        label = _REGISTRATION_LABEL[registration]
        name = f"{surname} {label}" if registration == TRUST else f"{owner} {surname} {label}"
        accounts.append(
            _account_plan(
                spec=spec,
                universe=universe,
                rng=_rng(spec, f"account{k}", index),
                number=f"{spec.number_prefix}{first_account + k + 1:07d}",
                name=name,
                registration=registration,
            )
        )
    return HouseholdPlan(
        index=index,
        external_id=f"HH{index + 1:06d}",
        name=f"{first} & {partner} {surname}" if size > 1 else f"{first} {surname}",
        custodian=custodian,
        advisor=advisor,
        accounts=tuple(accounts),
    )


def book_plan(
    *, spec: BookSpec, universe: Universe, chunk_households: int = 200
) -> Iterator[list[HouseholdPlan]]:
    """The whole book, household by household, in chunks (memory stays flat at 100,000 accounts)."""
    sizes = household_sizes(spec)
    first_account = 0
    chunk: list[HouseholdPlan] = []
    for index, size in enumerate(sizes):
        chunk.append(
            household_plan(
                spec=spec, universe=universe, index=index, first_account=first_account, size=size
            )
        )
        first_account += size
        if len(chunk) == chunk_households:
            yield chunk
            chunk = []
    if chunk:
        yield chunk

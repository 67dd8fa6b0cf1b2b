"""The demo planner: pure, deterministic, chunk-independent, and realistic in shape."""

from __future__ import annotations

from collections import Counter
from dataclasses import replace

import pytest

from demo.book.plan import (
    DI_MIN_NAMES,
    KIND_DIRECT_INDEXING,
    KIND_LEGACY,
    KIND_MODEL,
    BookSpec,
    HouseholdPlan,
    book_plan,
    household_sizes,
)
from demo.book.universe import Universe, universe_load

SPEC = BookSpec(stream="demo", seed=42, accounts=120, advisors=3, number_prefix="DW")


@pytest.fixture(scope="module")
def universe() -> Universe:
    return universe_load()


@pytest.fixture(scope="module")
def book(universe: Universe) -> list[HouseholdPlan]:
    return [h for chunk in book_plan(spec=SPEC, universe=universe) for h in chunk]


def _accounts(book: list[HouseholdPlan]) -> list:  # type: ignore[type-arg]
    return [a for h in book for a in h.accounts]


def test_same_seed_same_book_whatever_the_chunking(
    universe: Universe, book: list[HouseholdPlan]
) -> None:
    again = [
        h for chunk in book_plan(spec=SPEC, universe=universe, chunk_households=7) for h in chunk
    ]
    assert again == book
    other = [h for c in book_plan(spec=replace(SPEC, seed=43), universe=universe) for h in c]
    assert other != book


def test_sizes_add_up_and_numbers_and_lot_ids_are_unique(book: list[HouseholdPlan]) -> None:
    assert sum(household_sizes(SPEC)) == SPEC.accounts == len(_accounts(book))
    numbers = [a.number for a in _accounts(book)]
    assert len(set(numbers)) == len(numbers)
    lot_ids = [a.lot_id(k) for a in _accounts(book) for k in range(len(a.lots))]
    assert len(set(lot_ids)) == len(lot_ids)


def test_mix_of_households_and_account_kinds(book: list[HouseholdPlan]) -> None:
    kinds = Counter(a.kind for a in _accounts(book))
    assert kinds[KIND_MODEL] > kinds[KIND_DIRECT_INDEXING] > 0
    assert kinds[KIND_LEGACY] > 0
    registrations = [{a.registration_type for a in h.accounts} for h in book]
    assert {"taxable", "traditional_ira", "roth_ira", "trust"} in registrations
    statuses = Counter(a.status for a in _accounts(book))
    assert statuses["active"] > statuses["suspended"] + statuses["closed"] > 0
    assert any(not a.discretionary for a in _accounts(book))
    assert all(a.cash_cents >= 0 for a in _accounts(book))


def test_model_accounts_hold_10_to_25_synthetic_funds_over_several_dates(
    book: list[HouseholdPlan],
) -> None:
    for account in _accounts(book):
        if account.kind != KIND_MODEL or not account.lots:
            continue
        tickers = {lot.ticker for lot in account.lots}
        assert all(t.startswith("SYN.") for t in tickers)
        assert 10 <= len(tickers) <= 25
        assert len({lot.row for lot in account.lots}) >= 2


def test_direct_indexing_is_cap_weighted_real_stocks_with_1_to_4_lots_each(
    universe: Universe, book: list[HouseholdPlan]
) -> None:
    di = [a for a in _accounts(book) if a.kind == KIND_DIRECT_INDEXING and a.lots]
    assert di
    for account in di:
        per_name = Counter(lot.ticker for lot in account.lots)
        assert DI_MIN_NAMES * 0.9 <= len(per_name) <= len(universe.di_tickers)
        assert set(per_name) <= set(universe.di_tickers)
        assert max(per_name.values()) <= 4
        # Cap-weighted: the largest 2015 name held costs far more than the smallest on day one.
        first_row = min(lot.row for lot in account.lots)
        cost = Counter[str]()
        for lot in account.lots:
            if lot.row == first_row:
                cost[lot.ticker] += lot.basis_cents
        largest = next(t for t in universe.di_tickers if t in cost)
        assert cost[largest] > 20 * min(cost.values())
        if "ESG screen" in account.flags:
            sectors = dict(zip(universe.di_tickers, universe.di_sectors, strict=True))
            assert all(sectors[t] != "Energy" for t in per_name)


def test_legacy_position_is_30_to_60_percent_at_a_low_basis(
    universe: Universe, book: list[HouseholdPlan]
) -> None:
    legacy = [a for a in _accounts(book) if a.kind == KIND_LEGACY and a.lots]
    assert legacy
    today = universe.closes.ticks[universe.today_row]
    for account in legacy:
        value: Counter[str] = Counter()
        basis: Counter[str] = Counter()
        for lot in account.lots:
            value[lot.ticker] += lot.quantity * int(today[universe.closes.column(lot.ticker)])
            basis[lot.ticker] += lot.basis_cents
        stocks = [t for t in value if not t.startswith("SYN.")]
        assert len(stocks) == 1
        total = sum(value.values()) / 100 + account.cash_cents  # in cents
        weight = value[stocks[0]] / 100 / total
        assert 0.29 <= weight <= 0.61
        assert basis[stocks[0]] * 1.6 <= value[stocks[0]] / 100 + 1  # gained at least 60 %


def test_lots_are_whole_shares_at_the_close_of_their_day(
    universe: Universe, book: list[HouseholdPlan]
) -> None:
    closes = universe.closes
    for account in _accounts(book):
        for lot in account.lots:
            ticks = int(closes.ticks[lot.row, closes.column(lot.ticker)])
            assert ticks > 0 and lot.quantity >= 1
            assert lot.basis_cents == (lot.quantity * ticks + 50) // 100
            assert 0 <= lot.row <= universe.today_row

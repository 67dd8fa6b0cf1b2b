"""Load the real and synthetic securities and their full daily price history into one firm."""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable, Iterator
from dataclasses import asdict, dataclass
from decimal import Decimal
from functools import lru_cache
from typing import Any

from django.db import transaction

from accounts.services import book_revalue
from demo.marketdata.real import (
    REAL_SOURCE,
    TICKS_PER_DOLLAR,
    CloseTable,
    real_closes,
    real_securities,
)
from demo.marketdata.synthetic import synthetic_closes, synthetic_funds
from models_hub.models import Price, Security, SecurityStatus, SecurityType
from models_hub.program_services import asset_classes_ensure
from rebalancer.audit import audit_record
from rebalancer.authz import Actor, SystemActor, authorize
from rebalancer.bulk import bulk_session, rows_insert
from rebalancer.models import Firm
from rebalancer.roles import Resource

#: Asset class of every real S&P 500 stock.
STOCK_ASSET_CLASS = "Equity > US > Large Cap"
_SECURITY_FIELDS = (
    "name",
    "security_type",
    "sector",
    "industry",
    "asset_class_id",
    "status",
    "is_synthetic",
    "source",
)


@dataclass(frozen=True)
class SecuritySpec:
    """What the reference data says one ``Security`` row should be."""

    ticker: str
    name: str
    security_type: str
    sector: str
    industry: str
    asset_class: str
    status: str
    is_synthetic: bool
    source: str

    def values(self, class_ids: dict[str, int]) -> dict[str, Any]:
        """Model field values; ``class_ids`` maps asset-class paths to the firm's class ids."""
        out = {f: getattr(self, f) for f in _SECURITY_FIELDS if f != "asset_class_id"}
        out["asset_class_id"] = class_ids[self.asset_class]
        return out


@dataclass(frozen=True)
class MarketDataCounts:
    """What one load did, per kind of row."""

    securities_created: int = 0
    securities_updated: int = 0
    securities_unchanged: int = 0
    prices_created: int = 0
    prices_updated: int = 0
    prices_unchanged: int = 0

    def as_dict(self) -> dict[str, int]:
        return asdict(self)


@lru_cache(maxsize=1)
def market_data_specs() -> tuple[SecuritySpec, ...]:
    """Every security the repository can load: the 482 real tickers, then the synthetic funds."""
    real = tuple(
        SecuritySpec(
            ticker=s.ticker,
            name=s.name,
            security_type=SecurityType.STOCK,
            sector=s.sector,
            industry=s.industry,
            asset_class=STOCK_ASSET_CLASS,
            status=SecurityStatus.DELISTED if s.delisted else SecurityStatus.ACTIVE,
            is_synthetic=False,
            source=REAL_SOURCE,
        )
        for s in real_securities()
    )
    synthetic = tuple(
        SecuritySpec(
            ticker=f.ticker,
            name=f.name,
            security_type=f.security_type,
            sector=f.sector,
            industry="",
            asset_class=f.asset_class,
            status=SecurityStatus.ACTIVE,
            is_synthetic=True,
            source=f.source,
        )
        for f in synthetic_funds()
    )
    return real + synthetic


@lru_cache(maxsize=1)
def market_closes() -> CloseTable:
    """Daily closes of every loadable security (real, then synthetic) on the real trading days."""
    return real_closes().combined(synthetic_closes())


def _check_actor(*, firm: Firm, actor: Actor) -> None:
    """Loading market data changes the firm's securities and its prices."""
    authorize(actor=actor, firm=firm, resource=Resource.SECURITY)
    authorize(actor=actor, firm=firm, resource=Resource.PRICE)


def _selected(tickers: Iterable[str] | None) -> list[SecuritySpec]:
    specs = market_data_specs()
    if tickers is None:
        return sorted(specs, key=lambda s: s.ticker)
    wanted = set(tickers)
    if not wanted:
        raise ValueError("no tickers given: pass None to load every security")
    unknown = wanted - {s.ticker for s in specs}
    if unknown:
        raise ValueError(f"no market data for tickers: {', '.join(sorted(unknown))}")
    return sorted((s for s in specs if s.ticker in wanted), key=lambda s: s.ticker)


def _history(closes: CloseTable, ticker: str) -> Iterator[tuple[int, int]]:
    """(row, close in 1/10,000 $) of every quoted day of ``ticker``."""
    column = closes.ticks[:, closes.column(ticker)].tolist()
    for row in closes.quoted_rows(ticker).tolist():
        yield row, column[row]


def _close_text(ticks: int) -> str:
    """A close as the exact decimal text the database parses (cheaper than a Decimal per row)."""
    return f"{ticks // TICKS_PER_DOLLAR}.{ticks % TICKS_PER_DOLLAR:04d}"


def market_data_load(
    *,
    firm: Firm,
    actor: Actor,
    tickers: Iterable[str] | None = None,
    prices: bool = True,
) -> MarketDataCounts:
    """Create or refresh ``firm``'s securities and their full daily price history.

    ``tickers`` None loads every real S&P 500 ticker and every synthetic fund (about 635,000 price
    rows); otherwise only the named ones (``ValueError`` naming any unknown ticker, nothing
    written). ``prices=False`` loads the securities alone. Idempotent: a second run creates
    nothing; a security whose reference fields changed is updated, as is a price whose close
    differs from the files. Prices are inserted in bulk; one audit event records the counts.
    ``actor`` is a user or a system actor (e.g. the demo book builder).
    """
    _check_actor(firm=firm, actor=actor)
    specs = _selected(tickers)
    closes = market_closes()
    security_unchanged = 0
    with transaction.atomic(), bulk_session():
        class_ids = {
            path: node.pk
            for path, node in asset_classes_ensure(
                actor=SystemActor.IMPORT, firm_id=firm.pk, paths={s.asset_class for s in specs}
            ).items()
        }
        by_ticker = {
            s.ticker: s
            for s in Security.objects.for_firm(firm.pk).filter(
                ticker__in=[spec.ticker for spec in specs]
            )
        }
        existing_ids = sorted(s.pk for s in by_ticker.values())
        changed: list[Security] = []
        new: list[Security] = []
        for spec in specs:
            security = by_ticker.get(spec.ticker)
            if security is None:
                new.append(Security(firm=firm, ticker=spec.ticker, **spec.values(class_ids)))
                continue
            wanted = spec.values(class_ids)
            if all(getattr(security, f) == v for f, v in wanted.items()):
                security_unchanged += 1
                continue
            for f, v in wanted.items():
                setattr(security, f, v)
            changed.append(security)
        for security in [*new, *changed]:
            security.full_clean(validate_unique=False, validate_constraints=False)
        Security.objects.bulk_create(new, batch_size=1000)
        Security.objects.bulk_update(changed, list(_SECURITY_FIELDS), batch_size=1000)
        security_created, security_updated = len(new), len(changed)
        ids = dict(
            Security.objects.for_firm(firm.pk)
            .filter(ticker__in=[spec.ticker for spec in specs])
            .values_list("ticker", "id")
        )

        stored: dict[tuple[int, dt.date], tuple[int, Decimal]] = {}
        for start in range(0, len(existing_ids) if prices else 0, 500):
            rows = Price.objects.for_firm(firm.pk).filter(
                security_id__in=existing_ids[start : start + 500]
            )
            for pk, security_id, date, close in rows.values_list(
                "pk", "security_id", "date", "close"
            ):
                stored[(security_id, date)] = (pk, close)

        stale: list[Price] = []
        unchanged: list[int] = [0]

        dates = closes.dates
        iso_dates = [d.isoformat() for d in dates]

        def missing() -> Iterator[tuple[int, int, str, str]]:
            # A generator, so 600,000 rows stream into the database instead of sitting in a list.
            for spec in specs if prices else ():
                security_id = ids[spec.ticker]
                for row, ticks in _history(closes, spec.ticker):
                    found = stored.get((security_id, dates[row])) if stored else None
                    if found is None:
                        yield (firm.pk, security_id, iso_dates[row], _close_text(ticks))
                    elif found[1] != (close := Decimal(ticks).scaleb(-4)):
                        stale.append(Price(pk=found[0], close=close))
                    else:
                        unchanged[0] += 1

        price_created = rows_insert(
            model=Price, fields=("firm_id", "security_id", "date", "close"), rows=missing()
        )
        price_unchanged = unchanged[0]
        Price.objects.bulk_update(stale, ["close"], batch_size=1000)
        book_revalue(firm_id=firm.pk, actor=actor)
        price_updated = len(stale)
        counts = MarketDataCounts(
            securities_created=security_created,
            securities_updated=security_updated,
            securities_unchanged=security_unchanged,
            prices_created=price_created,
            prices_updated=price_updated,
            prices_unchanged=price_unchanged,
        )
        audit_record(
            firm=firm,
            actor=actor,
            action="market_data.load",
            after={**counts.as_dict(), "tickers": len(specs)},
            reason="real S&P 500 closes and synthetic funds from data/sp500"
            if tickers is None
            else f"{len(specs)} tickers from data/sp500 and the synthetic funds",
        )
    return counts

"""A plausible year of realized sales for the demo book's taxable accounts (synthetic).

Each taxable or trust account of the firm sold, over the year before the book's last trading
day, a few whole-share slices of earlier lots of securities it still holds: 0 to 5 sales drawn
from the account's own ``random.Random("<stream>:<seed>:sales:<account number>")``, at the real
(or synthetic) close of a trading day in that year, each from a lot bought on an earlier trading
day at that day's close (lot ids ``<account number>-R<k>``, lots that no longer exist). The term
follows the holding period. The nightly batch reads them as the account's year-to-date gains and
the household's wash-sale look-back; they are generated data, labelled so in docs/demo-book.md.
"""

from __future__ import annotations

import datetime as dt
import random
from collections import defaultdict
from decimal import Decimal

from accounts.models import Account, Position, RegistrationType
from accounts.transactions import SaleInput, realized_sales_record
from demo.book.universe import Universe
from rebalancer.authz import SystemActor

MAX_SALES = 5
#: Trading days in the year of sales before the book's last day.
YEAR_ROWS = 252
TICKS = Decimal(10_000)


def _anniversary_passed(acquired: dt.date, sold: dt.date) -> bool:
    """Held more than one year (the day after the anniversary or later)."""
    try:
        anniversary = acquired.replace(year=acquired.year + 1)
    except ValueError:  # 29 February
        anniversary = dt.date(acquired.year + 1, 3, 1)
    return sold > anniversary


def realized_sales_build(*, firm_id: int, universe: Universe, stream: str, seed: int) -> int:
    """Write the firm's year of realized sales; returns how many. Deterministic."""
    closes = universe.closes
    last = universe.today_row
    first = max(1, last - YEAR_ROWS)
    held: dict[int, list[tuple[str, int, Decimal]]] = defaultdict(list)
    rows = (
        Position.objects.for_firm(firm_id)
        .filter(account__registration_type__in=[RegistrationType.TAXABLE, RegistrationType.TRUST])
        .values_list("account_id", "security__ticker", "security_id", "quantity")
        .order_by("account_id", "security__ticker")
    )
    for account_id, ticker, security_id, quantity in rows:
        held[account_id].append((ticker, security_id, quantity))
    numbers = dict(
        Account.objects.for_firm(firm_id)
        .filter(pk__in=sorted(held))
        .values_list("pk", "account_number")
    )
    sales: list[SaleInput] = []
    for account_id in sorted(held):
        rng = random.Random(f"{stream}:{seed}:sales:{numbers[account_id]}")
        positions = held[account_id]
        for k in range(rng.randint(0, MAX_SALES)):
            ticker, security_id, quantity = positions[rng.randrange(len(positions))]
            col = closes.column(ticker)
            sold_row = rng.randint(first, last)
            bought_row = rng.randint(0, sold_row - 1)
            sold_ticks, bought_ticks = (
                int(closes.ticks[sold_row, col]),
                int(closes.ticks[bought_row, col]),
            )
            if sold_ticks <= 0 or bought_ticks <= 0:
                continue
            shares = max(1, int(quantity) // rng.randint(5, 20))
            sold_on, bought_on = closes.dates[sold_row], closes.dates[bought_row]
            sales.append(
                SaleInput(
                    account_id=account_id,
                    security_id=security_id,
                    lot_id=f"{numbers[account_id]}-R{k + 1:02d}",
                    trade_date=sold_on,
                    quantity=Decimal(shares),
                    proceeds=(Decimal(shares * sold_ticks) / TICKS).quantize(Decimal("0.01")),
                    cost_basis=(Decimal(shares * bought_ticks) / TICKS).quantize(Decimal("0.01")),
                    term="LT" if _anniversary_passed(bought_on, sold_on) else "ST",
                )
            )
    realized_sales_record(firm_id=firm_id, actor=SystemActor.DEMO, sales=sales)
    return len(sales)

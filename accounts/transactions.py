"""Realized sales (the custodian's transactions): the one writer, and the reads the nightly
adapter needs (year-to-date gains by term, loss sales in the wash-sale window)."""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence
from dataclasses import dataclass
from decimal import Decimal
from typing import NamedTuple

from django.db import transaction

from accounts.models import RealizedSale
from rebalancer.authz import Actor, authorize
from rebalancer.bulk import chunked
from rebalancer.roles import Resource


class SaleInput(NamedTuple):
    account_id: int
    security_id: int
    lot_id: str
    trade_date: dt.date
    quantity: Decimal
    proceeds: Decimal
    cost_basis: Decimal
    term: str


@dataclass
class SalesCounts:
    created: int = 0
    updated: int = 0
    unchanged: int = 0


_VALUE_FIELDS = ("security_id", "quantity", "proceeds", "cost_basis", "term")


def realized_sales_record(*, firm_id: int, actor: Actor, sales: Sequence[SaleInput]) -> SalesCounts:
    """Insert new sales and correct changed ones (keyed by account, lot id and trade date);
    the same sales again change nothing."""
    authorize(actor=actor, firm=firm_id, resource=Resource.POSITION)
    counts = SalesCounts()
    with transaction.atomic():
        existing: dict[tuple[int, str, dt.date], RealizedSale] = {}
        for chunk in chunked(sorted({s.account_id for s in sales})):
            for stored in RealizedSale.objects.filter(firm_id=firm_id, account_id__in=chunk):
                existing[(stored.account_id, stored.lot_id, stored.trade_date)] = stored
        new: list[RealizedSale] = []
        changed: list[RealizedSale] = []
        for s in sales:
            row = existing.get((s.account_id, s.lot_id, s.trade_date))
            values = {
                "security_id": s.security_id,
                "quantity": s.quantity,
                "proceeds": s.proceeds,
                "cost_basis": s.cost_basis,
                "term": s.term,
            }
            if row is None:
                new.append(
                    RealizedSale(
                        firm_id=firm_id,
                        account_id=s.account_id,
                        lot_id=s.lot_id,
                        trade_date=s.trade_date,
                        **values,
                    )
                )
            elif any(getattr(row, k) != v for k, v in values.items()):
                for k, v in values.items():
                    setattr(row, k, v)
                changed.append(row)
            else:
                counts.unchanged += 1
        RealizedSale.objects.bulk_create(new, batch_size=2000)
        RealizedSale.objects.bulk_update(changed, list(_VALUE_FIELDS), batch_size=2000)
        counts.created, counts.updated = len(new), len(changed)
    return counts

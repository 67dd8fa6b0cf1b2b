"""Realized sales (transactions) import: the custodian's settled sales, one row per lot sold.

Keyed by account, lot id and trade date: new rows are inserted, corrected ones updated, the same
file again changes nothing; nothing is deleted (a sale does not un-happen; a correction is a row
with the same key). The nightly batch reads them for the year-to-date realized gains by term
and the wash-sale look-back of the account and its household.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from decimal import Decimal

from django.utils import timezone

from accounts.transactions import SaleInput, realized_sales_record
from rebalancer.authz import SystemActor
from rebalancer.models import Firm
from workflow.feeds.accounts import UNKNOWN_ACCOUNT, account_ids
from workflow.feeds.base import Counts, RowStream, ticker_ids
from workflow.feeds.errors import ErrorReport
from workflow.feeds.reader import Columns, FeedSource, Row, normalise_ticker

COLUMNS = Columns(
    required=(
        "custodian",
        "account_number",
        "ticker",
        "lot_id",
        "trade_date",
        "quantity",
        "proceeds",
        "cost_basis",
        "term",
    )
)
TERMS = {"st": "ST", "short": "ST", "short_term": "ST", "lt": "LT", "long": "LT", "long_term": "LT"}


@dataclass(slots=True)
class _SaleRow:
    line: int
    custodian: str
    account_number: str
    security_id: int
    lot_id: str
    trade_date: dt.date
    quantity: Decimal
    proceeds: Decimal
    cost_basis: Decimal
    term: str


class TransactionsImporter:
    def __init__(self) -> None:
        self.rows: list[tuple[int, _SaleRow]] = []
        self.today = timezone.localdate()

    def validate(self, *, firm: Firm, source: FeedSource, report: ErrorReport) -> Counts:
        tickers = ticker_ids(firm)
        parsed: list[_SaleRow] = []
        first_line: dict[tuple[str, str, str, dt.date], int] = {}
        stream = RowStream(source, columns=COLUMNS, report=report)
        for row in stream:
            sale = self._parse(row, tickers)
            if sale is None:
                continue
            key = (sale.custodian, sale.account_number, sale.lot_id, sale.trade_date)
            if key in first_line:
                row.fail(
                    "lot_id",
                    sale.lot_id,
                    f"the same lot sold twice on one date (first on line {first_line[key]})",
                )
                continue
            first_line[key] = row.line
            parsed.append(sale)
        ids = account_ids(firm, [(r.custodian, r.account_number) for r in parsed])
        for r in parsed:
            account_id = ids.get((r.custodian, r.account_number))
            if account_id is None:
                report.add(
                    line=r.line,
                    column="account_number",
                    value=r.account_number,
                    reason=UNKNOWN_ACCOUNT,
                )
            else:
                self.rows.append((account_id, r))
        return Counts(lines=stream.lines, rows=stream.lines)

    def _parse(self, row: Row, tickers: dict[str, int]) -> _SaleRow | None:
        custodian = row.text("custodian", max_length=64)
        number = row.text("account_number", max_length=64)
        raw_ticker = row.raw("ticker")
        security_id = tickers.get(normalise_ticker(raw_ticker))
        if security_id is None:
            row.fail("ticker", raw_ticker, "unknown ticker" if raw_ticker else "missing value")
        lot_id = row.text("lot_id", max_length=64)
        trade_date = row.date("trade_date", latest=self.today)
        quantity = row.decimal("quantity", places=6, max_digits=20, minimum="positive")
        proceeds = row.decimal("proceeds", places=2, max_digits=20, minimum="non_negative")
        basis = row.decimal("cost_basis", places=2, max_digits=20, minimum="non_negative")
        raw_term = row.raw("term")
        term = TERMS.get(raw_term.lower())
        if term is None:
            row.fail("term", raw_term, "must be ST or LT")
        if not row.ok:
            return None
        assert custodian and number and security_id and lot_id and trade_date and quantity
        assert proceeds is not None and basis is not None and term is not None
        return _SaleRow(
            row.line,
            custodian,
            number,
            security_id,
            lot_id,
            trade_date,
            quantity,
            proceeds,
            basis,
            term,
        )

    def apply(self, *, firm: Firm, source: FeedSource, sha256: str) -> Counts:
        counts = Counts(lines=len(self.rows), rows=len(self.rows))
        result = realized_sales_record(
            firm_id=firm.pk,
            actor=SystemActor.IMPORT,
            sales=[
                SaleInput(
                    account_id,
                    r.security_id,
                    r.lot_id,
                    r.trade_date,
                    r.quantity,
                    r.proceeds,
                    r.cost_basis,
                    r.term,
                )
                for account_id, r in self.rows
            ],
        )
        counts.created, counts.updated, counts.unchanged = (
            result.created,
            result.updated,
            result.unchanged,
        )
        return counts

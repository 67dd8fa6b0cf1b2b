"""Positions with lots: a snapshot of every lot of the accounts the file names.

For each account named in the file, the file's lots replace the account's lots (matched by lot
id: unchanged ones are kept as they are, changed ones updated, missing ones deleted, new ones
created), and each position is recomputed as the sum of its lots, all in the import's one
transaction: ``Position.quantity == sum(lot.quantity)`` holds before and after. Accounts the file
does not name are not touched. A row with only ``custodian`` and ``account_number`` (every lot
column blank) names an account that now holds no lots.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from decimal import Decimal

from django.utils import timezone

from accounts.models import TaxLot
from accounts.services import LotInput, lots_sync
from rebalancer.authz import SystemActor
from rebalancer.bulk import chunked
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
        "quantity",
        "cost_basis",
        "acquired_on",
    )
)
_LOT_COLUMNS = ("ticker", "lot_id", "quantity", "cost_basis", "acquired_on")


@dataclass(slots=True)
class _LotRow:
    line: int
    custodian: str
    account_number: str
    account_id: int
    lot: tuple[int, str, Decimal, Decimal, dt.date] | None  # security id, lot id, qty, basis, date


class LotsImporter:
    def __init__(self) -> None:
        self.rows: list[_LotRow] = []
        self.today = timezone.localdate()

    def validate(self, *, firm: Firm, source: FeedSource, report: ErrorReport) -> Counts:
        tickers = ticker_ids(firm)
        first_line: dict[str, int] = {}
        stream = RowStream(source, columns=COLUMNS, report=report)
        for row in stream:
            parsed = self._parse(row, tickers, first_line)
            if parsed is not None:
                self.rows.append(parsed)
        self._resolve_accounts(firm, report)
        self._reject_lots_of_other_accounts(firm, report)
        return Counts(lines=stream.lines, rows=stream.lines)

    def _parse(
        self, row: Row, tickers: dict[str, int], first_line: dict[str, int]
    ) -> _LotRow | None:
        custodian = row.text("custodian", max_length=64)
        number = row.text("account_number", max_length=64)
        if all(not row.raw(column) for column in _LOT_COLUMNS):
            if custodian is None or number is None:
                return None
            return _LotRow(row.line, custodian, number, 0, None)
        raw_ticker = row.raw("ticker")
        security_id = tickers.get(normalise_ticker(raw_ticker))
        if security_id is None:
            row.fail("ticker", raw_ticker, "unknown ticker" if raw_ticker else "missing value")
        lot_id = row.text("lot_id", max_length=64)
        if lot_id is not None:
            if lot_id in first_line:
                row.fail("lot_id", lot_id, f"duplicate lot id (first on line {first_line[lot_id]})")
            else:
                first_line[lot_id] = row.line
        quantity = row.decimal("quantity", places=6, max_digits=20, minimum="positive")
        basis = row.decimal("cost_basis", places=2, max_digits=20, minimum="non_negative")
        acquired = row.date("acquired_on", latest=self.today)
        if not row.ok:
            return None
        assert custodian and number and security_id and lot_id and quantity and acquired
        assert basis is not None
        return _LotRow(
            row.line, custodian, number, 0, (security_id, lot_id, quantity, basis, acquired)
        )

    def _resolve_accounts(self, firm: Firm, report: ErrorReport) -> None:
        """Accounts are looked up in this firm only; any other is an unknown account."""
        ids = account_ids(firm, [(r.custodian, r.account_number) for r in self.rows])
        kept: list[_LotRow] = []
        for r in self.rows:
            account_id = ids.get((r.custodian, r.account_number))
            if account_id is None:
                report.add(
                    line=r.line,
                    column="account_number",
                    value=r.account_number,
                    reason=UNKNOWN_ACCOUNT,
                )
            else:
                r.account_id = account_id
                kept.append(r)
        self.rows = kept

    def _reject_lots_of_other_accounts(self, firm: Firm, report: ErrorReport) -> None:
        """A lot id already held by an account the file does not name cannot be taken over."""
        named = {r.account_id for r in self.rows}
        line_of = {r.lot[1]: r.line for r in self.rows if r.lot is not None}
        clashes: set[str] = set()
        for chunk in chunked(sorted(line_of)):
            held = TaxLot.objects.for_firm(firm.pk).filter(lot_id__in=chunk)
            for lot_id, account_id in held.values_list("lot_id", "account_id"):
                if account_id not in named:
                    clashes.add(lot_id)
        for lot_id in sorted(clashes):
            report.add(
                line=line_of[lot_id],
                column="lot_id",
                value=lot_id,
                reason="duplicate lot id: this lot id belongs to an account this file "
                "does not name",
            )

    def apply(self, *, firm: Firm, source: FeedSource, sha256: str) -> Counts:
        """Hand every named account's lots to :func:`accounts.services.lots_sync` (the one
        writer of lots and positions), as the import worker."""
        counts = Counts(lines=len(self.rows), rows=len(self.rows))
        lots: dict[int, list[LotInput]] = {r.account_id: [] for r in self.rows}
        for r in self.rows:
            if r.lot is not None:
                lots[r.account_id].append(LotInput(*r.lot))
        synced = lots_sync(firm_id=firm.pk, actor=SystemActor.IMPORT, lots=lots)
        counts.created = synced.created
        counts.updated = synced.updated
        counts.unchanged = synced.unchanged
        counts.deleted = synced.deleted
        counts.detail.update(
            accounts=synced.accounts,
            positions_created=synced.positions_created,
            positions_updated=synced.positions_updated,
            positions_deleted=synced.positions_deleted,
        )
        counts.other_changes = synced.positions_changed
        return counts

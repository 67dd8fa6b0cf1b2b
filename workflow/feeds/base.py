"""What every kind of import shares: counts, the importer protocol, and the row stream."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any, Protocol

from models_hub.models import Security
from rebalancer.models import Firm
from workflow.feeds.errors import ErrorReport, FeedChangedError
from workflow.feeds.reader import Columns, FeedSource, Header, Row, parse_header, read_records

#: Rows per bulk_create / bulk_update statement group, and per lookup of existing rows.
BATCH_SIZE = 2_000


@dataclass
class Counts:
    """What an import found (validation) or did (apply), in records of the import's kind.

    ``other_changes`` counts writes to related rows (households, flags, positions, advisor
    assignments) so that an import changing only those is still "applied".
    """

    lines: int = 0
    rows: int = 0
    created: int = 0
    updated: int = 0
    unchanged: int = 0
    deleted: int = 0
    skipped: int = 0
    other_changes: int = 0
    detail: dict[str, Any] = field(default_factory=dict)

    @property
    def changed(self) -> bool:
        return bool(self.created or self.updated or self.deleted or self.other_changes)


class Importer(Protocol):
    """One kind of file. ``validate`` reads the whole file and reports every bad row; ``apply``
    (called only when validation found nothing, inside the import's transaction) writes it."""

    def validate(self, *, firm: Firm, source: FeedSource, report: ErrorReport) -> Counts: ...

    def apply(self, *, firm: Firm, source: FeedSource, sha256: str) -> Counts: ...


class RowStream:
    """The data rows of a file with a fixed set of columns, header checked, widths checked.

    Iterating yields :class:`Row` objects whose width matches the header; rows of the wrong width
    and header problems go to ``report``. ``lines`` counts the data lines read.
    """

    def __init__(
        self,
        source: FeedSource,
        *,
        columns: Columns,
        report: ErrorReport,
        expect_sha256: str | None = None,
    ) -> None:
        self.source = source
        self.columns = columns
        self.report = report
        self.expect_sha256 = expect_sha256
        self.header: Header | None = None
        self.lines = 0

    def __iter__(self) -> Iterator[Row]:
        records = read_records(self.source, expect_sha256=self.expect_sha256)
        first = next(records, None)
        if first is None:
            self.report.add(line=1, column="", value="", reason="the file is empty")
            return
        line, cells = first
        self.header = parse_header(line=line, cells=cells, columns=self.columns, report=self.report)
        if self.header is None:
            records.close()
            return
        for line, cells in records:
            self.lines += 1
            row = Row(line=line, cells=cells, header=self.header, report=self.report)
            if row.check_width():
                yield row
        if self.lines == 0:
            self.report.add(line=line + 1, column="", value="", reason="the file has no data rows")


def apply_report_guard(report: ErrorReport, source: FeedSource) -> None:
    """On the apply pass every row already passed validation: a new error means the file moved."""
    if report:
        raise FeedChangedError(f"{source.name} read differently on the second pass")


def ticker_ids(firm: Firm) -> dict[str, int]:
    """Upper-cased ticker -> security id for the firm's security master."""
    rows = Security.objects.for_firm(firm.pk).values_list("ticker", "id")
    return {ticker.upper(): pk for ticker, pk in rows}

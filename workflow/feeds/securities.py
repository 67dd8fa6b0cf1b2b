"""Security master import: one row per ticker, inserted or updated in place (never deleted)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from models_hub.models import PATH_SEPARATOR, AssetClass, Security, SecurityStatus, SecurityType
from models_hub.program_services import ProgramError, asset_classes_ensure, path_split
from rebalancer.authz import SystemActor
from rebalancer.models import Firm
from workflow.feeds.base import BATCH_SIZE, Counts, RowStream
from workflow.feeds.errors import ErrorReport
from workflow.feeds.reader import Columns, FeedSource, normalise_ticker, ticker_problem

COLUMNS = Columns(
    required=("ticker", "name", "type"),
    optional=("sector", "industry", "asset_class", "status", "synthetic"),
)

#: Optional free-text column -> (model field, max length). Blank cells are allowed (and stored).
_TEXT_COLUMNS = {
    "sector": ("sector", 100),
    "industry": ("industry", 150),
}


@dataclass(frozen=True, slots=True)
class _SecurityRow:
    line: int
    ticker: str
    values: dict[str, Any]  # model field -> value, only for columns present in the file


class SecuritiesImporter:
    """Validated rows are kept in memory: a security master has thousands of rows, not millions."""

    def __init__(self) -> None:
        self.rows: list[_SecurityRow] = []
        self.file_name = ""

    def validate(self, *, firm: Firm, source: FeedSource, report: ErrorReport) -> Counts:
        self.file_name = source.name
        first_line: dict[str, int] = {}
        non_leaves = set(
            AssetClass.objects.for_firm(firm.pk)
            .filter(children__isnull=False)
            .values_list("path", flat=True)
        )
        stream = RowStream(source, columns=COLUMNS, report=report)
        for row in stream:
            raw_ticker = row.raw("ticker")
            ticker = normalise_ticker(raw_ticker)
            problem = ticker_problem(ticker)
            if problem is not None:
                row.fail("ticker", raw_ticker, problem)
            elif ticker in first_line:
                row.fail(
                    "ticker",
                    raw_ticker,
                    f"ticker appears twice (first on line {first_line[ticker]})",
                )
            else:
                first_line[ticker] = row.line
            values: dict[str, Any] = {
                "name": row.text("name", max_length=200),
                "security_type": row.choice("type", SecurityType),
            }
            for column, (field_name, max_length) in _TEXT_COLUMNS.items():
                if row.header.has(column):
                    values[field_name] = row.text(column, max_length=max_length, blank_ok=True)
            if row.header.has("asset_class"):
                raw_path = row.text("asset_class", max_length=400, blank_ok=True)
                values["asset_class"] = ""
                if raw_path:
                    try:
                        path = PATH_SEPARATOR.join(path_split(raw_path))
                    except ProgramError as exc:
                        row.fail("asset_class", raw_path, str(exc.errors["path"]))
                    else:
                        if path in non_leaves:
                            row.fail(
                                "asset_class",
                                raw_path,
                                "has sub-classes; securities point at a leaf class",
                            )
                        values["asset_class"] = path
            if row.header.has("status"):
                values["status"] = row.choice("status", SecurityStatus)
            if row.header.has("synthetic"):
                values["is_synthetic"] = row.boolean("synthetic")
            if row.ok:
                self.rows.append(_SecurityRow(line=row.line, ticker=ticker, values=values))
        return Counts(lines=stream.lines, rows=stream.lines)

    def apply(self, *, firm: Firm, source: FeedSource, sha256: str) -> Counts:
        counts = Counts(lines=len(self.rows), rows=len(self.rows))
        existing = {s.ticker.upper(): s for s in Security.objects.for_firm(firm.pk)}
        origin = f"import {self.file_name}"[:200]
        to_create: list[Security] = []
        to_update: list[Security] = []
        fields: set[str] = set()
        paths = {r.values["asset_class"] for r in self.rows if r.values.get("asset_class")}
        classes = asset_classes_ensure(actor=SystemActor.IMPORT, firm_id=firm.pk, paths=paths)
        for row in self.rows:
            if "asset_class" in row.values:
                path = row.values.pop("asset_class")
                row.values["asset_class_id"] = classes[path].pk if path else None
        for row in self.rows:
            security = existing.get(row.ticker)
            if security is None:
                to_create.append(
                    Security(firm=firm, ticker=row.ticker, source=origin, **row.values)
                )
                continue
            changed = sorted(k for k, v in row.values.items() if getattr(security, k) != v)
            if not changed:
                counts.unchanged += 1
                continue
            for name in changed:
                setattr(security, name, row.values[name])
            security.source = origin
            fields.update(changed)
            to_update.append(security)
        Security.objects.bulk_create(to_create, batch_size=BATCH_SIZE)
        if to_update:
            Security.objects.bulk_update(to_update, [*sorted(fields), "source"], BATCH_SIZE)
        counts.created = len(to_create)
        counts.updated = len(to_update)
        return counts

"""Errors of an import: one bad cell (or line) of a file, and the report collecting them."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

#: A rejected file keeps this many errors on its record (every one is still counted).
MAX_REPORTED_ERRORS = 10_000
#: Longer cell values are cut in the report.
MAX_VALUE_LENGTH = 80


@dataclass(frozen=True, slots=True)
class RowError:
    """One problem: 1-based physical line of the file, column name ('' for the whole line)."""

    line: int
    column: str
    value: str
    reason: str

    def as_dict(self) -> dict[str, Any]:
        return {
            "line": self.line,
            "column": self.column,
            "value": self.value,
            "reason": self.reason,
        }

    def __str__(self) -> str:
        where = f"line {self.line}" + (f", column {self.column}" if self.column else "")
        value = f" (value {self.value!r})" if self.value else ""
        return f"{where}: {self.reason}{value}"


def _clip(value: str) -> str:
    return value if len(value) <= MAX_VALUE_LENGTH else value[: MAX_VALUE_LENGTH - 1] + "…"


class FeedError(Exception):
    """A problem that stops reading the file (wrong encoding, bad header, broken gzip or CSV)."""

    def __init__(self, *, line: int, reason: str, column: str = "", value: str = "") -> None:
        self.error = RowError(line=line, column=column, value=_clip(value), reason=reason)
        super().__init__(str(self.error))


class FeedChangedError(Exception):
    """The file read differently on the apply pass than on the validation pass."""


class ErrorReport:
    """Collects every bad row of a file; keeps the first :data:`MAX_REPORTED_ERRORS`."""

    def __init__(self, limit: int = MAX_REPORTED_ERRORS) -> None:
        self.limit = limit
        self.errors: list[RowError] = []
        self.count = 0

    def add(self, *, line: int, column: str, value: str, reason: str) -> None:
        self.count += 1
        if len(self.errors) < self.limit:
            self.errors.append(
                RowError(line=line, column=column, value=_clip(value), reason=reason)
            )

    def add_error(self, error: RowError) -> None:
        self.add(line=error.line, column=error.column, value=error.value, reason=error.reason)

    def __bool__(self) -> bool:
        return self.count > 0

    def as_list(self) -> list[dict[str, Any]]:
        """Errors by line (within a line, in the order found), as JSON-ready dicts."""
        ordered = sorted(self.errors, key=lambda e: e.line)
        return [error.as_dict() for error in ordered]

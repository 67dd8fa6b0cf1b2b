"""Streaming CSV reading with encoding checks, and typed cell parsing that reports, not raises.

A file is read line by line from disk or from bytes, through gzip when compressed, and decoded
strictly as UTF-8 (a leading byte-order mark is dropped). Nothing keeps more than one record in
memory, so a file of any length can be validated and applied in constant memory; callers that
need a second pass simply read the file again.
"""

from __future__ import annotations

import csv
import datetime as dt
import functools
import gzip
import hashlib
import io
import re
import zlib
from collections.abc import Generator, Iterator
from dataclasses import dataclass
from decimal import Decimal, InvalidOperation
from pathlib import Path
from typing import IO

from django.db import models

from workflow.feeds.errors import ErrorReport, FeedChangedError, FeedError

GZIP_MAGIC = b"\x1f\x8b"
UTF8_BOM = b"\xef\xbb\xbf"
UTF16_BOMS = (b"\xff\xfe", b"\xfe\xff")
SUFFIXES = (".csv", ".csv.gz")
_CHUNK = 1 << 16
#: Defaults of the two input bounds (settings FEED_MAX_LINE_BYTES, FEED_MAX_DECOMPRESSED_BYTES).
MAX_LINE_BYTES = 1 << 20
MAX_DECOMPRESSED_BYTES = 2 << 30


def _limits() -> tuple[int, int]:
    """(longest line, largest decompressed file) in bytes, read at each import."""
    from django.conf import settings

    return (
        getattr(settings, "FEED_MAX_LINE_BYTES", MAX_LINE_BYTES),
        getattr(settings, "FEED_MAX_DECOMPRESSED_BYTES", MAX_DECOMPRESSED_BYTES),
    )


@dataclass(frozen=True)
class FeedSource:
    """A file to import that can be read more than once: a path on disk or bytes in memory."""

    name: str
    path: Path | None = None
    data: bytes | None = None

    @classmethod
    def from_path(cls, path: Path, *, name: str | None = None) -> FeedSource:
        return cls(name=name or path.name, path=path)

    @classmethod
    def from_bytes(cls, data: bytes, *, name: str) -> FeedSource:
        return cls(name=name, data=data)

    def open_raw(self) -> IO[bytes]:
        if self.data is not None:
            return io.BytesIO(self.data)
        assert self.path is not None, "a FeedSource needs a path or data"
        return self.path.open("rb")

    def digest(self) -> tuple[str, int]:
        """(sha256 hex, size in bytes) of the file as stored (compressed if it is a .csv.gz)."""
        sha = hashlib.sha256()
        size = 0
        with self.open_raw() as raw:
            while chunk := raw.read(_CHUNK):
                sha.update(chunk)
                size += len(chunk)
        return sha.hexdigest(), size


class _HashingReader(io.RawIOBase):
    """Passes bytes through and hashes them, to prove a second pass read the same file."""

    def __init__(self, raw: IO[bytes]) -> None:
        self._raw = raw
        self.sha = hashlib.sha256()

    def readable(self) -> bool:
        return True

    def readinto(self, buffer: memoryview) -> int:  # type: ignore[override]
        data = self._raw.read(len(buffer))
        n = len(data)
        buffer[:n] = data
        self.sha.update(data)
        return n

    def close(self) -> None:
        self._raw.close()
        super().close()


class _LineCounter:
    __slots__ = ("line",)

    def __init__(self) -> None:
        self.line = 0


def _bounded_lines(binary: io.BufferedIOBase, counter: _LineCounter) -> Iterator[bytes]:
    """Physical lines as bytes, never holding more than the line limit of one line.

    A line longer than ``FEED_MAX_LINE_BYTES`` or a file larger than ``FEED_MAX_DECOMPRESSED_BYTES``
    (after gunzip) stops reading with a :class:`FeedError`, so a gzip bomb is refused after
    reading at most the limit, never inflated whole.
    """
    max_line, max_total = _limits()
    total = 0
    while raw := binary.readline(max_line + 1):
        total += len(raw)
        if len(raw) > max_line and not raw.endswith(b"\n"):
            raise FeedError(
                line=counter.line + 1,
                reason=f"line {counter.line + 1} is longer than {max_line:,} bytes; "
                "is this a CSV file?",
            )
        if total > max_total:
            raise FeedError(
                line=counter.line + 1,
                reason=f"the file is larger than {max_total:,} bytes uncompressed; "
                "split it into smaller files",
            )
        yield raw


def _decoded_lines(binary: io.BufferedIOBase, counter: _LineCounter) -> Iterator[str]:
    """Physical lines as text; the first loses its UTF-8 BOM. Anything not UTF-8 stops reading."""
    for raw in _bounded_lines(binary, counter):
        counter.line += 1
        if counter.line == 1:
            if raw.startswith(UTF16_BOMS):
                raise FeedError(
                    line=1,
                    reason="wrong encoding: the file is UTF-16; save it as UTF-8 "
                    "(with or without BOM)",
                )
            if raw.startswith(UTF8_BOM):
                raw = raw[len(UTF8_BOM) :]
        if b"\x00" in raw:
            raise FeedError(
                line=counter.line,
                reason=f"wrong encoding: line {counter.line} contains NUL bytes "
                "(UTF-16 without BOM?); save the file as UTF-8",
            )
        try:
            yield raw.decode("utf-8")
        except UnicodeDecodeError as exc:
            bad = raw[exc.start : exc.start + 1]
            raise FeedError(
                line=counter.line,
                value=raw[max(0, exc.start - 20) : exc.start + 20]
                .decode("utf-8", "replace")
                .strip(),
                reason=f"wrong encoding: line {counter.line} is not valid UTF-8 (byte "
                f"0x{bad.hex()} at position {exc.start + 1}); save the file as UTF-8",
            ) from None


def _open_text(source: FeedSource, raw: io.RawIOBase) -> io.BufferedIOBase:
    """The decompressed byte stream of ``raw``, after checking the file name and gzip header."""
    lower = source.name.lower()
    if not lower.endswith(SUFFIXES):
        raise FeedError(line=0, value=source.name, reason="file name must end in .csv or .csv.gz")
    buffered = io.BufferedReader(raw, buffer_size=_CHUNK)
    compressed = buffered.peek(2)[:2] == GZIP_MAGIC
    if lower.endswith(".gz") and not compressed:
        raise FeedError(
            line=0,
            value=source.name,
            reason="the file name ends in .csv.gz but the content is not gzip-compressed",
        )
    if compressed:
        return gzip.GzipFile(fileobj=buffered, mode="rb")
    return buffered


def read_records(
    source: FeedSource, *, expect_sha256: str | None = None
) -> Generator[tuple[int, list[str]], None, None]:
    """Yield ``(line, cells)`` for every non-blank CSV record, the header first.

    ``line`` is the 1-based physical line the record starts on. Raises :class:`FeedError` for a
    file that cannot be read on (wrong encoding, broken gzip, malformed quoting), and, given
    ``expect_sha256``, :class:`FeedChangedError` if the bytes read differ from that digest.
    """
    hashing = _HashingReader(source.open_raw())
    with hashing:
        binary = _open_text(source, hashing)
        counter = _LineCounter()
        reader = csv.reader(_decoded_lines(binary, counter), strict=True)
        while True:
            start = counter.line + 1
            try:
                cells = next(reader)
            except StopIteration:
                break
            except csv.Error as exc:
                raise FeedError(line=counter.line, reason=f"malformed CSV: {exc}") from None
            except (OSError, EOFError, zlib.error) as exc:
                raise FeedError(
                    line=counter.line,
                    reason=f"the gzip data is corrupt or truncated ({exc.__class__.__name__})",
                ) from None
            if not cells or all(not cell.strip() for cell in cells):
                continue
            yield start, cells
        if expect_sha256 is not None:
            # Read to the end (a gzip trailer) so the digest covers the whole file.
            while hashing.read(_CHUNK):
                pass
            if hashing.sha.hexdigest() != expect_sha256:
                raise FeedChangedError(f"{source.name} changed while it was being imported")


# --- Header --------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Columns:
    """The columns a kind reads: required ones must be present, optional ones may be."""

    required: tuple[str, ...]
    optional: tuple[str, ...] = ()

    @property
    def all(self) -> tuple[str, ...]:
        return self.required + self.optional


class Header:
    """Column name -> index of one file's header line."""

    def __init__(self, *, line: int, names: list[str]) -> None:
        self.line = line
        self.names = names
        self.index = {name: i for i, name in enumerate(names)}

    def has(self, name: str) -> bool:
        return name in self.index


def normalise_name(cell: str) -> str:
    return cell.strip().lower()


def parse_header(
    *, line: int, cells: list[str], columns: Columns, report: ErrorReport
) -> Header | None:
    """The header, or None after reporting each missing, unknown, empty or repeated column."""
    names = [normalise_name(cell) for cell in cells]
    before = report.count
    seen: set[str] = set()
    for position, name in enumerate(names, start=1):
        if not name:
            report.add(line=line, column=f"#{position}", value="", reason="empty column name")
        elif name in seen:
            report.add(line=line, column=name, value=name, reason="column appears twice")
        elif name not in columns.all:
            report.add(
                line=line,
                column=name,
                value=cells[position - 1].strip(),
                reason="unknown column; expected " + ", ".join(columns.all),
            )
        seen.add(name)
    for name in columns.required:
        if name not in seen:
            report.add(line=line, column=name, value="", reason="missing column")
    if report.count > before:
        return None
    return Header(line=line, names=names)


# --- Cells ---------------------------------------------------------------------------------------

_NUMBER = re.compile(r"[+-]?(?:\d+(?:\.\d*)?|\.\d+)\Z")
_DATE = re.compile(r"\d{4}-\d{2}-\d{2}\Z")
_TRUE = frozenset({"true", "yes", "y", "1"})
_FALSE = frozenset({"false", "no", "n", "0"})
_POWERS = {places: Decimal(1).scaleb(-places) for places in range(0, 10)}


def parse_decimal(text: str, *, places: int, max_digits: int) -> Decimal | str:
    """A plain decimal number (no thousands separators, exponents or currency signs), or why not."""
    if _NUMBER.match(text) is None:
        return "malformed number"
    try:
        value = Decimal(text)
    except InvalidOperation:  # pragma: no cover - the pattern admits only valid numbers
        return "malformed number"
    exponent = value.as_tuple().exponent
    assert isinstance(exponent, int)
    if exponent < -places:
        quantized = value.quantize(_POWERS[places])
        if quantized != value:
            return f"more than {places} decimal places"
        value = quantized
    if value and value.adjusted() >= max_digits - places:
        return f"too large (at most {max_digits - places} digits before the decimal point)"
    return value


@functools.lru_cache(maxsize=8192)
def parse_date(text: str) -> dt.date | str:
    """An ISO date ``YYYY-MM-DD``, or why not. Cached: a price file repeats few distinct dates."""
    if _DATE.match(text) is None:
        return "malformed date (expected YYYY-MM-DD)"
    try:
        return dt.date.fromisoformat(text)
    except ValueError:
        return "malformed date (no such day)"


class Row:
    """One data record of a file with typed getters that report bad cells to ``report``.

    A getter returns None after reporting; ``ok`` says whether any cell of the row was bad.
    Getters must only be called for columns present in the header.
    """

    __slots__ = ("cells", "header", "line", "ok", "report")

    def __init__(self, *, line: int, cells: list[str], header: Header, report: ErrorReport) -> None:
        self.line = line
        self.cells = cells
        self.header = header
        self.report = report
        self.ok = True

    def check_width(self) -> bool:
        expected = len(self.header.names)
        if len(self.cells) != expected:
            self.fail("", "", f"expected {expected} fields, found {len(self.cells)}")
        return self.ok

    def fail(self, column: str, value: str, reason: str) -> None:
        self.ok = False
        self.report.add(line=self.line, column=column, value=value, reason=reason)

    def raw(self, column: str) -> str:
        return self.cells[self.header.index[column]].strip()

    def text(self, column: str, *, max_length: int, blank_ok: bool = False) -> str | None:
        value = self.raw(column)
        if not value and not blank_ok:
            self.fail(column, value, "missing value")
            return None
        if len(value) > max_length:
            self.fail(column, value, f"longer than {max_length} characters")
            return None
        return value

    def decimal(
        self, column: str, *, places: int, max_digits: int, minimum: str | None = None
    ) -> Decimal | None:
        """``minimum``: None, "positive" (> 0) or "non_negative" (>= 0)."""
        value = self.raw(column)
        if not value:
            self.fail(column, value, "missing value")
            return None
        parsed = parse_decimal(value, places=places, max_digits=max_digits)
        if isinstance(parsed, str):
            self.fail(column, value, parsed)
            return None
        if minimum == "positive" and parsed <= 0:
            self.fail(column, value, "must be positive (greater than zero)")
            return None
        if minimum == "non_negative" and parsed < 0:
            self.fail(column, value, "must not be negative")
            return None
        return parsed

    def date(self, column: str, *, latest: dt.date | None = None) -> dt.date | None:
        """A date; ``latest`` (today, usually) rejects later dates as being in the future."""
        value = self.raw(column)
        if not value:
            self.fail(column, value, "missing value")
            return None
        parsed = parse_date(value)
        if isinstance(parsed, str):
            self.fail(column, value, parsed)
            return None
        if latest is not None and parsed > latest:
            self.fail(column, value, f"date is in the future (after {latest.isoformat()})")
            return None
        return parsed

    def boolean(self, column: str) -> bool | None:
        value = self.raw(column)
        lowered = value.lower()
        if lowered in _TRUE:
            return True
        if lowered in _FALSE:
            return False
        self.fail(column, value, "expected true or false" if value else "missing value")
        return None

    def choice(self, column: str, choices: type[models.TextChoices]) -> str | None:
        value = self.raw(column)
        lowered = value.lower()
        allowed: list[str] = [str(v) for v in choices.values]
        if lowered in allowed:
            return lowered
        reason = "missing value" if not value else "expected one of " + ", ".join(allowed)
        self.fail(column, value, reason)
        return None


_TICKER = re.compile(r"[A-Z0-9][A-Z0-9.\-/^]*\Z")


def normalise_ticker(text: str) -> str:
    return text.strip().upper()


def ticker_problem(ticker: str, *, max_length: int = 16) -> str | None:
    """Why ``ticker`` (already upper-cased) is not a well-formed ticker, or None."""
    if not ticker:
        return "missing value"
    if len(ticker) > max_length:
        return f"longer than {max_length} characters"
    if _TICKER.match(ticker) is None:
        return "malformed ticker (letters, digits and . - / ^ only)"
    return None

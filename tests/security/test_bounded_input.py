"""Defect 3: bounded input. A gzip bomb, an over-long line and an oversized request body each end
in a clean, specific rejection, with memory bounded by the limits rather than by the input."""

from __future__ import annotations

import tracemalloc
import zlib
from collections.abc import Callable
from typing import Any

import pytest
from django.test import Client
from django.urls import reverse

from rebalancer.roles import Role
from tests.conftest import Cast
from tests.feeds.conftest import run
from workflow.models import ImportStatus

pytestmark = pytest.mark.django_db

MiB = 1024 * 1024


def _gzip_stream(head: bytes, filler: bytes, total: int) -> bytes:
    """gzip of ``head`` + ``filler`` repeated up to ``total`` bytes, built without holding it."""
    packer = zlib.compressobj(9, zlib.DEFLATED, 31)  # 31: gzip container
    parts = [packer.compress(head)]
    block = filler * (MiB // len(filler))
    for _ in range(total // len(block)):
        parts.append(packer.compress(block))
    parts.append(packer.flush())
    return b"".join(parts)


def _peak(call: Callable[[], Any]) -> tuple[Any, int]:
    tracemalloc.start()
    try:
        result = call()
        return result, tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()


def test_a_gzip_bomb_of_one_long_line_is_rejected_with_bounded_memory(cast: Cast) -> None:
    """The review's file: ~200 KB of gzip holding one 200 MiB line (a worker reached 556 MiB)."""
    bomb = _gzip_stream(b"ticker,name,type,sector\nAAPL,", b"A", 200 * MiB)
    assert len(bomb) < 512 * 1024
    record, peak = _peak(lambda: run(cast, "securities", bomb, name="bomb.csv.gz"))
    assert record.status == ImportStatus.REJECTED
    assert record.errors[0]["line"] == 2
    assert "line 2 is longer than 1,048,576 bytes" in record.errors[0]["reason"]
    assert peak < 24 * MiB, f"peak {peak / MiB:.1f} MiB"


def test_a_bomb_of_short_lines_stops_at_the_decompressed_cap(cast: Cast, settings: Any) -> None:
    settings.FEED_MAX_DECOMPRESSED_BYTES = 8 * MiB
    bomb = _gzip_stream(b"ticker,name,type,sector\n", b"," * 1023 + b"\n", 256 * MiB)
    record, peak = _peak(lambda: run(cast, "securities", bomb, name="lines.csv.gz"))
    assert record.status == ImportStatus.REJECTED
    assert "larger than 8,388,608 bytes uncompressed" in record.errors[0]["reason"]
    assert peak < 24 * MiB, f"peak {peak / MiB:.1f} MiB"


def test_an_uncompressed_long_line_is_rejected_too(cast: Cast, settings: Any) -> None:
    settings.FEED_MAX_LINE_BYTES = 4096
    text = "ticker,name,type,sector\nAAPL,Apple Inc.,stock,Energy\nMSFT," + "x" * 5000 + "\n"
    record = run(cast, "securities", text)
    assert record.status == ImportStatus.REJECTED
    assert (record.errors[0]["line"], record.created) == (3, 0)
    assert "longer than 4,096 bytes" in record.errors[0]["reason"]


def test_lines_within_the_limits_still_import(cast: Cast, settings: Any) -> None:
    settings.FEED_MAX_LINE_BYTES = 4096
    record = run(cast, "securities", "ticker,name,type,sector\nMSFT,Microsoft,stock,Energy\n")
    assert record.status == ImportStatus.APPLIED


def test_a_request_body_over_the_cap_is_refused_before_it_is_read(
    cast: Cast, settings: Any
) -> None:
    settings.REQUEST_MAX_BYTES = 2 * MiB
    client = Client()
    client.force_login(cast.user(Role.DATA_MANAGER))
    response = client.generic(
        "POST",
        reverse("feeds:import_list"),
        data=b"x" * 16,
        content_type="multipart/form-data; boundary=zzz",
        CONTENT_LENGTH=str(3 * MiB),
    )
    assert response.status_code == 413
    assert b"larger than 2 MB" in response.content
    bad = client.generic("POST", reverse("feeds:import_list"), data=b"", CONTENT_LENGTH="1e9")
    assert bad.status_code == 400

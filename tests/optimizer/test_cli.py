"""``python -m optimizer example | python -m optimizer solve -``."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]


def test_example_then_solve_prints_a_solution() -> None:
    example = subprocess.run(
        [sys.executable, "-m", "optimizer", "example"], cwd=ROOT, capture_output=True, check=True
    ).stdout
    out = subprocess.run(
        [sys.executable, "-m", "optimizer", "solve", "-", "--no-timings"],
        cwd=ROOT,
        input=example,
        capture_output=True,
        check=True,
    ).stdout
    data = json.loads(out)
    assert data["status"] == "optimal"
    texts = [r["text"] for r in data["reasons"]]
    assert "buy IVV instead of VOO: wash-sale window until 2019-03-04" in texts


def test_bad_input_exits_with_code_2() -> None:
    proc = subprocess.run(
        [sys.executable, "-m", "optimizer", "solve", "-"],
        cwd=ROOT,
        input=b'{"schema_version": 1, "kind": "problem"}',
        capture_output=True,
    )
    assert proc.returncode == 2
    assert b"error" in proc.stderr

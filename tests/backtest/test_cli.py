"""``python -m optimizer backtest`` reaches the backtest's own command line."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]


def test_optimizer_cli_dispatches_backtest() -> None:
    result = subprocess.run(
        [sys.executable, "-m", "optimizer", "backtest", "--help"],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert result.returncode == 0, result.stderr
    assert "usage: python -m optimizer backtest" in result.stdout
    assert "--quick" in result.stdout and "--json" in result.stdout


def test_hidden_subset_options_are_parsed_and_checked() -> None:
    result = subprocess.run(
        [sys.executable, "-m", "optimizer", "backtest", "--arms", "nope", "--out", "/dev/null"],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert result.returncode == 2
    assert "unknown arm(s): nope" in result.stderr

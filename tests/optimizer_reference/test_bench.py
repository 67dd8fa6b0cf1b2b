"""``python -m optimizer bench --quick --json`` end to end, with a tiny account count."""

from __future__ import annotations

import json
import math
import os
import subprocess
import sys
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]
KEYS = (
    "median_ms",
    "p99_ms",
    "p999_ms",
    "max_ms",
    "max_iterations",
    "cvxpy_median_ms",
    "max_rel_objective_diff",
    "peak_rss_mb",
    "worst_repair_objective_change",
    "false_reasons",
    "dust_sales",
)


def test_bench_json_has_every_case_and_objectives_agree() -> None:
    env = {**os.environ, "PYTHONPATH": str(REPO)}
    proc = subprocess.run(
        [sys.executable, "-m", "optimizer", "bench", "--quick", "--json", "--accounts", "2"],
        cwd=REPO,
        env=env,
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )
    assert proc.returncode == 0, proc.stderr[-3000:]
    last = proc.stdout.strip().splitlines()[-1]
    report = json.loads(last)
    assert list(report) == ["cases"]
    assert list(report["cases"]) == ["model", "di_1500", "di_4000"]
    for name, case in report["cases"].items():
        for key in KEYS:
            assert isinstance(case[key], (int, float)) and math.isfinite(case[key]), (name, key)
        assert case["accounts"] == 2
        assert 0 < case["median_ms"] <= case["p99_ms"] <= case["p999_ms"] <= case["max_ms"]
        assert case["max_iterations"] >= 1
        assert case["peak_rss_mb"] > 10
        assert case["n_compared"] >= 1
        assert case["max_rel_objective_diff"] < 1e-6
        assert case["status_disagreements"] == []
        assert case["false_reasons"] == 0 and case["dust_sales"] == 0  # issue 17
        assert case["worst_repair_objective_change"] >= -1e-7
    assert report["cases"]["di_4000"]["n_factors"] == 40
    assert report["cases"]["di_1500"]["n_factors"] == 20
    assert report["cases"]["di_4000"]["mean_lots"] > 2 * report["cases"]["di_1500"]["mean_lots"]

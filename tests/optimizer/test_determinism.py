"""Same problem -> same bytes, across fresh processes; no Django in the import graph."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]

SCRIPT = """
import dataclasses
import hashlib
from optimizer import solve
from optimizer.examples import example_problem
from optimizer.jsonio import solution_to_json
from tests.optimizer.factories import random_problem
problems = [example_problem()] + [random_problem(s) for s in range(25)]
problems += [random_problem(100 + s, n=80, lots=200, factors=5) for s in range(3)]
from optimizer import TaxYear
years = [TaxYear(), TaxYear(gain_ytd_short=5e3, gain_ytd_long=-2e3), TaxYear(carryforward_long=2e4)]
for s, ty in enumerate(years):
    # The account's tax year (its kinks are rows of the solve) and the anniversary wait.
    p = random_problem(200 + s, n=30, lots=90, factors=3)
    problems.append(dataclasses.replace(
        p, tax_year=ty, settings=dataclasses.replace(p.settings, anniversary_days=30)))
h = hashlib.sha256()
for p in problems:
    # Every backend: the interior-point method (default), its numpy statement, PIQP, Clarabel.
    for backend in ("auto", "piqp", "clarabel"):
        q = dataclasses.replace(p, settings=dataclasses.replace(p.settings, qp_backend=backend))
        h.update(solution_to_json(solve(q), timings=False).encode())
import optimizer.ipm
optimizer.ipm._ipm = None  # the numpy statement of the same method
for p in problems[:6]:
    h.update(solution_to_json(solve(p), timings=False).encode())
print(h.hexdigest())
"""


def _run(code: str) -> str:
    out = subprocess.run(
        [sys.executable, "-c", code],
        cwd=ROOT,
        capture_output=True,
        text=True,
        check=True,
        env={"PYTHONHASHSEED": "random", "PATH": "/usr/bin:/bin", "PYTHONPATH": str(ROOT)},
    )
    return out.stdout.strip()


def test_identical_result_bytes_in_two_fresh_processes() -> None:
    first = _run(SCRIPT)
    second = _run(SCRIPT)
    assert len(first) == 64
    assert first == second


def test_importing_optimizer_does_not_import_django() -> None:
    code = (
        "import sys, optimizer, optimizer.solve, optimizer.jsonio, optimizer.__main__\n"
        "bad = sorted(m for m in sys.modules if m.split('.')[0] in "
        "('django', 'rest_framework', 'celery', 'guardian', 'rebalancer', 'accounts', "
        "'models_hub', 'workflow'))\n"
        "print(','.join(bad) or 'clean')\n"
    )
    assert _run(code) == "clean"

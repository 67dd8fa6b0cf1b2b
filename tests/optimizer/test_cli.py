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


def test_the_engine_runs_without_its_lab() -> None:
    # The web app and the workers install optimizer without the lab extra: no cvxpy, no
    # matplotlib, no optimizer_lab. Blocked imports raise ImportError if anything reaches them.
    code = (
        "import sys\n"
        "for name in ('cvxpy', 'matplotlib', 'optimizer_lab'):\n"
        "    sys.modules[name] = None\n"
        "import optimizer, optimizer.__main__, optimizer.jsonio\n"
        "from optimizer.examples import example_problem\n"
        "sol = optimizer.solve(example_problem())\n"
        "assert sol.status == 'optimal', sol.status\n"
        "loaded = [m for m in sys.modules if m.split('.')[0] in ('cvxpy', 'matplotlib')]\n"
        "assert not [m for m in loaded if sys.modules[m] is not None], loaded\n"
        "print('ok')\n"
    )
    result = subprocess.run(
        [sys.executable, "-c", code], cwd=ROOT, capture_output=True, text=True, check=False
    )
    assert result.returncode == 0, result.stderr[-2000:]
    assert result.stdout.strip() == "ok"


def test_lab_verbs_say_how_to_install_the_lab_when_it_is_missing() -> None:
    code = (
        "import sys\n"
        "sys.modules['optimizer_lab'] = None\n"
        "from optimizer.__main__ import main\n"
        "raise SystemExit(main(['bench', '--quick']))\n"
    )
    result = subprocess.run(
        [sys.executable, "-c", code], cwd=ROOT, capture_output=True, text=True, check=False
    )
    assert result.returncode == 2
    assert "needs the optimizer lab (pip install -e '.[lab]')" in result.stderr

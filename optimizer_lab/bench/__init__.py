"""``python -m optimizer bench [--quick] [--json]``: the engine against cvxpy on real-data accounts.

Each case (``model``, ``di_1500``, ``di_4000``; see ``optimizer_lab.bench.cases`` and
docs/benchmarks.md) runs in a fresh subprocess (``python -m optimizer_lab.bench --worker CASE``)
with BLAS/OpenMP threads set to 1 in its environment before numpy loads and the process pinned
to one CPU, so the timings are single-core and the peak RSS is per case. In that process every
account is solved by ``optimizer.solve`` (timed), then by the cvxpy reference
(``optimizer_lab.reference``, timed) and the objectives compared.

Output: a table; with ``--json`` the last line printed is one JSON object
``{"cases": {"model": {...}, "di_1500": {...}, "di_4000": {...}}}``.
Hidden options: ``--accounts N`` (every case), ``--cases a,b``, ``--cpu N``, ``--no-reference``.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import time
from typing import Any

from optimizer_lab.bench.cases import CASE_NAMES, CASES

_THREAD_ENV = {
    "OMP_NUM_THREADS": "1",
    "OPENBLAS_NUM_THREADS": "1",
    "MKL_NUM_THREADS": "1",
    "VECLIB_MAXIMUM_THREADS": "1",
    "NUMEXPR_NUM_THREADS": "1",
}

TARGET_MEDIAN_MS = {"model": 1.0, "di_1500": 10.0, "di_4000": 25.0}


def _parser() -> argparse.ArgumentParser:
    ap = argparse.ArgumentParser(
        prog="python -m optimizer bench", description="Benchmark the optimizer against cvxpy."
    )
    ap.add_argument("--quick", action="store_true", help="fewer accounts (under a minute)")
    ap.add_argument("--json", action="store_true", help="last line: one JSON object")
    ap.add_argument("--accounts", type=int, default=None, help=argparse.SUPPRESS)
    ap.add_argument("--cases", default=",".join(CASE_NAMES), help=argparse.SUPPRESS)
    ap.add_argument("--cpu", type=int, default=None, help=argparse.SUPPRESS)
    ap.add_argument("--no-reference", action="store_true", help=argparse.SUPPRESS)
    ap.add_argument("--worker", default=None, help=argparse.SUPPRESS)
    return ap


def _worker(case: str, accounts: int, cpu: int | None, reference: bool) -> int:
    from optimizer_lab.bench.runner import pin_to_cpu, run_case

    pinned = pin_to_cpu(cpu)
    result = run_case(case, accounts, reference=reference)
    result["cpu"] = pinned
    result["blas_threads"] = {k: os.environ.get(k, "") for k in sorted(_THREAD_ENV)}
    print(json.dumps(result, sort_keys=True))
    return 0


def _run_in_subprocess(case: str, accounts: int, args: argparse.Namespace) -> dict[str, Any]:
    cmd = [sys.executable, "-m", "optimizer_lab.bench", "--worker", case]
    cmd += ["--accounts", str(accounts)]
    if args.cpu is not None:
        cmd += ["--cpu", str(args.cpu)]
    if args.no_reference:
        cmd.append("--no-reference")
    env = {**os.environ, **_THREAD_ENV}
    proc = subprocess.run(cmd, env=env, capture_output=True, text=True, check=False)
    if proc.returncode != 0:
        raise RuntimeError(f"bench worker for {case} failed:\n{proc.stderr[-4000:]}")
    lines = [line for line in proc.stdout.splitlines() if line.strip()]
    result: dict[str, Any] = json.loads(lines[-1])
    return result


def _fmt(v: object, digits: int = 2) -> str:
    if isinstance(v, float):
        return f"{v:.{digits}f}" if abs(v) >= 10 ** (-digits) or v == 0 else f"{v:.1e}"
    return str(v)


def format_table(results: dict[str, dict[str, Any]]) -> str:
    """Markdown table of the headline figures, one row per case."""
    cols = [
        ("case", None),
        ("accounts", "accounts"),
        ("lots (mean)", "mean_lots"),
        ("k", "n_factors"),
        ("median ms", "median_ms"),
        ("target ms", None),
        ("p99 ms", "p99_ms"),
        ("p99.9 ms", "p999_ms"),
        ("max ms", "max_ms"),
        ("max/median", "worst_over_median"),
        ("p99.9/median", "p999_over_median"),
        ("iters med/max", None),
        ("cvxpy median ms", "cvxpy_median_ms"),
        ("cvxpy/engine", "cvxpy_over_engine"),
        ("max rel obj diff", "max_rel_objective_diff"),
        ("worst repair change", "worst_repair_objective_change"),
        ("false reasons", "false_reasons"),
        ("dust sales", "dust_sales"),
        ("peak RSS MB", "peak_rss_mb"),
    ]
    lines = ["| " + " | ".join(c for c, _ in cols) + " |", "|" + "---|" * len(cols)]
    for case, r in results.items():
        cells = []
        for title, key in cols:
            if title == "case":
                cells.append(case)
            elif title == "target ms":
                cells.append(f"<= {TARGET_MEDIAN_MS.get(case, float('nan')):g}")
            elif title == "iters med/max":
                cells.append(f"{r['median_iterations']:g}/{r['max_iterations']}")
            elif key is not None and key in r:
                digits = 1 if key in ("mean_lots",) else 2
                cells.append(
                    _fmt(r[key], digits) if key != "max_rel_objective_diff" else f"{r[key]:.1e}"
                )
            else:
                cells.append("-")
        lines.append("| " + " | ".join(cells) + " |")
    lines.append("")
    lines.append(
        "| case | build ms | solver ms | rest ms | repair (incl. re-solves) ms | statuses "
        "| solves per account | solves (backend:status count) |"
    )
    lines.append("|---|---|---|---|---|---|---|---|")
    for case, r in results.items():
        b = r["breakdown_median_ms"]
        st = ", ".join(f"{k} {v}" for k, v in r["statuses"].items())
        solves = ", ".join(f"{k} {v}" for k, v in r.get("solves", {}).items())
        lines.append(
            f"| {case} | {b['build']:.2f} | {b['solver']:.2f} | {b['rest']:.2f} | "
            f"{b['repair_incl_resolves']:.2f} | {st} | {r.get('solves_per_account', 0):.2f} "
            f"| {solves} |"
        )
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    """Entry point of ``python -m optimizer bench``; returns the process exit code."""
    args_in = list(sys.argv[1:] if argv is None else argv)
    if args_in[:1] == ["bench"]:
        args_in = args_in[1:]
    args = _parser().parse_args(args_in)
    if args.worker:
        accounts = args.accounts or CASES[args.worker].full_accounts
        return _worker(args.worker, accounts, args.cpu, not args.no_reference)
    cases = [c.strip() for c in args.cases.split(",") if c.strip()]
    unknown = sorted(set(cases) - set(CASE_NAMES))
    if unknown:
        print(f"unknown case(s): {', '.join(unknown)}", file=sys.stderr)
        return 2
    results: dict[str, dict[str, Any]] = {}
    t0 = time.perf_counter()
    for case in cases:
        spec = CASES[case]
        n = args.accounts or (spec.quick_accounts if args.quick else spec.full_accounts)
        print(f"[bench] {case}: {n} accounts ...", flush=True)
        r = _run_in_subprocess(case, n, args)
        results[case] = r
        msg = (
            f"[bench] {case}: median {r['median_ms']:.2f} ms, p99 {r['p99_ms']:.2f} ms, "
            f"max {r['max_ms']:.2f} ms"
        )
        if "cvxpy_median_ms" in r:
            msg += (
                f"; cvxpy median {r['cvxpy_median_ms']:.1f} ms; "
                f"max rel obj diff {r['max_rel_objective_diff']:.1e}"
            )
        print(msg, flush=True)
        for d in r.get("status_disagreements", []):
            print(f"[bench]   status disagreement: {d}", flush=True)
    print()
    print(format_table(results))
    print(f"\n(total {time.perf_counter() - t0:.1f} s; one CPU per case process, BLAS threads 1)")
    if args.json:
        ordered = {case: dict(sorted(r.items())) for case, r in results.items()}
        print(json.dumps({"cases": ordered}))
    return 0

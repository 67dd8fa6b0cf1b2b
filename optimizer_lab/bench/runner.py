"""Run one benchmark case in this process: the engine, then the cvxpy reference, then stats.

Meant to run in a fresh subprocess per case (``optimizer_lab.bench.main`` does that), pinned to one
CPU with BLAS threads set to 1, so timings and the peak RSS are per case.
"""

from __future__ import annotations

import gc
import math
import os
import resource
import time
from collections import Counter
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from optimizer import Problem, Solution, Status, solve, solve_continuous
from optimizer_lab.bench.cases import CASES, make_account, stock_universe
from optimizer_lab.bench.checks import dust_sales, false_reasons
from optimizer_lab.reference import constraint_violations, reference_solve, solution_point

THREAD_VARS = (
    "OMP_NUM_THREADS",
    "OPENBLAS_NUM_THREADS",
    "MKL_NUM_THREADS",
    "VECLIB_MAXIMUM_THREADS",
    "NUMEXPR_NUM_THREADS",
)
WARMUP = 3


def pin_to_cpu(cpu: int | None) -> int | None:
    """Pin this process to one CPU (default: the last one it may use); returns it, or None."""
    if not hasattr(os, "sched_setaffinity"):
        return None
    allowed = sorted(os.sched_getaffinity(0))
    chosen = allowed[-1] if cpu is None or cpu not in allowed else cpu
    os.sched_setaffinity(0, {chosen})
    return chosen


def peak_rss_mb() -> float:
    """Peak resident set size of this process so far, MB (Linux reports KiB, macOS bytes)."""
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    scale = 1024.0 * 1024.0 if os.uname().sysname == "Darwin" else 1024.0
    return float(peak) / scale


def current_rss_mb() -> float:
    """Current resident set size, MB (Linux /proc; NaN elsewhere)."""
    try:
        status = Path("/proc/self/status").read_text()
    except OSError:
        return math.nan
    for line in status.splitlines():
        if line.startswith("VmRSS:"):
            return float(line.split()[1]) / 1024.0
    return math.nan


def _pct(values: np.ndarray, q: float) -> float:
    return float(np.percentile(values, q)) if values.size else math.nan


def rel_objective_diff(engine: float, ref: float, terms: tuple[float, ...]) -> float:
    """|engine - ref| / max(|ref|, sum |terms of ref|): the terms have both signs."""
    scale = max(abs(ref), sum(abs(t) for t in terms), 1e-12)
    return abs(engine - ref) / scale


def _timing(sol: Solution, name: str) -> float:
    return dict(sol.diagnostics.timings).get(name, math.nan)


@dataclass(frozen=True, eq=False)
class _Outcome:
    """What the stats need from one engine solve (the Solution itself is dropped: keeping
    thousands of them alive makes every later garbage collection slow)."""

    status: str
    relaxed: tuple[str, ...]
    solver_statuses: tuple[str, ...]
    solver_backends: tuple[str, ...]
    continuous_total: float
    n_trades: int
    n_lot_sales: int
    repair_change: float
    lot_fraction: np.ndarray
    buys: np.ndarray
    false_reasons: int
    """Reasons whose rule is false of their numbers (``checks.false_reasons``)."""
    dust_sales: int
    """One-quantum sales of lots the continuous optimum does not sell (``checks.dust_sales``)."""


def run_case(case: str, accounts: int, reference: bool = True) -> dict[str, Any]:
    """Solve ``accounts`` accounts of ``case`` with the engine and (if asked) cvxpy."""
    spec = CASES[case]
    t0 = time.perf_counter()
    problems: list[Problem] = [make_account(case, a) for a in range(accounts)]
    setup_s = time.perf_counter() - t0
    rss_setup = current_rss_mb()
    for p in problems[: min(WARMUP, len(problems))]:  # first-call costs (imports, caches)
        solve(p)
    gc.collect()
    gc.freeze()  # the problems live to the end: keep them out of every later collection

    wall = np.empty(accounts)
    build = np.empty(accounts)
    solver = np.empty(accounts)
    repair = np.empty(accounts)
    iterations = np.empty(accounts, dtype=np.int64)
    outcomes: list[_Outcome] = []
    for a, p in enumerate(problems):
        gc.collect()  # outside the timed region, as a batch worker could between accounts
        t = time.perf_counter()
        sol = solve(p)
        wall[a] = time.perf_counter() - t
        build[a] = _timing(sol, "build")
        solver[a] = _timing(sol, "solve")
        repair[a] = _timing(sol, "repair")
        iterations[a] = sol.diagnostics.iterations
        x, b = solution_point(p, sol)
        # Checks outside the timed region (the continuous optimum is one more solve).
        n_false = len(false_reasons(p, sol))
        # Dust is judged against the continuous optimum of the problem as stated, which is the
        # solved point only without a direction-fixing re-solve (a re-solve legitimately sells
        # lots the first solve did not): accounts with one solve only.
        one_solve = sol.diagnostics.solves == 1
        n_dust = (
            dust_sales(p, sol, solve_continuous(p).lot_fraction)
            if sol.lot_sales and one_solve
            else 0
        )
        outcomes.append(
            _Outcome(
                status=str(sol.status),
                relaxed=sol.diagnostics.relaxed,
                solver_statuses=sol.diagnostics.solver_statuses,
                solver_backends=sol.diagnostics.solver_backends,
                continuous_total=sol.objective_continuous.total,
                n_trades=len(sol.trades),
                n_lot_sales=len(sol.lot_sales),
                repair_change=sol.diagnostics.repair_objective_change,
                lot_fraction=x,
                buys=b,
                false_reasons=n_false,
                dust_sales=n_dust,
            )
        )
        del sol
    rss_engine = peak_rss_mb()

    statuses = Counter(o.status for o in outcomes)
    med = float(np.median(wall))
    result: dict[str, Any] = {
        "accounts": accounts,
        "n_securities": int(np.median([p.n_securities for p in problems])),
        "mean_lots": float(np.mean([p.lots.count for p in problems])),
        "min_lots": int(min(p.lots.count for p in problems)),
        "max_lots": int(max(p.lots.count for p in problems)),
        "n_factors": spec.n_factors,
        "median_ms": med * 1e3,
        "p99_ms": _pct(wall, 99) * 1e3,
        "p999_ms": _pct(wall, 99.9) * 1e3,
        "max_ms": float(wall.max()) * 1e3,
        "worst_over_median": float(wall.max()) / med,
        "p999_over_median": _pct(wall, 99.9) / med,
        "median_iterations": float(np.median(iterations)),
        "max_iterations": int(iterations.max()),
        "breakdown_median_ms": {
            "build": float(np.median(build)) * 1e3,
            "solver": float(np.median(solver)) * 1e3,
            "repair_incl_resolves": float(np.median(repair)) * 1e3,
            "rest": float(np.median(wall - build - solver)) * 1e3,
        },
        "statuses": dict(sorted(statuses.items())),
        # Every solve of every account: (backend, solver status) -> count; the ladder's
        # backends (piqp, clarabel) appear only where the interior-point method failed.
        "solves": {
            f"{b}:{st}": c
            for (b, st), c in sorted(
                Counter(
                    pair
                    for o in outcomes
                    for pair in zip(o.solver_backends, o.solver_statuses, strict=True)
                ).items()
            )
        },
        "solves_per_account": float(np.mean([len(o.solver_statuses) for o in outcomes])),
        "mean_trades": float(np.mean([o.n_trades for o in outcomes])),
        "mean_lot_sales": float(np.mean([o.n_lot_sales for o in outcomes])),
        "median_repair_objective_change": float(np.median([o.repair_change for o in outcomes])),
        # Issue 17: the repair's worst loss against the continuous optimum (weight units), and
        # two counts that must be 0.
        "worst_repair_objective_change": float(max(o.repair_change for o in outcomes)),
        "false_reasons": int(sum(o.false_reasons for o in outcomes)),
        "dust_sales": int(sum(o.dust_sales for o in outcomes)),
        "peak_rss_mb": rss_engine,
        "rss_after_setup_mb": rss_setup,
        "setup_seconds": setup_s,
    }
    if spec.n_factors:
        result["universe"] = stock_universe(spec.n_factors).description

    # The proposed (rounded) trades against the hard constraints and budgets, independently.
    violations: list[str] = []
    for p, o in zip(problems, outcomes, strict=True):
        if o.status not in (Status.OPTIMAL, Status.RELAXED):
            continue
        kept = ("hard",) if "budgets" in o.relaxed else ("hard", "budgets")
        found = constraint_violations(p, o.lot_fraction, o.buys, tol=1e-9)
        violations.extend(f"{p.account_id}: {v}" for v in found if v.startswith(kept))
    result["rounded_hard_violations"] = violations
    if not reference:
        return result

    ref_ms = np.empty(accounts)
    ref_iters = np.empty(accounts, dtype=np.int64)
    diffs: list[float] = []
    disagreements: list[str] = []
    for a, (p, o) in enumerate(zip(problems, outcomes, strict=True)):
        gc.collect()
        t = time.perf_counter()
        ref = reference_solve(p)  # cvxpy is imported on the first call, after the engine's RSS
        ref_ms[a] = (time.perf_counter() - t) * 1e3
        ref_iters[a] = ref.iterations
        ref_ok = ref.status == "optimal"
        terms = (ref.terms.risk, ref.terms.tax, ref.terms.cost, ref.terms.substitute)
        if o.status == Status.OPTIMAL and ref_ok:
            engine_obj = o.continuous_total
        else:  # compare the continuous problem as stated (untimed)
            cont = solve_continuous(p)
            if cont.converged != ref_ok:
                disagreements.append(
                    f"{p.account_id}: engine {cont.solver_status}, cvxpy {ref.status}"
                )
                continue
            if not ref_ok:
                continue
            engine_obj = cont.objective
        diffs.append(rel_objective_diff(engine_obj, ref.objective, terms))
    cv_med = float(np.median(ref_ms))
    result.update(
        {
            "cvxpy_median_ms": cv_med,
            "cvxpy_p99_ms": _pct(ref_ms, 99),
            "cvxpy_median_iterations": float(np.median(ref_iters)),
            "cvxpy_over_engine": cv_med / (med * 1e3),
            "max_rel_objective_diff": max(diffs) if diffs else math.nan,
            "n_compared": len(diffs),
            "status_disagreements": disagreements,
            "peak_rss_mb_with_cvxpy": peak_rss_mb(),
        }
    )
    return result

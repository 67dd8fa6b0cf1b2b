"""Run every (vintage, arm) pair, over two worker processes, and merge deterministically.

Each pair is an independent task (the buy-and-hold twin is an arm like the others), run in a
spawned worker with one BLAS thread; results are keyed by (vintage, arm) and merged in sorted
order, so the outcome does not depend on which process ran what or when it finished.
"""

from __future__ import annotations

import multiprocessing as mp
import os
import sys
import time
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
import numpy.typing as npt

from optimizer_lab.backtest.arms import ALL_ARMS, QUICK_ARMS, make_arm
from optimizer_lab.backtest.prices import (
    MarketData,
    Vintage,
    bench_returns,
    load_market_data,
    make_vintage,
)
from optimizer_lab.backtest.sim import ArmRun, Sim

FloatArray = npt.NDArray[np.float64]

BLAS_THREAD_VARS = ("OPENBLAS_NUM_THREADS", "OMP_NUM_THREADS", "MKL_NUM_THREADS")
FULL_VINTAGES: tuple[tuple[int, int], ...] = tuple(
    (y, m) for y in (2015, 2016) for m in range(1, 13)
)
QUICK_VINTAGES: tuple[tuple[int, int], ...] = ((2015, 1), (2015, 9), (2016, 6))
ARM_COST = {
    "opt_daily_te050": 0,
    "opt_daily_te100": 0,
    "opt_daily_te200": 0,
    "naive_daily": 1,
    "opt_monthly_te100": 2,
    "naive_monthly": 3,
    "loser_rebuy": 3,
    "buy_hold": 4,
}


@dataclass(frozen=True)
class RunConfig:
    vintages: tuple[tuple[int, int], ...]
    arms: tuple[str, ...]
    processes: int = 2
    end_day: str = "2019-12-31"
    progress: bool = True


@dataclass(frozen=True, eq=False)
class RunResult:
    """All runs of one backtest, in deterministic order."""

    config: RunConfig
    vintages: tuple[Vintage, ...]
    runs: dict[tuple[str, str], ArmRun]
    """(vintage label, arm key) -> run, inserted in sorted key order."""
    bench: dict[str, FloatArray]
    """vintage label -> benchmark daily total returns (rows start+1 .. end)."""
    wall_s: float


def quick_config(progress: bool = True) -> RunConfig:
    return RunConfig(QUICK_VINTAGES, QUICK_ARMS, progress=progress)


def full_config(progress: bool = True) -> RunConfig:
    return RunConfig(FULL_VINTAGES, ALL_ARMS, progress=progress)


_MD: MarketData | None = None


def _market() -> MarketData:
    global _MD
    if _MD is None:
        _MD = load_market_data()
    return _MD


def run_task(task: tuple[int, int, str, str]) -> ArmRun:
    """One arm on one vintage (worker entry point)."""
    year, month, arm, end_day = task
    md = _market()
    v = make_vintage(md, year, month, end_day)
    return Sim(md, v, make_arm(arm)).run()


def _bar(done: int, total: int, started: float, what: str) -> None:
    width = 30
    fill = int(width * done / max(total, 1))
    el = time.perf_counter() - started
    sys.stderr.write(f"\r[{'#' * fill}{'.' * (width - fill)}] {done}/{total} {el:6.0f}s {what:<28}")
    sys.stderr.flush()


def run_backtest(cfg: RunConfig) -> RunResult:
    """Run ``cfg`` and return the merged result."""
    started = time.perf_counter()
    md = _market()
    vintages = tuple(make_vintage(md, y, m, cfg.end_day) for y, m in cfg.vintages)
    tasks = [(y, m, a, cfg.end_day) for (y, m) in cfg.vintages for a in cfg.arms]
    tasks.sort(key=lambda x: (ARM_COST.get(x[2], 5), x[0], x[1], x[2]))
    results: dict[tuple[str, str], ArmRun] = {}
    # Workers are spawned (fresh interpreters) with one BLAS thread each: two multi-threaded
    # BLAS pools on two cores slow the risk model's SVD 50-fold, and the thread count changes
    # floating-point sums, so every task runs in such a worker, even with one process.
    for var in BLAS_THREAD_VARS:
        os.environ[var] = "1"
    ctx = mp.get_context("spawn")
    with ctx.Pool(max(1, cfg.processes)) as pool:
        for k, res in enumerate(pool.imap_unordered(run_task, tasks), start=1):
            results[(res.vintage, res.arm)] = res
            if cfg.progress:
                _bar(k, len(tasks), started, f"{res.arm} {res.vintage}")
    if cfg.progress:
        sys.stderr.write("\n")
    bench = {v.label: bench_returns(md, v) for v in vintages}
    ordered = {key: results[key] for key in sorted(results)}
    return RunResult(cfg, vintages, ordered, bench, time.perf_counter() - started)


def arms_of(result: RunResult) -> Sequence[str]:
    return [a for a in ALL_ARMS if a in result.config.arms]

"""A tiny quick run gives the same report twice, on one worker or two."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from optimizer_lab.backtest.report import write_report
from optimizer_lab.backtest.runner import RunConfig, run_backtest

TIMING_KEYS = {"wall_s", "solve_ms_p50", "solve_ms_max"}


def _strip(obj: Any) -> Any:
    if isinstance(obj, dict):
        return {k: _strip(v) for k, v in obj.items() if k not in TIMING_KEYS}
    return obj


def _deterministic_part(report: str) -> str:
    return report.split("## Run (these lines vary between runs)")[0]


def test_tiny_run_is_deterministic(tmp_path: Path) -> None:
    arms = ("buy_hold", "loser_rebuy", "naive_daily", "opt_daily_te100")
    one = RunConfig(((2015, 1), (2015, 3)), arms, processes=1, end_day="2015-04-30", progress=False)
    two = RunConfig(((2015, 1), (2015, 3)), arms, processes=2, end_day="2015-04-30", progress=False)
    r1 = run_backtest(one)
    r2 = run_backtest(two)
    j1 = write_report(r1, tmp_path / "a", "tiny")
    j2 = write_report(r2, tmp_path / "b", "tiny")
    assert _strip(j1) == _strip(j2)
    t1 = (tmp_path / "a" / "report.md").read_text()
    t2 = (tmp_path / "b" / "report.md").read_text()
    assert _deterministic_part(t1) == _deterministic_part(t2)
    for name in ("cumulative_tax_alpha.png", "tracking_error.png", "losses_harvested.png"):
        assert (tmp_path / "a" / name).read_bytes() == (tmp_path / "b" / name).read_bytes()
    # the run did something: the engine traded and the checker saw loser_rebuy's wash sales
    assert j1["arms"]["opt_daily_te100"]["trades"] > 0
    assert j1["arms"]["loser_rebuy"]["checker_violations"] > 0
    assert j1["arms"]["opt_daily_te100"]["checker_violations"] == 0
    # issue 17: the engine arm proposes no wash sale (the checker counts every one)
    assert j1["arms"]["opt_daily_te100"]["wash_sales"] == 0
    assert j1["arms"]["naive_daily"]["checker_violations"] == 0
    assert r1.runs[("2015-01", "opt_daily_te100")].solves > 0

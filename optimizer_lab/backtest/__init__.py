"""The open tax-alpha backtest: the engine against published harvesting rules on real prices.

``python -m optimizer backtest [--quick] [--json] [--out DIR]`` runs every arm on every vintage
(docs/backtest.md) and writes ``report.md`` plus PNG charts to ``docs/backtest/`` (or ``DIR``).
``main(argv)`` is that command's entry point; it returns the process exit code.
"""

from __future__ import annotations

import argparse
import dataclasses
import json
from collections.abc import Sequence
from pathlib import Path

DEFAULT_OUT = Path(__file__).resolve().parents[2] / "docs" / "backtest"


def main(argv: Sequence[str] | None = None) -> int:
    """Run the backtest; ``argv`` excludes the ``backtest`` sub-command word."""
    from optimizer_lab.backtest.arms import ALL_ARMS
    from optimizer_lab.backtest.report import write_report
    from optimizer_lab.backtest.runner import full_config, quick_config, run_backtest

    parser = argparse.ArgumentParser(prog="python -m optimizer backtest", description=__doc__)
    parser.add_argument("--quick", action="store_true", help="3 vintages, 7 arms (< 3 min)")
    parser.add_argument("--json", action="store_true", help="print a JSON summary last")
    parser.add_argument("--out", type=Path, default=DEFAULT_OUT, help="report directory")
    parser.add_argument("--no-progress", action="store_true", help="no progress bar")
    # for investigations (not in the report's command): a subset of vintages / arms
    parser.add_argument("--vintages", help=argparse.SUPPRESS)  # e.g. 2015-01,2016-06
    parser.add_argument("--arms", help=argparse.SUPPRESS)  # e.g. loser_rebuy,opt_daily_te100
    args = parser.parse_args(list(argv) if argv is not None else None)
    cfg = (quick_config if args.quick else full_config)(progress=not args.no_progress)
    if args.vintages:
        months = tuple(
            (int(y), int(m)) for y, m in (v.split("-") for v in args.vintages.split(","))
        )
        cfg = dataclasses.replace(cfg, vintages=months)
    if args.arms:
        arms = tuple(args.arms.split(","))
        unknown = sorted(set(arms) - set(ALL_ARMS))
        if unknown:
            parser.error(f"unknown arm(s): {', '.join(unknown)}")
        # the buy-and-hold twin is every alpha's reference
        cfg = dataclasses.replace(
            cfg, arms=tuple(a for a in ALL_ARMS if a in arms or a == "buy_hold")
        )
    result = run_backtest(cfg)
    command = "python -m optimizer backtest" + (" --quick" if args.quick else "")
    if args.vintages:
        command += f" --vintages {args.vintages}"
    if args.arms:
        command += f" --arms {args.arms}"
    summary = write_report(result, args.out, command)
    print(f"report: {args.out / 'report.md'} ({result.wall_s:.0f} s)")
    if args.json:
        print(json.dumps(summary, sort_keys=True))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())

"""The open tax-alpha backtest: the engine against published harvesting rules on real prices.

``python -m optimizer backtest [--quick] [--json] [--out DIR]`` runs every arm on every vintage
(docs/backtest.md) and writes ``report.md`` plus PNG charts to ``docs/backtest/`` (or ``DIR``).
``main(argv)`` is that command's entry point; it returns the process exit code.
"""

from __future__ import annotations

import argparse
import json
from collections.abc import Sequence
from pathlib import Path

DEFAULT_OUT = Path(__file__).resolve().parents[2] / "docs" / "backtest"


def main(argv: Sequence[str] | None = None) -> int:
    """Run the backtest; ``argv`` excludes the ``backtest`` sub-command word."""
    from optimizer.backtest.report import write_report
    from optimizer.backtest.runner import full_config, quick_config, run_backtest

    parser = argparse.ArgumentParser(prog="python -m optimizer backtest", description=__doc__)
    parser.add_argument("--quick", action="store_true", help="3 vintages, 6 arms (< 3 min)")
    parser.add_argument("--json", action="store_true", help="print a JSON summary last")
    parser.add_argument("--out", type=Path, default=DEFAULT_OUT, help="report directory")
    parser.add_argument("--no-progress", action="store_true", help="no progress bar")
    args = parser.parse_args(list(argv) if argv is not None else None)
    cfg = (quick_config if args.quick else full_config)(progress=not args.no_progress)
    result = run_backtest(cfg)
    command = "python -m optimizer backtest" + (" --quick" if args.quick else "")
    summary = write_report(result, args.out, command)
    print(f"report: {args.out / 'report.md'} ({result.wall_s:.0f} s)")
    if args.json:
        print(json.dumps(summary, sort_keys=True))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())

"""Command line: ``python -m optimizer_lab {bench,backtest} ...`` (also reached through
``python -m optimizer bench|backtest``)."""

from __future__ import annotations

import sys


def main(argv: list[str] | None = None) -> int:
    args_in = list(sys.argv[1:] if argv is None else argv)
    if args_in[:1] == ["bench"]:
        from optimizer_lab.bench import main as bench_main  # lazy: the bench imports cvxpy

        return int(bench_main(args_in[1:]))
    if args_in[:1] == ["backtest"]:
        from optimizer_lab.backtest import main as backtest_main  # lazy: five years of prices

        return int(backtest_main(args_in[1:]))
    print("usage: python -m optimizer_lab {bench,backtest} [options]", file=sys.stderr)
    return 2


if __name__ == "__main__":
    raise SystemExit(main())

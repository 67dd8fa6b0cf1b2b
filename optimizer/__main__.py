"""Command line: ``python -m optimizer {solve,continuous,example,bench,backtest}``.

- ``solve problem.json`` prints the solution JSON (``-`` reads stdin; ``--no-timings`` gives
  the deterministic form).
- ``continuous problem.json`` prints the continuous optimum (objective, terms, x, b) as JSON.
- ``example`` prints a small example problem JSON.
- ``bench [--quick] [--json] ...`` runs the benchmark (``optimizer_lab.bench``).
- ``backtest [--quick] [--json] [--out DIR]`` runs the tax-alpha backtest
  (``optimizer_lab.backtest``).

The last two live in the lab (``optimizer_lab``, installed by the ``lab`` extra:
``pip install -e '.[lab]'``, which brings cvxpy and matplotlib); ``python -m optimizer_lab
bench|backtest`` is the same. Without the lab they exit with a message saying so.
"""

from __future__ import annotations

import argparse
import importlib
import json
import sys
from pathlib import Path

from optimizer.jsonio import problem_from_json, problem_to_json, solution_to_json


def _read(path: str) -> str:
    if path == "-":
        return sys.stdin.read()
    return Path(path).read_text(encoding="utf-8")


def _lab(args_in: list[str]) -> int:
    """Hand ``bench`` / ``backtest`` to the lab, or say how to install it (exit code 2)."""
    try:
        lab = importlib.import_module("optimizer_lab.__main__")
    except ImportError as exc:  # the lab, or cvxpy / matplotlib, is not installed
        print(
            f"error: python -m optimizer {args_in[0]} needs the optimizer lab "
            f"(pip install -e '.[lab]'): {exc}",
            file=sys.stderr,
        )
        return 2
    result: int = lab.main(args_in)
    return result


def main(argv: list[str] | None = None) -> int:
    args_in = list(sys.argv[1:] if argv is None else argv)
    if args_in[:1] in (["bench"], ["backtest"]):
        return _lab(args_in)
    parser = argparse.ArgumentParser(prog="python -m optimizer", description=__doc__)
    sub = parser.add_subparsers(dest="command", required=True)
    p_solve = sub.add_parser("solve", help="solve one problem JSON, print the solution JSON")
    p_solve.add_argument("problem", help="path to the problem JSON, or - for stdin")
    p_solve.add_argument("--no-timings", action="store_true", help="deterministic output")
    p_cont = sub.add_parser("continuous", help="print the continuous optimum as JSON")
    p_cont.add_argument("problem")
    sub.add_parser("example", help="print a small example problem JSON")
    sub.add_parser("bench", help="run the benchmark (see python -m optimizer bench --help)")
    sub.add_parser("backtest", help="run the tax-alpha backtest (see ... backtest --help)")
    args = parser.parse_args(args_in)

    if args.command == "example":
        from optimizer.examples import example_problem

        print(problem_to_json(example_problem()))
        return 0
    try:
        problem = problem_from_json(_read(args.problem))
    except (OSError, ValueError, KeyError, TypeError) as exc:
        print(f"error: cannot read problem: {exc}", file=sys.stderr)
        return 2
    if args.command == "solve":
        from optimizer.solve import solve

        try:
            solution = solve(problem)
        except ValueError as exc:
            print(f"error: {exc}", file=sys.stderr)
            return 2
        print(solution_to_json(solution, timings=not args.no_timings))
        return 0
    from optimizer.solve import solve_continuous

    cont = solve_continuous(problem)
    print(
        json.dumps(
            {
                "solver_status": cont.solver_status,
                "converged": cont.converged,
                "objective": cont.objective,
                "terms": {
                    "risk": cont.terms.risk,
                    "tax": cont.terms.tax,
                    "cost": cont.terms.cost,
                    "substitute": cont.terms.substitute,
                    "total": cont.terms.total,
                    "tracking_error": cont.terms.tracking_error,
                },
                "lot_fraction": cont.lot_fraction.tolist(),
                "buys": cont.buys.tolist(),
                "sells": cont.sells.tolist(),
                "iterations": cont.iterations,
                "binding": list(cont.binding),
            }
        )
    )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())

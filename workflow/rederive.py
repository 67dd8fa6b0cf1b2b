"""Re-derivation: solve an analysis's stored problem again and compare with what was recorded.

The stored problem is the engine's JSON exactly as solved; the engine is deterministic, so the
same engine version gives the same trades bit for bit. A difference means the engine changed
(or the record was damaged) and is printed trade by trade.
"""

from __future__ import annotations

from dataclasses import dataclass

from rebalancer.authz import Actor, authorize
from rebalancer.roles import Action, Resource
from workflow.models import Analysis, ProposedLotSale, ProposedTrade
from workflow.optimizer_adapter import problem_load, solution_rows, solve_timed


@dataclass(frozen=True)
class Rederivation:
    analysis_id: int
    identical: bool
    differences: tuple[str, ...]


def rederive(*, actor: Actor, analysis: Analysis) -> Rederivation:
    """Solve ``analysis``'s problem again; compare trades and lot sales with the stored ones."""
    authorize(actor=actor, firm=analysis.firm_id, resource=Resource.RUN, action=Action.VIEW)
    if analysis.problem is None:
        return Rederivation(
            analysis.pk, True, ("no problem was built (skipped): nothing to solve",)
        )
    problem = problem_load(bytes(analysis.problem))
    solution, error, _ = solve_timed(problem)
    if solution is None:
        return Rederivation(analysis.pk, False, (f"the solve failed now: {error}",))
    lot_names = dict(
        ProposedLotSale.objects.filter(analysis=analysis).values_list("lot_ref", "lot_id")
    )
    trades, sales = solution_rows(solution, lot_names)
    now_trades = sorted((t.ticker, t.side, t.shares, t.value, t.reason) for t in trades)
    stored_trades = sorted(
        (t.security.ticker, t.side, t.shares, t.value, t.reason)
        for t in ProposedTrade.objects.filter(analysis=analysis).select_related("security")
    )
    now_sales = sorted((s.ticker, s.shares, s.proceeds, s.realized_gain) for s in sales)
    stored_sales = sorted(
        (s.security.ticker, s.shares, s.proceeds, s.realized_gain)
        for s in ProposedLotSale.objects.filter(analysis=analysis).select_related("security")
    )
    differences = [
        f"trade stored {a} now {b}"
        for a, b in zip(stored_trades, now_trades, strict=False)
        if a != b
    ]
    if len(stored_trades) != len(now_trades):
        differences.append(f"{len(stored_trades)} trades stored, {len(now_trades)} now")
    differences += [
        f"lot sale stored {a} now {b}"
        for a, b in zip(stored_sales, now_sales, strict=False)
        if a != b
    ]
    if len(stored_sales) != len(now_sales):
        differences.append(f"{len(stored_sales)} lot sales stored, {len(now_sales)} now")
    return Rederivation(analysis.pk, not differences, tuple(differences))

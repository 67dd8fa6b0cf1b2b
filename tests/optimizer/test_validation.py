"""A malformed problem is rejected before any work, with an error that names what is wrong."""

from __future__ import annotations

import dataclasses
import datetime as dt
import json
import re
from collections.abc import Callable

import numpy as np
import pytest

from optimizer import (
    EquivalenceGroup,
    GroupBound,
    Problem,
    RecentTrade,
    RiskModel,
    Settings,
    Side,
    TaxRates,
    solve,
    solve_continuous,
)
from optimizer.jsonio import problem_from_json, problem_to_dict
from tests.optimizer.factories import AS_OF, lots_of, tiny


def _good() -> Problem:
    return tiny(
        [10.0, 20.0, 30.0],
        [0.3, 0.3, 0.3],
        [(0, 100, 900.0, "2017-01-03"), (1, 50, 1100.0, "2018-05-01")],
        cash=1000.0,
    )


def _lots(p: Problem, **kw: np.ndarray) -> Problem:
    return dataclasses.replace(p, lots=dataclasses.replace(p.lots, **kw))


CASES: dict[str, tuple[Callable[[Problem], Problem], str]] = {
    "no securities": (
        lambda p: dataclasses.replace(
            p,
            security_ids=(),
            prices=np.zeros(0),
            targets=np.zeros(0),
            lots=lots_of([], [], [], []),
        ),
        "no securities",
    ),
    "non-positive price": (
        lambda p: dataclasses.replace(p, prices=np.array([10.0, 0.0, 30.0])),
        "prices > 0",
    ),
    "nan price": (
        lambda p: dataclasses.replace(p, prices=np.array([10.0, np.nan, 30.0])),
        "prices > 0",
    ),
    "targets shape": (
        lambda p: dataclasses.replace(p, targets=np.array([0.5, 0.5])),
        "targets shape",
    ),
    "negative target": (
        lambda p: dataclasses.replace(p, targets=np.array([0.5, -0.1, 0.3])),
        "targets >= 0",
    ),
    "zero shares": (lambda p: _lots(p, shares=np.array([100.0, 0.0])), "lot shares > 0"),
    "negative basis": (
        lambda p: _lots(p, cost_basis=np.array([900.0, -1.0])),
        "lot cost basis >= 0",
    ),
    "duplicate lot ids": (
        lambda p: _lots(p, lot_id=np.array([7, 7], dtype=np.int64)),
        "lot ids unique",
    ),
    "lot security out of range": (
        lambda p: _lots(p, security=np.array([0, 3], dtype=np.int64)),
        "lot security index",
    ),
    "acquired not a date": (
        lambda p: _lots(p, acquired=np.array([1, 2], dtype=np.int64)),
        "lots.acquired dtype",
    ),
    "negative cash": (lambda p: dataclasses.replace(p, cash=-1.0), "cash >= 0"),
    "withdrawal of everything": (
        lambda p: dataclasses.replace(p, withdrawal=1e9),
        "base value (total - withdrawal) > 0",
    ),
    "cost rate of 100 %": (
        lambda p: dataclasses.replace(p, cost_rates=np.array([0.0, 1.0, 0.0])),
        "costs",
    ),
    "empty equivalence group": (
        lambda p: dataclasses.replace(p, equivalence_groups=(EquivalenceGroup(members=()),)),
        "empty equivalence group",
    ),
    "equivalence member out of range": (
        lambda p: dataclasses.replace(p, equivalence_groups=(EquivalenceGroup(members=(0, 5)),)),
        "equivalence member index",
    ),
    "overlapping equivalence groups": (
        lambda p: dataclasses.replace(
            p,
            equivalence_groups=(
                EquivalenceGroup(members=(0, 1)),
                EquivalenceGroup(members=(1, 2)),
            ),
        ),
        "equivalence groups overlap",
    ),
    "recent trade out of range": (
        lambda p: dataclasses.replace(
            p, recent_trades=(RecentTrade(security=9, trade_date=AS_OF, side=Side.BUY),)
        ),
        "recent trade security index",
    ),
    "group bound inverted": (
        lambda p: dataclasses.replace(
            p,
            group_bounds=(
                GroupBound("Tech", "sector", np.array([0, 1], dtype=np.int64), 0.5, 0.2),
            ),
        ),
        "group bound Tech lower <= upper",
    ),
    "risk model of the wrong size": (
        lambda p: dataclasses.replace(
            p, risk_model=RiskModel(np.ones((2, 1)), np.eye(1), np.ones(2) * 0.01)
        ),
        "risk model loadings shape",
    ),
    "negative specific variance": (
        lambda p: dataclasses.replace(
            p, risk_model=RiskModel(np.ones((3, 1)), np.eye(1), np.array([0.01, -0.01, 0.01]))
        ),
        "specific var >= 0",
    ),
    "negative risk aversion": (
        lambda p: dataclasses.replace(p, settings=Settings(risk_aversion=-1.0)),
        "risk_aversion >= 0",
    ),
    "no iterations": (
        lambda p: dataclasses.replace(p, settings=Settings(max_iter=0)),
        "solver caps",
    ),
    "unknown backend": (
        lambda p: dataclasses.replace(p, settings=Settings(qp_backend="osqp")),
        "qp_backend is one of 'auto', 'ipm', 'piqp', 'clarabel'",
    ),
    # Issue 17, defect 6: each of these was accepted silently before.
    "non-PSD factor covariance": (
        lambda p: dataclasses.replace(
            p,
            risk_model=RiskModel(
                np.array([[1.0, 0.0], [0.0, 1.0], [1.0, 1.0]]),
                np.array([[0.04, 0.05], [0.05, 0.04]]),
                np.full(3, 0.01),
            ),
        ),
        "factor_cov PSD",
    ),
    "targets summing to 1.5": (
        lambda p: dataclasses.replace(p, targets=np.array([0.5, 0.5, 0.5])),
        "targets sum to at most 1 (got 1.5)",
    ),
    "negative tax rate": (
        lambda p: dataclasses.replace(p, tax_rates=TaxRates(-0.1, 0.2)),
        "tax_rates.short_term in [0, 1]",
    ),
    "tax rate above 1": (
        lambda p: dataclasses.replace(p, tax_rates=TaxRates(0.37, 1.2)),
        "tax_rates.long_term in [0, 1]",
    ),
    "negative turnover cap": (
        lambda p: dataclasses.replace(p, settings=Settings(turnover_max=-0.05)),
        "settings.turnover_max >= 0",
    ),
    "boolean lot security index": (
        lambda p: _lots(p, security=np.array([False, True])),
        "lots.security dtype integer",
    ),
    "fractional lot security index": (
        lambda p: _lots(p, security=np.array([0.0, 1.5])),
        "lots.security dtype integer",
    ),
    "acquired after as-of": (
        lambda p: _lots(
            p, acquired=np.array(["2017-01-03", str(AS_OF + dt.timedelta(days=1))], "datetime64[D]")
        ),
        "lots.acquired on or before as_of",
    ),
    "negative share decimals": (
        lambda p: dataclasses.replace(
            p, settings=Settings(fractional_shares=True, share_decimals=-2)
        ),
        "settings.share_decimals integer in 0..12",
    ),
}


@pytest.mark.parametrize(
    ("field", "value", "message"),
    [
        ("security", [0, 1.5], "Problem.lots: Lots.security: expected integers, got 1.5"),
        ("security", [0, True], "Problem.lots: Lots.security: expected integers, got True"),
        ("lot_id", [1, 2.0], "Problem.lots: Lots.lot_id: expected integers, got 2.0"),
    ],
)
def test_json_rejects_a_non_integer_index_naming_the_field(
    field: str, value: list[object], message: str
) -> None:
    # Issue 17, defect 6: numpy truncated 1.5 to 1 and read true as 1, silently.
    payload = problem_to_dict(_good())
    payload["lots"][field] = value
    with pytest.raises(ValueError, match=re.escape(message)):
        problem_from_json(json.dumps(payload))


@pytest.mark.parametrize("case", sorted(CASES))
def test_malformed_problem_is_rejected_with_the_reason(case: str) -> None:
    mutate, message = CASES[case]
    bad = mutate(_good())
    with pytest.raises(ValueError, match=re.escape(f"invalid problem 'tiny': {message}")):
        solve(bad)
    with pytest.raises(ValueError, match="invalid problem"):
        solve_continuous(bad)


def test_the_unmutated_problem_is_valid() -> None:
    # The baseline every case above mutates: valid, so each failure is the mutation's.
    assert solve(_good()).status in ("optimal", "relaxed")
    assert solve_continuous(_good()).converged

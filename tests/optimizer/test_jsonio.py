"""JSON round trip is exact (bytes and values), versioned, strict."""

from __future__ import annotations

import dataclasses
import datetime as dt
import json
import math

import numpy as np
import pytest

from optimizer import solve
from optimizer.examples import example_problem
from optimizer.jsonio import (
    OMIT_DEFAULT,
    SCHEMA_VERSION,
    problem_from_json,
    problem_to_json,
    solution_from_json,
    solution_to_json,
)
from optimizer.types import RecentTrade, Side
from tests.optimizer.factories import random_problem


@pytest.mark.parametrize("seed", range(12))
def test_problem_round_trip_is_exact(seed: int) -> None:
    p = random_problem(seed)
    text = problem_to_json(p)
    back = problem_from_json(text)
    assert problem_to_json(back) == text
    np.testing.assert_array_equal(back.prices, p.prices)  # bit-exact floats
    np.testing.assert_array_equal(back.lots.acquired, p.lots.acquired)
    assert back.settings == p.settings
    assert back.recent_trades == p.recent_trades
    if p.risk_model is not None:
        assert back.risk_model is not None
        np.testing.assert_array_equal(back.risk_model.loadings, p.risk_model.loadings)


def test_awkward_floats_survive() -> None:
    p = example_problem()
    prices = np.array([0.1 + 0.2, 1e-300, 123456789.123456789])
    p = dataclasses.replace(p, prices=prices, max_weight=np.array([math.inf, 0.5, math.inf]))
    back = problem_from_json(problem_to_json(p))
    assert back.prices.tobytes() == prices.tobytes()
    assert back.max_weight is not None and math.isinf(back.max_weight[0])
    json.loads(problem_to_json(p), parse_constant=lambda c: pytest.fail(f"non-strict {c}"))


def test_solution_round_trip_and_deterministic_form() -> None:
    sol = solve(example_problem())
    text = solution_to_json(sol)
    assert solution_to_json(solution_from_json(text)) == text
    data = json.loads(solution_to_json(sol, timings=False))
    assert data["schema_version"] == SCHEMA_VERSION and data["kind"] == "solution"
    assert data["diagnostics"]["timings"] == []
    assert data["reasons"][0]["text"]


def test_wrong_version_kind_or_field_is_rejected() -> None:
    text = problem_to_json(example_problem())
    data = json.loads(text)
    with pytest.raises(ValueError, match="schema_version"):
        problem_from_json(json.dumps({**data, "schema_version": 99}))
    with pytest.raises(ValueError, match="kind"):
        solution_from_json(text)
    with pytest.raises(ValueError, match="unknown field"):
        problem_from_json(json.dumps({**data, "surprise": 1}))


def test_recent_trade_lot_id_round_trips_and_is_omitted_when_unknown() -> None:
    p = example_problem()
    named = RecentTrade(0, p.as_of - dt.timedelta(days=3), Side.BUY, lot_id=102)
    unnamed = RecentTrade(1, p.as_of - dt.timedelta(days=4), Side.BUY)
    q = dataclasses.replace(p, recent_trades=(named, unnamed))
    text = problem_to_json(q)
    data = json.loads(text)
    assert data["recent_trades"][0]["lot_id"] == 102
    assert "lot_id" not in data["recent_trades"][1]  # files without lot ids keep their bytes
    back = problem_from_json(text)
    assert back.recent_trades == (named, unnamed)
    assert problem_to_json(back) == text
    # a file written before the field existed reads with lot_id None and writes the same bytes
    old = problem_to_json(p)
    assert '"lot_id"' not in json.dumps(json.loads(old)["recent_trades"])
    assert problem_to_json(problem_from_json(old)) == old


def test_omit_default_marker_matches_the_types() -> None:
    field = next(f for f in dataclasses.fields(RecentTrade) if f.name == "lot_id")
    assert field.metadata.get(OMIT_DEFAULT) is True

"""The factor risk model is part of the engine (``optimizer.risk``, issue 17): it runs on a
price table the caller builds, without the lab (no S&P 500 files, no cvxpy or matplotlib), as
the nightly batch will use it. The real-data checks are in tests/optimizer_reference/test_risk.py.
"""

from __future__ import annotations

import dataclasses
import subprocess
import sys

import numpy as np
import pytest

from optimizer import risk, solve
from optimizer.risk import UNKNOWN_SECTOR, PriceTable, RiskModelSettings
from tests.optimizer.factories import random_problem


def _synthetic_prices(n: int = 30, days: int = 320, seed: int = 3) -> PriceTable:
    """Closes driven by a market factor, two sector factors and noise; a few gaps."""
    rng = np.random.default_rng(seed)
    market = rng.normal(0.0004, 0.01, days)
    sector_ret = rng.normal(0.0, 0.006, (days, 2))
    sector = np.arange(n) % 2
    beta = rng.uniform(0.7, 1.3, n)
    ret = beta * market[:, None] + sector_ret[:, sector] + rng.normal(0.0, 0.012, (days, n))
    closes = (50.0 * np.cumprod(1.0 + ret, axis=0)).astype(np.float64)
    closes[rng.random((days, n)) < 0.01] = np.nan
    dates = np.busday_offset(np.datetime64("2018-01-02"), np.arange(days), roll="forward")
    return PriceTable(
        dates=dates.astype("datetime64[D]"),
        tickers=tuple(f"T{i:02d}" for i in range(n)),
        closes=closes,
    )


def test_estimated_from_any_price_table() -> None:
    prices = _synthetic_prices()
    sectors = {t: ("Tech" if k % 2 else "Energy") for k, t in enumerate(prices.tickers)}
    sectors["T29"] = UNKNOWN_SECTOR
    as_of = prices.dates[280]
    m = risk.estimate_factor_arrays(prices, as_of, sectors, RiskModelSettings(n_factors=6))
    n = len(prices.tickers)
    assert m.loadings.shape == (n, 6) and m.factor_cov.shape == (6, 6)
    np.testing.assert_array_equal(m.factor_cov, m.factor_cov.T)
    assert np.linalg.eigvalsh(m.factor_cov).min() >= -1e-14 * np.abs(m.factor_cov).max()
    assert (m.specific_var > 0).all()
    # No look-ahead: closes after as_of do not move the model.
    later = prices.closes.copy()
    later[281:] *= 3.0
    m2 = risk.estimate_factor_arrays(
        dataclasses.replace(prices, closes=later), as_of, sectors, RiskModelSettings(n_factors=6)
    )
    np.testing.assert_array_equal(m.factor_cov, m2.factor_cov)
    np.testing.assert_array_equal(m.specific_var, m2.specific_var)
    # The engine's risk model (annual units) solves an account.
    rm = m.to_risk_model()
    assert rm.loadings.shape == (n, 6)
    p = random_problem(5, n=n, factors=0, features=False)
    p = dataclasses.replace(p, risk_model=rm, security_ids=prices.tickers)
    assert solve(p).status in ("optimal", "relaxed")


def test_before_enough_history_is_an_error() -> None:
    prices = _synthetic_prices()
    with pytest.raises(ValueError, match="at least 2 return days"):
        risk.estimate_factor_arrays(prices, prices.dates[1], {})


def test_the_engine_and_its_risk_model_import_without_the_lab() -> None:
    code = (
        "import sys, optimizer, optimizer.risk\n"
        "bad = [m for m in ('optimizer_lab', 'cvxpy', 'matplotlib') if m in sys.modules]\n"
        "assert not bad, bad\n"
    )
    subprocess.run([sys.executable, "-c", code], check=True)

"""Factor risk model estimated from the real prices: shapes, PSD, no look-ahead, sanity."""

from __future__ import annotations

import dataclasses

import numpy as np
import pytest

from optimizer import risk
from optimizer.risk import PriceTable
from optimizer_lab import data

AS_OF = "2017-06-30"


@pytest.fixture(scope="module")
def prices() -> PriceTable:
    return data.load_closes(adjusted=True)


@pytest.fixture(scope="module")
def sectors() -> dict[str, str]:
    return data.load_sectors()


@pytest.mark.parametrize("k", [20, 40])
def test_shapes_psd_and_positive_specific(
    prices: PriceTable, sectors: dict[str, str], k: int
) -> None:
    m = risk.estimate_factor_arrays(prices, AS_OF, sectors, risk.RiskModelSettings(n_factors=k))
    n = len(prices.tickers)
    assert m.loadings.shape == (n, k)
    assert m.factor_cov.shape == (k, k)
    assert m.specific_var.shape == (n,)
    assert len(m.factor_names) == k
    np.testing.assert_array_equal(m.factor_cov, m.factor_cov.T)
    eig = np.linalg.eigvalsh(m.factor_cov)
    assert eig.min() >= -1e-14 * eig.max()
    assert np.all(m.specific_var > 0.0)
    # Daily units: a single stock's total vol is between 5 % and 150 % a year.
    total = np.sqrt(np.diag(m.covariance()) * 252)
    assert 0.05 < np.median(total) < 0.6
    assert total.min() > 0.03 and total.max() < 1.5
    # Market column all ones, sector columns one-hot (Unknown sector: none).
    b = m.loadings.toarray()
    np.testing.assert_array_equal(b[:, 0], 1.0)
    n_sec = sum(name.startswith("sector:") for name in m.factor_names)
    row_sums = b[:, 1 : 1 + n_sec].sum(axis=1)
    unknown = np.array([sectors[t] == data.UNKNOWN_SECTOR for t in m.tickers])
    np.testing.assert_array_equal(row_sums, np.where(unknown, 0.0, 1.0))


def test_no_look_ahead(prices: PriceTable, sectors: dict[str, str]) -> None:
    base = risk.estimate_factor_arrays(prices, AS_OF, sectors)
    row = prices.row_on_or_before(AS_OF)
    rng = np.random.default_rng(7)
    later = prices.closes.copy()
    later[row + 1 :] *= rng.uniform(0.5, 2.0, size=later[row + 1 :].shape)
    later[row + 5 :, :50] = np.nan
    changed = dataclasses.replace(prices, closes=later)
    other = risk.estimate_factor_arrays(changed, AS_OF, sectors)
    np.testing.assert_array_equal(base.loadings.toarray(), other.loadings.toarray())
    np.testing.assert_array_equal(base.factor_cov, other.factor_cov)
    np.testing.assert_array_equal(base.specific_var, other.specific_var)
    # ... while a change on the as-of day itself does change the model.
    now = prices.closes.copy()
    now[row] *= 1.05
    moved = risk.estimate_factor_arrays(dataclasses.replace(prices, closes=now), AS_OF, sectors)
    assert not np.array_equal(base.factor_cov, moved.factor_cov)


def test_deterministic(prices: PriceTable, sectors: dict[str, str]) -> None:
    a = risk.estimate_factor_arrays(prices, AS_OF, sectors, risk.RiskModelSettings(n_factors=40))
    b = risk.estimate_factor_arrays(prices, AS_OF, sectors, risk.RiskModelSettings(n_factors=40))
    assert a.loadings.toarray().tobytes() == b.loadings.toarray().tobytes()
    assert a.factor_cov.tobytes() == b.factor_cov.tobytes()
    assert a.specific_var.tobytes() == b.specific_var.tobytes()


def test_short_history_gets_sector_average_risk(
    prices: PriceTable, sectors: dict[str, str]
) -> None:
    """Names with no quotes in the window: sector-average specific variance and stat loadings."""
    m = risk.estimate_factor_arrays(prices, "2015-06-30", sectors)  # ~115 days of history
    first = np.argmax(~np.isnan(prices.closes), axis=0)
    late = [i for i, t in enumerate(m.tickers) if first[i] > 200 and sectors[t] != "Unknown"]
    assert len(late) >= 2, "expected names with no quotes before mid-2015"
    b = m.loadings.toarray()
    stat = np.array([name.startswith("stat:") for name in m.factor_names])
    by_sector: dict[str, list[int]] = {}
    for i in late:
        assert m.n_obs[i] == 0
        sector = sectors[m.tickers[i]]
        by_sector.setdefault(sector, []).append(i)
        peers = [j for j, t in enumerate(m.tickers) if sectors[t] == sector and m.n_obs[j] >= 63]
        assert min(m.specific_var[peers]) <= m.specific_var[i] <= max(m.specific_var[peers])
        np.testing.assert_allclose(b[i, stat], b[peers][:, stat].mean(axis=0), atol=1e-15)
    for group in by_sector.values():
        assert len({float(m.specific_var[i]) for i in group}) == 1


def _cap_weights(m: risk.FactorModelArrays, as_of: np.datetime64) -> np.ndarray:
    tickers, caps = data.caps_on(as_of)
    pos = {t: i for i, t in enumerate(m.tickers)}
    w = np.zeros(len(m.tickers))
    for t, c in zip(tickers, caps, strict=True):
        if np.isfinite(c):
            w[pos[t]] = c
    return np.asarray(w / w.sum())


def test_predicted_index_volatility_is_in_band(prices: PriceTable, sectors: dict[str, str]) -> None:
    """Cap-weighted index: predicted vol vs realised, in-sample (tight) and next quarter (loose).

    In-sample the model must reproduce the weighted realised vol of the window it was fitted on
    (within 15 %); out of sample the median ratio over 2016-2019 must lie in [0.6, 1.8]
    (volatility regimes change: 2017 was unusually calm, Q4 2018 unusually rough).
    """
    halflife_w = risk._exp_weights(252, 90.0)
    out_ratios = []
    for row in range(300, len(prices.dates) - 64, 63):
        as_of = prices.dates[row]
        m = risk.estimate_factor_arrays(prices, as_of, sectors)
        w = _cap_weights(m, as_of)
        predicted = np.sqrt(m.variance_of(w) * 252)

        def index_returns(lo: int, hi: int, w: np.ndarray = w) -> np.ndarray:
            px = prices.closes[lo : hi + 1]
            r = px[1:] / px[:-1] - 1.0
            return np.asarray(np.where(np.isnan(r), 0.0, r) @ w)

        past = index_returns(row - 252, row)
        past_vol = np.sqrt(halflife_w @ (past - halflife_w @ past) ** 2 * 252)
        assert 0.85 < predicted / past_vol < 1.15
        future = index_returns(row, row + 63)
        out_ratios.append(predicted / np.sqrt(np.mean(future**2) * 252))
    assert 0.6 < float(np.median(out_ratios)) < 1.8


def test_engine_risk_model_is_annualised_subset(
    prices: PriceTable, sectors: dict[str, str]
) -> None:
    m = risk.estimate_factor_arrays(prices, AS_OF, sectors)
    subset = ("MSFT", "AAPL", "XOM")
    rm = m.to_risk_model(subset)
    rows = [m.tickers.index(t) for t in subset]
    assert rm.loadings.shape == (3, 20)
    np.testing.assert_array_equal(rm.loadings, m.loadings.toarray()[rows])
    np.testing.assert_allclose(rm.factor_cov, 252.0 * m.factor_cov, rtol=1e-15)
    np.testing.assert_allclose(rm.specific_var, 252.0 * m.specific_var[rows], rtol=1e-15)
    # Annual vol of a large stock in mid-2017: between 10 % and 50 %.
    cov = rm.loadings @ rm.factor_cov @ rm.loadings.T + np.diag(rm.specific_var)
    assert np.all((np.sqrt(np.diag(cov)) > 0.1) & (np.sqrt(np.diag(cov)) < 0.5))

"""Estimate a factor risk model of daily stock returns from a price history.

Covariance of returns: ``Sigma = B F B' + diag(d)``, all in DAILY units (return fraction per
trading day; multiply variances by 252 to annualise). The method is documented in
``docs/risk-model.md``; in short:

1. Returns: the trailing ``window`` daily returns of the dividend-adjusted closes up to and
   including the as-of date (nothing after it is read), winsorised per name at
   ``winsor_sigmas`` robust standard deviations (median +- k * 1.4826 * MAD).
2. Factors, in column order: ``market`` (loading 1 for every name), one indicator factor per GICS
   sector (names of sector ``"Unknown"`` load on none), then ``k - 1 - n_sectors`` statistical
   factors: principal components of the residual returns after market and sector, computed on
   the exponentially weighted residual matrix of the names with enough history.
   Daily factor returns: market = equal-weighted mean return of the names quoted that day;
   sector s = mean over its quoted names of (return - market); statistical j = the j-th
   principal component score. Names with fewer than ``min_obs`` returns in the window get the
   sector-average statistical loadings (all-name average for ``"Unknown"``).
3. Factor covariance ``F``: exponentially weighted (half-life ``half_life`` days) covariance of
   the daily factor returns, demeaned; symmetric PSD by construction (sum of outer products).
4. Specific variance ``d``: exponentially weighted mean square of each name's residual after all
   factors, shrunk toward its sector's mean: ``d_i = a_i s_i + (1 - a_i) sbar_sector`` with
   ``a_i = n_i / (n_i + shrink_obs)`` (``n_i`` = returns observed in the window), floored at
   ``d_floor_frac`` times the cross-sectional median. Names with fewer than ``min_obs`` returns
   get the sector mean.

Part of the engine (numpy and scipy.sparse; no lab, no cvxpy or matplotlib) because the
nightly batch estimates its risk model from prices with it; the lab (``optimizer_lab.data``
loads the S&P 500 files into a ``PriceTable``) imports it from here.

The model is estimated once per as-of date and shared by every account: ``estimate_factor_arrays``
gives the daily arrays (loadings stored sparse); ``FactorModelArrays.to_risk_model(tickers)`` the
engine's ``optimizer.types.RiskModel`` (ANNUAL units, dense loadings) for one universe.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from functools import lru_cache

import numpy as np
import numpy.typing as npt
import scipy.sparse as sp

from optimizer.types import RiskModel

FloatArray = npt.NDArray[np.float64]
DateArray = npt.NDArray[np.datetime64]

UNKNOWN_SECTOR = "Unknown"
"""Sector of a name without a GICS sector: it loads on no sector factor."""


@dataclass(frozen=True, eq=False)
class PriceTable:
    """Daily closes in wide form (the input of ``estimate_factor_arrays``).

    ``dates``: shape (T,), ascending trading days, ``datetime64[D]``. ``tickers``: n sorted
    symbols. ``closes``: shape (T, n), dollars per share, ``NaN`` where there is no quote.
    """

    dates: DateArray
    tickers: tuple[str, ...]
    closes: FloatArray

    def column(self, ticker: str) -> int:
        """Column index of ``ticker`` (``KeyError`` if it is not in the table)."""
        return _ticker_index(self.tickers)[ticker]

    def row_on_or_before(self, date: dt.date | np.datetime64 | str) -> int:
        """Index of the last trading day <= ``date`` (``ValueError`` if before the first day)."""
        day = _as_day(date)
        row = int(np.searchsorted(self.dates, day, side="right")) - 1
        if row < 0:
            raise ValueError(f"{day} is before the first date {self.dates[0]}")
        return row


def _as_day(date: dt.date | np.datetime64 | str) -> np.datetime64:
    """``date`` as ``numpy.datetime64[D]`` (accepts a date, an ISO string or a datetime64)."""
    return np.datetime64(str(date)[:10], "D")


@lru_cache(maxsize=64)
def _ticker_index(tickers: tuple[str, ...]) -> dict[str, int]:
    return {t: i for i, t in enumerate(tickers)}


TRADING_DAYS_PER_YEAR = 252


@dataclass(frozen=True)
class RiskModelSettings:
    """Estimation settings; the defaults are those documented in docs/risk-model.md."""

    n_factors: int = 20
    window: int = 252
    half_life: float = 90.0
    min_obs: int = 63
    shrink_obs: float = 63.0
    winsor_sigmas: float = 8.0
    d_floor_frac: float = 0.05


@dataclass(frozen=True, eq=False)
class FactorModelArrays:
    """A factor model of daily returns for ``tickers`` (n names, k factors).

    ``loadings``: (n, k) CSR matrix, dimensionless (return of a name per unit factor return).
    ``factor_cov``: (k, k) symmetric PSD, daily return variance units.
    ``specific_var``: (n,) > 0, daily return variance units.
    ``factor_names``: k labels (``market``, ``sector:<name>``, ``stat:<j>``).
    ``n_obs``: (n,) returns observed per name in the window (0 .. window).
    """

    tickers: tuple[str, ...]
    factor_names: tuple[str, ...]
    loadings: sp.csr_matrix
    factor_cov: FloatArray
    specific_var: FloatArray
    as_of: dt.date
    n_obs: npt.NDArray[np.int64]

    def to_risk_model(self, tickers: tuple[str, ...] | None = None) -> RiskModel:
        """The engine's ``RiskModel`` (ANNUAL units, dense loadings) over ``tickers``.

        ``tickers`` (default: all) must be a subset of ``self.tickers``, in the problem's order.
        Variances are multiplied by 252; loadings are unchanged.
        """
        names = tickers if tickers is not None else self.tickers
        pos = {t: i for i, t in enumerate(self.tickers)}
        rows = np.array([pos[t] for t in names], dtype=np.intp)
        loadings = np.ascontiguousarray(self.loadings[rows].toarray())
        return RiskModel(
            loadings=loadings,
            factor_cov=self.factor_cov * TRADING_DAYS_PER_YEAR,
            specific_var=self.specific_var[rows] * TRADING_DAYS_PER_YEAR,
            name=f"sp500 k={len(self.factor_names)} as of {self.as_of.isoformat()}",
        )

    def covariance(self) -> FloatArray:
        """Dense (n, n) covariance ``B F B' + diag(d)`` (daily); for tests and small n only."""
        b = self.loadings.toarray()
        return np.asarray(b @ self.factor_cov @ b.T + np.diag(self.specific_var))

    def variance_of(self, weights: FloatArray) -> float:
        """Daily variance of the return of a portfolio with ``weights`` (n,) (fractions)."""
        x = self.loadings.T @ weights
        return float(x @ self.factor_cov @ x + weights @ (self.specific_var * weights))


def _exp_weights(length: int, half_life: float) -> FloatArray:
    """Weights (length,) summing to 1, the newest (last) largest, halving every ``half_life``."""
    age = np.arange(length - 1, -1, -1, dtype=np.float64)
    w = np.exp(-np.log(2.0) * age / half_life)
    return np.asarray(w / w.sum())


def _winsorise(returns: FloatArray, sigmas: float) -> FloatArray:
    """Clip each column at its median +- ``sigmas`` robust std (1.4826 MAD); NaN stays NaN."""
    out = returns.copy()
    observed = ~np.isnan(out).all(axis=0)
    if not observed.any():
        return out
    cols = out[:, observed]
    med = np.nanmedian(cols, axis=0)
    mad = np.nanmedian(np.abs(cols - med), axis=0) * 1.4826
    mad = np.where(mad > 0.0, mad, np.nanstd(cols, axis=0))
    lo, hi = med - sigmas * mad, med + sigmas * mad
    out[:, observed] = np.clip(cols, lo, hi)  # NaN propagates through clip unchanged
    return out


def _fix_signs(vectors: FloatArray) -> FloatArray:
    """Make the largest-magnitude entry of each column positive (deterministic PCA signs)."""
    idx = np.argmax(np.abs(vectors), axis=0)
    signs = np.sign(vectors[idx, np.arange(vectors.shape[1])])
    signs[signs == 0.0] = 1.0
    return np.asarray(vectors * signs)


def estimate_factor_arrays(
    prices: PriceTable,
    as_of: dt.date | np.datetime64 | str,
    sectors: dict[str, str],
    settings: RiskModelSettings | None = None,
    tickers: tuple[str, ...] | None = None,
) -> FactorModelArrays:
    """Estimate the model for ``tickers`` (default: all of ``prices``) from closes <= ``as_of``.

    ``prices`` should be the dividend-adjusted closes (``load_closes(adjusted=True)``).
    ``sectors`` maps every ticker to a GICS sector or ``"Unknown"`` (missing keys = Unknown).
    Deterministic: the same inputs give bit-identical arrays.
    """
    s = settings or RiskModelSettings()
    names = tickers if tickers is not None else prices.tickers
    n = len(names)
    cols = np.array([prices.column(t) for t in names], dtype=np.intp)
    end = prices.row_on_or_before(as_of)
    start = max(0, end - s.window)
    if end - start < 2:
        raise ValueError(f"need at least 2 return days up to {as_of}")
    px = prices.closes[start : end + 1][:, cols]
    with np.errstate(invalid="ignore", divide="ignore"):
        ret = px[1:] / px[:-1] - 1.0  # (T, n); NaN if either close is missing
    ret = _winsorise(ret, s.winsor_sigmas)
    t_len = ret.shape[0]
    valid = ~np.isnan(ret)
    n_obs = valid.sum(axis=0).astype(np.int64)
    enough = n_obs >= min(s.min_obs, t_len)
    r0 = np.where(valid, ret, 0.0)
    w = _exp_weights(t_len, s.half_life)

    sector_of = [sectors.get(t, UNKNOWN_SECTOR) for t in names]
    sector_names = sorted({x for x in sector_of if x != UNKNOWN_SECTOR})
    n_sec = len(sector_names)
    n_stat = s.n_factors - 1 - n_sec
    if n_stat < 0:
        raise ValueError(f"n_factors={s.n_factors} < 1 + {n_sec} sectors")
    sec_idx = np.array(
        [sector_names.index(x) if x != UNKNOWN_SECTOR else -1 for x in sector_of], dtype=np.intp
    )
    dummies = np.zeros((n, n_sec))
    known = sec_idx >= 0
    dummies[np.flatnonzero(known), sec_idx[known]] = 1.0

    # Market and sector factor returns per day (means over the names quoted that day).
    count = valid.sum(axis=1).astype(np.float64)
    f_mkt = r0.sum(axis=1) / np.maximum(count, 1.0)
    ex = np.where(valid, ret - f_mkt[:, None], 0.0)
    sec_count = valid.astype(np.float64) @ dummies
    f_sec = (ex @ dummies) / np.maximum(sec_count, 1.0)
    resid = np.where(valid, ex - f_sec @ dummies.T, 0.0)  # (T, n); 0 where no quote

    # Statistical factors: PCA of the weighted residuals of the names with enough history.
    est = np.flatnonzero(enough)
    stat_load = np.zeros((n, n_stat))
    f_stat = np.zeros((t_len, n_stat))
    if n_stat > 0 and est.size > 0:
        sw = np.sqrt(w)[:, None]
        _u, sv, vt = np.linalg.svd(sw * resid[:, est], full_matrices=False)
        m = min(n_stat, sv.size)
        v = _fix_signs(vt[:m].T)  # (n_est, m), orthonormal columns
        stat_load[est, :m] = v
        f_stat[:, :m] = resid[:, est] @ v  # least squares scores since v is orthonormal
        resid = resid - np.where(valid, f_stat @ stat_load.T, 0.0)
        # Names without enough history: sector-average statistical loadings.
        few = np.flatnonzero(~enough)
        for i in few:
            peers = est[sec_idx[est] == sec_idx[i]] if sec_idx[i] >= 0 else est
            if peers.size == 0:
                peers = est
            stat_load[i] = stat_load[peers].mean(axis=0)

    # Factor covariance (k, k): exponentially weighted, demeaned.
    fr = np.hstack([f_mkt[:, None], f_sec, f_stat])
    mu = w @ fr
    dev = fr - mu
    fcov = (dev * w[:, None]).T @ dev
    fcov = 0.5 * (fcov + fcov.T)

    # Specific variance: weighted mean square residual over observed days, then shrinkage.
    wv = w[:, None] * valid
    wsum = wv.sum(axis=0)
    raw = np.where(wsum > 0.0, (wv * resid**2).sum(axis=0) / np.where(wsum > 0.0, wsum, 1.0), 0.0)
    all_mean = float(raw[est].mean()) if est.size else 1e-4
    sec_mean = np.full(n_sec, all_mean)
    for j in range(n_sec):
        peers = est[sec_idx[est] == j]
        if peers.size:
            sec_mean[j] = raw[peers].mean()
    target = np.where(known, sec_mean[np.maximum(sec_idx, 0)], all_mean)
    a = n_obs / (n_obs + s.shrink_obs)
    spec = np.where(enough, a * raw + (1.0 - a) * target, target)
    spec = np.maximum(spec, s.d_floor_frac * float(np.median(spec)))

    dense_b = np.hstack([np.ones((n, 1)), dummies, stat_load])
    factor_names = (
        "market",
        *(f"sector:{x}" for x in sector_names),
        *(f"stat:{j + 1}" for j in range(n_stat)),
    )
    return FactorModelArrays(
        tickers=tuple(names),
        factor_names=factor_names,
        loadings=sp.csr_matrix(dense_b),
        factor_cov=np.ascontiguousarray(fcov),
        specific_var=np.ascontiguousarray(spec),
        as_of=dt.date.fromisoformat(str(prices.dates[end])),
        n_obs=n_obs,
    )

"""The synthetic funds: labelled, deterministic, and built as their source says."""

from __future__ import annotations

import datetime as dt
import math

import numpy as np

from demo.marketdata import synthetic
from demo.marketdata.real import CAPS_DATE, DATA_DIR, caps_2015, real_closes, real_securities
from demo.marketdata.synthetic import SYNTHETIC_FUNDS, basket_returns, synthetic_closes


def _series(ticker: str) -> np.ndarray:
    closes = synthetic_closes()
    return np.asarray(closes.dollars[:, closes.column(ticker)])


def test_every_synthetic_fund_is_labelled_and_apart_from_real_tickers() -> None:
    assert 30 <= len(SYNTHETIC_FUNDS) <= 36
    tickers = [f.ticker for f in SYNTHETIC_FUNDS]
    assert len(set(tickers)) == len(tickers)
    assert not set(tickers) & set(real_closes().tickers)
    for fund in SYNTHETIC_FUNDS:
        assert fund.ticker.startswith("SYN.")
        assert fund.name.endswith("(synthetic)")
        assert fund.source.startswith("Synthetic:")
        assert len(fund.source) <= 200
    asset_classes = {f.asset_class for f in SYNTHETIC_FUNDS}
    for needed in (
        "Equity > US > Large Cap",
        "Equity > US > Mid Cap",
        "Equity > US > Small Cap",
        "Equity > International > Developed",
        "Equity > International > Emerging Markets",
        "Fixed Income > Taxable > Core",
        "Fixed Income > Municipal",
        "Cash",
    ):
        assert needed in asset_classes


def test_closes_are_deterministic_and_positive() -> None:
    first = synthetic._synthetic_levels.__wrapped__(DATA_DIR)  # uncached: computed again
    second = synthetic._synthetic_levels.__wrapped__(DATA_DIR)
    for ticker in first:
        assert np.array_equal(first[ticker], second[ticker])
    closes = synthetic_closes()
    assert closes.dates == real_closes().dates
    assert (closes.ticks > 0).all()
    for fund in SYNTHETIC_FUNDS:
        assert closes.close(fund.ticker, closes.dates[0]) == fund.base_price


def test_sector_basket_return_is_the_cap_weighted_return_of_its_members() -> None:
    """Recompute one day of the Utilities basket from the real closes and the 2015 caps."""
    closes = real_closes()
    caps = caps_2015()
    row_caps = closes.row(CAPS_DATE)
    members = sorted(
        s.ticker
        for s in real_securities()
        if s.sector == "Utilities" and s.ticker in caps and closes.has_quote(s.ticker, row_caps)
    )
    day = closes.row(dt.date(2018, 6, 15))
    num = den = 0.0
    for ticker in members:
        before = float(closes.close(ticker, closes.dates[day - 1]) or 0)
        after = float(closes.close(ticker, closes.dates[day]) or 0)
        then = float(closes.close(ticker, CAPS_DATE) or 0)
        assert before and after and then  # all Utilities members quoted on these days
        cap = float(caps[ticker]) * before / then
        num += cap * (after / before - 1.0)
        den += cap
    assert math.isclose(basket_returns("sector:Utilities")[day], num / den, rel_tol=1e-9)
    utilities = _series("SYN.UTIL")
    assert math.isclose(utilities[day] / utilities[day - 1] - 1.0, num / den, abs_tol=2e-4)


def test_generated_funds_have_their_stated_vol_correlation_and_drift() -> None:
    market = np.diff(np.log(_series("SYN.USTM")))
    for fund in SYNTHETIC_FUNDS:
        if fund.method != "generated":
            continue
        log_returns = np.diff(np.log(_series(fund.ticker)))
        vol = log_returns.std() * math.sqrt(252)
        # Exact up to rounding the closes to 1/10,000 $ (which blurs the tiniest moves most).
        assert abs(vol - fund.vol) <= 0.01 * fund.vol + 0.0005, fund.ticker
        if fund.vol >= 0.01:
            corr = float(np.corrcoef(log_returns, market)[0, 1])
            assert abs(corr - fund.corr) <= 0.01, fund.ticker
        drift = log_returns.mean() * 252 + fund.vol**2 / 2
        assert abs(drift - fund.drift) <= 0.0005, fund.ticker


def test_index_fund_tracks_its_etf_less_its_fee_and_money_market_is_stable() -> None:
    etf, fund = _series("SYN.USLC"), _series("SYN.USLCX")
    years = (len(etf) - 1) / 252
    ratio = (fund[-1] / fund[0]) / (etf[-1] / etf[0])
    assert math.isclose(ratio, (1 - 0.0015) ** years, rel_tol=1e-4)
    assert (_series("SYN.MMF") == 1.0).all()

"""Dividends derived from the adjusted/unadjusted ratio, on synthetic and real data; universe."""

from __future__ import annotations

import numpy as np
import pytest

from optimizer_lab.backtest.prices import (
    bench_returns,
    bench_weights,
    derive_dividends,
    load_market_data,
    make_vintage,
)


def test_derivation_recovers_a_synthetic_dividend() -> None:
    # close 50, 49, 49.5; a 0.5 dividend goes ex on day 1. Yahoo's factor for days before the
    # ex-date is 1 - D / close(day 0) = 0.99, so adj = 49.5, 49, 49.5.
    close = np.array([[50.0], [49.0], [49.5]])
    adj = np.array([[49.5], [49.0], [49.5]])
    div, spin = derive_dividends(close, adj)
    assert div[1, 0] == pytest.approx(0.5)
    assert div[0, 0] == 0.0 and div[2, 0] == 0.0
    assert not spin.any()


def test_missing_quote_uses_the_previous_quoted_close() -> None:
    close = np.array([[100.0], [np.nan], [98.0]])
    adj = np.array([[98.0], [np.nan], [98.0]])  # factor 0.98 -> D = 2.0 on day 2
    div, _ = derive_dividends(close, adj)
    assert div[2, 0] == pytest.approx(2.0)


def test_real_ex_dates() -> None:
    """Published dividends: Apple $0.47 ex 2015-02-05, Microsoft $0.31 ex 2015-02-17,
    Exxon $0.69 ex 2015-02-06, Johnson & Johnson $0.70 ex 2015-02-20."""
    md = load_market_data()
    for ticker, day, amount in [
        ("AAPL", "2015-02-05", 0.47),
        ("MSFT", "2015-02-17", 0.31),
        ("XOM", "2015-02-06", 0.69),
        ("JNJ", "2015-02-20", 0.70),
    ]:
        j = md.tickers.index(ticker)
        t = md.row_of(day)
        assert str(md.dates[t]) == day
        assert md.dividends[t, j] == pytest.approx(amount, abs=0.002)
        assert md.dividends[t - 1, j] == 0.0 and md.dividends[t + 1, j] == 0.0
    # Apple paid four times in 2016: 0.52 in February, then 0.57 from May
    j = md.tickers.index("AAPL")
    rows = (md.dates >= np.datetime64("2016-01-01")) & (md.dates <= np.datetime64("2016-12-31"))
    assert np.count_nonzero(md.dividends[rows, j]) == 4
    assert md.dividends[rows, j].sum() == pytest.approx(0.52 + 3 * 0.57, abs=0.01)
    # Alphabet paid nothing
    assert md.dividends[:, md.tickers.index("GOOG")].sum() == 0.0


def test_spin_off_is_return_of_capital() -> None:
    md = load_market_data()
    j = md.tickers.index("DHR")  # Fortive spin-off, ex 2016-07-05
    t = md.row_of("2016-07-05")
    assert md.spinoffs[t, j] > 10.0
    assert md.dividends[t, j] == 0.0


def test_ua_distribution_is_not_a_loss() -> None:
    md = load_market_data()
    ua, uaa = md.tickers.index("UA"), md.tickers.index("UAA")
    t = md.row_of("2016-03-23")
    r_ua = md.close[t, ua] / md.close[t - 1, ua]
    r_uaa = md.close[t, uaa] / md.close[t - 1, uaa]
    assert r_ua == pytest.approx(r_uaa, rel=1e-9)


def test_universe_and_benchmark() -> None:
    md = load_market_data()
    v = make_vintage(md, 2015, 1)
    assert str(md.dates[v.start]) == "2015-01-12"
    assert str(md.dates[v.end]) == "2019-12-31"
    assert len(v.universe) == 386  # 387 members, UA has no quote before 2015-07-01
    w = bench_weights(md, v, v.start)
    assert w.sum() == pytest.approx(1.0)
    assert md.tickers[int(np.argmax(w))] == "AAPL"
    # a member whose quotes end leaves the index the next day
    twx = md.tickers.index("TWX")
    last = int(md.last_quote[twx])
    assert bench_weights(md, v, last)[twx] > 0.0
    assert bench_weights(md, v, last + 1)[twx] == 0.0
    v2 = make_vintage(md, 2015, 9)
    assert md.tickers.index("UA") in v2.universe
    # the index's total return, 2015-01-12 .. 2019-12-31: about 12.6 %/yr (data README)
    r = bench_returns(md, v)
    years = (md.ordinals[v.end] - md.ordinals[v.start]) / 365.25
    ann = float(np.prod(1.0 + r)) ** (1.0 / years) - 1.0
    assert 0.118 < ann < 0.134

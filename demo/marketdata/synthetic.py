"""About 30 clearly labelled *synthetic* ETFs and funds with deterministic daily closes.

Nothing here is real fund data: every fund has "(synthetic)" in its name, a ``SYN.`` ticker prefix
(no real ticker has one), ``is_synthetic=True`` and a ``source`` saying how its prices were made.
The closes cover the trading days of the real price files (2015-01-12 .. 2020-01-10) and are
rounded to 1/10,000 dollar, like the real ones. Four ways to make a series:

* **basket**: a fund that holds real S&P 500 stocks. Its daily return is the cap-weighted return of
  its members, r(t) = sum_i w_i(t-1) * (close_i(t) / close_i(t-1) - 1), with
  w_i(t) proportional to cap_i(t) = cap_2015(i) * close_i(t) / close_i(2015-07-08) (the 2015-07-08
  caps file; split-adjusted closes, so dividends are paid out, not reinvested, as in an ETF's
  price). Members are the 2015-07-08 index members with a quote that day, ranked by that day's cap:
  large = ranks 1-100, mid = 101-250, small = 251 and below (the smallest S&P 500 names: a stand-in
  for small caps, said so in ``source``); sector baskets use today's GICS sector. A gap in a
  quote is carried at the last close; a name whose quotes end is sold at its last close. The
  equal-weight basket weights every live member equally each day.
* **generated**: for asset classes with no real data here (international, bonds, munis, cash-like).
  Daily log return g(t) = mu/252 - s^2/2 + s * (rho * z_m(t) + sqrt(1 - rho^2) * e(t)), where
  s = vol / sqrt(252), z_m is the standardised daily log return of the real "US Total Market"
  basket, and e(t) are standard normals from ``numpy.random.default_rng(seed)``, demeaned, made
  orthogonal to z_m and scaled to unit variance: over the window the sample mean log return is
  exactly mu/252 - s^2/2, the sample volatility s and the correlation with z_m rho. The parameters
  (mu = drift per year, vol per year, rho = correlation with the market series, seed) are fixed
  per fund in :data:`SYNTHETIC_FUNDS`, so the series is the same on every run.
* **tracks**: a fund that follows another synthetic fund less a yearly fee (an index mutual fund
  beside its ETF: the kind of pair a firm treats as equivalent).
* **constant**: a money-market fund with a stable $1.00 net asset value.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from decimal import Decimal
from functools import lru_cache
from pathlib import Path

import numpy as np

from demo.marketdata.real import (
    CAPS_DATE,
    DATA_DIR,
    TICKS_PER_DOLLAR,
    CloseTable,
    FloatArray,
    caps_2015,
    real_closes,
    real_securities,
)

TICKER_PREFIX = "SYN."
TRADING_DAYS = 252
LARGE_RANKS = 100
MID_RANKS = 250


@dataclass(frozen=True)
class SyntheticFund:
    """One synthetic fund and the recipe for its prices (exactly one of basket/generated/tracks)."""

    ticker: str
    name: str
    security_type: str
    asset_class: str
    base_price: Decimal
    sector: str = ""
    basket: str = ""  # "total" | "large" | "mid" | "small" | "equal" | "sector:<GICS sector>"
    drift: float = 0.0  # generated: price drift per year (distributions ignored)
    vol: float = 0.0  # generated: volatility per year
    corr: float = 0.0  # generated: correlation of daily log returns with the market series
    seed: int = 0  # generated: numpy.random.default_rng seed
    tracks: str = ""  # tracks: ticker of the fund followed
    fee: float = 0.0  # yearly fee taken out of the basket or tracked return

    @property
    def method(self) -> str:
        if self.basket:
            return "basket"
        if self.tracks:
            return "tracks"
        if self.vol == 0.0 and self.drift == 0.0:
            return "constant"
        return "generated"

    @property
    def source(self) -> str:
        """How the prices were made, as stored in ``Security.source`` (<= 200 characters)."""
        fee = f", less {self.fee:.2%}/yr fee" if self.fee else ""
        if self.basket:
            return f"Synthetic: {_BASKET_TEXT[self.basket.split(':')[0]]}{fee}; real closes"
        if self.tracks:
            return f"Synthetic: follows {self.tracks} (synthetic){fee}; no real fund data"
        if self.method == "constant":
            return "Synthetic: stable $1.00 net asset value; no real fund data"
        return (
            f"Synthetic: seeded generator (seed {self.seed}): drift {self.drift:.2%}/yr, "
            f"vol {self.vol:.2%}/yr, corr {self.corr:+.2f} to the US Total Market basket; "
            "no real data"
        )


_BASKET_TEXT = {
    "total": "cap-weighted basket of all 2015-07-08 S&P 500 members with prices",
    "large": f"cap-weighted basket of the {LARGE_RANKS} largest 2015-07-08 S&P 500 members",
    "mid": f"cap-weighted basket of 2015-07-08 S&P 500 members ranked {LARGE_RANKS + 1}"
    f"-{MID_RANKS}",
    "small": f"cap-weighted basket of the smallest 2015-07-08 S&P 500 members (rank > {MID_RANKS})",
    "equal": "equal-weight basket of all 2015-07-08 S&P 500 members with prices",
    "sector": "cap-weighted basket of the 2015-07-08 S&P 500 members of its GICS sector",
}

_D = Decimal
_ETF, _FUND, _BOND_FUND, _CASH = "etf", "mutual_fund", "bond_fund", "cash"
_SECTORS = (
    ("TECH", "Information Technology"),
    ("HLTH", "Health Care"),
    ("FINL", "Financials"),
    ("DISC", "Consumer Discretionary"),
    ("STPL", "Consumer Staples"),
    ("ENRG", "Energy"),
    ("INDU", "Industrials"),
    ("MATL", "Materials"),
    ("UTIL", "Utilities"),
    ("REAL", "Real Estate"),
    ("COMM", "Communication Services"),
)


def _sector_fund(code: str, sector: str, base: str) -> SyntheticFund:
    return SyntheticFund(
        ticker=f"SYN.{code}",
        name=f"US {sector} Sector ETF (synthetic)",
        security_type=_ETF,
        asset_class="Equity > US > Sector",
        sector=sector,
        base_price=_D(base),
        basket=f"sector:{sector}",
    )


def _gen(
    code: str,
    name: str,
    kind: str,
    asset_class: str,
    base: str,
    drift: float,
    vol: float,
    corr: float,
    seed: int,
) -> SyntheticFund:
    return SyntheticFund(
        ticker=f"SYN.{code}",
        name=f"{name} (synthetic)",
        security_type=kind,
        asset_class=asset_class,
        base_price=_D(base),
        drift=drift,
        vol=vol,
        corr=corr,
        seed=seed,
    )


#: The synthetic funds, in a fixed order. Generated parameters are fixed here, never random.
SYNTHETIC_FUNDS: tuple[SyntheticFund, ...] = (
    # US equity baskets of real stocks.
    SyntheticFund(
        ticker="SYN.USTM",
        name="US Total Market ETF (synthetic)",
        security_type=_ETF,
        asset_class="Equity > US > Large Cap",
        base_price=_D("100.00"),
        basket="total",
    ),
    SyntheticFund(
        ticker="SYN.USLC",
        name="US Large Cap ETF (synthetic)",
        security_type=_ETF,
        asset_class="Equity > US > Large Cap",
        base_price=_D("200.00"),
        basket="large",
    ),
    SyntheticFund(
        ticker="SYN.USLCX",
        name="US Large Cap Index Fund (synthetic)",
        security_type=_FUND,
        asset_class="Equity > US > Large Cap",
        base_price=_D("50.00"),
        basket="large",
        fee=0.0015,
    ),
    SyntheticFund(
        ticker="SYN.USEW",
        name="US Equal Weight ETF (synthetic)",
        security_type=_ETF,
        asset_class="Equity > US > Large Cap",
        base_price=_D("75.00"),
        basket="equal",
    ),
    SyntheticFund(
        ticker="SYN.USMC",
        name="US Mid Cap ETF (synthetic)",
        security_type=_ETF,
        asset_class="Equity > US > Mid Cap",
        base_price=_D("140.00"),
        basket="mid",
    ),
    SyntheticFund(
        ticker="SYN.USSC",
        name="US Small Cap ETF (synthetic)",
        security_type=_ETF,
        asset_class="Equity > US > Small Cap",
        base_price=_D("110.00"),
        basket="small",
    ),
    *(_sector_fund(code, sector, "40.00") for code, sector in _SECTORS),
    # International equity: generated (no real data here).
    _gen(
        "INTL",
        "International Developed ETF",
        _ETF,
        "Equity > International > Developed",
        "60.00",
        0.035,
        0.14,
        0.80,
        2015_0101,
    ),
    SyntheticFund(
        ticker="SYN.INTLX",
        name="International Developed Index Fund (synthetic)",
        security_type=_FUND,
        asset_class="Equity > International > Developed",
        base_price=_D("20.00"),
        tracks="SYN.INTL",
        fee=0.0020,
    ),
    _gen(
        "INTS",
        "International Small Cap ETF",
        _ETF,
        "Equity > International > Small Cap",
        "55.00",
        0.040,
        0.16,
        0.72,
        2015_0102,
    ),
    _gen(
        "EMKT",
        "Emerging Markets ETF",
        _ETF,
        "Equity > International > Emerging Markets",
        "40.00",
        0.030,
        0.19,
        0.65,
        2015_0103,
    ),
    # Bonds: generated.
    _gen(
        "AGG",
        "US Aggregate Bond ETF",
        _ETF,
        "Fixed Income > Taxable > Core",
        "108.00",
        0.005,
        0.035,
        -0.10,
        2015_0201,
    ),
    _gen(
        "STT",
        "Short-Term Treasury ETF",
        _ETF,
        "Fixed Income > Taxable > Short-Term",
        "50.00",
        0.002,
        0.012,
        -0.15,
        2015_0202,
    ),
    _gen(
        "ITT",
        "Intermediate Treasury ETF",
        _ETF,
        "Fixed Income > Taxable > Core",
        "60.00",
        0.004,
        0.045,
        -0.30,
        2015_0203,
    ),
    _gen(
        "LTT",
        "Long-Term Treasury ETF",
        _ETF,
        "Fixed Income > Taxable > Long-Term",
        "125.00",
        0.010,
        0.120,
        -0.35,
        2015_0204,
    ),
    _gen(
        "TIPS",
        "Inflation-Protected Bond ETF",
        _ETF,
        "Fixed Income > Taxable > Inflation-Protected",
        "112.00",
        0.004,
        0.040,
        0.05,
        2015_0205,
    ),
    _gen(
        "IGC",
        "Investment Grade Corporate Bond ETF",
        _ETF,
        "Fixed Income > Taxable > Corporate",
        "118.00",
        0.006,
        0.055,
        0.15,
        2015_0206,
    ),
    _gen(
        "HY",
        "High Yield Bond ETF",
        _ETF,
        "Fixed Income > Taxable > High Yield",
        "90.00",
        -0.005,
        0.060,
        0.55,
        2015_0207,
    ),
    _gen(
        "CBND",
        "Core Bond Fund",
        _BOND_FUND,
        "Fixed Income > Taxable > Core",
        "10.50",
        0.003,
        0.030,
        -0.05,
        2015_0208,
    ),
    # Municipal bonds: generated.
    _gen(
        "MUNI",
        "National Municipal Bond ETF",
        _ETF,
        "Fixed Income > Municipal",
        "108.00",
        0.004,
        0.035,
        0.00,
        2015_0301,
    ),
    _gen(
        "MUNS",
        "Short-Term Municipal Bond ETF",
        _ETF,
        "Fixed Income > Municipal",
        "50.00",
        0.001,
        0.012,
        0.00,
        2015_0302,
    ),
    _gen(
        "MUCA",
        "California Municipal Bond Fund",
        _BOND_FUND,
        "Fixed Income > Municipal",
        "11.20",
        0.003,
        0.038,
        0.02,
        2015_0303,
    ),
    # Cash-like.
    _gen(
        "TBIL",
        "Ultra-Short Treasury Bill ETF",
        _ETF,
        "Cash",
        "50.00",
        0.011,
        0.002,
        0.00,
        2015_0401,
    ),
    SyntheticFund(
        ticker="SYN.MMF",
        name="Government Money Market Fund (synthetic)",
        security_type=_CASH,
        asset_class="Cash",
        base_price=_D("1.00"),
    ),
)


def synthetic_funds() -> tuple[SyntheticFund, ...]:
    return SYNTHETIC_FUNDS


def _basket_members(basket: str, data_dir: Path) -> tuple[list[str], bool]:
    """(members, equal_weight) of a basket: 2015-07-08 members quoted that day, by cap rank."""
    closes = real_closes(data_dir)
    caps_row = closes.row(CAPS_DATE)
    caps = caps_2015(data_dir)
    eligible = [t for t in caps if closes.ticks[caps_row, closes.column(t)] > 0]
    ranked = sorted(eligible, key=lambda t: (-caps[t], t))
    kind, _, sector = basket.partition(":")
    if kind in ("total", "equal"):
        members = ranked
    elif kind == "large":
        members = ranked[:LARGE_RANKS]
    elif kind == "mid":
        members = ranked[LARGE_RANKS:MID_RANKS]
    elif kind == "small":
        members = ranked[MID_RANKS:]
    elif kind == "sector":
        sectors = {s.ticker: s.sector for s in real_securities(data_dir)}
        members = [t for t in ranked if sectors[t] == sector]
    else:
        raise ValueError(f"unknown basket {basket!r}")
    if not members:
        raise ValueError(f"basket {basket!r} has no members")
    return sorted(members), kind == "equal"


def basket_returns(basket: str, data_dir: Path = DATA_DIR) -> FloatArray:
    """Daily returns of a basket, shape (T,), with 0 on the first day (see the module docstring)."""
    closes = real_closes(data_dir)
    members, equal = _basket_members(basket, data_dir)
    cols = np.array([closes.column(t) for t in members], dtype=np.intp)
    raw = closes.dollars[:, cols]
    quoted = np.isfinite(raw)
    rows = np.arange(raw.shape[0])[:, None]
    first = np.where(quoted.any(axis=0), quoted.argmax(axis=0), raw.shape[0])
    last = raw.shape[0] - 1 - quoted[::-1].argmax(axis=0)
    alive = (rows >= first) & (rows <= last)
    # Carry the last close over gaps inside a name's life.
    idx = np.where(quoted, rows, 0)
    np.maximum.accumulate(idx, axis=0, out=idx)
    level = raw[idx, np.arange(raw.shape[1])]
    level = np.where(alive, level, np.nan)
    if equal:
        weight = alive.astype(np.float64)
    else:
        cap_2015 = caps_2015(data_dir)
        base = raw[closes.row(CAPS_DATE)]
        cap = np.array([float(cap_2015[t]) for t in members]) / base
        weight = np.where(alive, level * cap, 0.0)
    out = np.zeros(raw.shape[0])
    for t in range(1, raw.shape[0]):
        w = weight[t - 1]
        total = w.sum()
        if total <= 0:
            continue
        step = np.where(alive[t] & alive[t - 1], level[t] / level[t - 1] - 1.0, 0.0)
        out[t] = float(np.dot(w, np.nan_to_num(step)) / total)
    return out


def _fee_factor(fee: float, days: int) -> FloatArray:
    return np.asarray((1.0 - fee) ** (np.arange(days) / TRADING_DAYS), dtype=np.float64)


@lru_cache(maxsize=2)
def _synthetic_levels(data_dir: Path) -> dict[str, FloatArray]:
    days = len(real_closes(data_dir).dates)
    market = np.log1p(basket_returns("total", data_dir)[1:])
    z_market = (market - market.mean()) / market.std()
    levels: dict[str, FloatArray] = {}
    for fund in SYNTHETIC_FUNDS:
        base = float(fund.base_price)
        if fund.method == "basket":
            growth = np.cumprod(1.0 + basket_returns(fund.basket, data_dir))
            levels[fund.ticker] = base * growth * _fee_factor(fund.fee, days)
        elif fund.method == "tracks":
            followed = levels[fund.tracks]  # defined earlier in SYNTHETIC_FUNDS
            levels[fund.ticker] = base * followed / followed[0] * _fee_factor(fund.fee, days)
        elif fund.method == "constant":
            levels[fund.ticker] = np.full(days, base)
        else:
            s = fund.vol / math.sqrt(TRADING_DAYS)
            noise = np.random.default_rng(fund.seed).standard_normal(days - 1)
            # Demean, make orthogonal to the market and scale to unit variance, so the sample
            # drift, volatility and correlation of the series are the parameters exactly.
            noise -= noise.mean()
            noise -= (noise @ z_market) / (z_market @ z_market) * z_market
            noise /= noise.std()
            mix = fund.corr * z_market + math.sqrt(1.0 - fund.corr**2) * noise
            log_ret = fund.drift / TRADING_DAYS - s * s / 2.0 + s * mix
            levels[fund.ticker] = base * np.exp(np.concatenate([[0.0], np.cumsum(log_ret)]))
    return levels


@lru_cache(maxsize=2)
def _synthetic_closes(data_dir: Path) -> CloseTable:
    real = real_closes(data_dir)
    levels = _synthetic_levels(data_dir)
    tickers = tuple(f.ticker for f in SYNTHETIC_FUNDS)
    ticks = np.column_stack([np.rint(levels[t] * TICKS_PER_DOLLAR) for t in tickers])
    ticks = ticks.astype(np.int64)
    if (ticks <= 0).any():
        raise ValueError("a synthetic fund's price fell to zero")
    ticks.flags.writeable = False
    return CloseTable(dates=real.dates, tickers=tickers, ticks=ticks)


def synthetic_closes(data_dir: Path = DATA_DIR) -> CloseTable:
    """Daily closes of every synthetic fund on the real trading days (cached; read-only)."""
    return _synthetic_closes(data_dir)

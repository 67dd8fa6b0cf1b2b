"""Plain data for one optimizer run: the problem going in and the solution coming out.

Everything here is a frozen dataclass of numbers, strings, dates and numpy arrays; nothing
refers to the database. The exact mathematics these fields feed is in ``docs/optimizer.md``;
field docstrings give shapes, units and signs.

Units used throughout
- **$**: US dollars (floats inside the optimizer).
- **shares**: number of shares (whole, or fractional where the account allows).
- **weight**: dollars divided by the account's *base value* ``B = cash + sum(lot market values)
  - withdrawal`` (see ``Problem.base_value``). A weight of 0.01 is 1 % of ``B``.
- **annual variance / annual TE**: the risk model is ANNUAL: factor covariance and specific
  variances are variances of annual returns (decimal, e.g. 0.04 for 20 %/yr volatility);
  ``Settings.te_max`` is an annual tracking error in decimal (0.02 = 2 %/yr).

Index conventions: ``n`` securities indexed ``0..n-1`` in the order of ``Problem.security_ids``;
``L`` lots indexed ``0..L-1``; ``k`` risk factors.

Arrays are not copied or frozen: callers must not mutate an array after putting it in a
``Problem``.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field
from enum import StrEnum

import numpy as np
import numpy.typing as npt

FloatArray = npt.NDArray[np.float64]
IntArray = npt.NDArray[np.int64]
BoolArray = npt.NDArray[np.bool_]
DateArray = npt.NDArray[np.datetime64]

WASH_SALE_DAYS = 30
"""A trade on day d opens a wash-sale window covering days d-30 .. d+30 (inclusive)."""


class Status(StrEnum):
    """Outcome of ``optimizer.solve``.

    - ``optimal``: every constraint as given was met; trades are proposed.
    - ``relaxed``: some soft constraints had to be dropped (listed in
      ``Diagnostics.relaxed``, in the documented ladder order); trades are proposed.
    - ``fallback``: the solver failed (iteration/time cap, numerical trouble) at every
      rung of the ladder, or rounding could not keep a hard constraint: no trade, needs review.
    - ``infeasible``: the hard constraints (cash >= requirement, restrictions, wash sales)
      cannot be met even with every soft constraint dropped: no trade, needs review.
    """

    OPTIMAL = "optimal"
    RELAXED = "relaxed"
    FALLBACK = "fallback"
    INFEASIBLE = "infeasible"


class Mode(StrEnum):
    """What kind of trades a run may propose.

    - ``rebalance``: buys and sells.
    - ``raise_cash``: sells only (every buy fixed at 0): raise cash for a withdrawal or the cash
      target by selling what costs least in risk + tax + transaction cost.
    - ``invest_cash``: buys only (every lot sale fixed at 0): invest a contribution without
      selling anything.
    """

    REBALANCE = "rebalance"
    RAISE_CASH = "raise_cash"
    INVEST_CASH = "invest_cash"


class Side(StrEnum):
    BUY = "buy"
    SELL = "sell"


class Term(StrEnum):
    """Holding period of a lot on the as-of date (see ``optimizer.tax.is_long_term``)."""

    SHORT = "ST"
    LONG = "LT"


@dataclass(frozen=True, eq=False)
class Lots:
    """The account's tax lots (all holdings are lots). Shape ``(L,)`` each.

    The order of lots is the order of the variables; ``optimizer`` does not reorder them.
    """

    lot_id: IntArray
    """Stable lot identifier (from the book of record); unique within the problem."""
    security: IntArray
    """Index into ``Problem.security_ids`` of the lot's security."""
    shares: FloatArray
    """Shares held in the lot, > 0 (may be fractional)."""
    cost_basis: FloatArray
    """Total cost basis of the lot in $ (not per share), >= 0."""
    acquired: DateArray
    """Acquisition date, numpy ``datetime64[D]``. Decides short vs long term."""

    @property
    def count(self) -> int:
        return int(self.lot_id.shape[0])


@dataclass(frozen=True, eq=False)
class RiskModel:
    """Factor risk model over the problem's ``n`` securities (same order), ANNUAL units.

    Covariance of annual returns: ``loadings @ factor_cov @ loadings.T + diag(specific_var)``.
    """

    loadings: FloatArray
    """``(n, k)`` factor exposures of each security (often sparse: sector dummies)."""
    factor_cov: FloatArray
    """``(k, k)`` symmetric positive semidefinite factor covariance, annual, decimal^2."""
    specific_var: FloatArray
    """``(n,)`` specific (idiosyncratic) variance, annual, decimal^2, >= 0."""
    name: str = ""
    """Free text (e.g. model id and estimation date), copied to diagnostics."""

    @property
    def n_factors(self) -> int:
        return int(self.factor_cov.shape[0])


@dataclass(frozen=True)
class TaxRates:
    """Marginal tax rates (decimal fractions of a realized gain, federal + state)."""

    short_term: float
    long_term: float


@dataclass(frozen=True)
class TaxYear:
    """The account's tax year so far: what the year's realized gains, carry-forward and outside
    gains are before this run (docs/optimizer.md section 4, "the account's tax year").

    All in $. Gains are signed (a net loss so far is negative); carry-forwards are losses
    carried into this year, >= 0. With a ``TaxYear`` the tax term nets this run's short- and
    long-term gains against the year (``gain_ytd_* + outside_gain_* - carryforward_*``), offsets
    up to ``ordinary_offset`` of a net loss against ordinary income and values a net loss
    beyond it as carry-forward at ``carryforward_discount`` times the long-term rate. Without
    one (``Problem.tax_year = None``) every lot's gain is taxed at its own rate (linear).
    """

    gain_ytd_short: float = 0.0
    """Net short-term gain realized so far this calendar year in this account (signed)."""
    gain_ytd_long: float = 0.0
    """Net long-term gain realized so far this calendar year in this account (signed)."""
    carryforward_short: float = 0.0
    """Short-term capital loss carried forward into this year, >= 0."""
    carryforward_long: float = 0.0
    """Long-term capital loss carried forward into this year, >= 0."""
    outside_gain_short: float = 0.0
    """Short-term gains expected this year outside this account (signed)."""
    outside_gain_long: float = 0.0
    """Long-term gains expected this year outside this account (signed)."""
    ordinary_offset: float = 3000.0
    """$ of a year's net capital loss that offsets ordinary income (US: 3,000)."""
    carryforward_discount: float = 0.5
    """Value of a $ of loss carried to later years, as a fraction of the long-term rate, in
    [0, 1] (it offsets later gains, later: time value and the chance it is never used)."""


@dataclass(frozen=True)
class RecentTrade:
    """A trade in the wash-sale look-back/look-ahead, by this account or its household.

    A ``buy`` within 30 days of ``Problem.as_of`` blocks LOSS sales of the security (and of any
    security substantially identical to it), except of the lot it created (``lot_id``): a
    purchase is not its own replacement. A ``sell`` with ``realized_loss=True`` within 30
    days blocks BUYS of the security (and substantially identical ones). The adapter must list
    lot acquisitions of the last 30 days here as buys; ``optimizer`` does not infer them.
    """

    security: int
    """Index into ``Problem.security_ids`` (the universe must include every security that a
    recent trade or an equivalence group names)."""
    trade_date: dt.date
    side: Side
    realized_loss: bool = False
    """For sells: True if the sale realized a loss. Ignored for buys."""
    household: bool = False
    """True if the trade was made in another account of the same household."""
    account_id: str = ""
    """The account that traded (informational, used in reasons)."""
    lot_id: int | None = field(default=None, metadata={"json_omit_default": True})
    """For buys of this account (not household): the ``Lots.lot_id`` of the lot this purchase
    created, if it is still held (whole: no other lot holds shares of the same purchase). When
    every in-window buy of the wash-sale class names this same lot, that lot may be sold at a
    loss (docs/optimizer.md section 3); its other lots stay blocked. None: unknown (the buy
    blocks every loss sale of the class). Ignored for sells. Omitted from JSON when None."""


@dataclass(frozen=True)
class EquivalenceGroup:
    """Securities that can stand in for each other for the account's target.

    The group's target is the sum of its members' targets; the specific-risk (or drift) term
    measures the group's total weight against it, so holding a substitute instead of the
    primary costs no specific risk (factor exposures still use each member's own loadings).
    Buying member of preference rank r (0 = primary) costs ``Settings.substitute_penalty * r``
    per unit weight bought.
    """

    members: tuple[int, ...]
    """Security indexes in preference order; the first is the primary. Disjoint across groups."""
    substantially_identical: bool = False
    """If True the members are one security for wash-sale purposes (e.g. share classes of one
    fund). If False (e.g. IVV vs VOO, tracking the same index but different funds) a substitute
    can be bought while a member's wash-sale window is open."""
    name: str = ""


@dataclass(frozen=True, eq=False)
class GroupBound:
    """A bound on the summed post-trade weight of a set of securities (sector, asset class)."""

    name: str
    kind: str
    """Free text, conventionally ``"sector"`` or ``"asset_class"``."""
    members: IntArray
    """Security indexes in the group."""
    lower: float
    """Minimum summed weight (weight units); 0 for none."""
    upper: float
    """Maximum summed weight (weight units); ``inf`` for none."""


@dataclass(frozen=True)
class Settings:
    """Account settings that shape the objective and the constraints.

    Soft constraints (dropped in the ladder order ``turnover``, ``budgets``, ``weights``,
    ``tracking_error`` when the problem is infeasible) are marked *soft*; all others are hard.
    """

    mode: Mode = Mode.REBALANCE
    risk_aversion: float = 1.0
    """gamma >= 0: weight of the active-risk term (annual variance, or squared weight drift
    without a risk model) in the objective."""
    tax_weight: float = 1.0
    """Multiplier on tax dollars (as weights) in the objective; 1 = a tax dollar counts as a
    dollar."""
    cost_weight: float = 1.0
    """Multiplier on transaction-cost dollars (as weights) in the objective."""
    substitute_penalty: float = 1e-4
    """Objective cost per unit weight bought, per preference rank of an equivalence member."""
    cash_target: float = 0.0
    """Hard: post-trade cash >= withdrawal + cash_target * B (weight units)."""
    cash_max: float | None = None
    """Soft (``weights`` rung): post-trade cash <= withdrawal + cash_max * B. None = no cap."""
    turnover_max: float | None = None
    """Soft (``turnover`` rung): (sum of $ bought + sum of $ sold) / B <= turnover_max."""
    gain_budget: float | None = None
    """Soft (``budgets`` rung), $ per calendar year of net realized gains (ST + LT, net of
    losses). Remaining this run: max(gain_budget - Problem.realized_gain_ytd, 0)."""
    tax_budget: float | None = None
    """Soft (``budgets`` rung), $ per calendar year of tax on realized gains (net of losses at
    their own rates). Remaining this run: max(tax_budget - Problem.tax_ytd, 0)."""
    te_max: float | None = None
    """Soft (``tracking_error`` rung): cap on the post-trade active risk, sqrt of the risk term
    (annual decimal TE with a risk model; Euclidean weight drift without)."""
    min_trade: float = 0.0
    """$: after rounding, a security's buy (or its total sale) below this is not traded."""
    fractional_shares: bool = False
    """If False buys and partial lot sales are whole shares (a whole lot may be sold even if
    it holds a fraction)."""
    share_decimals: int = 6
    """With fractional shares: decimals kept in share quantities."""
    resolve_gap: float = 1e-5
    """Repair: when the continuous optimum buys and sells one security (or loss-sells and buys
    within a wash-sale class), re-solve with fixed directions only if netting the conflicts
    instead would worsen the objective by more than this (objective units, i.e. a fraction of
    B: 1e-5 = $10 per $1M). The re-solve cannot beat the continuous optimum, so a smaller loss
    is not worth a second solve. 0 = always re-solve."""
    resolve_max_iterations: int = field(default=30, metadata={"json_omit_default": True})
    """Repair: the direction-fixing re-solve runs only after a first solve that converged in at
    most this many interior-point iterations. A harder account (in practice one whose soft
    constraints had to be relaxed: 25-70 iterations) has its conflicts netted instead, so that
    no account costs much more than two ordinary solves (the batch's worst account sets the
    deadline). 0 = never re-solve; a large value = always (the previous behaviour)."""
    max_iter: int = 100
    """Interior-point iteration cap per solve (every backend)."""
    time_limit: float = 5.0
    """Clarabel wall-clock cap per solve, seconds (the other backends have no time cap;
    ``max_iter`` applies)."""
    anniversary_days: int = field(default=0, metadata={"json_omit_default": True})
    """A short-term GAIN lot that turns long-term within this many days (its first anniversary
    on or before as_of + anniversary_days) pays, on top of its short-term tax, a waiting
    charge of (short-term rate - long-term rate) x its gain per $ sold: the tax its sale would
    save by waiting (``ObjectiveTerms.wait``). 0 = off (omitted from JSON when 0)."""
    qp_backend: str = "auto"
    """``"auto"``: the engine's own interior-point method (``optimizer.ipm``, soft constraints
    elastic: one solve, also when the problem as stated is infeasible); if it does not converge,
    the ladder of ``"piqp"``. ``"ipm"``: the interior-point method only (no convergence:
    status fallback). ``"piqp"``: PIQP for rungs without the tracking-error cone, Clarabel for
    the cone and whenever PIQP does not report solved, soft constraints dropped rung by rung
    (docs/optimizer.md section 6). ``"clarabel"``: that ladder with Clarabel for every solve.
    ``Diagnostics.solver_backends`` says which solved what."""


@dataclass(frozen=True, eq=False)
class Problem:
    """One account on one date: the complete input of ``optimizer.solve``."""

    account_id: str
    as_of: dt.date
    security_ids: tuple[str, ...]
    """``(n,)`` identifiers (tickers) of the universe: held, targeted, restricted or named by a
    recent trade / equivalence group."""
    prices: FloatArray
    """``(n,)`` $/share, > 0."""
    targets: FloatArray
    """``(n,)`` target weights (of B), >= 0, sum <= 1 - cash_target (rest stays cash)."""
    lots: Lots
    cash: float
    """$ in the account now, including any new contribution, >= 0."""
    settings: Settings = field(default_factory=Settings)
    tax_rates: TaxRates = field(default_factory=lambda: TaxRates(0.37, 0.20))
    risk_model: RiskModel | None = None
    """None: plain weight drift (model accounts)."""
    cost_rates: FloatArray | None = None
    """``(n,)`` transaction cost per $ traded (half spread + commission), >= 0. None = 0."""
    min_weight: FloatArray | None = None
    """``(n,)`` soft minimum post-trade weight. None = 0."""
    max_weight: FloatArray | None = None
    """``(n,)`` soft maximum post-trade weight. None = no cap."""
    never_buy: BoolArray | None = None
    """``(n,)`` hard: no buys."""
    never_sell: BoolArray | None = None
    """``(n,)`` hard: no lot of it is sold."""
    do_not_trade: BoolArray | None = None
    """``(n,)`` hard: neither."""
    withdrawal: float = 0.0
    """$ the client asked for; must be in cash after the trades (on top of the cash target)."""
    realized_gain_ytd: float = 0.0
    """$ net realized gains so far this calendar year (signed). Feeds the gain budget only;
    the tax term reads ``tax_year``."""
    tax_ytd: float = 0.0
    """$ tax on realized gains so far this year (signed)."""
    recent_trades: tuple[RecentTrade, ...] = ()
    equivalence_groups: tuple[EquivalenceGroup, ...] = ()
    group_bounds: tuple[GroupBound, ...] = ()
    tax_year: TaxYear | None = field(default=None, metadata={"json_omit_default": True})
    """The account's tax year (netting, the ordinary-income offset, carry-forward). None: every
    gain at its own lot's rate, as before (omitted from JSON when None). ``realized_gain_ytd``
    and ``tax_ytd`` still feed the budgets only."""

    @property
    def n_securities(self) -> int:
        return len(self.security_ids)

    @property
    def lot_values(self) -> FloatArray:
        """``(L,)`` market value of each lot, $."""
        return self.lots.shares * self.prices[self.lots.security]

    @property
    def total_value(self) -> float:
        """$ cash + market value of all lots, before trades."""
        return float(self.cash + self.lot_values.sum())

    @property
    def base_value(self) -> float:
        """B in $: total value minus the withdrawal. All weights are fractions of B."""
        return self.total_value - float(self.withdrawal)


# --------------------------------------------------------------------------- results


@dataclass(frozen=True)
class ObjectiveTerms:
    """Objective split into its terms (weight units, see docs/optimizer.md section 4).

    ``risk`` is gamma * active variance; ``tax`` is tax_weight * tax $ / B (negative when
    losses are harvested); ``cost`` is cost_weight * transaction cost $ / B; ``substitute`` the
    preference penalty; ``total`` their sum. ``tracking_error`` is sqrt(active variance)
    (not multiplied by gamma), for people.
    """

    risk: float
    tax: float
    cost: float
    substitute: float
    total: float
    tracking_error: float
    wait: float = field(default=0.0, metadata={"json_omit_default": True})
    """Waiting charge of short-term gain lots sold close to their anniversary
    (``Settings.anniversary_days``), weight units, included in ``total``. Omitted from JSON
    when 0."""


@dataclass(frozen=True)
class SecurityTrade:
    """Net trade in one security (a security is bought or sold, never both)."""

    security: int
    security_id: str
    side: Side
    shares: float
    value: float
    """$ shares * price (gross, before cost)."""
    cost: float
    """$ estimated transaction cost (cost_rate * value)."""


@dataclass(frozen=True)
class LotSale:
    """Shares sold from one lot."""

    lot_id: int
    security: int
    security_id: str
    shares: float
    proceeds: float
    """$ shares * price."""
    realized_gain: float
    """$ proceeds - basis of the shares sold; negative = loss."""
    term: Term
    tax: float
    """$ realized_gain * rate(term); negative = tax saved."""


@dataclass(frozen=True)
class Reason:
    """Why one trade is proposed, for programs (fields) and people (``text``).

    ``kind``: ``"sell_lot"`` / ``"buy"`` / ``"sell"`` (security level). ``rule`` names the
    decisive rule or goal: ``harvest_loss``, ``reduce_drift``, ``raise_cash``,
    ``invest_cash``, ``max_weight``, ``min_weight``, ``substitute_wash_sale``,
    ``substitute_restricted``, ``substitute_preference``, and where no single rule explains a
    trade ``reduce_tracking_error`` (factor risk), ``lower_objective``, ``fund_buys`` or
    ``meet_bounds``, ``continuous_optimum``. Each
    rule is true of the trade's numbers: ``reduce_drift`` closes its unit's drift,
    ``harvest_loss`` nets a realized loss, ``raise_cash`` is a sale while cash is short of the
    requirement (docs/optimizer.md section 8). Money fields in $ (0 where not
    applicable); ``drift_closed`` in weight units (reduction of |active weight| of the
    security's drift unit).
    """

    kind: str
    security: int
    security_id: str
    rule: str
    text: str
    lot_id: int | None = None
    realized_gain: float = 0.0
    term: str = ""
    tax: float = 0.0
    drift_closed: float = 0.0
    cost: float = 0.0
    window_end: dt.date | None = None
    instead_of: str = ""
    te_reduced: float = field(default=0.0, metadata={"json_omit_default": True})
    """Annual TE (decimal) the trade removes: TE of the trade list without it minus TE with it
    (security-level reasons; 0 for lot sales). Omitted from JSON when 0."""
    objective_reduced: float = field(default=0.0, metadata={"json_omit_default": True})
    """Objective (weight units) the trade lowers against the list without it (risk + tax +
    cost + preference; security-level reasons). Omitted from JSON when 0."""


@dataclass(frozen=True)
class Blocked:
    """A security blocked by a rule for this run (wash sale or restriction)."""

    security: int
    security_id: str
    what: str
    """``"loss_sale"`` or ``"buy"`` (wash sale), ``"buy"``/``"sell"``/``"trade"`` (restriction)."""
    rule: str
    """``wash_sale`` / ``wash_sale_household`` / ``never_buy`` / ``never_sell`` /
    ``do_not_trade``."""
    window_end: dt.date | None = None
    """Last day of the wash-sale window (trade date + 30 days)."""
    trade_security_id: str = ""
    """For wash sales: the security whose trade opened the window (may be a substantially
    identical one)."""


@dataclass(frozen=True)
class Diagnostics:
    """How the run went. Timings are the only fields that vary between identical runs."""

    iterations: int
    """Interior-point iterations summed over all solves (PIQP and Clarabel) of this run."""
    solves: int
    solver_statuses: tuple[str, ...]
    """Status of each solve in order, in Clarabel's names (``Solved``, ``PrimalInfeasible``,
    ...; a PIQP status is mapped to the same names)."""
    relaxed: tuple[str, ...]
    """Soft-constraint rungs the proposed trades exceed (subset of turnover, budgets, weights,
    tracking_error, in that order); the rungs of ``relaxed_by``."""
    binding: tuple[str, ...]
    """Constraints active at the continuous optimum of the final solve (names as in docs)."""
    n_variables: int
    n_constraints: int
    repair_objective_change: float
    """objective_after.total - continuous optimum of the final (relaxed) problem, weight units;
    >= 0 up to solver tolerance (fixing directions and rounding can only lose), unless rounding
    missed a soft constraint by about a share (docs/optimizer.md section 6)."""
    direction_fixes: int
    """Securities whose buy/sell conflict was resolved by the repair step."""
    versions: tuple[tuple[str, str], ...]
    """(package, version) for clarabel, piqp (with its instruction set), numpy, scipy,
    optimizer."""
    solver_settings: tuple[tuple[str, str], ...]
    """Pinned solver settings (name, repr(value)); PIQP's prefixed ``piqp.``."""
    solver_backends: tuple[str, ...] = ()
    """Backend of each solve in ``solver_statuses``: ``"ipm"`` (the engine's interior-point
    method, C extension), ``"ipm-numpy"`` (the same without the extension), ``"piqp"``,
    ``"clarabel"``."""
    relaxed_by: tuple[tuple[str, float], ...] = ()
    """(constraint, excess) of every soft constraint the proposed (rounded) trades exceed by
    more than 1e-8, measured at the trades whatever the backend: weight units (turnover,
    budgets as realized gain or tax / B, weights, cash max) or annual TE
    (``tracking_error``). Empty exactly when the status is ``optimal``."""
    timings: tuple[tuple[str, float], ...] = ()
    """(phase, seconds): build, solve, repair, total. Not deterministic; excluded from the
    deterministic JSON form."""
    message: str = ""


@dataclass(frozen=True, eq=False)
class Solution:
    """Result of ``optimizer.solve``. With status fallback/infeasible there are no trades."""

    account_id: str
    status: Status
    trades: tuple[SecurityTrade, ...]
    """Sorted by security index."""
    lot_sales: tuple[LotSale, ...]
    """Sorted by lot position in ``Problem.lots``."""
    weights_before: FloatArray
    """``(n,)`` weights of B now."""
    weights_after: FloatArray
    """``(n,)`` weights of B after the proposed (rounded) trades."""
    cash_before: float
    """$"""
    cash_after: float
    """$ after trades and transaction costs (the withdrawal is still in it)."""
    objective_before: ObjectiveTerms
    """No trade."""
    objective_continuous: ObjectiveTerms
    """Continuous optimum of the final problem (before direction fixing and rounding)."""
    objective_after: ObjectiveTerms
    """Proposed (rounded) trades."""
    realized_gain: float
    """$ net realized by the proposed sales."""
    tax: float
    """$ tax of the proposed sales (negative = saved)."""
    turnover: float
    """(bought $ + sold $) / B."""
    blocked: tuple[Blocked, ...]
    reasons: tuple[Reason, ...]
    diagnostics: Diagnostics


@dataclass(frozen=True, eq=False)
class ContinuousResult:
    """The continuous optimum of the problem as stated (no relaxation, no repair).

    ``objective`` is the full objective of docs/optimizer.md section 4, constants included, so
    an independent formulation can be compared to it directly.
    """

    solver_status: str
    """Clarabel status name, e.g. ``Solved``, ``PrimalInfeasible``."""
    converged: bool
    """True only for Clarabel ``Solved``."""
    objective: float
    terms: ObjectiveTerms
    lot_fraction: FloatArray
    """``(L,)`` x: fraction of each lot sold, in [0, 1] (0 for lots that may not be sold)."""
    buys: FloatArray
    """``(n,)`` b: weight bought per security, >= 0."""
    sells: FloatArray
    """``(n,)`` s: weight sold per security (sum of lot sales)."""
    weights: FloatArray
    """``(n,)`` w = h + b - s."""
    cash_weight: float
    """Post-trade cash / B (includes the withdrawal)."""
    iterations: int
    solve_seconds: float
    binding: tuple[str, ...]

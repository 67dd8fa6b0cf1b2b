"""The pipeline of docs/optimizer.md section 6: rules, ladder, repair, rounding, reasons.

Public: ``solve(problem) -> Solution`` and ``solve_continuous(problem) -> ContinuousResult``.
"""

from __future__ import annotations

import dataclasses
import math
import time
from collections.abc import Callable
from dataclasses import dataclass

import numpy as np

from optimizer.backends import (
    BINDING_TOL,
    QP_PIQP,
    SOLVED,
    RawSolve,
    binding_of,
    point_of,
    rerun_piqp_fixed,
    run_piqp,
    solve_qp,
    solver_settings,
    versions,
)
from optimizer.build import QP, build_qp
from optimizer.ipm import ACCEPTED as IPM_ACCEPTED
from optimizer.ipm import IpmResult, solve_structured
from optimizer.objective import cash_weight_at, sells_of, soft_excess, terms_at
from optimizer.reasons import blocked_list, explain, new_record
from optimizer.repair import (
    drop_class_conflicts,
    find_conflicts,
    loss_conflicts,
    net_conflicts,
)
from optimizer.rounding import RoundedTrades, round_trades
from optimizer.rules import RUNGS, Prepared, prepare
from optimizer.structured import StructuredQP, build_structured, restrict
from optimizer.types import (
    Blocked,
    BoolArray,
    ContinuousResult,
    Diagnostics,
    FloatArray,
    LotSale,
    ObjectiveTerms,
    Problem,
    SecurityTrade,
    Settings,
    Side,
    Solution,
    Status,
    Term,
)

EPS_TRADE = 1e-7
"""Weight below which a continuous buy or sale counts as zero when fixing directions."""
MAX_FIX_ROUNDS = 1
RELAX_TOL = 1e-8
"""An elastic row exceeded by more than this (its own units: weight, or TE) is relaxed."""
"""Re-solves with fixed directions; conflicts left after them are netted."""


def _use_piqp(prep: Prepared, rung: int) -> bool:
    """PIQP for a rung without the TE cone, unless Clarabel is forced or piqp is missing."""
    s = prep.problem.settings
    return QP_PIQP and s.qp_backend != "clarabel" and (s.te_max is None or rung >= 4)


def _ipm_point(prep: Prepared, sq: StructuredQP, res: IpmResult) -> tuple[FloatArray, FloatArray]:
    """(x ``(L,)``, b ``(n,)``) of an IPM solution, clipped to their domains."""
    x = np.zeros(prep.lot_weight.shape[0])
    b = np.zeros(prep.problem.n_securities)
    is_lot = sq.var_lot >= 0
    lots = sq.var_lot[is_lot]
    x[lots] = np.clip(res.v[is_lot] / prep.lot_weight[lots], 0.0, 1.0)
    b[sq.var_sec[~is_lot]] = np.maximum(res.v[~is_lot], 0.0)
    return x, b


def _ipm_excess(sq: StructuredQP, res: IpmResult) -> list[tuple[str, int, float]]:
    """(row name, rung, excess in the row's own units) of every soft row the solution exceeds
    by more than ``RELAX_TOL``; the tracking-error row's excess is in TE (annual decimal)."""
    out: list[tuple[str, int, float]] = []
    names, rungs = sq.row_names, sq.row_rungs
    for k in np.flatnonzero(res.row_excess > RELAX_TOL).tolist():
        if rungs[k] < 0:  # a kink of the tax-year model: part of the objective
            continue
        if names[k] == "tracking_error":
            te = math.sqrt(max(sq.te2, 0.0))
            excess = math.sqrt(max(float(res.row_value[k]), 0.0)) - te
            if excess <= RELAX_TOL:
                continue
        else:
            excess = float(res.row_excess[k])
        out.append((names[k], rungs[k], excess))
    return out


def _ipm_binding(sq: StructuredQP, res: IpmResult) -> tuple[str, ...]:
    """Rows at their bound (within ``BINDING_TOL``) at the continuous optimum."""
    beta = sq.row_beta
    value = res.row_value
    slack = beta - value
    hit = slack <= BINDING_TOL
    if sq.te2 >= 0:
        te = math.sqrt(sq.te2)
        hit[-1] = te - math.sqrt(max(float(value[-1]), 0.0)) <= BINDING_TOL * max(1.0, te)
    names, rungs = sq.row_names, sq.row_rungs
    # Kinks of the tax-year model are part of the objective, not constraints.
    return tuple(names[k] for k in np.flatnonzero(hit).tolist() if rungs[k] >= -1)


def _relax_message(excess: list[tuple[str, int, float]]) -> str:
    parts = []
    for name, _rung, amount in excess:
        unit = "TE" if name == "tracking_error" else "of the account"
        parts.append(f"{name} exceeded by {amount * 100:.4g} % {unit}")
    return "relaxed: " + "; ".join(parts)


def solve_continuous(problem: Problem) -> ContinuousResult:
    """Continuous optimum of the problem as stated (all constraints, no repair).

    With the interior-point backend the soft constraints are elastic: if the optimum has to
    exceed one, the stated problem is infeasible (``converged`` False, solver status
    ``PrimalInfeasible``) and the point returned is the least-violating one."""
    prep = prepare(problem)
    log = _Log()
    if problem.settings.qp_backend in ("auto", "ipm"):
        sq = log.build_structured(prep, prep.sellable, prep.buyable)
        res = log.run_ipm(sq, problem.settings)
        if res.status in IPM_ACCEPTED or problem.settings.qp_backend == "ipm":
            x, b = _ipm_point(prep, sq, res)
            ok = res.status in IPM_ACCEPTED
            excess = _ipm_excess(sq, res) if ok else []
            status = "PrimalInfeasible" if excess else res.status
            terms = terms_at(prep, x, b)
            sells = sells_of(prep, x)
            return ContinuousResult(
                solver_status=status,
                converged=ok and not excess,
                objective=terms.total,
                terms=terms,
                lot_fraction=x,
                buys=b,
                sells=sells,
                weights=prep.holding + b - sells,
                cash_weight=cash_weight_at(prep, x, b),
                iterations=log.iterations,
                solve_seconds=log.solve_seconds,
                binding=_ipm_binding(sq, res) if ok and not excess else (),
            )
    qp, raw = log.solve_rung(prep, prep.sellable, prep.buyable, 0)
    x, b = point_of(prep, qp, raw)
    status = raw.status
    if raw.status != SOLVED and problem.settings.turnover_max is not None:
        # The least-violating point in turnover (as the elastic method would give), not the
        # meaningless iterate of an infeasible solve (issue 17, defect 1).
        rung1 = log.solve_rung(prep, prep.sellable, prep.buyable, 1)
        if rung1[1].status == SOLVED:
            x1, b1 = point_of(prep, *rung1)
            tight = _least_turnover(prep, log, float(b1.sum() + sells_of(prep, x1).sum()))
            prep_t, qp, raw = tight if tight is not None else (prep, *rung1)
            x, b = point_of(prep_t, qp, raw)
            status = "PrimalInfeasible"
    terms = terms_at(prep, x, b)
    sells = sells_of(prep, x)
    return ContinuousResult(
        solver_status=status,
        converged=status == SOLVED,
        objective=terms.total,
        terms=terms,
        lot_fraction=x,
        buys=b,
        sells=sells,
        weights=prep.holding + b - sells,
        cash_weight=cash_weight_at(prep, x, b),
        iterations=log.iterations,
        solve_seconds=log.solve_seconds,
        binding=binding_of(prep, qp, raw) if status == SOLVED else (),
    )


def _rungs_present(prep: Prepared) -> tuple[bool, ...]:
    """Which ladder rungs have something to drop for this problem."""
    p = prep.problem
    s = p.settings
    weights = (
        s.cash_max is not None
        or bool(p.group_bounds)
        or bool(np.any(prep.lo_eff > 0))
        or bool(np.any(np.isfinite(prep.hi_eff)))
    )
    return (
        s.turnover_max is not None,
        s.gain_budget is not None or s.tax_budget is not None,
        weights,
        s.te_max is not None,
    )


@dataclass
class _Log:
    iterations: int = 0
    statuses: tuple[str, ...] = ()
    backends: tuple[str, ...] = ()
    solve_seconds: float = 0.0
    build_seconds: float = 0.0

    def add(self, raw: RawSolve) -> RawSolve:
        self.iterations += raw.iterations
        self.statuses = (*self.statuses, raw.status)
        self.backends = (*self.backends, raw.backend)
        self.solve_seconds += raw.seconds
        return raw

    def run(self, qp: QP, settings: Settings) -> RawSolve:
        """Clarabel (with the retry of ``solve_qp``), log every attempt, return the last."""
        attempts = solve_qp(qp, settings.max_iter, settings.time_limit)
        for raw in attempts:
            self.add(raw)
        return attempts[-1]

    def build(
        self,
        prep: Prepared,
        sellable: BoolArray,
        buyable: BoolArray,
        rung: int,
        native_bounds: bool = False,
    ) -> QP:
        t0 = time.perf_counter()
        qp = build_qp(prep, sellable, buyable, rung, native_bounds=native_bounds)
        self.build_seconds += time.perf_counter() - t0
        return qp

    def build_structured(
        self, prep: Prepared, sellable: BoolArray, buyable: BoolArray
    ) -> StructuredQP:
        t0 = time.perf_counter()
        sq = build_structured(prep, sellable, buyable)
        self.build_seconds += time.perf_counter() - t0
        return sq

    def run_ipm(self, sq: StructuredQP, settings: Settings) -> IpmResult:
        t0 = time.perf_counter()
        res = solve_structured(sq, settings.max_iter)
        self.solve_seconds += time.perf_counter() - t0
        self.iterations += res.iterations
        self.statuses = (*self.statuses, res.status)
        self.backends = (*self.backends, "ipm" if res.backend == "c" else "ipm-numpy")
        return res

    def solve_rung(
        self, prep: Prepared, sellable: BoolArray, buyable: BoolArray, rung: int
    ) -> tuple[QP, RawSolve]:
        """PIQP when the rung has no cone (``_use_piqp``); Clarabel if PIQP is not used or
        does not report solved."""
        settings = prep.problem.settings
        if _use_piqp(prep, rung):
            qp = self.build(prep, sellable, buyable, rung, native_bounds=True)
            raw = self.add(run_piqp(qp, settings.max_iter))
            if raw.status == SOLVED:
                return qp, raw
        qp = self.build(prep, sellable, buyable, rung)
        return qp, self.run(qp, settings)


Resolver = Callable[[BoolArray, BoolArray], "tuple[FloatArray, FloatArray] | None"]


def solve(problem: Problem) -> Solution:
    """Proposed trades for one account (docs/optimizer.md section 6)."""
    t_start = time.perf_counter()
    log = _Log()
    t0 = time.perf_counter()
    prep = prepare(problem)
    log.build_seconds += time.perf_counter() - t0
    before = terms_at(prep, np.zeros(prep.lot_weight.shape[0]), np.zeros(problem.n_securities))
    blocked = blocked_list(prep)

    sellable = prep.sellable
    kappa_lots = prep.kappa[prep.lot_sec]
    max_cash = prep.cash0 + float(np.sum(np.where(sellable, (1 - kappa_lots) * prep.lot_weight, 0)))
    if max_cash < prep.cash_req - 1e-12:
        message = (
            f"cash requirement ${prep.cash_req * prep.base:,.2f} cannot be met: selling every "
            f"sellable lot leaves ${max_cash * prep.base:,.2f}"
        )
        return _no_trade(prep, Status.INFEASIBLE, before, blocked, log, message, t_start, (), 0, 0)
    backend = problem.settings.qp_backend
    if backend in ("auto", "ipm"):
        solution = _solve_ipm(prep, log, before, blocked, t_start)
        if solution is not None:
            return solution
        if backend == "ipm":
            message = f"the interior-point solve ended {log.statuses[-1]}; no trade, needs review"
            return _no_trade(
                prep, Status.FALLBACK, before, blocked, log, message, t_start, (), 0, 0
            )
    return _solve_ladder(prep, log, before, blocked, t_start)


def _solve_ipm(
    prep: Prepared, log: _Log, before: ObjectiveTerms, blocked: tuple[Blocked, ...], t_start: float
) -> Solution | None:
    """The engine's own interior-point method with elastic soft constraints (one solve, plus
    one re-solve when directions must be fixed). None if it does not converge: the caller
    then runs the ladder of the other backends."""
    settings = prep.problem.settings
    sq = log.build_structured(prep, prep.sellable, prep.buyable)
    res = log.run_ipm(sq, settings)
    if res.status not in IPM_ACCEPTED:
        return None
    x, b = _ipm_point(prep, sq, res)
    excess = _ipm_excess(sq, res)
    relaxed_rungs = sorted({rung for _name, rung, _amount in excess})
    relaxed = tuple(RUNGS[r] for r in relaxed_rungs)
    continuous = terms_at(prep, x, b)
    binding = _ipm_binding(sq, res)
    # Rounding keeps a relaxed turnover cap at the level the solution needed (it only cuts
    # buys for it, which raises cash); a relaxed budget is not enforced by rounding, which
    # may need a gain sale more to meet the hard cash requirement.
    turnover_excess = sum(amount for name, _rung, amount in excess if name == "turnover")

    def resolve(sellable: BoolArray, buyable: BoolArray) -> tuple[FloatArray, FloatArray] | None:
        if res.iterations > settings.resolve_max_iterations:
            return None  # a hard account: net its conflicts instead (Settings docs)
        t0 = time.perf_counter()
        is_lot = sq.var_lot >= 0
        keep = np.where(is_lot, sellable[np.maximum(sq.var_lot, 0)], buyable[sq.var_sec])
        sq2 = restrict(sq, keep)
        log.build_seconds += time.perf_counter() - t0
        res2 = log.run_ipm(sq2, settings)
        if res2.status not in IPM_ACCEPTED:
            return None
        return _ipm_point(prep, sq2, res2)

    t_rep = time.perf_counter()
    budgets_on = "budgets" not in relaxed

    def rounded_total(x: FloatArray, b: FloatArray, lots: BoolArray) -> float:
        """Objective of the trades (x, b) round to, netted as the repair would net them."""
        xn, bn = net_conflicts(prep, x, b, EPS_TRADE)
        bn = drop_class_conflicts(prep, xn, bn, EPS_TRADE)
        r = round_trades(
            prep, xn, bn, budgets_on=budgets_on, fixed_lots=lots, turnover_excess=turnover_excess
        )
        if r.failure:
            return math.inf
        x_r = r.sell_shares / prep.problem.lots.shares
        return terms_at(prep, x_r, r.buy_shares * prep.problem.prices / prep.base).total

    x, b, fix_lots, n_fixes = _fix_directions(
        prep, x, b, continuous.total, budgets_on, resolve, rounded_total
    )
    rounded = round_trades(
        prep, x, b, budgets_on=budgets_on, fixed_lots=fix_lots, turnover_excess=turnover_excess
    )
    return _finish(
        prep,
        log,
        before,
        blocked,
        t_start,
        _Outcome(
            continuous=continuous,
            rounded=rounded,
            relaxed=relaxed,
            message="",
            binding=binding,
            n_vars=sq.n_vars,
            n_rows=sq.n_rows,
            n_fixes=n_fixes,
            repair_seconds=time.perf_counter() - t_rep,
            relaxed_by=tuple((name, amount) for name, _rung, amount in excess),
        ),
    )


def _fix_directions(
    prep: Prepared,
    x: FloatArray,
    b: FloatArray,
    bound: float,
    budgets_on: bool,
    resolve: Resolver,
    score: Callable[[FloatArray, FloatArray, BoolArray], float] | None = None,
) -> tuple[FloatArray, FloatArray, BoolArray, int]:
    """Direction fixing (docs/optimizer.md section 6 step 5): (x, b, fixed lots, fixes).

    ``score(x, b, fixed_lots)``: how the two directions of a conflict are compared (default:
    the objective of the netted point)."""
    if score is None:

        def score(x: FloatArray, b: FloatArray, _lots: BoolArray) -> float:
            return _netted_total(prep, x, b)

    fix_lots = np.zeros(prep.lot_weight.shape[0], dtype=np.bool_)
    fix_buys = np.zeros(prep.problem.n_securities, dtype=np.bool_)
    n_fixes = 0
    netted: tuple[FloatArray, FloatArray] | None = None
    for _ in range(MAX_FIX_ROUNDS):
        new_lots, new_buys, count = find_conflicts(prep, x, b, EPS_TRADE)
        if count == 0:
            break
        n_fixes += count
        netted = _netted_if_enough(prep, x, b, bound, budgets_on)
        if netted is not None:
            break
        harvest = loss_conflicts(prep, x, b, EPS_TRADE)
        alt_buys = fix_buys | new_buys | (harvest & (b > EPS_TRADE))
        alt_lots = fix_lots | (new_lots & ~harvest[prep.lot_sec])
        fix_lots |= new_lots
        fix_buys |= new_buys
        if harvest.any() and _harvest_first(prep):
            fix_lots, alt_lots = alt_lots, fix_lots
            fix_buys, alt_buys = alt_buys, fix_buys
        x2b2 = resolve(prep.sellable & ~fix_lots, prep.buyable & ~fix_buys)
        # The larger side is not always the better one: keeping a buy can drop a loss harvest
        # that a substitute would have kept (issue 17, defect 3). When the re-solve failed or
        # its netted point lost more than ALT_GAP against the continuous optimum, the other
        # direction is re-solved too and the two compared by ``score`` (the objective of the
        # trades they round to: a re-solve may exceed a budget elastically that rounding then
        # enforces, losing much more than its continuous objective says).
        other_way = (alt_lots != fix_lots).any() or (alt_buys != fix_buys).any()
        if other_way and (x2b2 is None or _netted_total(prep, *x2b2) - bound > ALT_GAP):
            x3b3 = resolve(prep.sellable & ~alt_lots, prep.buyable & ~alt_buys)
            if x3b3 is not None and (
                x2b2 is None or score(*x3b3, alt_lots) < score(*x2b2, fix_lots)
            ):
                x2b2 = x3b3
                fix_lots, fix_buys = alt_lots, alt_buys
        if x2b2 is None:
            break  # keep the last good point and net its conflicts below.
        x, b = x2b2
    # Conflicts left after the re-solve(s) are netted (weights unchanged, cash only rises);
    # class conflicts lose their buys (cash only rises).
    if netted is not None:
        x, b = netted  # already netted by the test above (same functions, same point)
    else:
        x, b = net_conflicts(prep, x, b, EPS_TRADE)
        b = drop_class_conflicts(prep, x, b, EPS_TRADE)
    return x, b, fix_lots, n_fixes


ALT_GAP = 1e-2
"""Objective units (fraction of B): the repair re-solve that lost more than this against the
continuous optimum is tried in the other direction too (issue 17, defect 3)."""


def _harvest_first(prep: Prepared) -> bool:
    """Whether to re-solve loss-harvest conflicts by forbidding their buys (keep the loss
    sales) rather than keeping the larger side first. With a factor model the exposure of a
    stock sold at a loss is rebuilt from others, and forbidding the buy was the better
    direction in 8 of 9 conflicted direct-index bench accounts; without one (model accounts)
    the larger side was better in 166 of 195."""
    return prep.n_factors > 0


def _netted_total(prep: Prepared, x: FloatArray, b: FloatArray) -> float:
    """Objective of a re-solved point once its leftover conflicts are netted."""
    xn, bn = net_conflicts(prep, x, b, EPS_TRADE)
    return terms_at(prep, xn, drop_class_conflicts(prep, xn, bn, EPS_TRADE)).total


def _solve_ladder(
    prep: Prepared, log: _Log, before: ObjectiveTerms, blocked: tuple[Blocked, ...], t_start: float
) -> Solution:
    """PIQP / Clarabel with the relaxation ladder (``qp_backend`` ``"piqp"`` or
    ``"clarabel"``, and the fallback of ``"auto"``)."""
    sellable = prep.sellable
    buyable = prep.buyable
    present = _rungs_present(prep)
    rung_list = [0] + [r + 1 for r in range(len(RUNGS)) if present[r]]
    qp: QP | None = None
    raw: RawSolve | None = None
    chosen = -1
    last_status = ""
    for rung in rung_list:
        qp_try, raw_try = log.solve_rung(prep, sellable, buyable, rung)
        if raw_try.status == SOLVED:
            qp, raw, chosen = qp_try, raw_try, rung
            break
        last_status = raw_try.status
    if qp is None or raw is None:
        # The hard constraints are feasible (checked above), so the last rung failing is a
        # solver failure, not infeasibility.
        message = (
            "no rung of the relaxation ladder could be solved "
            f"(last solver status {last_status}); no trade, needs review"
        )
        return _no_trade(prep, Status.FALLBACK, before, blocked, log, message, t_start, (), 0, 0)
    present_rungs = _rungs_present(prep)
    relaxed = tuple(RUNGS[r] for r in range(chosen) if present_rungs[r])
    solved_prep = prep
    if chosen >= 1 and present_rungs[0] and not any(present_rungs[1:chosen]):
        # Only the turnover cap was dropped: keep the least-violating cap instead of none.
        x1, b1 = point_of(prep, qp, raw)
        tight = _least_turnover(prep, log, float(b1.sum() + sells_of(prep, x1).sum()))
        if tight is not None:
            solved_prep, qp, raw = tight
            chosen = 0
    x, b = point_of(solved_prep, qp, raw)
    continuous = terms_at(prep, x, b)
    binding = binding_of(prep, qp, raw)
    n_vars, n_rows = qp.n_vars, qp.n_rows
    first_qp, first_raw = qp, raw

    def resolve(sellable2: BoolArray, buyable2: BoolArray) -> tuple[FloatArray, FloatArray] | None:
        return _resolve_fixed(log, solved_prep, first_qp, first_raw, sellable2, buyable2, chosen)

    t_rep = time.perf_counter()
    x, b, fix_lots, n_fixes = _fix_directions(
        solved_prep, x, b, continuous.total, chosen < 2, resolve
    )
    rounded = round_trades(
        solved_prep,
        x,
        b,
        budgets_on=chosen < 2,
        fixed_lots=fix_lots,
        turnover_on=chosen < 1,
    )
    return _finish(
        prep,
        log,
        before,
        blocked,
        t_start,
        _Outcome(
            continuous=continuous,
            rounded=rounded,
            relaxed=relaxed,
            message="the solver ladder dropped: " + ", ".join(relaxed) if relaxed else "",
            binding=binding,
            n_vars=n_vars,
            n_rows=n_rows,
            n_fixes=n_fixes,
            repair_seconds=time.perf_counter() - t_rep,
        ),
    )


NO_TRADE_GAIN = 1e-6
"""Objective units: a continuous improvement above this that rounding loses entirely is
explained in the message (issue 17, defect 4)."""
LEAST_TURNOVER_STEPS = 8
"""Bisection steps of ``_least_turnover``: the relaxed cap is within 1/256 of the gap between
the stated cap and the turnover of the solution without a cap."""


def _least_turnover(
    prep: Prepared, log: _Log, uncapped: float
) -> tuple[Prepared, QP, RawSolve] | None:
    """The problem with the smallest turnover cap (bisection between the stated cap and
    ``uncapped``, the turnover of the solution without a cap) that the ladder's rung 0
    solves: the least-violating turnover, as the elastic interior-point method would give,
    for the accounts where that method failed (issue 17, defect 1). None if no cap below
    ``uncapped`` solves."""
    problem = prep.problem
    cap = problem.settings.turnover_max
    if cap is None or not uncapped > cap:
        return None
    lo, hi = cap, uncapped
    best: tuple[Prepared, QP, RawSolve] | None = None
    for _ in range(LEAST_TURNOVER_STEPS):
        mid = 0.5 * (lo + hi)
        trial = dataclasses.replace(
            problem, settings=dataclasses.replace(problem.settings, turnover_max=mid)
        )
        prep_mid = prepare(trial)
        qp, raw = log.solve_rung(prep_mid, prep_mid.sellable, prep_mid.buyable, 0)
        if raw.status == SOLVED:
            best, hi = (prep_mid, qp, raw), mid
        else:
            lo = mid
    return best


@dataclass(frozen=True)
class _Outcome:
    """What a backend's solve and repair produced, for ``_finish``."""

    continuous: ObjectiveTerms
    rounded: RoundedTrades
    relaxed: tuple[str, ...]
    message: str
    binding: tuple[str, ...]
    n_vars: int
    n_rows: int
    n_fixes: int
    repair_seconds: float
    relaxed_by: tuple[tuple[str, float], ...] = ()


def _finish(
    prep: Prepared,
    log: _Log,
    before: ObjectiveTerms,
    blocked: tuple[Blocked, ...],
    t_start: float,
    out: _Outcome,
) -> Solution:
    """The solution of a solved account, or no trade if rounding could not keep a hard
    constraint (both backends end here)."""
    if out.rounded.failure:
        message = f"rounding could not keep a hard constraint: {out.rounded.failure}"
        return _no_trade(
            prep, Status.FALLBACK, before, blocked, log, message, t_start, out.relaxed,
            out.n_vars, out.n_rows,
        )  # fmt: skip
    # What is relaxed is measured at the proposed (rounded) trades, whatever the solve said:
    # a dropped rung is reported by how much it is exceeded, an excess the solver did not
    # report (an AlmostSolved point, a cap missed by rounding) is listed too.
    problem = prep.problem
    x_after = out.rounded.sell_shares / problem.lots.shares
    b_after = out.rounded.buy_shares * problem.prices / prep.base
    excess = soft_excess(prep, x_after, b_after)
    relaxed = tuple(RUNGS[r] for r in sorted({rung for _name, rung, _amount in excess}))
    message = _relax_message(excess) if excess else ""
    if out.message:
        message = f"{message}; {out.message}" if message else out.message
    if not out.rounded.sell_shares.any() and not out.rounded.buy_shares.any():
        gain = before.total - out.continuous.total
        if gain > NO_TRADE_GAIN:
            s = problem.settings
            unit = f"{s.share_decimals}-decimal shares" if s.fractional_shares else "whole shares"
            why = (
                f"no trade: rounding to {unit} (minimum trade ${s.min_trade:,.2f}) drops every "
                f"trade of the continuous optimum, whose improvement of {gain:.3g} of the "
                "account is not reachable"
            )
            message = f"{message}; {why}" if message else why
    return _assemble(
        prep,
        Status.RELAXED if relaxed else Status.OPTIMAL,
        before,
        out.continuous,
        out.rounded,
        blocked,
        log,
        message,
        t_start,
        relaxed,
        out.binding,
        out.n_vars,
        out.n_rows,
        out.n_fixes,
        out.repair_seconds,
        relaxed_by=tuple((name, amount) for name, _rung, amount in excess),
    )


def _resolve_fixed(
    log: _Log,
    prep: Prepared,
    qp: QP,
    raw: RawSolve,
    sellable: BoolArray,
    buyable: BoolArray,
    rung: int,
) -> tuple[FloatArray, FloatArray] | None:
    """(x, b) re-solved with only ``sellable`` lots and ``buyable`` securities free, or None.

    After a PIQP solve only bounds change (``rerun_piqp_fixed``, same KKT pattern); otherwise,
    or if that does not solve, the rung is rebuilt without the fixed variables for Clarabel.
    """
    problem = prep.problem
    settings = problem.settings
    if raw.backend == "piqp" and raw.solver is not None:
        raw2 = log.add(rerun_piqp_fixed(qp, raw, ~sellable[qp.lots], ~buyable[qp.buy_row_secs]))
        if raw2.status == SOLVED:
            x, b = point_of(prep, qp, raw2)
            x[~sellable] = 0.0
            b[~buyable] = 0.0
            return x, b
    qp2 = log.build(prep, sellable, buyable, rung)
    raw2 = log.run(qp2, settings)
    if raw2.status != SOLVED:
        return None
    return point_of(prep, qp2, raw2)


def _netted_if_enough(
    prep: Prepared, x: FloatArray, b: FloatArray, bound: float, budgets_on: bool
) -> tuple[FloatArray, FloatArray] | None:
    """The netted point (``net_conflicts`` then ``drop_class_conflicts``) if it loses at most
    ``Settings.resolve_gap`` against ``bound`` (the continuous optimum, which no re-solve can
    beat) and keeps the budgets; else None."""
    gap = prep.problem.settings.resolve_gap
    if gap <= 0:
        return None
    xn, bn = net_conflicts(prep, x, b, EPS_TRADE)
    bn = drop_class_conflicts(prep, xn, bn, EPS_TRADE)
    if budgets_on:
        if prep.gain_room is not None and float(prep.tax.gain @ xn) > prep.gain_room:
            return None
        if prep.tax_room is not None and float(prep.tax.tax @ xn) > prep.tax_room:
            return None
    if terms_at(prep, xn, bn).total - bound <= gap:
        return xn, bn
    return None


def _no_trade(
    prep: Prepared,
    status: Status,
    before: ObjectiveTerms,
    blocked: tuple[Blocked, ...],
    log: _Log,
    message: str,
    t_start: float,
    relaxed: tuple[str, ...],
    n_vars: int,
    n_rows: int,
) -> Solution:
    problem = prep.problem
    L = prep.lot_weight.shape[0]
    rounded = RoundedTrades(
        sell_shares=np.zeros(L), buy_shares=np.zeros(problem.n_securities), failure=""
    )
    return _assemble(
        prep,
        status,
        before,
        before,
        rounded,
        blocked,
        log,
        message,
        t_start,
        relaxed,
        (),
        n_vars,
        n_rows,
        0,
        0.0,
    )


def _assemble(
    prep: Prepared,
    status: Status,
    before: ObjectiveTerms,
    continuous: ObjectiveTerms,
    rounded: RoundedTrades,
    blocked: tuple[Blocked, ...],
    log: _Log,
    message: str,
    t_start: float,
    relaxed: tuple[str, ...],
    binding: tuple[str, ...],
    n_vars: int,
    n_rows: int,
    n_fixes: int,
    repair_seconds: float,
    relaxed_by: tuple[tuple[str, float], ...] = (),
) -> Solution:
    problem = prep.problem
    ids = problem.security_ids
    prices = problem.prices
    lots = problem.lots
    base = prep.base
    x = rounded.sell_shares / lots.shares
    b = rounded.buy_shares * prices / base
    after = terms_at(prep, x, b)
    sells_w = sells_of(prep, x)
    w_after = prep.holding + b - sells_w
    cash_after = cash_weight_at(prep, x, b) * base

    # Records are built from numpy columns (``tolist`` gives Python floats and ints) and the
    # frozen dataclasses filled without their generated __init__ (``new_record``): at 3,000
    # lot sales the per-field ``object.__setattr__`` of a frozen __init__ cost ~4 ms.
    sell_value = sells_w * base
    buy_value = rounded.buy_shares * prices
    sell_shares_sec = np.bincount(prep.lot_sec, weights=rounded.sell_shares, minlength=len(ids))
    traded = np.flatnonzero((rounded.buy_shares > 0) | (sell_shares_sec > 0))
    is_buy = rounded.buy_shares[traded] > 0
    t_shares = np.where(is_buy, rounded.buy_shares[traded], sell_shares_sec[traded])
    t_value = np.where(is_buy, buy_value[traded], sell_value[traded])
    t_cost = prep.kappa[traded] * t_value
    trades = [
        new_record(
            SecurityTrade,
            {
                "security": i,
                "security_id": ids[i],
                "side": Side.BUY if buy else Side.SELL,
                "shares": sh,
                "value": val,
                "cost": cost,
            },
        )
        for i, buy, sh, val, cost in zip(
            traded.tolist(),
            is_buy.tolist(),
            t_shares.tolist(),
            t_value.tolist(),
            t_cost.tolist(),
            strict=True,
        )
    ]
    tax = prep.tax
    sold = np.flatnonzero(rounded.sell_shares > 0)
    sold_sec = prep.lot_sec[sold]
    sold_shares = rounded.sell_shares[sold]
    sold_gain = tax.gain[sold] * x[sold]
    sales = [
        new_record(
            LotSale,
            {
                "lot_id": lot_id,
                "security": sec,
                "security_id": ids[sec],
                "shares": sh,
                "proceeds": proceeds,
                "realized_gain": gain,
                "term": Term.LONG if lt else Term.SHORT,
                "tax": lot_tax,
            },
        )
        for lot_id, sec, sh, proceeds, gain, lt, lot_tax in zip(
            lots.lot_id[sold].tolist(),
            sold_sec.tolist(),
            sold_shares.tolist(),
            (sold_shares * prices[sold_sec]).tolist(),
            sold_gain.tolist(),
            tax.long_term[sold].tolist(),
            (tax.rate[sold] * sold_gain).tolist(),
            strict=True,
        )
    ]
    realized = float(np.dot(tax.gain, x))
    tax_total = float(np.dot(tax.tax, x))
    reasons = explain(prep, tuple(trades), tuple(sales), w_after, cash_after)
    total = time.perf_counter() - t_start
    diagnostics = Diagnostics(
        iterations=log.iterations,
        solves=len(log.statuses),
        solver_statuses=log.statuses,
        solver_backends=log.backends,
        relaxed=relaxed,
        relaxed_by=relaxed_by,
        binding=binding,
        n_variables=n_vars,
        n_constraints=n_rows,
        repair_objective_change=after.total - continuous.total,
        direction_fixes=n_fixes,
        versions=versions(),
        solver_settings=solver_settings(problem),
        timings=(
            ("build", log.build_seconds),
            ("solve", log.solve_seconds),
            ("repair", repair_seconds),
            ("total", total),
        ),
        message=message,
    )
    return Solution(
        account_id=problem.account_id,
        status=status,
        trades=tuple(trades),
        lot_sales=tuple(sales),
        weights_before=prep.holding.copy(),
        weights_after=w_after,
        cash_before=float(problem.cash),
        cash_after=cash_after,
        objective_before=before,
        objective_continuous=continuous,
        objective_after=after,
        realized_gain=realized,
        tax=tax_total,
        turnover=float(b.sum() + sells_w.sum()),
        blocked=blocked,
        reasons=reasons,
        diagnostics=diagnostics,
    )

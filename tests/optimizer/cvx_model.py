"""A direct cvxpy statement of docs/optimizer.md sections 2-5, in the (x, b) variables.

Written from the document, not from build.py: used by the tests to check the Clarabel build.
"""

from __future__ import annotations

import datetime as dt
from typing import Any

import cvxpy as _cvxpy
import numpy as np

from optimizer.types import Mode, Problem, Side

cp: Any = _cvxpy  # cvxpy's partial stubs lack most atoms


def _long_term(acquired: np.ndarray, as_of: dt.date) -> np.ndarray:
    out = []
    for d in acquired.astype("datetime64[D]").astype(object):
        try:
            anniv = d.replace(year=d.year + 1)
        except ValueError:  # 29 February
            anniv = d.replace(year=d.year + 1, day=28)
        out.append(as_of > anniv)
    return np.array(out, dtype=bool)


def cvx_objective(problem: Problem, rung: int = 0) -> tuple[str, float]:
    n = problem.n_securities
    lots = problem.lots
    L = lots.count
    st = problem.settings
    price = problem.prices
    value = lots.shares * price[lots.security]
    B = problem.cash + value.sum() - problem.withdrawal
    m = value / B
    h = np.zeros(n)
    for lot in range(L):
        h[lots.security[lot]] += m[lot]
    g = value - lots.cost_basis
    lt = _long_term(lots.acquired, problem.as_of)
    r = np.where(lt, problem.tax_rates.long_term, problem.tax_rates.short_term)
    kappa = np.zeros(n) if problem.cost_rates is None else problem.cost_rates
    nb = np.zeros(n, bool) if problem.never_buy is None else problem.never_buy
    ns = np.zeros(n, bool) if problem.never_sell is None else problem.never_sell
    dnt = np.zeros(n, bool) if problem.do_not_trade is None else problem.do_not_trade

    # wash-sale classes
    cls = {i: {i} for i in range(n)}
    for grp in problem.equivalence_groups:
        if grp.substantially_identical:
            for i in grp.members:
                cls[i] = set(grp.members)
    buy_recent = set()
    loss_recent = set()
    for t in problem.recent_trades:
        if abs((problem.as_of - t.trade_date).days) <= 30:
            if t.side == Side.BUY:
                buy_recent.add(t.security)
            elif t.realized_loss:
                loss_recent.add(t.security)
    buy_ok = np.array([not (nb[i] or dnt[i] or (cls[i] & loss_recent)) for i in range(n)])
    sell_ok = np.array(
        [
            not (ns[lots.security[lot]] or dnt[lots.security[lot]])
            and not (g[lot] < 0 and (cls[lots.security[lot]] & buy_recent))
            for lot in range(L)
        ]
    )
    if st.mode == Mode.RAISE_CASH:
        buy_ok[:] = False
    if st.mode == Mode.INVEST_CASH:
        sell_ok[:] = False

    x = cp.Variable(L)
    b = cp.Variable(n)
    S = np.zeros((n, L))
    for lot in range(L):
        S[lots.security[lot], lot] = m[lot]
    s = S @ x
    w = h + b - s
    c = problem.cash / B + cp.sum(s) - cp.sum(b) - kappa @ (b + s)
    cons = [x >= 0, x <= 1, b >= 0, c >= problem.withdrawal / B + st.cash_target]
    for lot in range(L):
        if not sell_ok[lot]:
            cons.append(x[lot] == 0)
    for i in range(n):
        if not buy_ok[i]:
            cons.append(b[i] == 0)

    # units
    unit_members: list[list[int]] = [list(gr.members) for gr in problem.equivalence_groups]
    grouped = {i for gr in problem.equivalence_groups for i in gr.members}
    unit_members += [[i] for i in range(n) if i not in grouped]
    U = len(unit_members)
    G = np.zeros((U, n))
    for u, mem in enumerate(unit_members):
        G[u, mem] = 1.0
    T = G @ problem.targets
    rm = problem.risk_model
    if rm is None:
        delta = np.ones(U)
        var = cp.sum(cp.multiply(delta, cp.square(G @ w - T)))
        norm_parts = [cp.multiply(np.sqrt(delta), G @ w - T)]
    else:
        delta = np.array([rm.specific_var[mem[0]] for mem in unit_members])
        y = rm.loadings.T @ (w - problem.targets)
        Fs = 0.5 * (rm.factor_cov + rm.factor_cov.T)
        vals, vecs = np.linalg.eigh(Fs)
        R = (vecs * np.sqrt(np.clip(vals, 0, None))).T
        var = cp.sum_squares(R @ y) + cp.sum(cp.multiply(delta, cp.square(G @ w - T)))
        norm_parts = [R @ y, cp.multiply(np.sqrt(delta), G @ w - T)]
    rank = np.zeros(n)
    for gr in problem.equivalence_groups:
        for k, i in enumerate(gr.members):
            rank[i] = k
    pi = st.substitute_penalty * rank
    f = (
        st.risk_aversion * var
        + st.tax_weight * (r * g / B) @ x
        + st.cost_weight * kappa @ (b + s)
        + pi @ b
    )
    if rung < 1 and st.turnover_max is not None:
        cons.append(cp.sum(b) + cp.sum(s) <= st.turnover_max)
    if rung < 2 and st.gain_budget is not None:
        cons.append(g @ x <= max(st.gain_budget - problem.realized_gain_ytd, 0))
    if rung < 2 and st.tax_budget is not None:
        cons.append((r * g) @ x <= max(st.tax_budget - problem.tax_ytd, 0))
    if rung < 3:
        lo = np.zeros(n) if problem.min_weight is None else problem.min_weight
        hi = np.full(n, np.inf) if problem.max_weight is None else problem.max_weight
        for i in range(n):
            sellable_w = sum(m[lot] for lot in range(L) if lots.security[lot] == i and sell_ok[lot])
            lo_i = lo[i] if buy_ok[i] else min(lo[i], h[i])
            hi_i = max(hi[i], h[i] - sellable_w)
            if lo_i > 0:
                cons.append(w[i] >= lo_i)
            if np.isfinite(hi_i):
                cons.append(w[i] <= hi_i)
        for gb in problem.group_bounds:
            tot = cp.sum(w[np.unique(gb.members)])
            if np.isfinite(gb.upper):
                cons.append(tot <= gb.upper)
            if gb.lower > 0:
                cons.append(tot >= gb.lower)
        if st.cash_max is not None:
            cons.append(c <= problem.withdrawal / B + st.cash_max)
    if rung < 4 and st.te_max is not None:
        cons.append(cp.norm(cp.hstack(norm_parts)) <= st.te_max)
    prob = cp.Problem(cp.Minimize(f), cons)
    prob.solve(solver=cp.CLARABEL, tol_gap_abs=1e-10, tol_gap_rel=1e-10, tol_feas=1e-10)
    return str(prob.status), float(prob.value) if prob.value is not None else float("nan")

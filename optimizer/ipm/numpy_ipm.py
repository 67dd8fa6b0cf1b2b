"""The engine's interior-point method in numpy: the readable statement of ``_ipm.c``.

Mehrotra predictor-corrector, primal-dual, infeasible start, one step length for primal and
dual, on the structured QP of ``structured.py``. The C extension runs the same algorithm (its
security-space shortcuts for group and TE rows are algebraically the same products); this
module is its specification, the fallback where the extension is not built, and the
cross-check in the tests. docs/optimizer.md section 7 derives the Newton system.

Unknowns: v (variables, 0 <= v <= ub) with its upper slack vu (= ub - v, kept as an unknown:
a lot sold whole has v within rounding of ub, where ub - v would have no digits left) and
bound duals zl, zu; per row k a slack s_k >= 0,
a multiplier lam_k >= 0 and, for an elastic row, an excess e_k >= 0 whose dual is
ze_k >= 0 (pen_k - lam_k at a solution). Residuals:

    r_d = c + 2 gamma J'Q(w - t) + sum_k lam_k grad c_k - zl + zu
    r_p = c_k(v) - e_k + s_k - beta_k
    r_ze = pen_k - lam_k - ze_k       (stationarity in e_k)
    r_u = ub - v - vu
    complementarity: v zl, vu zu, s lam, e ze
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from optimizer.ipm.result import IPM_SETTINGS, IpmResult
from optimizer.structured import StructuredQP
from optimizer.types import BoolArray, FloatArray, IntArray

REFINE_TOL = 1e-12
REFINE_MU = 1e-4
"""Refinement only once mu has fallen this far below its first value: early directions need
no more accuracy than the factorization gives."""
ALMOST = 1e3
"""An iterate within this factor of every tolerance is returned as ``AlmostSolved`` when the
iterations stop without meeting them (residuals 1e-6, gap 1e-6 of the objective's scale)."""
BREAKDOWN = 1e6
STALL_ITERATIONS = 5
"""Stop when the gap has met its tolerance for this many iterations but a residual has not."""
"""A step that makes the merit (worst residual or gap over its tolerance) this much worse than
the best so far has met the limits of the arithmetic: stop and keep the best iterate."""
"""Refine while the Newton system's residual exceeds this, relative to its right-hand side."""


class _Rows:
    """Row values and gradient products of the four row kinds, in solver order."""

    def __init__(self, q: StructuredQP) -> None:
        self.q = q
        ind = np.zeros((q.n, q.n_groups))
        members = np.flatnonzero(q.grp >= 0)
        ind[members, q.grp[members]] = q.grp_val[members]
        self.U = np.hstack([q.U, ind])
        """The whole low-rank part: factor columns, then one column per multi-member unit."""
        self.m1 = q.A.shape[0]
        self.m2 = q.G.shape[0]
        self.mp = q.p_sec.shape[0]
        self.has_te = q.te2 >= 0
        self.K = self.m1 + self.m2 + self.mp + (1 if self.has_te else 0)
        self.beta = q.row_beta
        self.pen = q.row_pen
        self.p_lo = self.m1 + self.m2
        coupled = list(range(self.p_lo)) + ([self.K - 1] if self.has_te else [])
        self.coupled = np.array(coupled, dtype=np.int64)
        """Rows that couple securities (general, group, TE): solved through a Schur
        complement; the one-security rows are folded into the per-security blocks."""

    def w_of(self, v: FloatArray) -> FloatArray:
        q = self.q
        out: FloatArray = q.h + np.bincount(q.var_sec, weights=q.var_sign * v, minlength=q.n)
        return out

    def jv(self, v: FloatArray) -> FloatArray:
        """J v (a weight change per security)."""
        q = self.q
        out: FloatArray = np.bincount(q.var_sec, weights=q.var_sign * v, minlength=q.n).astype(
            np.float64, copy=False
        )
        return out

    def jt(self, yw: FloatArray) -> FloatArray:
        """J' y for y over securities."""
        q = self.q
        out: FloatArray = q.var_sign * yw[q.var_sec]
        return out

    def qhat(self, d: FloatArray) -> FloatArray:
        out: FloatArray = self.q.dg * d + self.U @ (self.U.T @ d)
        return out

    def values(self, v: FloatArray, w: FloatArray, gv: FloatArray) -> FloatArray:
        """c_k(v); ``gv`` = Q (w - t)."""
        q = self.q
        parts = [q.A @ v, q.G @ w, q.p_sign * w[q.p_sec]]
        if self.has_te:
            parts.append(np.array([float((w - q.t) @ gv)]))
        return np.concatenate(parts)

    def grad_w(self, lam: FloatArray, gv: FloatArray) -> FloatArray:
        """Sum over the rows over securities of lam_k * dc_k/dw."""
        q = self.q
        m1, p_lo, mp = self.m1, self.p_lo, self.mp
        out: FloatArray = q.G.T @ lam[m1:p_lo] + np.bincount(
            q.p_sec, weights=q.p_sign * lam[p_lo : p_lo + mp], minlength=q.n
        )
        if self.has_te:
            out = out + lam[-1] * 2.0 * gv
        return out

    def coupled_rows(self, gv: FloatArray) -> FloatArray:
        """W' (coupled rows x variables): A rows, then J'G_k, then J' 2 Q (w - t)."""
        q = self.q
        wz = [q.G] + ([2.0 * gv[None, :]] if self.has_te else [])
        w_rows = np.vstack(wz)[:, q.var_sec] * q.var_sign if len(self.coupled) > self.m1 else None
        if w_rows is None:
            return q.A.copy()
        return np.vstack([q.A, w_rows])


@dataclass
class _Point:
    v: FloatArray
    zl: FloatArray
    zu: FloatArray
    vu: FloatArray
    s: FloatArray
    lam: FloatArray
    e: FloatArray
    ze: FloatArray
    """Dual of e >= 0 (pen - lam at a solution), kept as its own unknown: as an elastic row
    reaches its penalty, pen - lam computed by subtraction would lose every digit."""


class _Newton:
    """The Newton system of one iteration, factorized:

        [H0  W ] [dv  ]   [r1  ]    H0 = Dv + J' (diag(bdiag) + gp U U') J
        [W' -Th] [dlam] = [-rho]    W = the coupled rows

    H0^-1 by per-security blocks (diagonal plus rank one, inverted stably) and a Woodbury
    correction for U; the coupled rows by a dense Schur complement."""

    def __init__(
        self,
        rows: _Rows,
        pt: _Point,
        gv: FloatArray,
        has_ub: BoolArray,
        ub: FloatArray,
        elastic: BoolArray,
        mlam: FloatArray,
        seg_start: IntArray,
        seg_end: IntArray,
    ) -> None:
        st = IPM_SETTINGS
        q = rows.q
        self.rows = rows
        self.sec, self.sg, n = q.var_sec, q.var_sign, q.n
        self.Dv = pt.zl / pt.v + np.where(has_ub, pt.zu / pt.vu, 0.0) + st["reg"]
        self.theta = pt.s / pt.lam + np.where(elastic, pt.e / mlam, 0.0)
        gp = 2.0 * q.gamma + (2.0 * float(pt.lam[-1]) if rows.has_te else 0.0)
        p_lo, mp = rows.p_lo, rows.mp
        th_p = self.theta[p_lo : p_lo + mp]
        self.bdiag = gp * q.dg + np.bincount(q.p_sec, weights=1.0 / th_p, minlength=n)
        self.PU = rows.U * np.sqrt(gp)
        self.Wt = rows.coupled_rows(gv)
        self.th_c = self.theta[rows.coupled]

        # Per-security blocks B_i = diag(Dv) + bdiag_i j j' (j = +-1), inverted stably: with
        # a_-k, sigma_-k the sums over the block without variable k,
        #   (B^-1 y)_k = (y_k (1 + b sigma_-k) - j_k b a_-k) / (D_k (1 + b sigma_-k) + b).
        # The largest 1/D of each block is kept out of the sums, so the term that dominates as
        # a variable becomes free never cancels against itself.
        sec = self.sec
        inv_d = 1.0 / self.Dv
        is_top = np.zeros(len(sec), dtype=np.bool_)
        if len(sec):
            top = [a + int(np.argmax(inv_d[a:b])) for a, b in zip(seg_start, seg_end, strict=True)]
            is_top[np.array(top, dtype=np.int64)] = True
        rest = np.bincount(sec, weights=np.where(is_top, 0.0, inv_d), minlength=n)
        sigma = rest + np.bincount(sec, weights=np.where(is_top, inv_d, 0.0), minlength=n)
        self.bsec = self.bdiag[sec]
        self.sig_minus = np.where(is_top, rest[sec], sigma[sec] - inv_d)
        self.den_k = self.Dv * (1.0 + self.bsec * self.sig_minus) + self.bsec
        den = 1.0 + self.bdiag * sigma
        self.phi = sigma / den  # J B^-1 J'
        self.bjt = self.sg * inv_d / den[sec]  # B^-1 J' z = bjt * z[sec]
        self.inv_d, self.is_top, self.n = inv_d, is_top, n

        r_u = self.PU.shape[1]
        cap = np.eye(r_u) + self.PU.T @ (self.phi[:, None] * self.PU)
        self.chol_u = np.linalg.cholesky(cap)  # LinAlgError: caller reports NumericalError
        pc = len(rows.coupled)
        self.Y = np.vstack([self.h0inv(self.Wt[k]) for k in range(pc)]) if pc else self.Wt
        S = np.diag(self.th_c) + self.Wt @ self.Y.T
        if pc:
            S += st["dual_reg"] * float(np.max(np.diag(S))) * np.eye(pc)
        self.chol_s = np.linalg.cholesky(S) if pc else S

    def binv(self, y: FloatArray) -> FloatArray:
        sec, sg, n, is_top = self.sec, self.sg, self.n, self.is_top
        t = sg * y * self.inv_d
        a_rest = np.bincount(sec, weights=np.where(is_top, 0.0, t), minlength=n)
        a_all = a_rest + np.bincount(sec, weights=np.where(is_top, t, 0.0), minlength=n)
        a_minus = np.where(is_top, a_rest[sec], a_all[sec] - t)
        out: FloatArray = y * (1.0 + self.bsec * self.sig_minus) - sg * self.bsec * a_minus
        return out / self.den_k

    def h0inv(self, y: FloatArray) -> FloatArray:
        t = self.binv(y)
        if self.PU.shape[1] == 0:
            return t
        rhs = self.PU.T @ self.rows.jv(t)
        z = np.linalg.solve(self.chol_u.T, np.linalg.solve(self.chol_u, rhs))
        out: FloatArray = t - self.bjt * (self.PU @ z)[self.sec]
        return out

    def h0mul(self, x: FloatArray) -> FloatArray:
        xw = self.rows.jv(x)
        out: FloatArray = self.Dv * x + self.rows.jt(self.bdiag * xw + self.PU @ (self.PU.T @ xw))
        return out

    def aug1(self, r1: FloatArray, r2: FloatArray) -> tuple[FloatArray, FloatArray]:
        t = self.h0inv(r1)
        if len(self.th_c) == 0:
            return t, np.zeros(0)
        rhs = self.Wt @ t - r2
        y = np.linalg.solve(self.chol_s.T, np.linalg.solve(self.chol_s, rhs))
        return t - self.Y.T @ y, y

    def solve(self, r1: FloatArray, r2: FloatArray, refine: int) -> tuple[FloatArray, FloatArray]:
        """aug1 plus at most ``refine`` rounds of iterative refinement against the exact
        products."""
        x, y = self.aug1(r1, r2)
        rmax = max(float(np.max(np.abs(r1), initial=0.0)), float(np.max(np.abs(r2), initial=0.0)))
        for _ in range(refine):
            res1 = r1 - self.h0mul(x) - self.Wt.T @ y
            res2 = r2 - self.Wt @ x + self.th_c * y
            emax = max(
                float(np.max(np.abs(res1), initial=0.0)), float(np.max(np.abs(res2), initial=0.0))
            )
            if not emax > REFINE_TOL * rmax:
                break
            cx, cy = self.aug1(res1, res2)
            x, y = x + cx, y + cy
        return x, y


def _max_step(
    pt: _Point, d: _Point, has_ub: BoolArray, ub: FloatArray, elastic: BoolArray, mlam: FloatArray
) -> float:
    """Largest step in [0, 1] keeping every complementarity factor nonnegative."""
    a = 1.0
    for x, dx, mask in (
        (pt.v, d.v, None),
        (pt.vu, d.vu, has_ub),
        (pt.zl, d.zl, None),
        (pt.zu, d.zu, has_ub),
        (pt.s, d.s, None),
        (pt.lam, d.lam, None),
        (pt.e, d.e, elastic),
        (pt.ze, d.ze, elastic),
    ):
        neg = dx < 0
        if mask is not None:
            neg &= mask
        if np.any(neg):
            a = min(a, float(np.min(-x[neg] / dx[neg])))
    return a


def solve_numpy(q: StructuredQP, max_iter: int = 100) -> IpmResult:
    st = IPM_SETTINGS
    rows = _Rows(q)
    nv = q.n_vars
    sec = q.var_sec
    has_ub = np.isfinite(q.ub)
    ub = np.where(has_ub, q.ub, 0.0)
    beta, pen = rows.beta, rows.pen
    elastic = np.isfinite(pen)
    pen_f = np.where(elastic, pen, 0.0)
    gamma = q.gamma
    # Variables come grouped by security (``structured.build_structured`` sorts them).
    if nv and np.any(np.diff(sec) < 0):
        raise ValueError("variables must be sorted by security")
    seg_start = np.flatnonzero(np.concatenate([[True], sec[1:] != sec[:-1]])) if nv else sec
    seg_end = np.concatenate([seg_start[1:], [nv]]) if nv else sec

    # ---- starting point: lot sales at v0_frac of the lot, buys at buy0_frac of the gap to
    # target plus buy0_add; bound duals from the gradient; rows as if hard (a violated soft
    # row does not begin with a large excess, whose product with the penalty would dominate mu).
    buy0 = np.maximum(q.t - q.h, 0.0)[sec] * st["buy0_frac"] + st["buy0_add"]
    v = np.where(has_ub, st["v0_frac"] * ub, buy0)
    w = rows.w_of(v)
    gv = rows.qhat(w - q.t)
    grad = q.c + gamma * 2.0 * rows.jt(gv)
    kappa0 = st["kappa0"] * (1.0 + float(np.max(np.abs(grad), initial=0.0)))
    zl = np.maximum(grad, 0.0) + kappa0
    zu = np.where(has_ub, np.maximum(-grad, 0.0) + kappa0, 0.0)
    vu = np.where(has_ub, ub - v, 1.0)
    mu0 = float(v @ zl + (np.where(has_ub, vu, 0.0) @ zu)) / max(nv, 1)
    viol = rows.values(v, w, gv) - beta
    lam = np.where(elastic, np.minimum(kappa0, 0.5 * pen_f), kappa0)
    e = np.where(elastic, mu0 / np.where(elastic, pen_f - lam, 1.0), 0.0)
    s = np.maximum(-viol, 0.0) + mu0 / lam
    pt = _Point(v, zl, zu, vu, s, lam, e, np.where(elastic, pen_f - lam, 1.0))

    status = "MaxIterations"
    it = 0
    n_pairs = nv + int(has_ub.sum()) + rows.K + int(elastic.sum())
    beta_scale = 1.0 + float(np.max(np.abs(beta), initial=0.0))
    c_max = float(np.max(np.abs(q.c), initial=0.0))
    a_max = np.max(np.abs(q.A), axis=1, initial=0.0)
    m1 = rows.m1
    best, best_merit, best_it, stalled = pt, np.inf, 0, 0
    mu_first = -1.0
    for it in range(1, max_iter + 1):
        w = rows.w_of(pt.v)
        d = w - q.t
        gv = rows.qhat(d)
        cval = rows.values(pt.v, w, gv)
        r_d = (
            q.c
            + gamma * 2.0 * rows.jt(gv)
            + q.A.T @ pt.lam[:m1]
            + rows.jt(rows.grad_w(pt.lam, gv))
            - pt.zl
            + np.where(has_ub, pt.zu, 0.0)
        )
        r_p = cval - np.where(elastic, pt.e, 0.0) + pt.s - beta
        mlam = np.where(elastic, pt.ze, 1.0)
        r_ze = np.where(elastic, pen_f - pt.lam - pt.ze, 0.0)  # stationarity in e
        r_u = np.where(has_ub, ub - pt.v - pt.vu, 0.0)
        gap_u = np.where(has_ub, pt.vu * pt.zu, 0.0)
        gap_e = np.where(elastic, pt.e * mlam, 0.0)
        total_gap = float(pt.v @ pt.zl + gap_u.sum() + pt.s @ pt.lam + gap_e.sum())
        mu = total_gap / max(n_pairs, 1)
        if mu_first < 0:
            mu_first = mu
        refine = int(st["refine_steps"]) if mu < REFINE_MU * mu_first else 0
        scale = abs(float(q.c @ pt.v)) + abs(gamma * float(d @ gv)) + float(pen_f @ pt.e)
        # The dual residual relative to the size of the terms that make it up: with a large
        # multiplier (an elastic row at its penalty) their rounding alone exceeds 1e-9.
        term_max = max(
            c_max,
            float(np.max(np.abs(2.0 * gamma * gv + rows.grad_w(pt.lam, gv)), initial=0.0)),
            float(np.max(np.abs(pt.lam[:m1]) * a_max, initial=0.0)),
            float(np.max(pt.zl, initial=0.0)),
            float(np.max(np.where(has_ub, pt.zu, 0.0), initial=0.0)),
        )
        pres = max(
            float(np.max(np.abs(r_p), initial=0.0)) / beta_scale,
            float(np.max(np.abs(r_u), initial=0.0)),
        )
        dres = float(np.max(np.abs(r_d), initial=0.0)) / (1.0 + term_max)
        gap_tol = st["tol_gap_abs"] + st["tol_gap_rel"] * scale
        parts = (pres / st["tol_feas"], dres / st["tol_feas"], total_gap / gap_tol)
        merit = max(parts) if all(np.isfinite(parts)) else np.inf
        if merit < 1.0:
            status = "Solved"
            it -= 1
            break
        if not np.isfinite(merit) or merit > BREAKDOWN * best_merit:
            status = "NumericalError"  # the last step broke down: keep the best iterate
            break
        if merit < best_merit:
            best, best_merit, best_it = pt, merit, it - 1
        # Only once the complementarity has converged: residuals that no longer shrink with
        # mu are the arithmetic's limit (a degenerate problem), not a slow start.
        stalled = stalled + 1 if total_gap < gap_tol else 0
        if stalled > STALL_ITERATIONS:
            status = "Stalled"  # no progress: the arithmetic's limit on a degenerate problem
            break
        try:
            newton = _Newton(rows, pt, gv, has_ub, ub, elastic, mlam, seg_start, seg_end)
        except np.linalg.LinAlgError:
            status = "NumericalError"
            break

        def direction(
            r_lo: FloatArray,
            r_hi: FloatArray,
            r_s: FloatArray,
            r_e: FloatArray,
            newton: _Newton = newton,
            r_d: FloatArray = r_d,
            r_p: FloatArray = r_p,
            mlam: FloatArray = mlam,
            r_ze: FloatArray = r_ze,
            r_u: FloatArray = r_u,
            refine: int = refine,
            p: _Point = pt,
        ) -> _Point:
            """Newton direction for complementarity targets r_lo, r_hi, r_s, r_e."""
            theta = newton.theta
            rho = r_p + r_s / p.lam - np.where(elastic, (r_e - p.e * r_ze) / mlam, 0.0)
            p_lo, mp = rows.p_lo, rows.mp
            th_p = theta[p_lo : p_lo + mp]
            rho_p = rho[p_lo : p_lo + mp]
            r1 = (
                -r_d
                - rows.jt(
                    np.bincount(q.p_sec, weights=q.p_sign * rho_p / th_p, minlength=q.n).astype(
                        np.float64, copy=False
                    )
                )
                + r_lo / p.v
                - np.where(has_ub, (r_hi - p.zu * r_u) / p.vu, 0.0)
            )
            dv, dlam_c = newton.solve(r1, -rho[rows.coupled], refine)
            dw = rows.jv(dv)
            dlam = np.empty(rows.K)
            dlam[rows.coupled] = dlam_c
            dlam[p_lo : p_lo + mp] = (q.p_sign * dw[q.p_sec] + rho_p) / th_p
            return _Point(
                v=dv,
                zl=(r_lo - p.zl * dv) / p.v,
                zu=np.where(has_ub, (r_hi - p.zu * (r_u - dv)) / p.vu, 0.0),
                vu=np.where(has_ub, r_u - dv, 0.0),
                s=(r_s - p.s * dlam) / p.lam,
                lam=dlam,
                e=np.where(elastic, (r_e - p.e * (r_ze - dlam)) / mlam, 0.0),
                ze=np.where(elastic, r_ze - dlam, 0.0),
            )

        # Predictor (affine scaling), then Mehrotra's centring and second-order correction.
        aff = direction(-pt.v * pt.zl, -gap_u, -pt.s * pt.lam, -gap_e)
        a_aff = _max_step(pt, aff, has_ub, ub, elastic, mlam)
        gap_aff = float(
            (pt.v + a_aff * aff.v) @ (pt.zl + a_aff * aff.zl)
            + np.where(has_ub, (pt.vu + a_aff * aff.vu) * (pt.zu + a_aff * aff.zu), 0.0).sum()
            + (pt.s + a_aff * aff.s) @ (pt.lam + a_aff * aff.lam)
            + np.where(elastic, (pt.e + a_aff * aff.e) * (mlam + a_aff * aff.ze), 0.0).sum()
        )
        smu = (gap_aff / total_gap) ** 3 * mu if total_gap > 0 else 0.0
        cor = direction(
            smu - pt.v * pt.zl - aff.v * aff.zl,
            np.where(has_ub, smu - pt.vu * pt.zu - aff.vu * aff.zu, 0.0),
            smu - pt.s * pt.lam - aff.s * aff.lam,
            np.where(elastic, smu - pt.e * mlam - aff.e * aff.ze, 0.0),
        )
        a = min(1.0, st["step_to_boundary"] * _max_step(pt, cor, has_ub, ub, elastic, mlam))
        pt = _Point(
            v=pt.v + a * cor.v,
            zl=pt.zl + a * cor.zl,
            zu=pt.zu + a * cor.zu,
            vu=pt.vu + a * cor.vu,
            s=pt.s + a * cor.s,
            lam=pt.lam + a * cor.lam,
            e=pt.e + a * cor.e,
            ze=pt.ze + a * cor.ze,
        )

    if status != "Solved" and best_merit <= ALMOST:
        # Stopped by the iteration cap or a breakdown of the linear algebra (the last digits
        # of a degenerate problem) within ALMOST times the tolerances: the best iterate.
        pt, it, status = best, best_it, "AlmostSolved"
    w = rows.w_of(pt.v)
    d = w - q.t
    gv = rows.qhat(d)
    return IpmResult(
        status=status,
        v=pt.v,
        iterations=it,
        row_value=rows.values(pt.v, w, gv),
        row_excess=np.where(elastic, pt.e, 0.0),
        row_dual=pt.lam,
        objective=float(q.c @ pt.v + gamma * (d @ gv)),
        backend="numpy",
    )

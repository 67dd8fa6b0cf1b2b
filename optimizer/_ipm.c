/*
 * The engine's interior-point method for the structured QP of optimizer/structured.py.
 *
 * Same algorithm, step by step, as optimizer/ipm/numpy_ipm.py (its readable specification):
 * Mehrotra predictor-corrector, primal-dual, infeasible start, one step length; the Newton
 * system is solved through per-security diagonal-plus-rank-one blocks (inverted stably), a
 * Woodbury correction for the low-rank risk term and a small dense Schur complement for the
 * rows that couple securities. docs/optimizer.md section 7 derives it.
 *
 * Plain C99 and the CPython buffer protocol (no numpy headers). Deterministic: fixed loop
 * orders, no threads; built with -ffp-contract=off so no fused multiply-add changes the bits.
 */
#define PY_SSIZE_T_CLEAN
#include <Python.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

typedef Py_ssize_t idx;

enum { ST_SOLVED = 0, ST_MAXITER = 1, ST_NUMERICAL = 2, ST_ALMOST = 3 };

/* An iterate within ALMOST times every tolerance is returned as AlmostSolved when the
 * iterations stop without meeting them; a step that makes the merit (worst residual or gap
 * over its tolerance) BREAKDOWN times worse than the best so far has met the limits of the
 * arithmetic: stop and keep the best iterate. */
#define ALMOST 1e3
#define BREAKDOWN 1e6
#define STALL_ITERATIONS 5

typedef struct {
    /* settings */
    int max_iter;
    double step_to_boundary, tol_feas, tol_gap_abs, tol_gap_rel, reg, dual_reg;
    double v0_frac, buy0_frac, buy0_add, kappa0;
    int refine_steps;
} Settings;

typedef struct {
    idx n, nv, r, kf, ng, m1, m2, mp, K, pc;
    int has_te;
    const long long *sec, *grp;
    const double *sg, *ub, *c, *h, *t, *dg, *U, *A, *G, *grp_val;
    double *UT; /* U' (kf x n), for the products U' y as dot products */
    const long long *p_sec;
    const double *p_sign;
    double gamma;
    double *beta, *pen; /* K each */
    unsigned char *has_ub, *elastic;
} Prob;

/* ------------------------------------------------------------------ small dense helpers */

/* In-place lower Cholesky of the n x n row-major SPD matrix a; returns 0 on success. */
static int cholesky(double *a, idx n) {
    for (idx j = 0; j < n; j++) {
        double d = a[j * n + j];
        for (idx k = 0; k < j; k++) d -= a[j * n + k] * a[j * n + k];
        if (!(d > 0.0)) return -1;
        d = sqrt(d);
        a[j * n + j] = d;
        for (idx i = j + 1; i < n; i++) {
            double s = a[i * n + j];
            for (idx k = 0; k < j; k++) s -= a[i * n + k] * a[j * n + k];
            a[i * n + j] = s / d;
        }
    }
    return 0;
}

/* Solve (L L') x = b in place (b <- x). */
static void chol_solve(const double *l, idx n, double *b) {
    for (idx i = 0; i < n; i++) {
        double s = b[i];
        for (idx k = 0; k < i; k++) s -= l[i * n + k] * b[k];
        b[i] = s / l[i * n + i];
    }
    for (idx i = n - 1; i >= 0; i--) {
        double s = b[i];
        for (idx k = i + 1; k < n; k++) s -= l[k * n + i] * b[k];
        b[i] = s / l[i * n + i];
    }
}


/* Dot product with four running sums (a fixed association, so the compiler may use SIMD
 * lanes for them and the result is the same bits on every instruction set). */
static double dot(const double *a, const double *b, idx n) {
    double s0 = 0.0, s1 = 0.0, s2 = 0.0, s3 = 0.0;
    idx j = 0;
    for (; j + 4 <= n; j += 4) {
        s0 += a[j] * b[j];
        s1 += a[j + 1] * b[j + 1];
        s2 += a[j + 2] * b[j + 2];
        s3 += a[j + 3] * b[j + 3];
    }
    for (; j < n; j++) s0 += a[j] * b[j];
    return (s0 + s1) + (s2 + s3);
}

/* ------------------------------------------------------------------ workspace */

typedef struct {
    /* iterate */
    double *v, *zl, *zu, *vu, *s, *lam, *e;
    /* per-iteration */
    double *w, *d, *gv, *ud, *cval, *wvec, *r_d, *r_p, *mlam, *ze, *r_ze;
    double *Dv, *theta, *omega, *bdiag, *inv_d, *sig_minus, *den_k, *bjt;
    double *rest_sigma, *sigma, *den, *phi;
    unsigned char *is_top;
    double *cap, *Wz, *YA, *JYA, *Psi, *S, *xw_c, *acc_w, *a_max, *best;
    idx *coupled;
    /* step scratch */
    double *tmp_v1, *tmp_v2, *tmp_v3, *tmp_n1, *tmp_n2, *tmp_r, *tmp_c1, *tmp_c2, *tmp_c3;
    double *r1, *rho, *dv[2], *dlam[2], *ds[2], *de[2], *dze[2], *dzl[2], *dzu[2], *dvu[2], *dw;
    double *r_u;
    double *r_lo, *r_hi, *r_s, *r_e;
    void *block;
} Work;

static int work_alloc(Work *W, const Prob *P) {
    idx nv = P->nv, n = P->n, r = P->r, K = P->K, pc = P->pc;
    /* Two passes over the same list: count the doubles, then hand them out. */
    size_t count = 0;
    double *base = NULL, *p = NULL;
    for (int pass = 0; pass < 2; pass++) {
        p = base;
#define TAKE(name, cnt)                                        \
    do {                                                       \
        if (pass) { W->name = p; p += (size_t)(cnt) + 1; }     \
        else count += (size_t)(cnt) + 1;                       \
    } while (0)
        TAKE(v, nv); TAKE(zl, nv); TAKE(zu, nv); TAKE(vu, nv); TAKE(s, K); TAKE(lam, K);
        TAKE(e, K); TAKE(r_u, nv);
        TAKE(w, n); TAKE(d, n); TAKE(gv, n); TAKE(ud, r); TAKE(cval, K); TAKE(wvec, n);
        TAKE(r_d, nv); TAKE(r_p, K); TAKE(mlam, K); TAKE(ze, K); TAKE(r_ze, K);
        TAKE(Dv, nv); TAKE(theta, K); TAKE(omega, n); TAKE(bdiag, n); TAKE(inv_d, nv);
        TAKE(sig_minus, nv); TAKE(den_k, nv); TAKE(bjt, nv);
        TAKE(rest_sigma, n); TAKE(sigma, n); TAKE(den, n); TAKE(phi, n);
        TAKE(cap, r * r); TAKE(Wz, pc * n); TAKE(YA, P->m1 * nv); TAKE(JYA, P->m1 * n);
        TAKE(Psi, pc * n); TAKE(S, pc * pc); TAKE(xw_c, n); TAKE(acc_w, n);
        TAKE(a_max, P->m1); TAKE(best, 4 * nv + 4 * K);
        TAKE(tmp_v1, nv); TAKE(tmp_v2, nv); TAKE(tmp_v3, nv); TAKE(tmp_n1, n); TAKE(tmp_n2, n);
        TAKE(tmp_r, r); TAKE(tmp_c1, pc); TAKE(tmp_c2, pc); TAKE(tmp_c3, pc);
        TAKE(r1, nv); TAKE(rho, K);
        for (int k = 0; k < 2; k++) {
            TAKE(dv[k], nv); TAKE(dlam[k], K); TAKE(ds[k], K); TAKE(de[k], K); TAKE(dze[k], K);
            TAKE(dzl[k], nv); TAKE(dzu[k], nv); TAKE(dvu[k], nv);
        }
        TAKE(dw, n); TAKE(r_lo, nv); TAKE(r_hi, nv); TAKE(r_s, K); TAKE(r_e, K);
#undef TAKE
        if (!pass) {
            size_t bytes = count * sizeof(double) + (size_t)(pc + 1) * sizeof(idx) + (size_t)nv + 16;
            base = (double *)calloc(1, bytes);
            if (!base) return -1;
            W->block = base;
        }
    }
    W->coupled = (idx *)p;
    W->is_top = (unsigned char *)(W->coupled + pc + 1);
    return 0;
}


/* ------------------------------------------------------------------ the low-rank term
 * U = [X (n x kf, dense) | one column per multi-member unit: grp_val_i in column grp_i]. */

/* out (r) = U' y (y over securities) */
static void u_tmul(const Prob *P, const double *y, double *out) {
    idx n = P->n, kf = P->kf;
    for (idx a = 0; a < kf; a++) out[a] = dot(P->UT + a * n, y, n);
    for (idx g = 0; g < P->ng; g++) out[kf + g] = 0.0;
    if (P->ng)
        for (idx i = 0; i < n; i++)
            if (P->grp[i] >= 0) out[kf + P->grp[i]] += P->grp_val[i] * y[i];
}

/* out (n) = U z */
static void u_mul(const Prob *P, const double *z, double *out) {
    idx n = P->n, kf = P->kf;
    for (idx i = 0; i < n; i++) {
        double s = kf ? dot(P->U + i * kf, z, kf) : 0.0;
        if (P->grp[i] >= 0) s += P->grp_val[i] * z[kf + P->grp[i]];
        out[i] = s;
    }
}

/* ------------------------------------------------------------------ model evaluations */

/* w = h + J v; d = w - t; gv = Q d = dg*d + U (U' d). */
static void eval_w(const Prob *P, Work *W, const double *v) {
    idx n = P->n;
    for (idx i = 0; i < n; i++) W->w[i] = P->h[i];
    for (idx j = 0; j < P->nv; j++) W->w[P->sec[j]] += P->sg[j] * v[j];
    for (idx i = 0; i < n; i++) W->d[i] = W->w[i] - P->t[i];
    u_tmul(P, W->d, W->ud);
    u_mul(P, W->ud, W->gv);
    for (idx i = 0; i < n; i++) W->gv[i] += P->dg[i] * W->d[i];
}

/* Row values c_k(v) in solver order (A, G, one-security, TE). */
static void eval_rows(const Prob *P, Work *W, const double *v, double *out) {
    idx nv = P->nv, n = P->n;
    for (idx k = 0; k < P->m1; k++) out[k] = dot(P->A + k * nv, v, nv);
    for (idx k = 0; k < P->m2; k++) out[P->m1 + k] = dot(P->G + k * n, W->w, n);
    for (idx k = 0; k < P->mp; k++) out[P->m1 + P->m2 + k] = P->p_sign[k] * W->w[P->p_sec[k]];
    if (P->has_te) out[P->K - 1] = dot(W->d, W->gv, n);
}

/* ------------------------------------------------------------------ Newton system */

typedef struct {
    const Prob *P;
    Work *W;
    double gp, sgp;
    int refine; /* refinement rounds allowed in this iteration */
} Ctx;

/* out = B^-1 y (stable per-security formula). */
static void binv(const Ctx *C, const double *y, double *out) {
    const Prob *P = C->P;
    Work *W = C->W;
    idx nv = P->nv, n = P->n;
    double *a_rest = W->tmp_n1, *a_all = W->tmp_n2;
    for (idx i = 0; i < n; i++) { a_rest[i] = 0.0; a_all[i] = 0.0; }
    for (idx j = 0; j < nv; j++) {
        double tj = P->sg[j] * y[j] * W->inv_d[j];
        if (!W->is_top[j]) a_rest[P->sec[j]] += tj;
    }
    for (idx j = 0; j < nv; j++) {
        double tj = P->sg[j] * y[j] * W->inv_d[j];
        if (W->is_top[j]) a_all[P->sec[j]] = tj;
    }
    for (idx i = 0; i < n; i++) a_all[i] += a_rest[i];
    for (idx j = 0; j < nv; j++) {
        idx i = P->sec[j];
        double tj = P->sg[j] * y[j] * W->inv_d[j];
        double a_minus = W->is_top[j] ? a_rest[i] : a_all[i] - tj;
        double b = W->bdiag[i];
        out[j] = (y[j] * (1.0 + b * W->sig_minus[j]) - P->sg[j] * b * a_minus) / W->den_k[j];
    }
}

/* out = H0^-1 y, H0 = Dv + J' (diag(bdiag) + gp U U') J. */
static void h0inv(const Ctx *C, const double *y, double *out) {
    const Prob *P = C->P;
    Work *W = C->W;
    idx nv = P->nv, n = P->n, r = P->r;
    binv(C, y, out);
    if (r == 0) return;
    double *agg = W->tmp_n1, *z = W->tmp_r, *pz = W->tmp_n2;
    for (idx i = 0; i < n; i++) agg[i] = 0.0;
    for (idx j = 0; j < nv; j++) agg[P->sec[j]] += P->sg[j] * out[j];
    u_tmul(P, agg, z);
    for (idx k = 0; k < r; k++) z[k] *= C->sgp;
    chol_solve(W->cap, r, z);
    u_mul(P, z, pz);
    for (idx j = 0; j < nv; j++) out[j] -= W->bjt[j] * C->sgp * pz[P->sec[j]];
}

/* out = H0 x. */
static void h0mul(const Ctx *C, const double *x, double *out) {
    const Prob *P = C->P;
    Work *W = C->W;
    idx nv = P->nv, n = P->n;
    double *xw = W->tmp_n1, *mw = W->tmp_n2, *ux = W->tmp_r;
    for (idx i = 0; i < n; i++) xw[i] = 0.0;
    for (idx j = 0; j < nv; j++) xw[P->sec[j]] += P->sg[j] * x[j];
    if (P->r) {
        u_tmul(P, xw, ux);
        u_mul(P, ux, mw);
    } else {
        for (idx i = 0; i < n; i++) mw[i] = 0.0;
    }
    for (idx i = 0; i < n; i++) mw[i] = W->bdiag[i] * xw[i] + C->gp * mw[i];
    for (idx j = 0; j < nv; j++) out[j] = W->Dv[j] * x[j] + P->sg[j] * mw[P->sec[j]];
}

/* The coupled rows W = [A' (m1 general rows over v) | J' z_k (mw rows over securities:
 * groups, then TE)], mw = pc - m1. For a row J'z, H0^-1 J'z = bjt * psi[sec] with
 * psi = z - gp U cap^-1 U' (phi * z): security-space work instead of variable-space work. */
static void psi_of(const Ctx *C, const double *z, double *out) {
    const Prob *P = C->P;
    Work *W = C->W;
    idx n = P->n, r = P->r;
    for (idx i = 0; i < n; i++) out[i] = z[i];
    if (r == 0) return;
    double *pz = W->tmp_n1, *u = W->tmp_r, *back = W->tmp_n2;
    for (idx i = 0; i < n; i++) pz[i] = W->phi[i] * z[i];
    u_tmul(P, pz, u);
    chol_solve(W->cap, r, u);
    u_mul(P, u, back);
    for (idx i = 0; i < n; i++) out[i] -= C->gp * back[i];
}

/* W' x: A rows on x, security rows on xw = J x. */
static void w_t_mul(const Ctx *C, const double *x, double *out) {
    const Prob *P = C->P;
    Work *W = C->W;
    idx nv = P->nv, n = P->n, m1 = P->m1, pc = P->pc;
    for (idx k = 0; k < m1; k++) out[k] = dot(P->A + k * nv, x, nv);
    if (pc == m1) return;
    double *xw = W->xw_c;
    for (idx i = 0; i < n; i++) xw[i] = 0.0;
    for (idx j = 0; j < nv; j++) xw[P->sec[j]] += P->sg[j] * x[j];
    for (idx k = m1; k < pc; k++) out[k] = dot(W->Wz + (k - m1) * n, xw, n);
}

/* x -= sum_k y_k (the coupled row k in variable space): the first m1 rows given over the
 * variables (vrows, m1 x nv), the others over securities (wrows, (pc - m1) x n) and spread to
 * each variable times coef_j. Serves aug1 (H0^-1 W y) and the refinement residual (W y). */
static void sub_rows(const Ctx *C, const double *vrows, const double *wrows, const double *coef,
                     const double *y, double *x) {
    const Prob *P = C->P;
    Work *W = C->W;
    idx nv = P->nv, n = P->n, pc = P->pc, m1 = P->m1;
    for (idx k = 0; k < m1; k++) {
        const double *rk = vrows + k * nv;
        double a = y[k];
        for (idx j = 0; j < nv; j++) x[j] -= rk[j] * a;
    }
    if (pc > m1) {
        double *acc = W->acc_w;
        for (idx i = 0; i < n; i++) acc[i] = 0.0;
        for (idx k = m1; k < pc; k++) {
            const double *rk = wrows + (k - m1) * n;
            double a = y[k];
            for (idx i = 0; i < n; i++) acc[i] += rk[i] * a;
        }
        for (idx j = 0; j < nv; j++) x[j] -= coef[j] * acc[P->sec[j]];
    }
}

/* One solve of [H0 W; W' -Th] [x; y] = [r1; r2] (no refinement). */
static void aug1(const Ctx *C, const double *r1, const double *r2, double *x, double *y) {
    const Prob *P = C->P;
    Work *W = C->W;
    idx pc = P->pc;
    h0inv(C, r1, x);
    if (pc == 0) return;
    w_t_mul(C, x, y);
    for (idx k = 0; k < pc; k++) y[k] -= r2[k];
    chol_solve(W->S, pc, y);
    sub_rows(C, W->YA, W->Psi, W->bjt, y, x);
}

/* aug1 plus iterative refinement against the exact products, while the residual is above
 * REFINE_TOL relative to the right-hand side (at most refine_steps rounds). */
#define REFINE_TOL 1e-12
#ifndef REFINE_MU
#define REFINE_MU 1e-4
#endif
static void aug(const Ctx *C, const double *r1, const double *r2, double *x, double *y) {
    const Prob *P = C->P;
    Work *W = C->W;
    idx nv = P->nv, pc = P->pc;
    aug1(C, r1, r2, x, y);
    double *res1 = W->tmp_v2, *cx = W->tmp_v3, *res2 = W->tmp_c2, *cy = W->tmp_c3;
    double rmax = 0.0;
    for (idx j = 0; j < nv; j++) if (fabs(r1[j]) > rmax) rmax = fabs(r1[j]);
    for (idx k = 0; k < pc; k++) if (fabs(r2[k]) > rmax) rmax = fabs(r2[k]);
    for (int it = 0; it < C->refine; it++) {
        h0mul(C, x, res1);
        for (idx j = 0; j < nv; j++) res1[j] = r1[j] - res1[j];
        sub_rows(C, P->A, W->Wz, P->sg, y, res1);
        w_t_mul(C, x, res2);
        for (idx k = 0; k < pc; k++) res2[k] = r2[k] - res2[k] + W->theta[W->coupled[k]] * y[k];
        double emax = 0.0;
        for (idx j = 0; j < nv; j++) if (fabs(res1[j]) > emax) emax = fabs(res1[j]);
        for (idx k = 0; k < pc; k++) if (fabs(res2[k]) > emax) emax = fabs(res2[k]);
        if (!(emax > REFINE_TOL * rmax)) break;
        aug1(C, res1, res2, cx, cy);
        for (idx j = 0; j < nv; j++) x[j] += cx[j];
        for (idx k = 0; k < pc; k++) y[k] += cy[k];
    }
}

/* Newton direction for the complementarity targets r_lo, r_hi, r_s, r_e (slot k). */
static void newton_step(const Ctx *C, int slot) {
    const Prob *P = C->P;
    Work *W = C->W;
    idx nv = P->nv, n = P->n, K = P->K, pc = P->pc, m1 = P->m1, m2 = P->m2, mp = P->mp;
    idx p_lo = m1 + m2;
    for (idx k = 0; k < K; k++) {
        double rho = W->r_p[k] + W->r_s[k] / W->lam[k];
        if (P->elastic[k]) rho -= (W->r_e[k] - W->e[k] * W->r_ze[k]) / W->mlam[k];
        W->rho[k] = rho;
    }
    double *sc = W->tmp_n1;
    for (idx i = 0; i < n; i++) sc[i] = 0.0;
    for (idx k = 0; k < mp; k++)
        sc[P->p_sec[k]] += P->p_sign[k] * W->rho[p_lo + k] / W->theta[p_lo + k];
    for (idx j = 0; j < nv; j++) {
        double r = -W->r_d[j] - P->sg[j] * sc[P->sec[j]] + W->r_lo[j] / W->v[j];
        if (P->has_ub[j]) r -= (W->r_hi[j] - W->zu[j] * W->r_u[j]) / W->vu[j];
        W->r1[j] = r;
    }
    double *r2 = W->tmp_c1;
    for (idx k = 0; k < pc; k++) r2[k] = -W->rho[W->coupled[k]];
    double *dv = W->dv[slot], *dlam = W->dlam[slot];
    /* aug uses tmp_c2/tmp_c3 internally: give it its own y buffer (dlam's first pc slots
     * would alias), so solve into the tail of ds[slot] temporarily. */
    double *ybuf = W->ds[slot];
    aug(C, W->r1, r2, dv, ybuf);
    for (idx i = 0; i < n; i++) W->dw[i] = 0.0;
    for (idx j = 0; j < nv; j++) W->dw[P->sec[j]] += P->sg[j] * dv[j];
    for (idx k = 0; k < pc; k++) dlam[W->coupled[k]] = ybuf[k];
    for (idx k = 0; k < mp; k++) {
        idx row = p_lo + k;
        dlam[row] = (P->p_sign[k] * W->dw[P->p_sec[k]] + W->rho[row]) / W->theta[row];
    }
    double *ds = W->ds[slot], *de = W->de[slot], *dzl = W->dzl[slot], *dzu = W->dzu[slot];
    for (idx k = 0; k < K; k++) {
        ds[k] = (W->r_s[k] - W->s[k] * dlam[k]) / W->lam[k];
        double dz = P->elastic[k] ? W->r_ze[k] - dlam[k] : 0.0;
        W->dze[slot][k] = dz;
        de[k] = P->elastic[k] ? (W->r_e[k] - W->e[k] * dz) / W->mlam[k] : 0.0;
    }
    for (idx j = 0; j < nv; j++) {
        dzl[j] = (W->r_lo[j] - W->zl[j] * dv[j]) / W->v[j];
        double dvuj = P->has_ub[j] ? W->r_u[j] - dv[j] : 0.0;
        W->dvu[slot][j] = dvuj;
        dzu[j] = P->has_ub[j] ? (W->r_hi[j] - W->zu[j] * dvuj) / W->vu[j] : 0.0;
    }
}

static double ratio_min(double a, double x, double dx) {
    if (dx < 0.0) {
        double c = -x / dx;
        if (c < a) return c;
    }
    return a;
}

static double max_step(const Ctx *C, int slot) {
    const Prob *P = C->P;
    Work *W = C->W;
    double a = 1.0;
    const double *dv = W->dv[slot], *dzl = W->dzl[slot], *dzu = W->dzu[slot];
    const double *ds = W->ds[slot], *dlam = W->dlam[slot], *de = W->de[slot];
    for (idx j = 0; j < P->nv; j++) {
        a = ratio_min(a, W->v[j], dv[j]);
        a = ratio_min(a, W->zl[j], dzl[j]);
        if (P->has_ub[j]) {
            a = ratio_min(a, W->vu[j], W->dvu[slot][j]);
            a = ratio_min(a, W->zu[j], dzu[j]);
        }
    }
    for (idx k = 0; k < P->K; k++) {
        a = ratio_min(a, W->s[k], ds[k]);
        a = ratio_min(a, W->lam[k], dlam[k]);
        if (P->elastic[k]) {
            a = ratio_min(a, W->e[k], de[k]);
            a = ratio_min(a, W->ze[k], W->dze[slot][k]);
        }
    }
    return a;
}

/* ------------------------------------------------------------------ the solver */

static int ipm(const Prob *P, const Settings *st, Work *W, int *iterations, double *objective) {
    idx nv = P->nv, n = P->n, r = P->r, K = P->K, pc = P->pc;
    idx m1 = P->m1, m2 = P->m2, mp = P->mp, p_lo = m1 + m2;
    double gamma = P->gamma;
    int status = ST_MAXITER;
    double best_merit = INFINITY;
    int best_it = 0, stalled = 0;

    /* coupled rows: A, G, TE */
    for (idx k = 0; k < p_lo; k++) W->coupled[k] = k;
    if (P->has_te) W->coupled[pc - 1] = K - 1;

    /* ---- starting point */
    for (idx j = 0; j < nv; j++) {
        if (P->has_ub[j]) {
            W->v[j] = st->v0_frac * P->ub[j];
        } else {
            idx i = P->sec[j];
            double gapw = P->t[i] - P->h[i];
            W->v[j] = (gapw > 0.0 ? gapw : 0.0) * st->buy0_frac + st->buy0_add;
        }
    }
    eval_w(P, W, W->v);
    double gmax = 0.0;
    for (idx j = 0; j < nv; j++) {
        double g = P->c[j] + gamma * 2.0 * P->sg[j] * W->gv[P->sec[j]];
        W->tmp_v1[j] = g;
        if (fabs(g) > gmax) gmax = fabs(g);
    }
    double kappa0 = st->kappa0 * (1.0 + gmax);
    double mu0 = 0.0;
    for (idx j = 0; j < nv; j++) {
        double g = W->tmp_v1[j];
        W->zl[j] = (g > 0.0 ? g : 0.0) + kappa0;
        W->zu[j] = P->has_ub[j] ? ((-g > 0.0 ? -g : 0.0) + kappa0) : 0.0;
        mu0 += W->v[j] * W->zl[j];
        /* vu: the upper slack ub - v, kept as an unknown: a lot sold whole has v within
         * rounding of ub, where ub - v would have no digits left. */
        W->vu[j] = P->has_ub[j] ? P->ub[j] - W->v[j] : 1.0;
        if (P->has_ub[j]) mu0 += W->vu[j] * W->zu[j];
    }
    mu0 /= (double)(nv > 0 ? nv : 1);
    eval_rows(P, W, W->v, W->cval);
    for (idx k = 0; k < K; k++) {
        double viol = W->cval[k] - P->beta[k];
        double lam0 = kappa0;
        if (P->elastic[k] && 0.5 * P->pen[k] < lam0) lam0 = 0.5 * P->pen[k];
        W->lam[k] = lam0;
        W->e[k] = P->elastic[k] ? mu0 / (P->pen[k] - lam0) : 0.0;
        /* ze: the dual of e >= 0, kept as its own unknown (pen - lam at a solution): as an
         * elastic row reaches its penalty, pen - lam by subtraction would lose every digit. */
        W->ze[k] = P->elastic[k] ? P->pen[k] - lam0 : 1.0;
        W->s[k] = (-viol > 0.0 ? -viol : 0.0) + mu0 / lam0;
    }

    size_t n_pairs = (size_t)nv + (size_t)K;
    for (idx j = 0; j < nv; j++) n_pairs += P->has_ub[j];
    for (idx k = 0; k < K; k++) n_pairs += P->elastic[k];
    double beta_max = 0.0, c_max = 0.0;
    for (idx k = 0; k < K; k++) if (fabs(P->beta[k]) > beta_max) beta_max = fabs(P->beta[k]);
    for (idx j = 0; j < nv; j++) if (fabs(P->c[j]) > c_max) c_max = fabs(P->c[j]);
    for (idx k = 0; k < m1; k++) {
        double amax = 0.0;
        for (idx j = 0; j < nv; j++) if (fabs(P->A[k * nv + j]) > amax) amax = fabs(P->A[k * nv + j]);
        W->a_max[k] = amax;
    }

    Ctx C = {.P = P, .W = W, .gp = 0.0, .sgp = 0.0, .refine = 0};
    double mu_first = -1.0;
    int it = 0;
    for (it = 1; it <= st->max_iter; it++) {
        eval_w(P, W, W->v);
        eval_rows(P, W, W->v, W->cval);
        /* r_d = c + J'(2 gamma gv + G' lam_G + scatter(p_sign lam_P) + 2 lam_T gv) + A' lam_A - zl + zu */
        for (idx i = 0; i < n; i++) W->wvec[i] = 2.0 * gamma * W->gv[i];
        for (idx k = 0; k < m2; k++) {
            const double *g = P->G + k * n;
            double l = W->lam[m1 + k];
            for (idx i = 0; i < n; i++) W->wvec[i] += g[i] * l;
        }
        for (idx k = 0; k < mp; k++) W->wvec[P->p_sec[k]] += P->p_sign[k] * W->lam[p_lo + k];
        if (P->has_te) {
            double l = W->lam[K - 1];
            for (idx i = 0; i < n; i++) W->wvec[i] += 2.0 * l * W->gv[i];
        }
        for (idx j = 0; j < nv; j++) {
            double rd = P->c[j] + P->sg[j] * W->wvec[P->sec[j]] - W->zl[j];
            if (P->has_ub[j]) rd += W->zu[j];
            W->r_d[j] = rd;
        }
        for (idx k = 0; k < m1; k++) {
            const double *a = P->A + k * nv;
            double l = W->lam[k];
            for (idx j = 0; j < nv; j++) W->r_d[j] += a[j] * l;
        }
        double total_gap = 0.0, pres = 0.0, dres = 0.0, pres_u = 0.0;
        for (idx k = 0; k < K; k++) {
            double rp = W->cval[k] + W->s[k] - P->beta[k];
            if (P->elastic[k]) rp -= W->e[k];
            W->r_p[k] = rp;
            if (fabs(rp) > pres) pres = fabs(rp);
            W->mlam[k] = P->elastic[k] ? W->ze[k] : 1.0;
            W->r_ze[k] = P->elastic[k] ? P->pen[k] - W->lam[k] - W->ze[k] : 0.0;
            total_gap += W->s[k] * W->lam[k];
            if (P->elastic[k]) total_gap += W->e[k] * W->mlam[k];
        }
        for (idx j = 0; j < nv; j++) {
            total_gap += W->v[j] * W->zl[j];
            if (P->has_ub[j]) {
                total_gap += W->vu[j] * W->zu[j];
                W->r_u[j] = P->ub[j] - W->v[j] - W->vu[j];
                if (fabs(W->r_u[j]) > pres_u) pres_u = fabs(W->r_u[j]);
            } else {
                W->r_u[j] = 0.0;
            }
            if (fabs(W->r_d[j]) > dres) dres = fabs(W->r_d[j]);
        }
        double mu = total_gap / (double)(n_pairs > 0 ? n_pairs : 1);
        /* Refinement only once mu has fallen REFINE_MU below its first value: early
         * directions need no more accuracy than the factorization gives. */
        if (mu_first < 0.0) mu_first = mu;
        C.refine = mu < REFINE_MU * mu_first ? st->refine_steps : 0;
        double lin_f = 0.0, risk_f = 0.0;
        for (idx j = 0; j < nv; j++) lin_f += P->c[j] * W->v[j];
        for (idx i = 0; i < n; i++) risk_f += W->d[i] * W->gv[i];
        risk_f *= gamma;
        double pen_term = 0.0;
        for (idx k = 0; k < K; k++)
            if (P->elastic[k]) pen_term += P->pen[k] * W->e[k];
        /* Dual residual relative to the size of the terms that make it up: with a large
         * multiplier (an elastic row at its penalty) their rounding alone exceeds 1e-9. */
        double term_max = c_max;
        for (idx i = 0; i < n; i++) if (fabs(W->wvec[i]) > term_max) term_max = fabs(W->wvec[i]);
        for (idx k = 0; k < m1; k++) {
            double t = fabs(W->lam[k]) * W->a_max[k];
            if (t > term_max) term_max = t;
        }
        for (idx j = 0; j < nv; j++) {
            if (W->zl[j] > term_max) term_max = W->zl[j];
            if (P->has_ub[j] && W->zu[j] > term_max) term_max = W->zu[j];
        }
        pres /= 1.0 + beta_max;
        if (pres_u > pres) pres = pres_u;
        dres /= 1.0 + term_max;
        double gap_tol = st->tol_gap_abs + st->tol_gap_rel * (fabs(lin_f) + fabs(risk_f) + pen_term);
        double merit = INFINITY;
        if (isfinite(pres) && isfinite(dres) && isfinite(total_gap)) {
            merit = pres / st->tol_feas;
            if (dres / st->tol_feas > merit) merit = dres / st->tol_feas;
            if (total_gap / gap_tol > merit) merit = total_gap / gap_tol;
        }
        if (merit < 1.0) {
            status = ST_SOLVED;
            it -= 1;
            break;
        }
        if (!isfinite(merit) || merit > BREAKDOWN * best_merit) {
            status = ST_NUMERICAL; /* the last step broke down: keep the best iterate */
            break;
        }
        if (merit < best_merit) {
            best_merit = merit;
            best_it = it - 1;
            memcpy(W->best, W->v, sizeof(double) * (size_t)nv);
            memcpy(W->best + nv, W->zl, sizeof(double) * (size_t)nv);
            memcpy(W->best + 2 * nv, W->zu, sizeof(double) * (size_t)nv);
            memcpy(W->best + 3 * nv, W->vu, sizeof(double) * (size_t)nv);
            memcpy(W->best + 4 * nv, W->s, sizeof(double) * (size_t)K);
            memcpy(W->best + 4 * nv + K, W->lam, sizeof(double) * (size_t)K);
            memcpy(W->best + 4 * nv + 2 * K, W->e, sizeof(double) * (size_t)K);
            memcpy(W->best + 4 * nv + 3 * K, W->ze, sizeof(double) * (size_t)K);
        }
        /* Only once the complementarity has converged: residuals that no longer shrink with
         * mu are the arithmetic's limit (a degenerate problem), not a slow start. */
        stalled = total_gap < gap_tol ? stalled + 1 : 0;
        if (stalled > STALL_ITERATIONS) {
            status = ST_NUMERICAL;
            break;
        }

        /* ---- Newton matrices */
        for (idx j = 0; j < nv; j++) {
            double dvj = W->zl[j] / W->v[j] + st->reg;
            if (P->has_ub[j]) dvj += W->zu[j] / W->vu[j];
            W->Dv[j] = dvj;
            W->inv_d[j] = 1.0 / dvj;
        }
        for (idx k = 0; k < K; k++) {
            double th = W->s[k] / W->lam[k];
            if (P->elastic[k]) th += W->e[k] / W->mlam[k];
            W->theta[k] = th;
        }
        double gp = 2.0 * gamma + (P->has_te ? 2.0 * W->lam[K - 1] : 0.0);
        C.gp = gp;
        C.sgp = sqrt(gp);
        for (idx i = 0; i < n; i++) W->omega[i] = 0.0;
        for (idx k = 0; k < mp; k++) W->omega[P->p_sec[k]] += 1.0 / W->theta[p_lo + k];
        for (idx i = 0; i < n; i++) W->bdiag[i] = gp * P->dg[i] + W->omega[i];
        /* security-space coupled rows: group rows, then the TE row's gradient 2 Q (w - t) */
        if (m2) memcpy(W->Wz, P->G, sizeof(double) * (size_t)(m2 * n));
        if (P->has_te) {
            double *z = W->Wz + m2 * n;
            for (idx i = 0; i < n; i++) z[i] = 2.0 * W->gv[i];
        }
        /* per-security blocks */
        for (idx i = 0; i < n; i++) { W->rest_sigma[i] = 0.0; W->sigma[i] = 0.0; }
        {
            idx j = 0;
            while (j < nv) {
                idx i = P->sec[j], a = j, best = j;
                while (j < nv && P->sec[j] == i) {
                    if (W->inv_d[j] > W->inv_d[best]) best = j;
                    j++;
                }
                for (idx l = a; l < j; l++) W->is_top[l] = (unsigned char)(l == best);
            }
        }
        for (idx j = 0; j < nv; j++)
            if (!W->is_top[j]) W->rest_sigma[P->sec[j]] += W->inv_d[j];
        for (idx j = 0; j < nv; j++)
            if (W->is_top[j]) W->sigma[P->sec[j]] = W->inv_d[j];
        for (idx i = 0; i < n; i++) W->sigma[i] += W->rest_sigma[i];
        for (idx i = 0; i < n; i++) {
            W->den[i] = 1.0 + W->bdiag[i] * W->sigma[i];
            W->phi[i] = W->sigma[i] / W->den[i];
        }
        for (idx j = 0; j < nv; j++) {
            idx i = P->sec[j];
            double b = W->bdiag[i];
            double sm = W->is_top[j] ? W->rest_sigma[i] : W->sigma[i] - W->inv_d[j];
            W->sig_minus[j] = sm;
            W->den_k[j] = W->Dv[j] * (1.0 + b * sm) + b;
            W->bjt[j] = P->sg[j] * W->inv_d[j] / W->den[i];
        }
        /* cap = I + gp U' diag(phi) U: the dense block from X, the group columns' diagonal
         * and their cross terms with X (each security is in at most one group). */
        if (r) {
            idx kf = P->kf;
            for (idx a = 0; a < r * r; a++) W->cap[a] = 0.0;
            /* dense block: dot products of the columns of U weighted by gp * phi */
            double *fu = W->acc_w;
            for (idx a = 0; a < kf; a++) {
                const double *ua = P->UT + a * n;
                for (idx i = 0; i < n; i++) fu[i] = gp * W->phi[i] * ua[i];
                for (idx b = 0; b <= a; b++) W->cap[a * r + b] = dot(fu, P->UT + b * n, n);
            }
            if (P->ng)
                for (idx i = 0; i < n; i++) {
                    if (P->grp[i] < 0) continue;
                    const double *xi = P->U + i * kf;
                    idx g = kf + P->grp[i];
                    double fg = gp * W->phi[i] * P->grp_val[i];
                    double *row = W->cap + g * r;
                    for (idx a = 0; a < kf; a++) row[a] += fg * xi[a];
                    row[g] += fg * P->grp_val[i];
                }
            for (idx a = 0; a < r; a++) {
                W->cap[a * r + a] += 1.0;
                for (idx b = 0; b < a; b++) W->cap[b * r + a] = W->cap[a * r + b];
            }
            if (cholesky(W->cap, r)) { status = ST_NUMERICAL; break; }
        }
        /* S = diag(theta_c) + W' H0^-1 W + reg: A rows through YA = H0^-1 A' (and its
         * security sums JYA), security rows through psi (J H0^-1 J' z = phi * psi(z)). */
        if (pc) {
            idx mw = pc - m1;
            for (idx k = 0; k < m1; k++) {
                double *ya = W->YA + k * nv, *jya = W->JYA + k * n;
                h0inv(&C, P->A + k * nv, ya);
                for (idx i = 0; i < n; i++) jya[i] = 0.0;
                for (idx j = 0; j < nv; j++) jya[P->sec[j]] += P->sg[j] * ya[j];
            }
            for (idx k = 0; k < mw; k++) psi_of(&C, W->Wz + k * n, W->Psi + k * n);
            double *phipsi = W->acc_w;
            double dmax = 0.0;
            for (idx a = 0; a < pc; a++) {
                for (idx b = 0; b <= a; b++) {
                    double s;
                    if (a < m1) {
                        s = dot(P->A + a * nv, W->YA + b * nv, nv);
                    } else if (b < m1) {
                        s = dot(W->Wz + (a - m1) * n, W->JYA + b * n, n);
                    } else {
                        const double *pb = W->Psi + (b - m1) * n;
                        for (idx i = 0; i < n; i++) phipsi[i] = W->phi[i] * pb[i];
                        s = dot(W->Wz + (a - m1) * n, phipsi, n);
                    }
                    W->S[a * pc + b] = s;
                    W->S[b * pc + a] = s;
                }
                W->S[a * pc + a] += W->theta[W->coupled[a]];
                if (W->S[a * pc + a] > dmax) dmax = W->S[a * pc + a];
            }
            for (idx a = 0; a < pc; a++) W->S[a * pc + a] += st->dual_reg * dmax;
            if (cholesky(W->S, pc)) { status = ST_NUMERICAL; break; }
        }

        /* ---- predictor */
        for (idx j = 0; j < nv; j++) {
            W->r_lo[j] = -W->v[j] * W->zl[j];
            W->r_hi[j] = P->has_ub[j] ? -W->vu[j] * W->zu[j] : 0.0;
        }
        for (idx k = 0; k < K; k++) {
            W->r_s[k] = -W->s[k] * W->lam[k];
            W->r_e[k] = P->elastic[k] ? -W->e[k] * W->mlam[k] : 0.0;
        }
        newton_step(&C, 0);
        double a_aff = max_step(&C, 0);
        const double *dv = W->dv[0], *dzl = W->dzl[0], *dzu = W->dzu[0];
        const double *ds = W->ds[0], *dlam = W->dlam[0], *de = W->de[0];
        double gap_aff = 0.0;
        for (idx j = 0; j < nv; j++) {
            gap_aff += (W->v[j] + a_aff * dv[j]) * (W->zl[j] + a_aff * dzl[j]);
            if (P->has_ub[j])
                gap_aff += (W->vu[j] + a_aff * W->dvu[0][j]) * (W->zu[j] + a_aff * dzu[j]);
        }
        for (idx k = 0; k < K; k++) {
            gap_aff += (W->s[k] + a_aff * ds[k]) * (W->lam[k] + a_aff * dlam[k]);
            if (P->elastic[k])
                gap_aff += (W->e[k] + a_aff * de[k]) * (W->mlam[k] + a_aff * W->dze[0][k]);
        }
        double sig = total_gap > 0.0 ? pow(gap_aff / total_gap, 3.0) : 0.0;
        double smu = sig * mu;
        /* ---- corrector */
        for (idx j = 0; j < nv; j++) {
            W->r_lo[j] = smu - W->v[j] * W->zl[j] - dv[j] * dzl[j];
            W->r_hi[j] = P->has_ub[j]
                             ? smu - W->vu[j] * W->zu[j] - W->dvu[0][j] * dzu[j]
                             : 0.0;
        }
        for (idx k = 0; k < K; k++) {
            W->r_s[k] = smu - W->s[k] * W->lam[k] - ds[k] * dlam[k];
            W->r_e[k] = P->elastic[k] ? smu - W->e[k] * W->mlam[k] - de[k] * W->dze[0][k] : 0.0;
        }
        newton_step(&C, 1);
        double a = st->step_to_boundary * max_step(&C, 1);
        if (a > 1.0) a = 1.0;
        const double *dv1 = W->dv[1], *dzl1 = W->dzl[1], *dzu1 = W->dzu[1];
        const double *ds1 = W->ds[1], *dlam1 = W->dlam[1], *de1 = W->de[1];
        for (idx j = 0; j < nv; j++) {
            W->v[j] += a * dv1[j];
            W->zl[j] += a * dzl1[j];
            W->zu[j] += a * dzu1[j];
            W->vu[j] += a * W->dvu[1][j];
        }
        for (idx k = 0; k < K; k++) {
            W->lam[k] += a * dlam1[k];
            W->s[k] += a * ds1[k];
            W->e[k] += a * de1[k];
            W->ze[k] += a * W->dze[1][k];
        }
    }
    if (it > st->max_iter) it = st->max_iter;
    if (status != ST_SOLVED && best_merit <= ALMOST) {
        memcpy(W->v, W->best, sizeof(double) * (size_t)nv);
        memcpy(W->zl, W->best + nv, sizeof(double) * (size_t)nv);
        memcpy(W->zu, W->best + 2 * nv, sizeof(double) * (size_t)nv);
        memcpy(W->vu, W->best + 3 * nv, sizeof(double) * (size_t)nv);
        memcpy(W->s, W->best + 4 * nv, sizeof(double) * (size_t)K);
        memcpy(W->lam, W->best + 4 * nv + K, sizeof(double) * (size_t)K);
        memcpy(W->e, W->best + 4 * nv + 2 * K, sizeof(double) * (size_t)K);
        memcpy(W->ze, W->best + 4 * nv + 3 * K, sizeof(double) * (size_t)K);
        it = best_it;
        status = ST_ALMOST;
    }
    eval_w(P, W, W->v);
    double lin_f = 0.0, risk_f = 0.0;
    for (idx j = 0; j < nv; j++) lin_f += P->c[j] * W->v[j];
    for (idx i = 0; i < n; i++) risk_f += W->d[i] * W->gv[i];
    *objective = lin_f + gamma * risk_f;
    *iterations = it;
    return status;
}

/* ------------------------------------------------------------------ Python binding */

typedef struct {
    Py_buffer buf;
    int held;
} Buf;

static int get_buf(PyObject *obj, Buf *b, const char *name, int writable, Py_ssize_t count,
                   char kind) {
    int flags = PyBUF_C_CONTIGUOUS | PyBUF_FORMAT | (writable ? PyBUF_WRITABLE : 0);
    if (PyObject_GetBuffer(obj, &b->buf, flags) < 0) return -1;
    b->held = 1;
    Py_ssize_t item = kind == 'd' ? (Py_ssize_t)sizeof(double) : (Py_ssize_t)sizeof(long long);
    const char *fmt = b->buf.format ? b->buf.format : "B";
    int fmt_ok = kind == 'd' ? (strcmp(fmt, "d") == 0 || strcmp(fmt, "<d") == 0 || strcmp(fmt, "=d") == 0)
                             : (strcmp(fmt, "q") == 0 || strcmp(fmt, "l") == 0 || strcmp(fmt, "<q") == 0 ||
                                strcmp(fmt, "<l") == 0 || strcmp(fmt, "=q") == 0 || strcmp(fmt, "=l") == 0);
    if (!fmt_ok || b->buf.itemsize != item || (count >= 0 && b->buf.len != count * item)) {
        PyErr_Format(PyExc_ValueError, "_ipm.solve: argument %s has the wrong type or size", name);
        return -1;
    }
    return 0;
}

static PyObject *py_solve(PyObject *self, PyObject *args) {
    (void)self;
    PyObject *o[24];
    Py_ssize_t n, nv, kf, ng, m1, m2, mp;
    double gamma, te2, te_pen;
    int max_iter, refine_steps;
    double step_to_boundary, tol_feas, tol_gap_abs, tol_gap_rel, reg, dual_reg;
    double v0_frac, buy0_frac, buy0_add, kappa0;
    if (!PyArg_ParseTuple(args, "nnnnnnnOOOOOOOOOOOOOOOOOOOOdddOOOOiddddddddddi", &n, &nv, &kf,
                          &ng, &m1, &m2, &mp, &o[0], &o[1], &o[2], &o[3], &o[4], &o[5], &o[6],
                          &o[7], &o[8], &o[9], &o[10], &o[11], &o[12], &o[13], &o[14], &o[15],
                          &o[16], &o[17], &o[22], &o[23], &gamma, &te2, &te_pen, &o[18], &o[19],
                          &o[20], &o[21],
                          &max_iter, &step_to_boundary, &tol_feas, &tol_gap_abs, &tol_gap_rel,
                          &reg, &dual_reg, &v0_frac, &buy0_frac, &buy0_add, &kappa0,
                          &refine_steps))
        return NULL;
    static const char *names[24] = {"var_sec", "var_sign", "ub", "c", "h", "t", "dg", "U",
                                    "A", "a_beta", "a_pen", "G", "g_beta", "g_pen", "p_sec",
                                    "p_sign", "p_beta", "p_pen", "v_out", "value_out",
                                    "excess_out", "dual_out", "grp", "grp_val"};
    int has_te = te2 >= 0.0;
    Py_ssize_t K = m1 + m2 + mp + (has_te ? 1 : 0);
    Py_ssize_t counts[24] = {nv, nv, nv, nv, n, n, n, n * kf, m1 * nv, m1, m1, m2 * n, m2, m2,
                             mp, mp, mp, mp, nv, K, K, K, n, n};
    char kinds[24] = {'q', 'd', 'd', 'd', 'd', 'd', 'd', 'd', 'd', 'd', 'd', 'd', 'd', 'd',
                      'q', 'd', 'd', 'd', 'd', 'd', 'd', 'd', 'q', 'd'};
    Buf b[24];
    memset(b, 0, sizeof(b));
    PyObject *result = NULL;
    Work W;
    memset(&W, 0, sizeof(W));
    Prob P;
    memset(&P, 0, sizeof(P));
    for (int k = 0; k < 24; k++) {
        if (get_buf(o[k], &b[k], names[k], k >= 18 && k < 22, counts[k], kinds[k]) < 0) goto done;
    }
    P.n = n; P.nv = nv; P.kf = kf; P.ng = ng; P.r = kf + ng; P.m1 = m1; P.m2 = m2; P.mp = mp; P.K = K;
    P.has_te = has_te;
    P.pc = m1 + m2 + (has_te ? 1 : 0);
    P.sec = (const long long *)b[0].buf.buf;
    P.sg = (const double *)b[1].buf.buf;
    P.ub = (const double *)b[2].buf.buf;
    P.c = (const double *)b[3].buf.buf;
    P.h = (const double *)b[4].buf.buf;
    P.t = (const double *)b[5].buf.buf;
    P.dg = (const double *)b[6].buf.buf;
    P.U = (const double *)b[7].buf.buf;
    P.grp = (const long long *)b[22].buf.buf;
    P.UT = (double *)malloc(sizeof(double) * (size_t)(kf * n + 1));
    if (!P.UT) { PyErr_NoMemory(); goto done; }
    for (Py_ssize_t i = 0; i < n; i++)
        for (Py_ssize_t a = 0; a < kf; a++) P.UT[a * n + i] = P.U[i * kf + a];
    P.grp_val = (const double *)b[23].buf.buf;
    P.A = (const double *)b[8].buf.buf;
    P.G = (const double *)b[11].buf.buf;
    P.p_sec = (const long long *)b[14].buf.buf;
    P.p_sign = (const double *)b[15].buf.buf;
    P.gamma = gamma;
    for (Py_ssize_t j = 0; j < nv; j++) {
        if (P.sec[j] < 0 || P.sec[j] >= n || (j > 0 && P.sec[j] < P.sec[j - 1])) {
            PyErr_SetString(PyExc_ValueError, "_ipm.solve: var_sec must be sorted and in range");
            goto done;
        }
    }
    for (Py_ssize_t i = 0; i < n; i++) {
        if (P.grp[i] < -1 || P.grp[i] >= ng) {
            PyErr_SetString(PyExc_ValueError, "_ipm.solve: grp out of range");
            goto done;
        }
    }
    for (Py_ssize_t k = 0; k < mp; k++) {
        if (P.p_sec[k] < 0 || P.p_sec[k] >= n) {
            PyErr_SetString(PyExc_ValueError, "_ipm.solve: p_sec out of range");
            goto done;
        }
    }
    P.beta = (double *)malloc(sizeof(double) * (size_t)(K + 1));
    P.pen = (double *)malloc(sizeof(double) * (size_t)(K + 1));
    P.has_ub = (unsigned char *)malloc((size_t)nv + 1);
    P.elastic = (unsigned char *)malloc((size_t)K + 1);
    if (!P.beta || !P.pen || !P.has_ub || !P.elastic) { PyErr_NoMemory(); goto done; }
    {
        const double *ab = b[9].buf.buf, *ap = b[10].buf.buf, *gb = b[12].buf.buf,
                     *gpn = b[13].buf.buf, *pb = b[16].buf.buf, *pp = b[17].buf.buf;
        idx k = 0;
        for (idx i = 0; i < m1; i++, k++) { P.beta[k] = ab[i]; P.pen[k] = ap[i]; }
        for (idx i = 0; i < m2; i++, k++) { P.beta[k] = gb[i]; P.pen[k] = gpn[i]; }
        for (idx i = 0; i < mp; i++, k++) { P.beta[k] = pb[i]; P.pen[k] = pp[i]; }
        if (has_te) { P.beta[k] = te2; P.pen[k] = te_pen; }
        for (k = 0; k < K; k++) P.elastic[k] = (unsigned char)isfinite(P.pen[k]);
        for (idx j = 0; j < nv; j++) P.has_ub[j] = (unsigned char)isfinite(P.ub[j]);
    }
    if (work_alloc(&W, &P) < 0) { PyErr_NoMemory(); goto done; }
    Settings st = {max_iter, step_to_boundary, tol_feas, tol_gap_abs, tol_gap_rel, reg, dual_reg,
                   v0_frac, buy0_frac, buy0_add, kappa0, refine_steps};
    int iterations = 0;
    double objective = 0.0;
    int status;
    Py_BEGIN_ALLOW_THREADS
    status = ipm(&P, &st, &W, &iterations, &objective);
    Py_END_ALLOW_THREADS
    {
        double *v_out = b[18].buf.buf, *val = b[19].buf.buf, *exc = b[20].buf.buf,
               *dual = b[21].buf.buf;
        memcpy(v_out, W.v, sizeof(double) * (size_t)nv);
        eval_w(&P, &W, W.v);
        eval_rows(&P, &W, W.v, val);
        for (idx k = 0; k < K; k++) {
            exc[k] = P.elastic[k] ? W.e[k] : 0.0;
            dual[k] = W.lam[k];
        }
    }
    result = Py_BuildValue("iid", status, iterations, objective);
done:
    for (int k = 0; k < 24; k++)
        if (b[k].held) PyBuffer_Release(&b[k].buf);
    free(W.block);
    free(P.beta);
    free(P.pen);
    free(P.has_ub);
    free(P.elastic);
    free(P.UT);
    return result;
}

static PyMethodDef methods[] = {
    {"solve", py_solve, METH_VARARGS,
     "Interior-point solve of a structured QP (see optimizer/ipm/__init__.py, which calls it)."},
    {NULL, NULL, 0, NULL},
};

static struct PyModuleDef module = {PyModuleDef_HEAD_INIT, "_ipm",
                                    "The engine's interior-point method (C).", -1, methods,
                                    NULL, NULL, NULL, NULL};

PyMODINIT_FUNC PyInit__ipm(void) { return PyModule_Create(&module); }

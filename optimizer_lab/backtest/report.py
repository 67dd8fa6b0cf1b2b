"""Aggregate a backtest run and write the Markdown report, the PNG charts and the JSON summary.

Everything but the lines under "Run" (date, wall time, solve times) is a deterministic function of
the inputs: the same data and code give the same tables and charts bit for bit.
"""

from __future__ import annotations

import datetime as dt
import json
import platform
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from optimizer_lab.backtest.metrics import CASES, PRIMARY, ArmVintageMetrics, vintage_metrics
from optimizer_lab.backtest.runner import RunResult, arms_of

PUBLISHED_SP500_TR = {2015: 1.38, 2016: 11.96, 2017: 21.83, 2018: -4.38, 2019: 31.49}
"""S&P 500 total return by calendar year, % (S&P Dow Jones Indices)."""

ARM_LABELS = {
    "buy_hold": "buy and hold (twin)",
    "loser_rebuy": "loser rebuy (ignores wash sales)",
    "naive_monthly": "naive 5 % rule, monthly",
    "naive_daily": "naive 5 % rule, daily",
    "opt_daily_te050": "engine, daily, TE cap 0.5 %",
    "opt_daily_te100": "engine, daily, TE cap 1 %",
    "opt_daily_te200": "engine, daily, TE cap 2 %",
    "opt_monthly_te100": "engine, monthly, TE cap 1 %",
    "opt_daily_te100_cf": "engine, daily, TE cap 1 %, told: no outside gains",
}


@dataclass(frozen=True)
class Stat:
    mean: float
    lo: float
    hi: float

    def fmt(self, digits: int = 2) -> str:
        return f"{self.mean:.{digits}f} [{self.lo:.{digits}f}, {self.hi:.{digits}f}]"


def _stat(values: Sequence[float]) -> Stat:
    a = np.asarray(values, dtype=np.float64)
    return Stat(float(a.mean()), float(a.min()), float(a.max()))


@dataclass(frozen=True, eq=False)
class Summary:
    """Per arm: per-vintage metrics and their aggregates."""

    arms: tuple[str, ...]
    vintages: tuple[str, ...]
    per: dict[str, list[ArmVintageMetrics]]
    solve_ms: dict[str, list[float]]
    solves: dict[str, int]
    notes: dict[str, dict[str, float]]


def summarize(result: RunResult) -> Summary:
    arms = tuple(arms_of(result))
    labels = tuple(v.label for v in result.vintages)
    per: dict[str, list[ArmVintageMetrics]] = {a: [] for a in arms}
    solve_ms: dict[str, list[float]] = {a: [] for a in arms}
    solves: dict[str, int] = {a: 0 for a in arms}
    notes: dict[str, dict[str, float]] = {a: {} for a in arms}
    for v in result.vintages:
        twin = result.runs[(v.label, "buy_hold")]
        for a in arms:
            run = result.runs[(v.label, a)]
            per[a].append(vintage_metrics(run, twin, result.bench[v.label], v.capital))
            solve_ms[a].extend(run.solve_ms)
            solves[a] += run.solves
            for k, x in sorted(run.notes.items()):
                notes[a][k] = notes[a].get(k, 0.0) + x
    return Summary(arms, labels, per, solve_ms, solves, notes)


def _pct(ms: list[float], q: float) -> float:
    return float(np.percentile(np.asarray(ms), q)) if ms else 0.0


def arm_json(s: Summary, arm: str, case: str) -> dict[str, Any]:
    m = s.per[arm]
    return {
        "post_liq_alpha_pct_yr": _stat([x.post_liq_alpha[case] for x in m]).mean,
        "pre_liq_alpha_pct_yr": _stat([x.pre_liq_alpha[case] for x in m]).mean,
        "te_pct_yr": _stat([x.te_daily for x in m]).mean,
        "active_return_pct_yr": _stat([x.active_return for x in m]).mean,
        "harvested_losses_pct": _stat([x.harvested_pct for x in m]).mean,
        "turnover_pct_yr": _stat([x.turnover_pct for x in m]).mean,
        "trades": _stat([float(x.trades) for x in m]).mean,
        "checker_violations": int(sum(x.violations for x in m)),
        "wash_sales": int(sum(x.wash_sales for x in m)),
        "wash_sales_deferred": int(sum(x.wash_sales_deferred for x in m)),
        "solve_ms_p50": _pct(s.solve_ms[arm], 50),
        "solve_ms_max": max(s.solve_ms[arm]) if s.solve_ms[arm] else 0.0,
    }


def summary_json(s: Summary, wall_s: float) -> dict[str, Any]:
    """The ``--json`` object (primary case under ``arms``, every case under ``cases``)."""
    return {
        "vintages": len(s.vintages),
        "wall_s": round(wall_s, 1),
        "arms": {a: arm_json(s, a, PRIMARY.key) for a in s.arms},
        "cases": {c.key: {a: arm_json(s, a, c.key) for a in s.arms} for c in CASES},
    }


def _benchmark_years(result: RunResult) -> dict[int, float]:
    """Calendar-year total return (%) of the benchmark of the earliest vintage."""
    v = result.vintages[0]
    from optimizer_lab.backtest.prices import load_market_data

    md = load_market_data()
    r = result.bench[v.label]
    years = md.dates[v.start + 1 : v.end + 1].astype("datetime64[Y]").astype(np.int64) + 1970
    out = {}
    for y in sorted(set(years.tolist())):
        out[int(y)] = 100.0 * (float(np.prod(1.0 + r[years == y])) - 1.0)
    return out


def _plot_monthly_mean(ax: Any, series: list[list[float]], label: str) -> None:
    """One line: month k's mean over the vintages that lasted at least k + 1 months."""
    n = max(len(x) for x in series)
    mean = [float(np.mean([x[k] for x in series if len(x) > k])) for k in range(n)]
    ax.plot(np.arange(1, n + 1), mean, label=label)


def _save_chart(plt: Any, fig: Any, ax: Any, out: Path, name: str) -> str:
    """Legend, layout, a PNG without the software tag (same bytes every run), close."""
    ax.legend(fontsize=8)
    fig.tight_layout()
    fig.savefig(out / name, dpi=100, metadata={"Software": None})
    plt.close(fig)
    return name


def _charts(s: Summary, out: Path) -> list[str]:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    names = []
    fig, ax = plt.subplots(figsize=(9, 5))
    for a in s.arms:
        if a == "buy_hold":
            continue
        _plot_monthly_mean(ax, [x.cum_alpha_by_month[PRIMARY.key] for x in s.per[a]], a)
    ax.axhline(0.0, color="black", linewidth=0.6)
    ax.set_xlabel("months since funding")
    ax.set_ylabel("post-liquidation value minus twin, % of initial capital")
    ax.set_title("Cumulative tax alpha (actual rates, outside gains; mean over vintages)")
    names.append(_save_chart(plt, fig, ax, out, "cumulative_tax_alpha.png"))

    fig, ax = plt.subplots(figsize=(9, 4.5))
    xs = np.arange(len(s.arms))
    for key, off, label in (
        ("te_daily", -0.2, "daily x sqrt(252)"),
        ("te_monthly", 0.2, "monthly x sqrt(12)"),
    ):
        vals = [_stat([getattr(x, key) for x in s.per[a]]) for a in s.arms]
        ax.bar(xs + off, [v.mean for v in vals], width=0.4, label=label)
        ax.errorbar(
            xs + off,
            [v.mean for v in vals],
            yerr=[[v.mean - v.lo for v in vals], [v.hi - v.mean for v in vals]],
            fmt="none",
            ecolor="black",
            linewidth=0.8,
        )
    ax.set_xticks(xs, s.arms, rotation=30, ha="right", fontsize=8)
    ax.set_ylabel("realized tracking error, %/yr")
    ax.set_title("Realized tracking error vs the benchmark (mean, min-max over vintages)")
    names.append(_save_chart(plt, fig, ax, out, "tracking_error.png"))

    fig, ax = plt.subplots(figsize=(9, 5))
    for a in s.arms:
        _plot_monthly_mean(ax, [x.harvested_by_month for x in s.per[a]], a)
    ax.axhline(0.0, color="black", linewidth=0.6)
    ax.set_xlabel("months since funding")
    ax.set_ylabel("cumulative net losses booked, % of initial capital")
    ax.set_title("Losses harvested (net of gains realized; mean over vintages)")
    names.append(_save_chart(plt, fig, ax, out, "losses_harvested.png"))
    return names


def _versions() -> str:
    import clarabel
    import matplotlib
    import piqp
    import scipy

    return (
        f"clarabel {clarabel.__version__}, piqp {piqp.__version__}, numpy {np.__version__}, "
        f"scipy {scipy.__version__}, matplotlib {matplotlib.__version__}, "
        f"Python {platform.python_version()}"
    )


def _targets(s: Summary) -> list[str]:
    c = PRIMARY.key
    have = set(s.arms)
    lines = ["| target | measured | met |", "|---|---|---|"]
    if {"opt_daily_te100", "naive_monthly", "loser_rebuy"} <= have:
        opt = _stat([x.post_liq_alpha[c] for x in s.per["opt_daily_te100"]]).mean
        nai = _stat([x.post_liq_alpha[c] for x in s.per["naive_monthly"]]).mean
        lr = _stat([x.post_liq_alpha[c] for x in s.per["loser_rebuy"]]).mean
        te = _stat([x.te_daily for x in s.per["opt_daily_te100"]]).mean
        hopt = _stat([x.harvested_pct for x in s.per["opt_daily_te100"]]).mean
        hlr = _stat([x.harvested_pct for x in s.per["loser_rebuy"]]).mean
        rows = [
            ("opt_daily_te100 realized TE <= 1.0 %/yr", f"{te:.2f} %/yr", te <= 1.0),
            (
                "opt_daily_te100 post-liq alpha >= naive_monthly + 0.30",
                f"{opt:.2f} vs {nai + 0.30:.2f}",
                opt >= nai + 0.30,
            ),
            (
                "opt_daily_te100 post-liq alpha >= 0.9 x loser_rebuy",
                f"{opt:.2f} vs {0.9 * lr:.2f}",
                opt >= 0.9 * lr,
            ),
            (
                "opt_daily_te100 losses harvested >= loser_rebuy",
                f"{hopt:.1f} % vs {hlr:.1f} %",
                hopt >= hlr,
            ),
        ]
        tax_opt = _stat(
            [x.post_liq_alpha[c] - x.active_return for x in s.per["opt_daily_te100"]]
        ).mean
        tax_nai = _stat(
            [x.post_liq_alpha[c] - x.active_return for x in s.per["naive_monthly"]]
        ).mean
        rows.append(
            (
                "(same, tax part only: alpha - pre-tax active return) >= naive_monthly + 0.30",
                f"{tax_opt:.2f} vs {tax_nai + 0.30:.2f}",
                tax_opt >= tax_nai + 0.30,
            )
        )
        for name, val, ok in rows:
            lines.append(f"| {name} | {val} | {'yes' if ok else 'no'} |")
    cf = "opt_daily_te100_cf"
    if {cf, "naive_monthly", "naive_daily"} <= have:
        # Without outside gains (issue 17): the arm told so, tax part of its carry-forward alpha.
        def tax_part(arm: str) -> float:
            return _stat(
                [x.post_liq_alpha["actual_carry"] - x.active_return for x in s.per[arm]]
            ).mean

        mine = tax_part(cf)
        best = max(tax_part("naive_monthly"), tax_part("naive_daily"))
        lines.append(
            f"| {cf}, no outside gains (carry-forward case), tax part >= both naive rules | "
            f"{mine:.2f} vs {best:.2f} | {'yes' if mine >= best else 'no'} |"
        )
    viol = {a: sum(x.violations for x in s.per[a]) for a in s.arms if a != "loser_rebuy"}
    bad = [a for a, v in viol.items() if v]
    lines.append(
        f"| 0 checker violations for every arm but loser_rebuy | "
        f"{'none' if not bad else ', '.join(f'{a}: {viol[a]}' for a in bad)} | "
        f"{'yes' if not bad else 'no'} |"
    )
    return lines


def write_report(result: RunResult, out: Path, command: str) -> dict[str, Any]:
    """Write ``report.md`` and the PNGs into ``out``; return the JSON summary."""
    out.mkdir(parents=True, exist_ok=True)
    s = summarize(result)
    charts = _charts(s, out)
    c0 = PRIMARY.key
    L: list[str] = []
    L.append("# Open tax-alpha backtest: S&P 500 members of mid-2015, 2015-2019")
    L.append("")
    L.append(
        f"Generated by `{command}`. Method: [docs/backtest.md](../backtest.md). "
        f"{len(s.vintages)} vintages ({s.vintages[0]} .. {s.vintages[-1]}), each $1,000,000 "
        "funded on the first trading day of its month and run to 2019-12-31; "
        "2 bps a side; cells are mean [min, max] across vintages."
    )
    L.append("")
    L.append("## Targets (actual rates, outside gains)")
    L.append("")
    L.extend(_targets(s))
    L.append("")
    L.append(f"## Main table: {PRIMARY.label}")
    L.append("")
    L.append(
        "| arm | post-liq alpha %/yr | of which tax (alpha - active) | pre-liq alpha %/yr | "
        "character | deferral | "
        "net losses harvested % | TE daily %/yr | TE monthly %/yr | active return %/yr | "
        "turnover %/yr | trades | disallowed $ | checker violations | wash sales (deferred) |"
    )
    L.append("|---|---|---|---|---|---|---|---|---|---|---|---|---|---|---|")
    for a in s.arms:
        m = s.per[a]
        L.append(
            f"| {a} | {_stat([x.post_liq_alpha[c0] for x in m]).fmt()} "
            f"| {_stat([x.post_liq_alpha[c0] - x.active_return for x in m]).fmt()} "
            f"| {_stat([x.pre_liq_alpha[c0] for x in m]).fmt()} "
            f"| {_stat([x.character[c0] for x in m]).mean:.2f} "
            f"| {_stat([x.deferral[c0] for x in m]).mean:.2f} "
            f"| {_stat([x.harvested_pct for x in m]).fmt(1)} "
            f"| {_stat([x.te_daily for x in m]).fmt()} "
            f"| {_stat([x.te_monthly for x in m]).fmt()} "
            f"| {_stat([x.active_return for x in m]).fmt()} "
            f"| {_stat([x.turnover_pct for x in m]).fmt(0)} "
            f"| {_stat([float(x.trades) for x in m]).mean:.0f} "
            f"| {_stat([x.disallowed for x in m]).mean:.0f} "
            f"| {sum(x.violations for x in m)} "
            f"| {sum(x.wash_sales for x in m)} ({sum(x.wash_sales_deferred for x in m)}) |"
        )
    L.append("")
    L.append(
        "Of which tax: post-liquidation alpha minus the pre-tax active return of the same "
        "vintage (the part the tax management made, luck of the active bets removed). "
        "Character = alpha minus the alpha with short-term rates set to the long-term rate; "
        "deferral = that flat-rate alpha (post-liquidation). Net losses harvested: cumulative "
        "net realized loss booked before the final sale (negative = net gains realized), % of "
        "the initial capital. Trades exclude the day-0 purchase; turnover = sales / mean value."
    )
    L.append("")
    L.append("## Every case (post-liquidation and pre-liquidation alpha, %/yr)")
    L.append("")
    head = "| arm | " + " | ".join(f"{c.key} post | {c.key} pre" for c in CASES) + " |"
    L.append(head)
    L.append("|---|" + "---|---|" * len(CASES))
    for a in s.arms:
        m = s.per[a]
        cells = []
        for c in CASES:
            cells.append(_stat([x.post_liq_alpha[c.key] for x in m]).fmt())
            cells.append(_stat([x.pre_liq_alpha[c.key] for x in m]).fmt())
        L.append(f"| {a} | " + " | ".join(cells) + " |")
    L.append("")
    L.append("Character / deferral split of the post-liquidation alpha (mean):")
    L.append("")
    L.append("| arm | " + " | ".join(f"{c.key} char. | {c.key} def." for c in CASES) + " |")
    L.append("|---|" + "---|---|" * len(CASES))
    for a in s.arms:
        m = s.per[a]
        cells = []
        for c in CASES:
            cells.append(f"{_stat([x.character[c.key] for x in m]).mean:.2f}")
            cells.append(f"{_stat([x.deferral[c.key] for x in m]).mean:.2f}")
        L.append(f"| {a} | " + " | ".join(cells) + " |")
    L.append("")
    for c in (CASES[0], CASES[2]):
        L.append(f"## Tax alpha by year since funding ({c.label}), %/yr if liquidated then")
        L.append("")
        n_years = max(len(x.alpha_by_year[c.key]) for a in s.arms for x in s.per[a])
        L.append("| arm | " + " | ".join(f"year {k + 1}" for k in range(n_years)) + " |")
        L.append("|---|" + "---|" * n_years)
        for a in s.arms:
            cells = []
            for k in range(n_years):
                vals = [
                    x.alpha_by_year[c.key][k] for x in s.per[a] if len(x.alpha_by_year[c.key]) > k
                ]
                cells.append(_stat(vals).fmt() if vals else "")
            L.append(f"| {a} | " + " | ".join(cells) + " |")
        L.append("")
    L.append("## The benchmark against the published S&P 500")
    L.append("")
    by_year = _benchmark_years(result)
    L.append("| year | this index (total return) % | S&P 500 total return % (published) |")
    L.append("|---|---|---|")
    for y, r in by_year.items():
        pub = PUBLISHED_SP500_TR.get(y)
        L.append(f"| {y} | {r:.2f} | {'' if pub is None else f'{pub:.2f}'} |")
    tot = float(np.prod([1 + r / 100 for r in by_year.values()]))
    pub_tot = float(
        np.prod([1 + PUBLISHED_SP500_TR[y] / 100 for y in by_year if y in PUBLISHED_SP500_TR])
    )
    v0 = result.vintages[0]
    yrs = (v0.end - v0.start) / 252.0
    L.append(
        f"| all ({v0.label} vintage) | {100 * (tot ** (1 / yrs) - 1):.2f} %/yr | "
        f"{100 * (pub_tot ** (1 / 5) - 1):.2f} %/yr (2015-2019) |"
    )
    L.append("")
    L.append(
        "The index here starts on 2015-01-12 (first day of the price files) and lacks the 107 "
        "mid-2015 members that left the index before the price list was taken: it beats the "
        "published index, shows fewer losses, and every absolute tax-alpha figure is understated."
    )
    L.append("")
    L.append("## Charts")
    L.append("")
    for name in charts:
        L.append(f"![{name}]({name})")
        L.append("")
    L.append("## Engine arms: screen, solves and statuses (summed over vintages)")
    L.append("")
    L.append("| arm | solves | triggers and statuses |")
    L.append("|---|---|---|")
    for a in s.arms:
        if not a.startswith("opt_"):
            continue
        notes = ", ".join(f"{k}: {int(v)}" for k, v in sorted(s.notes[a].items()))
        L.append(f"| {a} | {s.solves[a]} | {notes} |")
    L.append("")
    L.append("## Independent wash-sale checker (summed over vintages)")
    L.append("")
    keys = [
        "loss_sales",
        "violations",
        "violation_loss",
        "basis_mismatches",
        "holding_mismatches",
        "unknown_lots",
        "over_disallowed",
    ]
    L.append("| arm | " + " | ".join(keys) + " |")
    L.append("|---|" + "---|" * len(keys))
    for a in s.arms:
        tot_c = {k: sum(x.checker[k] for x in s.per[a]) for k in keys}
        L.append(f"| {a} | " + " | ".join(f"{tot_c[k]:.0f}" for k in keys) + " |")
    L.append("")
    L.append(
        "loser_rebuy books every loss by design (its ledger ignores the rule), so its repurchases "
        "are violations and the checker's lot view (which splits replacement lots) differs from "
        "its books: its mismatch counts follow from that."
    )
    L.append("")
    L.append("## Run (these lines vary between runs)")
    L.append("")
    L.append(f"- date: {dt.datetime.now(dt.UTC).strftime('%Y-%m-%d %H:%M UTC')}")
    L.append(f"- wall time: {result.wall_s:.0f} s on {result.config.processes} processes")
    L.append(f"- versions: {_versions()}")
    L.append("- solve time per rebalance (ms), p50 / p99 / max:")
    for a in s.arms:
        if s.solve_ms[a]:
            ms = s.solve_ms[a]
            p50, p99 = _pct(ms, 50), _pct(ms, 99)
            L.append(f"  - {a}: {p50:.0f} / {p99:.0f} / {max(ms):.0f} ({len(ms)} solves)")
    L.append("")
    (out / "report.md").write_text("\n".join(L), encoding="utf-8")
    js = summary_json(s, result.wall_s)
    (out / "summary.json").write_text(
        json.dumps(js, indent=1, sort_keys=True) + "\n", encoding="utf-8"
    )
    return js

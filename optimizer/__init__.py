"""Tax-aware, lot-level portfolio optimizer: a pure numerical library (no Django).

``solve(problem)`` proposes trades for one account; ``solve_continuous(problem)`` returns the
continuous optimum of the problem as stated (for cross-checks). The formulation is in
``docs/optimizer.md``; the JSON format in ``docs/optimizer-json.md``.

Module map (data flows down the list):

- ``types``: the frozen dataclasses in and out (``Problem``, ``Solution``, ...), units.
- ``tax``, ``washsale``: per-lot tax and holding period; wash-sale windows and classes.
- ``rules``: validation and rule preparation, ``Problem`` -> ``Prepared`` (weight units).
- ``structured`` + ``ipm/`` (C extension ``_ipm.c``, numpy statement ``ipm/numpy_ipm.py``):
  the engine's own interior-point method on the elastic problem (the default backend).
- ``build`` + ``backends``: the ladder's conic QP and its Clarabel / PIQP plumbing (fallback
  and the ``piqp`` / ``clarabel`` backends).
- ``repair``: direction conflicts (fix, re-solve both ways, or net); ``rounding``: shares,
  minimum trade, restoring the hard constraints.
- ``objective``: the objective and the soft-constraint excess at any point (every reported
  figure is measured, not taken from a solver).
- ``reasons``: one reason per trade, each true of its numbers; blocked rules.
- ``solve``: the pipeline (docs section 6); ``jsonio``: versioned JSON; ``examples``,
  ``__main__``: the command line.
- ``risk`` (beside the pipeline, not imported by it): a factor risk model estimated from a
  ``PriceTable`` of closes (docs/risk-model.md), for the nightly batch and the lab.

The lab (bench, backtest, the cvxpy reference, the S&P 500 data) is ``optimizer_lab``, a
sibling package behind the ``lab`` extra; this package never imports it.
"""

from optimizer.solve import solve, solve_continuous
from optimizer.types import (
    WASH_SALE_DAYS,
    Blocked,
    ContinuousResult,
    Diagnostics,
    EquivalenceGroup,
    GroupBound,
    Lots,
    LotSale,
    Mode,
    ObjectiveTerms,
    Problem,
    Reason,
    RecentTrade,
    RiskModel,
    SecurityTrade,
    Settings,
    Side,
    Solution,
    Status,
    TaxRates,
    TaxYear,
    Term,
)

__all__ = [
    "WASH_SALE_DAYS",
    "Blocked",
    "ContinuousResult",
    "Diagnostics",
    "EquivalenceGroup",
    "GroupBound",
    "LotSale",
    "Lots",
    "Mode",
    "ObjectiveTerms",
    "Problem",
    "Reason",
    "RecentTrade",
    "RiskModel",
    "SecurityTrade",
    "Settings",
    "Side",
    "Solution",
    "Status",
    "TaxRates",
    "TaxYear",
    "Term",
    "solve",
    "solve_continuous",
]

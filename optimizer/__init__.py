"""Tax-aware, lot-level portfolio optimizer: a pure numerical library (no Django).

``solve(problem)`` proposes trades for one account; ``solve_continuous(problem)`` returns the
continuous optimum of the problem as stated (for cross-checks). The formulation is in
``docs/optimizer.md``; the JSON format in ``docs/optimizer-json.md``.
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
    "Term",
    "solve",
    "solve_continuous",
]

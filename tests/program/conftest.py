"""A small investment program in firm A of the cast: classes, securities, models, a strategy.

Classes: Equity > US > Large Cap, Fixed Income > Core, Cash.
Allocation 'Balanced': Large Cap 60 %, Core 35 %, Cash 5 % (bands 5 points absolute).
Security models: 'US LC stocks' (AAPL 40, MSFT 30, XOM 20, JNJ 10), 'US LC ETF' (IVV 100),
'Core bonds' (AGG 60, BND 40). Strategy 'Balanced stocks': Large Cap -> stocks, Core -> bonds,
Cash held as cash. Equivalence set IVV / VOO / SPLG (not substantially identical). Screen
'Fossil fuels' (sector Energy).
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from decimal import Decimal
from typing import Any

import pytest

from accounts.customization import owner_of, settings_save
from models_hub.models import DefinitionKind, Security
from models_hub.program_services import (
    FIRM_LIMITS_NAME,
    asset_classes_ensure,
    definition_create,
)
from rebalancer.roles import Role
from tests.conftest import Cast
from tests.factories import PriceFactory, SecurityFactory

LC = "Equity > US > Large Cap"
CORE = "Fixed Income > Core"
CASH = "Cash"

SECURITIES = {
    "MSFT": ("Information Technology", "Systems Software", LC),
    "XOM": ("Energy", "Integrated Oil & Gas", LC),
    "JNJ": ("Health Care", "Pharmaceuticals", LC),
    "IVV": ("", "", LC),
    "VOO": ("", "", LC),
    "SPLG": ("", "", LC),
    "AGG": ("", "", CORE),
    "BND": ("", "", CORE),
    "MMF": ("", "", CASH),
}


@dataclass
class Program:
    cast: Cast
    ipc: Any
    advisor: Any
    allocation: Any
    stocks: Any
    etf: Any
    bonds: Any
    strategy: Any
    equivalence: Any
    screen: Any
    limits: Any
    securities: dict[str, Security]

    def choose(self, account: Any, content: dict[str, Any], reason: str = "setup") -> Any:
        owner = owner_of(firm_id=account.firm_id, account=account)
        current = owner.versions().order_by("-number").first()
        return settings_save(
            actor=self.advisor,
            owner=owner,
            content=content,
            expected_version=current.number if current else 0,
            reason=reason,
        )


def program_build(cast: Cast) -> Program:
    firm = cast.firm_a
    ipc = cast.user(Role.IPC)
    classes = asset_classes_ensure(actor=ipc, firm_id=firm.pk, paths=[LC, CORE, CASH])
    Security.objects.filter(pk=cast.security_a.pk).update(
        asset_class=classes[LC], sector="Information Technology", industry="Hardware"
    )
    securities = {"AAPL": cast.security_a}
    for ticker, (sector, industry, path) in SECURITIES.items():
        s = SecurityFactory.create(
            firm=firm, ticker=ticker, sector=sector, industry=industry, asset_class=classes[path]
        )
        PriceFactory.create(security=s, date=dt.date(2019, 12, 31), close=Decimal("100"))
        securities[ticker] = s

    def create(kind: str, name: str, content: dict[str, Any], parent: Any = None) -> Any:
        return definition_create(
            actor=ipc,
            firm_id=firm.pk,
            kind=kind,
            name=name,
            content=content,
            parent_id=None if parent is None else parent.pk,
            reason="initial program",
        ).definition

    allocation = create(
        DefinitionKind.ALLOCATION,
        "Balanced",
        {
            "classes": {
                LC: {"weight": "0.6", "band": "0.05"},
                CORE: {"weight": "0.35", "band": "0.05"},
                CASH: {"weight": "0.05"},
            }
        },
    )
    stocks = create(
        DefinitionKind.SECURITY_MODEL,
        "US LC stocks",
        {
            "asset_class": LC,
            "securities": {"AAPL": "0.4", "MSFT": "0.3", "XOM": "0.2", "JNJ": "0.1"},
        },
    )
    etf = create(
        DefinitionKind.SECURITY_MODEL, "US LC ETF", {"asset_class": LC, "securities": {"IVV": "1"}}
    )
    bonds = create(
        DefinitionKind.SECURITY_MODEL,
        "Core bonds",
        {"asset_class": CORE, "securities": {"AGG": "0.6", "BND": "0.4"}},
    )
    strategy = create(
        DefinitionKind.STRATEGY,
        "Balanced stocks",
        {
            "allocation": allocation.pk,
            "sleeves": {LC: stocks.pk, CORE: bonds.pk},
            "risk_profile": "Moderate",
        },
    )
    equivalence = create(
        DefinitionKind.EQUIVALENCE_SET,
        "S&P 500 ETFs",
        {"members": ["IVV", "VOO", "SPLG"], "substantially_identical": False},
    )
    screen = create(
        DefinitionKind.SCREEN,
        "Fossil fuels",
        {"sectors": ["Energy"], "description": "Oil, gas and coal producers"},
    )
    limits = create(
        DefinitionKind.LIMITS,
        FIRM_LIMITS_NAME,
        {"max_tilt": "0.05", "max_restrictions": 3, "max_cash_target": "0.1"},
    )
    return Program(
        cast=cast,
        ipc=ipc,
        advisor=cast.user(Role.ADVISOR),
        allocation=allocation,
        stocks=stocks,
        etf=etf,
        bonds=bonds,
        strategy=strategy,
        equivalence=equivalence,
        screen=screen,
        limits=limits,
        securities=securities,
    )


@pytest.fixture
def program(cast: Cast) -> Program:
    return program_build(cast)

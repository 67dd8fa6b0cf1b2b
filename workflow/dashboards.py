"""The home page of each role: a dashboard of the figures that role works with.

It lives in the workflow app, the top layer, because it shows what every layer below holds
(accounts, market data, imports, members, the audit trail); the nightly runs, queues and
approvals will add their panels here.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable
from dataclasses import replace
from typing import Any

from django.core.exceptions import PermissionDenied
from django.http import HttpResponseBase
from django.shortcuts import redirect
from django.views.generic import TemplateView

from accounts.selectors import (
    account_holdings_get,
    account_largest_get,
    book_summary_get,
    household_list,
    page_value,
)
from models_hub.selectors import market_data_summarize
from rebalancer.mixins import FirmScopedMixin
from rebalancer.roles import Role
from rebalancer.selectors import audit_event_list, member_count_by_role
from rebalancer.tenancy import AnyUser
from workflow.selectors import import_list_recent

#: Positions of the largest account shown on the advisor's home (the account page has them all).
HOME_TOP_POSITIONS = 15


def _largest_account_holdings(user: AnyUser, as_of: dt.date | None) -> Any:
    """The advisor's largest account with its biggest positions only: a direct-index account
    holds hundreds of names, and the home page is a summary (the account page lists them all)."""
    largest = account_largest_get(user=user)
    if largest is None:
        return None
    holdings = account_holdings_get(user=user, account_id=largest, as_of=as_of)
    biggest = sorted(
        holdings.positions, key=lambda p: (-(p.market_value or 0), p.security.ticker, p.position.pk)
    )[:HOME_TOP_POSITIONS]
    return replace(holdings, positions=biggest, positions_total=len(holdings.positions))


def _first_households(user: AnyUser, n: int = 10) -> list[Any]:
    return page_value(household_list(user=user)[:n], user=user)


def _home_advisor(user: AnyUser) -> dict[str, Any]:
    book = book_summary_get(user=user)
    holdings = _largest_account_holdings(user, book.prices_as_of)
    return {
        "book": book,
        "households": _first_households(user),
        "holdings": holdings,
        "has_synthetic": holdings is not None and holdings.has_synthetic,
    }


def _home_investment(user: AnyUser) -> dict[str, Any]:
    market = market_data_summarize(user=user)
    book = book_summary_get(user=user)
    return {
        "book": book,
        "market": market,
        "has_synthetic": market.synthetic_securities > 0,
        "registrations": book.registrations,
    }


def _home_overlay(user: AnyUser) -> dict[str, Any]:
    book = book_summary_get(user=user)
    return {
        "book": book,
        "registrations": book.registrations,
        "households": _first_households(user),
    }


def _home_compliance(user: AnyUser) -> dict[str, Any]:
    return {
        "book": book_summary_get(user=user),
        "events": list(audit_event_list(user=user)[:10]),
        "imports": import_list_recent(user=user),
    }


def _home_management(user: AnyUser) -> dict[str, Any]:
    book = book_summary_get(user=user)
    return {
        "book": book,
        "registrations": book.registrations,
        "members": member_count_by_role(user=user),
        "events": list(audit_event_list(user=user)[:10]),
    }


def _home_data_manager(user: AnyUser) -> dict[str, Any]:
    market = market_data_summarize(user=user)
    return {
        "book": book_summary_get(user=user),
        "market": market,
        "has_synthetic": market.synthetic_securities > 0,
        "imports": import_list_recent(user=user, limit=10),
    }


def _home_firm_admin(user: AnyUser) -> dict[str, Any]:
    return {
        "book": book_summary_get(user=user),
        "members": member_count_by_role(user=user),
        "events": list(audit_event_list(user=user)[:10]),
        "imports": import_list_recent(user=user),
    }


HOME_FIGURES: dict[Role, Callable[[AnyUser], dict[str, Any]]] = {
    Role.ADVISOR: _home_advisor,
    Role.IPC: _home_investment,
    Role.OVERLAY_MANAGER: _home_overlay,
    Role.COMPLIANCE: _home_compliance,
    Role.MANAGEMENT: _home_management,
    Role.DATA_MANAGER: _home_data_manager,
    Role.FIRM_ADMIN: _home_firm_admin,
}


class HomeView(FirmScopedMixin, TemplateView):
    """Each role's landing page, with real figures from the data it may see."""

    def handle_no_membership(self) -> HttpResponseBase:
        if self.request.user.is_staff:  # the platform operator works in the admin
            return redirect("admin:index")
        raise PermissionDenied("Your user has no membership of an active firm.")

    def get_template_names(self) -> list[str]:
        return [f"home/{self.membership.role}.html"]

    def get_context_data(self, **kwargs: Any) -> dict[str, Any]:
        context = super().get_context_data(**kwargs)
        context.update(HOME_FIGURES[Role(self.membership.role)](self.request.user))
        return context

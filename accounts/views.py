"""Household, account and position pages. Lists are paged, then only the shown rows are valued."""

from __future__ import annotations

from typing import Any

from django.db.models import QuerySet
from django.http import Http404
from django.views.generic import DetailView, ListView, TemplateView

from accounts.filters import AccountFilterSet, HouseholdFilterSet
from accounts.models import Account, Household, Position
from accounts.selectors import (
    account_holdings_get,
    account_list,
    household_list,
    page_value,
    position_holding_get,
)
from rebalancer.mixins import FirmScopedMixin
from rebalancer.roles import Resource
from rebalancer.web import FilteredListMixin, HtmxPartialMixin


class ValuedListMixin:
    """Page the plain list, then value only the page's rows (see :func:`page_value`)."""

    request: Any

    def paginate_queryset(self, queryset: Any, page_size: int) -> Any:
        paginator, page, rows, is_paginated = super().paginate_queryset(  # type: ignore[misc]
            queryset, page_size
        )
        page.object_list = page_value(rows, user=self.request.user)
        return paginator, page, page.object_list, is_paginated


class HouseholdListView(
    ValuedListMixin,
    FilteredListMixin,
    FirmScopedMixin,
    HtmxPartialMixin,
    ListView,  # type: ignore[type-arg]
):
    tenancy_resource = Resource.HOUSEHOLD
    template_name = "accounts/household_list.html"
    partial_template_name = "accounts/partials/_household_table.html"
    filterset_class = HouseholdFilterSet

    def get_base_queryset(self) -> QuerySet[Household]:
        return household_list(user=self.request.user)


class HouseholdDetailView(FirmScopedMixin, DetailView):  # type: ignore[type-arg]
    tenancy_resource = Resource.HOUSEHOLD
    model = Household
    template_name = "accounts/household_detail.html"
    context_object_name = "household"

    def get_context_data(self, **kwargs: Any) -> dict[str, Any]:
        context = super().get_context_data(**kwargs)
        accounts = account_list(user=self.request.user, household_id=self.object.pk)
        context["accounts"] = page_value(accounts, user=self.request.user)
        return context


class AccountListView(
    ValuedListMixin,
    FilteredListMixin,
    FirmScopedMixin,
    HtmxPartialMixin,
    ListView,  # type: ignore[type-arg]
):
    tenancy_resource = Resource.ACCOUNT
    template_name = "accounts/account_list.html"
    partial_template_name = "accounts/partials/_account_table.html"
    filterset_class = AccountFilterSet

    def get_base_queryset(self) -> QuerySet[Account]:
        return account_list(user=self.request.user)


class AccountDetailView(FirmScopedMixin, TemplateView):
    """Holdings with lots expandable per position (htmx), unrealized gains split ST/LT."""

    tenancy_resource = Resource.ACCOUNT
    template_name = "accounts/account_detail.html"

    def get_context_data(self, **kwargs: Any) -> dict[str, Any]:
        context = super().get_context_data(**kwargs)
        try:
            holdings = account_holdings_get(user=self.request.user, account_id=kwargs["pk"])
        except Account.DoesNotExist as exc:
            raise Http404("No such account.") from exc
        context["holdings"] = holdings
        context["account"] = holdings.account
        context["has_synthetic"] = holdings.has_synthetic
        return context


class PositionDetailView(FirmScopedMixin, HtmxPartialMixin, TemplateView):
    """One position's lots: the expandable row on the account page (htmx), or a page."""

    tenancy_resource = Resource.POSITION
    template_name = "accounts/position_detail.html"
    partial_template_name = "accounts/partials/_lots.html"

    def get_context_data(self, **kwargs: Any) -> dict[str, Any]:
        context = super().get_context_data(**kwargs)
        try:
            holding = position_holding_get(user=self.request.user, position_id=kwargs["pk"])
        except Position.DoesNotExist as exc:
            raise Http404("No such position.") from exc
        context["p"] = holding
        context["account"] = holding.position.account
        context["has_synthetic"] = holding.security.is_synthetic
        return context

"""Security master pages: the list (with latest closes) and one security with recent prices."""

from __future__ import annotations

from typing import Any

from django.db.models import QuerySet
from django.views.generic import DetailView, ListView

from models_hub.filters import SecurityFilterSet
from models_hub.models import Security
from models_hub.selectors import security_list, security_prices_list
from rebalancer.mixins import FirmScopedMixin
from rebalancer.roles import Resource
from rebalancer.web import FilteredListMixin, HtmxPartialMixin

RECENT_PRICES = 30


class SecurityListView(
    FilteredListMixin,
    FirmScopedMixin,
    HtmxPartialMixin,
    ListView,  # type: ignore[type-arg]
):
    tenancy_resource = Resource.SECURITY
    template_name = "securities/security_list.html"
    partial_template_name = "securities/partials/_security_table.html"
    filterset_class = SecurityFilterSet

    def get_base_queryset(self) -> QuerySet[Security]:
        return security_list(user=self.request.user)

    def get_context_data(self, **kwargs: Any) -> dict[str, Any]:
        context = super().get_context_data(**kwargs)
        context["has_synthetic"] = any(s.is_synthetic for s in context["object_list"])
        return context


class SecurityDetailView(FirmScopedMixin, DetailView):  # type: ignore[type-arg]
    tenancy_resource = Resource.SECURITY
    model = Security
    template_name = "securities/security_detail.html"
    context_object_name = "security"

    def get_context_data(self, **kwargs: Any) -> dict[str, Any]:
        context = super().get_context_data(**kwargs)
        context["prices"] = list(
            security_prices_list(user=self.request.user, security=self.object)[:RECENT_PRICES]
        )
        context["has_synthetic"] = self.object.is_synthetic
        return context

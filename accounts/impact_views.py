"""The IPC's "preview impact" page of a model: the accounts and money it reaches."""

from __future__ import annotations

from typing import Any

from django.http import Http404
from django.views.generic import TemplateView

from accounts.impact import definition_impact
from models_hub.program_selectors import definition_get
from rebalancer.mixins import FirmScopedMixin
from rebalancer.roles import Resource
from rebalancer.web import HtmxPartialMixin


class DefinitionImpactView(FirmScopedMixin, HtmxPartialMixin, TemplateView):
    """A page, or (htmx) the partial the model editor loads beside the draft."""

    tenancy_resource = Resource.MODEL
    template_name = "accounts/definition_impact.html"
    partial_template_name = "accounts/partials/_definition_impact.html"

    def get_context_data(self, **kwargs: Any) -> dict[str, Any]:
        context = super().get_context_data(**kwargs)
        definition = definition_get(user=self.request.user, definition_id=kwargs["pk"])
        if definition is None or definition.firm_id != self.membership.firm_id:
            raise Http404("No such model.")
        context.update(
            definition=definition,
            impact=definition_impact(user=self.request.user, definition=definition),
        )
        return context

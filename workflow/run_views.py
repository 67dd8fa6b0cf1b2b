"""Pages of nightly runs: the run history, one run, and an account's latest analysis."""

from __future__ import annotations

import json
from typing import Any

from django.http import Http404, HttpRequest, HttpResponse, HttpResponseRedirect
from django.urls import reverse
from django.views import View
from django.views.generic import DetailView, ListView, TemplateView

from rebalancer.mixins import FirmScopedMixin
from rebalancer.roles import Action, Resource
from rebalancer.web import PAGE_SIZE, HtmxPartialMixin
from workflow.models import Analysis, Run, RunTrigger
from workflow.selectors import analysis_latest_get, analysis_lot_sales, analysis_trades, run_list


class RunListView(FirmScopedMixin, ListView):  # type: ignore[type-arg]
    """Run history: when, how many accounts, statuses, how long."""

    tenancy_resource = Resource.RUN
    template_name = "workflow/run_list.html"
    context_object_name = "runs"
    paginate_by = PAGE_SIZE

    def get_queryset(self) -> Any:
        return run_list(user=self.request.user)


class RunDetailView(FirmScopedMixin, DetailView):  # type: ignore[type-arg]
    tenancy_resource = Resource.RUN
    template_name = "workflow/run_detail.html"
    context_object_name = "run"

    def get_queryset(self) -> Any:
        return run_list(user=self.request.user)

    def get_context_data(self, **kwargs: Any) -> dict[str, Any]:
        context = super().get_context_data(**kwargs)
        run: Run = self.object
        context["slowest"] = list(
            Analysis.objects.filter(run=run)
            .select_related("account")
            .order_by("-solve_ms", "account_id")[:10]
        )
        context["problems"] = list(
            Analysis.objects.filter(run=run, status__in=["fallback", "skipped", "failed"])
            .select_related("account")
            .order_by("status", "account_id")[:PAGE_SIZE]
        )
        seconds = (
            (run.finished_at - run.started_at).total_seconds()
            if run.finished_at and run.started_at
            else None
        )
        context["seconds"] = seconds
        context["rate"] = run.accounts / seconds if seconds else None
        if run.trigger == RunTrigger.WHAT_IF:
            from workflow.what_if import what_if_summary

            context["what_if"] = what_if_summary(run)
        return context


class AccountAnalysisView(FirmScopedMixin, HtmxPartialMixin, TemplateView):
    """An account's latest analysis: status, figures, each trade with its reason, lot sales.

    Embedded in the account page (htmx) and a page of its own."""

    tenancy_resource = Resource.RUN
    template_name = "workflow/account_analysis.html"
    partial_template_name = "workflow/partials/_analysis.html"

    def get_context_data(self, **kwargs: Any) -> dict[str, Any]:
        from accounts.selectors import account_list

        context = super().get_context_data(**kwargs)
        account = account_list(user=self.request.user).filter(pk=kwargs["pk"]).first()
        if account is None:
            raise Http404("No such account.")
        analysis = analysis_latest_get(user=self.request.user, account_id=account.pk)
        context["account"] = account
        context["analysis"] = analysis
        if analysis is not None:
            context["trades"] = analysis_trades(analysis)
            context["lot_sales"] = analysis_lot_sales(analysis)
        return context


class WhatIfStartView(FirmScopedMixin, View):
    """POST the model editor's draft here: a what-if run of it on the accounts it reaches."""

    tenancy_resource = Resource.MODEL
    tenancy_action = Action.CHANGE

    def post(self, request: HttpRequest, pk: int) -> HttpResponse:
        from models_hub.program_selectors import definition_list
        from models_hub.program_services import ProgramError
        from workflow.what_if import what_if_start

        definition = (
            definition_list(user=request.user)
            .filter(pk=pk, firm_id=self.membership.firm_id)
            .first()
        )
        if definition is None:
            raise Http404("No such model.")
        raw = request.POST.get("content", "")
        try:
            content = json.loads(raw)
        except json.JSONDecodeError as exc:
            return HttpResponse(f"The draft is not valid JSON: {exc.msg}", status=400)
        parent_raw = request.POST.get("parent")
        parent: int | str | None = "keep"
        if parent_raw is not None:
            parent = int(parent_raw) if parent_raw.isdigit() else None
        try:
            run = what_if_start(
                actor=request.user,  # type: ignore[arg-type]
                definition=definition,
                content=content,
                parent_id=parent,
                reason=request.POST.get("reason", ""),
            )
        except ProgramError as exc:
            return HttpResponse(
                f"The draft cannot be saved, so it cannot be run: {exc}", status=400
            )
        return HttpResponseRedirect(reverse("runs:run_detail", args=[run.pk]))

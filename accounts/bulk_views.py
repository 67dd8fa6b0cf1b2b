"""Saved filters and bulk changes: pages over :mod:`accounts.saved_filters` and
:mod:`accounts.bulk_changes`.

* ``/accounts/filters/``: the user's and the firm's shared saved filters; POST saves the account
  list's current query (``query``) under a name, or deletes one (``delete``).
* ``/accounts/bulk/``: choose a saved filter or criteria, an operation and exemptions; preview
  (writes nothing), then apply with a reason; past changes with a reverse button.
"""

from __future__ import annotations

import json
from typing import Any

from django.contrib import messages
from django.http import Http404, HttpRequest, HttpResponse, HttpResponseRedirect, QueryDict
from django.shortcuts import render
from django.urls import reverse
from django.views.generic import TemplateView

from accounts.bulk_changes import (
    OPERATIONS,
    BulkChangeError,
    bulk_change_apply,
    bulk_change_preview,
    bulk_change_reverse,
)
from accounts.models import BulkChange
from accounts.saved_filters import (
    SavedFilterError,
    saved_filter_delete,
    saved_filter_list,
    saved_filter_save,
)
from models_hub.menus import DEFAULTS, RESTRICTION_RULES
from rebalancer.mixins import FirmScopedMixin
from rebalancer.roles import Action, Resource
from rebalancer.web import RefuseNulMixin

#: Query parameters of the account list that are not filter criteria.
NOT_CRITERIA = frozenset({"page", "ordering", "saved"})


def _id(text: str) -> int | None:
    return int(text) if text.isascii() and text.isdigit() and 0 < len(text) < 18 else None


def criteria_from_query(query: str) -> dict[str, str]:
    """The account list's query string as saved-filter criteria (paging and sorting dropped)."""
    params = QueryDict(query)
    return {k: params[k] for k in sorted(params) if k not in NOT_CRITERIA and params[k] != ""}


class SavedFilterListView(FirmScopedMixin, RefuseNulMixin, TemplateView):
    tenancy_resource = Resource.SAVED_FILTER
    tenancy_write_action = Action.CHANGE
    template_name = "accounts/saved_filters.html"

    def get_context_data(self, **kwargs: Any) -> dict[str, Any]:
        context = super().get_context_data(**kwargs)
        context["filters"] = list(saved_filter_list(user=self.request.user).select_related("owner"))
        context.setdefault("query", self.request.GET.get("query", ""))
        return context

    def post(self, request: HttpRequest, *args: Any, **kwargs: Any) -> HttpResponse:
        delete = request.POST.get("delete")
        if delete is not None:
            saved = saved_filter_list(user=request.user).filter(pk=_id(delete) or 0).first()
            if saved is None:
                raise Http404("No such saved filter.")
            saved_filter_delete(actor=request.user, saved_filter=saved)  # type: ignore[arg-type]
            messages.success(request, f"Deleted the filter {saved.name}.")
            return HttpResponseRedirect(reverse("accounts:saved_filters"))
        query = request.POST.get("query", "")
        name = request.POST.get("name", "")
        try:
            saved = saved_filter_save(
                actor=request.user,  # type: ignore[arg-type]
                firm_id=self.membership.firm_id,
                name=name,
                criteria=criteria_from_query(query),
                shared=request.POST.get("shared") == "on",
            )
        except SavedFilterError as exc:
            context = self.get_context_data(errors=exc.errors, query=query, name=name)
            return render(request, self.template_name, context, status=400)
        messages.success(request, f"Saved the filter {saved.name}.")
        return HttpResponseRedirect(reverse("accounts:saved_filters"))


def _operation_from(post: QueryDict) -> dict[str, Any]:
    """The operation named by the bulk form's fields (checked by the service)."""
    op = post.get("op", "")
    operation: dict[str, Any] = {"op": op}
    if op.endswith("restriction"):
        operation[post.get("target", "security")] = post.get("what", "")
        operation["rule"] = post.get("rule", "")
        if post.get("item_reason"):
            operation["reason"] = post.get("item_reason", "")
    elif op.endswith("substitution"):
        operation.update(
            instead_of=post.get("instead_of", ""),
            hold=post.get("hold", ""),
            reason=post.get("item_reason", "") or "client preference",
        )
    elif op.endswith("screen"):
        operation["screen"] = _id(post.get("screen", "")) or post.get("screen", "")
    elif op in ("set", "clear"):
        operation["choice"] = post.get("choice", "")
        if op == "set":
            text = post.get("value", "")
            try:
                operation["value"] = json.loads(text)
            except json.JSONDecodeError:
                operation["value"] = text
            if (
                isinstance(operation["value"], int | float)
                and not isinstance(operation["value"], bool)
                and operation["choice"] != "strategy"
            ):
                operation["value"] = text  # menu numbers are decimal text
    return operation


def _exemptions_from(text: str) -> tuple[list[dict[str, Any]], dict[str, str]]:
    """Lines ``account id: reason``."""
    out: list[dict[str, Any]] = []
    for number, line in enumerate(text.splitlines(), start=1):
        if not line.strip():
            continue
        account, _, reason = line.partition(":")
        account_id = _id(account.strip())
        if account_id is None:
            return [], {"exemptions": f"line {number}: write 'account id: reason'"}
        out.append({"account": account_id, "reason": reason.strip()})
    return out, {}


class BulkChangeView(FirmScopedMixin, RefuseNulMixin, TemplateView):
    tenancy_resource = Resource.BULK_CHANGE
    tenancy_write_action = Action.CHANGE
    template_name = "accounts/bulk_change.html"

    def get_context_data(self, **kwargs: Any) -> dict[str, Any]:
        context = super().get_context_data(**kwargs)
        context["filters"] = list(saved_filter_list(user=self.request.user))
        context["past"] = list(
            BulkChange.objects.for_user(self.request.user)
            .select_related("reverses")
            .order_by("-created_at", "-pk")[:50]
        )
        reversed_ids = set(
            BulkChange.objects.for_user(self.request.user)
            .filter(reverses__isnull=False)
            .values_list("reverses_id", flat=True)
        )
        context.update(
            reversed_ids=reversed_ids,
            operations=OPERATIONS,
            rules=RESTRICTION_RULES,
            targets=("security", "sector", "industry"),
            choices=sorted(
                c for c in DEFAULTS if c not in ("restrictions", "substitutions", "screens")
            ),
            can_change=self.role_can(Resource.BULK_CHANGE, Action.CHANGE),
        )
        context.setdefault("form", {})
        return context

    def _criteria(self, post: QueryDict) -> tuple[dict[str, str], dict[str, str]]:
        saved_id = _id(post.get("saved", ""))
        if saved_id is not None:
            saved = saved_filter_list(user=self.request.user).filter(pk=saved_id).first()
            if saved is None:
                return {}, {"saved": "choose one of your saved filters"}
            return dict(saved.criteria), {}
        return criteria_from_query(post.get("criteria", "").lstrip("?")), {}

    def post(self, request: HttpRequest, *args: Any, **kwargs: Any) -> HttpResponse:
        post = request.POST
        if post.get("reverse"):
            return self._reverse(post)
        form = {k: post.get(k, "") for k in post if k != "csrfmiddlewaretoken"}
        criteria, errors = self._criteria(post)
        exemptions, exemption_errors = _exemptions_from(post.get("exemptions", ""))
        errors |= exemption_errors
        operation = _operation_from(post)
        preview = None
        if not errors:
            try:
                if post.get("action") == "apply":
                    bulk = bulk_change_apply(
                        actor=request.user,
                        criteria=criteria,
                        operation=operation,
                        exemptions=exemptions,
                        reason=post.get("reason", ""),
                    )
                    messages.success(
                        request,
                        f"Bulk change {bulk.pk} applied to {bulk.changed} account(s).",
                    )
                    return HttpResponseRedirect(reverse("accounts:bulk_change"))
                preview = bulk_change_preview(
                    user=request.user,
                    criteria=criteria,
                    operation=operation,
                    exemptions=exemptions,
                )
            except (BulkChangeError, SavedFilterError) as exc:
                errors = exc.errors
        context = self.get_context_data(form=form, errors=errors, preview=preview)
        return render(request, self.template_name, context, status=400 if errors else 200)

    def _reverse(self, post: QueryDict) -> HttpResponse:
        bulk = (
            BulkChange.objects.for_user(self.request.user)
            .filter(pk=_id(post.get("reverse", "")) or 0)
            .first()
        )
        if bulk is None:
            raise Http404("No such bulk change.")
        try:
            done = bulk_change_reverse(
                actor=self.request.user, bulk_change=bulk, reason=post.get("reason", "")
            )
        except BulkChangeError as exc:
            context = self.get_context_data(errors=exc.errors)
            return render(self.request, self.template_name, context, status=400)
        messages.success(self.request, f"Bulk change {bulk.pk} reversed by {done.pk}.")
        return HttpResponseRedirect(reverse("accounts:bulk_change"))

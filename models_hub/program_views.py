"""The IPC's pages: the asset-class tree, models (inheritance tree, effective model with provenance,
history, diff against the parent, editor), publishing and provider subscriptions.

Views parse the form, call one service or selector and render. Everyone in the firm may read
(``Resource.MODEL`` view); only the IPC may change (the role table). The impact of a model on
accounts is an accounts page (``accounts.impact_views``): this layer cannot read accounts.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from decimal import Decimal
from typing import Any

from django.contrib import messages
from django.http import Http404, HttpRequest, HttpResponse, HttpResponseRedirect
from django.shortcuts import render
from django.urls import reverse
from django.views.generic import TemplateView

from models_hub.effective import (
    EffectiveWeights,
    ResolutionError,
    VersionStore,
    effective_strategy,
    effective_weights,
)
from models_hub.models import Definition, DefinitionKind, ModelSubscription
from models_hub.program_selectors import (
    asset_class_list,
    definition_get,
    definition_list,
    definition_tree,
    provider_list,
    version_history,
    version_store_load,
)
from models_hub.program_services import (
    ConcurrentEdit,
    ProgramError,
    asset_classes_ensure,
    definition_create,
    definition_publish,
    definition_save,
    subscription_end,
    subscription_start,
)
from rebalancer.mixins import FirmScopedMixin
from rebalancer.roles import Action, Resource
from rebalancer.web import RefuseNulMixin

#: Kinds whose effective model is a list of weights.
WEIGHTED_KINDS = (DefinitionKind.ALLOCATION, DefinitionKind.SECURITY_MODEL)


#: Headings of the model list, one per kind.
KIND_PLURALS: dict[str, str] = {
    DefinitionKind.ALLOCATION: "Allocation models",
    DefinitionKind.SECURITY_MODEL: "Security models",
    DefinitionKind.STRATEGY: "Strategies",
    DefinitionKind.EQUIVALENCE_SET: "Equivalence sets",
    DefinitionKind.SCREEN: "Screens",
    DefinitionKind.LIMITS: "Customization limits",
}


class ProgramPage(FirmScopedMixin, RefuseNulMixin, TemplateView):
    """A models-hub page: anyone in the firm reads, the IPC posts."""

    tenancy_resource = Resource.MODEL
    tenancy_write_action = Action.CHANGE

    @property
    def firm_id(self) -> int:
        return self.membership.firm_id

    def can_edit(self) -> bool:
        return self.role_can(Resource.MODEL, Action.CHANGE)

    def rerender(self, context: dict[str, Any], status: int = 400) -> HttpResponse:
        return render(
            self.request, self.get_template_names(), self.get_context_data(**context), status=status
        )


# --- asset classes ----------------------------------------------------------------------------


class AssetClassListView(ProgramPage):
    """The firm's asset-class tree; the IPC adds a class by its path (ancestors too)."""

    template_name = "models_hub/asset_classes.html"

    def get_context_data(self, **kwargs: Any) -> dict[str, Any]:
        context = super().get_context_data(**kwargs)
        classes = list(asset_class_list(user=self.request.user))
        context["classes"] = [(c, c.path.count(" > ")) for c in classes]
        context["can_edit"] = self.can_edit()
        context.setdefault("path", "")
        return context

    def post(self, request: HttpRequest, *args: Any, **kwargs: Any) -> HttpResponse:
        path = request.POST.get("path", "")
        try:
            asset_classes_ensure(actor=request.user, firm_id=self.firm_id, paths=[path])  # type: ignore[arg-type]
        except ProgramError as exc:
            return self.rerender({"errors": exc.errors, "path": path})
        messages.success(request, f"Asset class {path.strip()} is in the tree.")
        return HttpResponseRedirect(reverse("models:asset_classes"))


# --- definitions ------------------------------------------------------------------------------


class DefinitionListView(ProgramPage):
    """Every kind's definitions as inheritance trees: own, and subscribed ones read-only."""

    template_name = "models_hub/definition_list.html"

    def get_context_data(self, **kwargs: Any) -> dict[str, Any]:
        context = super().get_context_data(**kwargs)
        rows = list(definition_list(user=self.request.user).select_related("firm"))
        groups = []
        for kind, label in DefinitionKind.choices:
            nodes = definition_tree(d for d in rows if d.kind == kind)
            groups.append(
                {"kind": kind, "label": KIND_PLURALS.get(kind, f"{label}s"), "nodes": nodes}
            )
        context.update(groups=groups, firm_id=self.firm_id, can_edit=self.can_edit())
        return context


@dataclass(frozen=True)
class DiffRow:
    """One key of a model against its parent's effective model (weights as percentages)."""

    key: str
    parent: Decimal | None
    here: Decimal | None

    @property
    def change(self) -> str:
        if self.parent is None:
            return "added"
        if self.here is None:
            return "removed"
        return "reweighted" if self.parent != self.here else "inherited"


def weights_diff(parent: EffectiveWeights, child: EffectiveWeights) -> list[DiffRow]:
    """What ``child`` adds, removes and reweights against ``parent`` (effective weights)."""
    before, after = parent.as_dict(), child.as_dict()
    return [
        DiffRow(key, before.get(key), after.get(key)) for key in sorted(set(before) | set(after))
    ]


def definition_view_context(store: VersionStore, definition: Definition) -> dict[str, Any]:
    """The effective model (with provenance) and the diff against the parent, or the error."""
    context: dict[str, Any] = {"content_json": "", "effective": None, "strategy": None}
    version = store.versions.get(definition.pk)
    if version is None:
        context["resolution_error"] = "no version in force"
        return context
    context["content_json"] = json.dumps(version.content, indent=2, sort_keys=True)
    try:
        if definition.kind in WEIGHTED_KINDS:
            context["effective"] = effective_weights(store, definition.pk)
            if version.parent_id is not None:
                parent = effective_weights(store, version.parent_id)
                context["parent_effective"] = parent
                context["diff"] = weights_diff(parent, context["effective"])
        elif definition.kind == DefinitionKind.STRATEGY:
            context["strategy"] = effective_strategy(store, definition.pk)
    except ResolutionError as exc:
        context["resolution_error"] = str(exc)
    return context


class DefinitionPage(ProgramPage):
    """A page about one definition the user can see (own, or a provider's published one)."""

    definition: Definition

    def get_definition(self) -> Definition:
        definition = definition_get(user=self.request.user, definition_id=self.kwargs["pk"])
        if definition is None:
            raise Http404("No such model.")
        return definition

    def get_context_data(self, **kwargs: Any) -> dict[str, Any]:
        context = super().get_context_data(**kwargs)
        definition = self.get_definition()
        own = definition.firm_id == self.firm_id
        store = version_store_load(self.firm_id)
        context.update(definition_view_context(store, definition))
        context.update(
            definition=definition,
            own=own,
            can_edit=own and self.can_edit(),
            history=list(version_history(user=self.request.user, definition=definition)),
        )
        return context


class DefinitionDetailView(DefinitionPage):
    """Effective model with provenance, history, diff; POST toggles publishing (IPC)."""

    template_name = "models_hub/definition_detail.html"

    def post(self, request: HttpRequest, *args: Any, **kwargs: Any) -> HttpResponse:
        definition = self.get_definition()
        if definition.firm_id != self.firm_id:
            raise Http404("No such model.")
        published = request.POST.get("published") == "true"
        try:
            definition_publish(
                actor=request.user,  # type: ignore[arg-type]
                definition=definition,
                published=published,
                reason=request.POST.get("reason", ""),
            )
        except ProgramError as exc:
            return self.rerender({"publish_errors": exc.errors})
        messages.success(request, "Published." if published else "No longer published.")
        return HttpResponseRedirect(reverse("models:definition_detail", args=[definition.pk]))


def _content_parse(text: str) -> tuple[Any, dict[str, str]]:
    try:
        return json.loads(text or "{}"), {}
    except json.JSONDecodeError as exc:
        return None, {"content": f"not valid JSON: {exc.msg} (line {exc.lineno})"}


def _parent_parse(text: str) -> tuple[int | None, dict[str, str]]:
    if not text:
        return None, {}
    if not text.isascii() or not text.isdigit() or len(text) > 18:
        return None, {"parent": "choose a parent from the list"}
    return int(text), {}


def _split_errors(errors: dict[str, str]) -> tuple[dict[str, str], dict[str, str]]:
    """Errors of the form's own fields, and those about paths inside the content."""
    fields = {"name", "parent", "reason", "kind", ""}
    return (
        {k: v for k, v in errors.items() if k in fields},
        {k: v for k, v in errors.items() if k not in fields},
    )


class DefinitionCreateView(ProgramPage):
    """A new definition of one kind: name, parent, content as documented JSON, reason."""

    template_name = "models_hub/definition_edit.html"
    tenancy_action = Action.CHANGE

    def kind(self) -> str:
        """``?kind=screen`` (kept in the form's action); an allocation without it."""
        return self.request.GET.get("kind", DefinitionKind.ALLOCATION)

    def get_context_data(self, **kwargs: Any) -> dict[str, Any]:
        context = super().get_context_data(**kwargs)
        kind = self.kind()
        if kind not in DefinitionKind.values:
            raise Http404("No such kind of model.")
        context.update(
            kind=kind,
            kind_label=DefinitionKind(kind).label,
            parents=list(definition_list(user=self.request.user, kind=kind)),
        )
        context.setdefault("form", {"content": "{}", "name": "", "parent": "", "reason": ""})
        return context

    def post(self, request: HttpRequest, *args: Any, **kwargs: Any) -> HttpResponse:
        form = {k: request.POST.get(k, "") for k in ("name", "content", "parent", "reason")}
        content, errors = _content_parse(form["content"])
        parent_id, parent_errors = _parent_parse(form["parent"])
        errors |= parent_errors
        if not errors:
            try:
                saved = definition_create(
                    actor=request.user,  # type: ignore[arg-type]
                    firm_id=self.firm_id,
                    kind=self.kind(),
                    name=form["name"],
                    content=content,
                    parent_id=parent_id,
                    reason=form["reason"],
                )
            except ProgramError as exc:
                errors = exc.errors
            else:
                messages.success(request, f"{saved.definition.name} created (version 1).")
                return HttpResponseRedirect(
                    reverse("models:definition_detail", args=[saved.definition.pk])
                )
        field_errors, content_errors = _split_errors(errors)
        return self.rerender(
            {"form": form, "field_errors": field_errors, "content_errors": content_errors}
        )


class DefinitionEditView(DefinitionPage):
    """A new version of an own definition; ``expected_version`` guards against a lost update."""

    template_name = "models_hub/definition_edit.html"
    tenancy_action = Action.CHANGE

    def get_context_data(self, **kwargs: Any) -> dict[str, Any]:
        context = super().get_context_data(**kwargs)
        definition = context["definition"]
        if not context["own"]:
            raise Http404("Subscribed models are read-only.")
        context.update(
            kind=definition.kind,
            kind_label=definition.get_kind_display(),
            parents=[
                d
                for d in definition_list(user=self.request.user, kind=definition.kind)
                if d.pk != definition.pk
            ],
        )
        context.setdefault(
            "form",
            {
                "content": context["content_json"],
                "name": definition.name,
                "parent": str(definition.parent_id or ""),
                "reason": "",
                "expected_version": str(definition.current_version),
            },
        )
        return context

    def post(self, request: HttpRequest, *args: Any, **kwargs: Any) -> HttpResponse:
        definition = self.get_definition()
        if definition.firm_id != self.firm_id:
            raise Http404("Subscribed models are read-only.")
        form = {
            k: request.POST.get(k, "") for k in ("content", "parent", "reason", "expected_version")
        }
        form["name"] = definition.name
        content, errors = _content_parse(form["content"])
        parent_id, parent_errors = _parent_parse(form["parent"])
        errors |= parent_errors
        expected = form["expected_version"]
        if not (expected.isascii() and expected.isdigit() and len(expected) < 10):
            errors[""] = "reload the page: the version it started from is missing"
        conflict = ""
        if not errors:
            try:
                saved = definition_save(
                    actor=request.user,  # type: ignore[arg-type]
                    definition=definition,
                    content=content,
                    expected_version=int(expected),
                    reason=form["reason"],
                    parent_id=parent_id,
                )
            except ConcurrentEdit as exc:
                conflict = str(exc)
            except ProgramError as exc:
                errors = exc.errors
            else:
                messages.success(request, f"Saved version {saved.version.number}.")
                return HttpResponseRedirect(
                    reverse("models:definition_detail", args=[definition.pk])
                )
        field_errors, content_errors = _split_errors(errors)
        return self.rerender(
            {
                "form": form,
                "field_errors": field_errors,
                "content_errors": content_errors,
                "conflict": conflict,
            },
            status=409 if conflict else 400,
        )


# --- subscriptions ----------------------------------------------------------------------------


class SubscriptionListView(ProgramPage):
    """The firm's subscriptions to model providers; the IPC starts or ends one, with a reason."""

    template_name = "models_hub/subscriptions.html"

    def get_context_data(self, **kwargs: Any) -> dict[str, Any]:
        context = super().get_context_data(**kwargs)
        context["subscriptions"] = list(
            ModelSubscription.objects.for_user(self.request.user)
            .select_related("provider")
            .order_by("-started_at", "pk")
        )
        context["providers"] = list(provider_list(firm_id=self.firm_id))
        context["can_edit"] = self.can_edit()
        return context

    def post(self, request: HttpRequest, *args: Any, **kwargs: Any) -> HttpResponse:
        reason = request.POST.get("reason", "")
        end = request.POST.get("end", "")
        try:
            if end:
                subscription = (
                    ModelSubscription.objects.for_user(request.user, Action.CHANGE)
                    .filter(pk=int(end) if end.isascii() and end.isdigit() else 0)
                    .first()
                )
                if subscription is None:
                    raise Http404("No such subscription.")
                subscription_end(actor=request.user, subscription=subscription, reason=reason)  # type: ignore[arg-type]
                messages.success(request, "Subscription ended.")
            else:
                provider = request.POST.get("provider", "")
                if not (provider.isascii() and provider.isdigit() and len(provider) < 18):
                    raise ProgramError({"provider": "choose a provider"})
                subscription_start(
                    actor=request.user,  # type: ignore[arg-type]
                    firm_id=self.firm_id,
                    provider_id=int(provider),
                    reason=reason,
                )
                messages.success(request, "Subscribed.")
        except ProgramError as exc:
            return self.rerender({"errors": exc.errors})
        return HttpResponseRedirect(reverse("models:subscriptions"))

"""Data-manager pages: upload a CSV file to import, the import history, one import's report.

Thin: :class:`~rebalancer.mixins.FirmScopedMixin` checks login, membership and role (403) and
every lookup goes through a ``for_user`` selector (another firm's import is 404); then one service
or selector call and a template.
"""

from __future__ import annotations

from typing import Any, cast

from django import forms
from django.contrib import messages
from django.contrib.auth.models import User
from django.core.files.uploadedfile import UploadedFile
from django.core.paginator import Paginator
from django.http import HttpRequest, HttpResponse, HttpResponseBase
from django.shortcuts import redirect, render
from django.views import View
from django.views.generic import DetailView

from rebalancer.mixins import FirmScopedMixin
from rebalancer.roles import Action, Resource
from rebalancer.web import PAGE_SIZE
from workflow.feeds.reader import SUFFIXES
from workflow.feeds.service import MAX_UPLOAD_BYTES, QUEUE_UNREACHABLE, import_enqueue
from workflow.filters import ImportRecordFilterSet
from workflow.models import ImportKind, ImportRecord
from workflow.selectors import import_list

#: How often (seconds) a page asks for a queued or running import's status.
POLL_SECONDS = 2


class ImportUploadForm(forms.Form):
    kind = forms.ChoiceField(choices=ImportKind.choices)
    file = forms.FileField(help_text="A .csv or .csv.gz file, UTF-8 (with or without BOM).")

    def clean_file(self) -> UploadedFile[bytes]:
        upload: UploadedFile[bytes] = self.cleaned_data["file"]
        if not (upload.name or "").lower().endswith(SUFFIXES):
            raise forms.ValidationError("The file name must end in .csv or .csv.gz.")
        if (upload.size or 0) > MAX_UPLOAD_BYTES:
            raise forms.ValidationError(
                f"The file is larger than {MAX_UPLOAD_BYTES // (1024 * 1024)} MB; "
                "compress it (.csv.gz) or use the import_csv command."
            )
        return upload


class ImportListView(FirmScopedMixin, View):
    """The upload form (data managers) above the firm's import history (everyone who may view)."""

    tenancy_resource = Resource.IMPORT
    tenancy_action = Action.VIEW
    tenancy_write_action = Action.CHANGE
    template_name = "workflow/import_list.html"

    def get(self, request: HttpRequest) -> HttpResponse:
        return self._render(ImportUploadForm())

    def post(self, request: HttpRequest) -> HttpResponseBase:
        form = ImportUploadForm(request.POST, request.FILES)
        if not form.is_valid():
            return self._render(form, status=400)
        upload: UploadedFile[bytes] = form.cleaned_data["file"]
        name = upload.name or "upload.csv"
        record = import_enqueue(
            firm=self.membership.firm,
            actor=cast(User, request.user),
            kind=form.cleaned_data["kind"],
            file_name=name,
            content=b"".join(upload.chunks()),
        )
        messages.success(request, f"{name} was uploaded as import #{record.pk}.")
        if record.message == QUEUE_UNREACHABLE:
            messages.warning(request, QUEUE_UNREACHABLE)
        return redirect("feeds:import_detail", pk=record.pk)

    def _render(self, form: ImportUploadForm, status: int = 200) -> HttpResponse:
        history = import_list(user=self.request.user)
        records = ImportRecordFilterSet(self.request.GET, queryset=history, request=self.request)
        rows = records.qs if records.is_valid() else history.none()
        page = Paginator(rows, PAGE_SIZE).get_page(self.request.GET.get("page"))
        if records.errors:
            status = 400
        context = {
            "filter": records,
            "filter_errors": records.error_text if records.errors else "",
            "form": form,
            "can_upload": self.role_can(Resource.IMPORT, Action.CHANGE),
            "page": page,
            "poll_seconds": POLL_SECONDS,
        }
        return render(self.request, self.template_name, context, status=status)


class ImportDetailView(FirmScopedMixin, DetailView):  # type: ignore[type-arg]
    """One import: what, who, when, result, counts, rows/s and the full error report."""

    tenancy_resource = Resource.IMPORT
    tenancy_action = Action.VIEW
    template_name = "workflow/import_detail.html"
    context_object_name = "record"

    def get_queryset(self) -> Any:
        return import_list(user=self.request.user, with_errors=True)

    def get_context_data(self, **kwargs: Any) -> dict[str, Any]:
        context = super().get_context_data(**kwargs)
        context.update(poll_seconds=POLL_SECONDS, refresh_when_done=True)
        return context


class ImportStatusView(FirmScopedMixin, DetailView):  # type: ignore[type-arg]
    """The htmx partial with an import's status and counts; it polls itself until final.

    With ``?refresh=1`` (the detail page) a final answer also tells htmx to reload the page, so
    the error report appears.
    """

    tenancy_resource = Resource.IMPORT
    tenancy_action = Action.VIEW
    template_name = "workflow/partials/_import_status.html"
    context_object_name = "record"

    def get_queryset(self) -> Any:
        return import_list(user=self.request.user)

    def get_context_data(self, **kwargs: Any) -> dict[str, Any]:
        context = super().get_context_data(**kwargs)
        context.update(poll_seconds=POLL_SECONDS, refresh_when_done=self._refresh())
        return context

    def _refresh(self) -> bool:
        return self.request.GET.get("refresh") == "1"

    def render_to_response(self, context: dict[str, Any], **kwargs: Any) -> HttpResponse:
        response = super().render_to_response(context, **kwargs)
        record: ImportRecord = context["record"]
        if self._refresh() and record.is_final and getattr(self.request, "htmx", False):
            response["HX-Refresh"] = "true"
        return response

"""Shared web helpers of every app's pages: one page size, htmx partials, FilterSet-driven lists.

The ground floor: apps above import these; this module imports nothing from them.
"""

from __future__ import annotations

from typing import Any

from django.core.exceptions import ValidationError
from django.core.paginator import Page, Paginator
from django.forms import Form
from django.http import HttpRequest, HttpResponse, HttpResponseBadRequest, HttpResponseBase

from rebalancer.filters import FirmFilterSet

#: Rows per page on every list page (the API pages by ``page_size``, default 100).
PAGE_SIZE = 50


def add_service_errors(form: Form, exc: ValidationError) -> None:
    """Show a service's ValidationError on the form: per field where it names one."""
    if hasattr(exc, "error_dict"):
        for field, errors in sorted(exc.message_dict.items()):
            form.add_error(field if field in form.fields else None, errors)
    else:
        form.add_error(None, exc.messages)


def nul_errors(data: Any) -> dict[str, str]:
    """Posted fields holding a NUL character (PostgreSQL refuses them): one error per field.
    Pages check the whole form with this before calling a service, so a NUL is a 400 naming
    the field on either database, never a 500."""
    return {
        name: "must not contain a NUL character"
        for name in sorted(data)
        if any("\x00" in value for value in data.getlist(name))
    }


class RefuseNulMixin:
    """List it after :class:`~rebalancer.mixins.FirmScopedMixin`: a POST with a NUL in any
    field answers 400 naming the fields (after the role checks, before the view runs)."""

    def dispatch(self, request: HttpRequest, *args: Any, **kwargs: Any) -> HttpResponseBase:
        errors = nul_errors(request.POST) if request.method == "POST" else {}
        if errors:
            return HttpResponseBadRequest(
                "; ".join(f"{name}: {message}" for name, message in errors.items()),
                content_type="text/plain; charset=utf-8",
            )
        response: HttpResponseBase = super().dispatch(request, *args, **kwargs)  # type: ignore[misc]
        return response


class HtmxPartialMixin:
    """Render ``partial_template_name`` instead of the page when htmx asks."""

    partial_template_name: str = ""
    template_name: str
    request: HttpRequest

    def get_template_names(self) -> list[str]:
        if self.partial_template_name and getattr(self.request, "htmx", False):
            return [self.partial_template_name]
        return [self.template_name]


class ReversiblePaginator(Paginator):  # type: ignore[type-arg]
    """Pages in the second half of a long list are read from its end: ``ORDER BY ... DESC
    LIMIT n OFFSET small`` instead of an OFFSET that walks almost every row (the last page of
    100,000 accounts). Only for an order that ends with the primary key (ties broken the same
    way in both directions); other lists page as usual."""

    def page(self, number: Any) -> Page[Any]:
        number = self.validate_number(number)
        bottom = (number - 1) * self.per_page
        top = min(bottom + self.per_page, self.count)
        rows: Any = self.object_list
        ordering = list(getattr(getattr(rows, "query", None), "order_by", ()) or ())
        unique_last = bool(ordering) and ordering[-1].lstrip("-") in ("pk", "id")
        if not unique_last or bottom <= self.count // 2:
            return super().page(number)
        from_end = list(rows.reverse()[self.count - top : self.count - bottom])
        from_end.reverse()
        return Page(from_end, number, self)


class FilteredListMixin:
    """A ListView filtered and sorted by ``filterset_class`` from the query string.

    List it before :class:`~rebalancer.mixins.FirmScopedMixin` (its ``get_queryset`` wins).

    ``get_base_queryset`` returns the scoped rows in their default order; the FilterSet narrows
    and (with ``ordering``) sorts them. Invalid parameters (an id that is not one, a NUL byte, an
    unknown status) answer 400 with the errors shown above an empty list. A page number past the
    end shows the last page, and one that is not a number the first (no 404 for a stale link).
    """

    filterset_class: type[FirmFilterSet]
    paginate_by: int | None = PAGE_SIZE
    request: HttpRequest
    filterset: FirmFilterSet

    def get_base_queryset(self) -> Any:
        raise NotImplementedError

    def get_queryset(self) -> Any:
        base = self.get_base_queryset()
        self.filterset = self.filterset_class(self.request.GET, queryset=base, request=self.request)
        if not self.filterset.is_valid():
            return base.none()
        return self.filterset.qs

    def paginate_queryset(self, queryset: Any, page_size: int) -> Any:
        paginator = ReversiblePaginator(queryset, page_size)
        raw = self.request.GET.get("page") or 1
        page: Page[Any] = paginator.get_page(paginator.num_pages if raw == "last" else raw)
        return paginator, page, page.object_list, page.has_other_pages()

    def get_context_data(self, **kwargs: Any) -> dict[str, Any]:
        context: dict[str, Any] = super().get_context_data(**kwargs)  # type: ignore[misc]
        params = self.request.GET
        context.update(
            filter=self.filterset,
            filter_errors=self.filterset.error_text if self.filterset.errors else "",
            q=params.get("q", ""),
            sort=params.get("ordering", ""),
        )
        return context

    def render_to_response(self, context: dict[str, Any], **kwargs: Any) -> HttpResponse:
        if self.filterset.errors:
            kwargs["status"] = 400
        response: HttpResponse = super().render_to_response(  # type: ignore[misc]
            context, **kwargs
        )
        return response

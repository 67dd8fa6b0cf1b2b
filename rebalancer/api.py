"""The one base DRF viewset and the role permission class every API endpoint uses.

* anonymous -> 401 (token authentication is listed first in settings, so the response carries a
  ``WWW-Authenticate: Token`` header);
* no firm membership, or a role that may not do the action (:func:`role_can`) -> 403;
* :meth:`FirmScopedViewSet.get_queryset` always starts from ``Model.objects.for_user(user,
  action)``; subclasses may only refine it (:meth:`refine_queryset`), so another firm's object is
  not found -> 404 and a new endpoint is scoped without anyone remembering.
"""

from __future__ import annotations

from typing import Any, ClassVar, TypeVar

from django.db import models
from rest_framework import permissions, viewsets
from rest_framework.exceptions import ValidationError
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from rebalancer.roles import Action, Resource, role_can
from rebalancer.tenancy import membership_of

_M = TypeVar("_M", bound=models.Model)


def request_action(request: Request) -> Action:
    """Reads are ``view``; anything else is ``change``."""
    return Action.VIEW if request.method in permissions.SAFE_METHODS else Action.CHANGE


def view_resource(view: APIView) -> Resource | None:
    """The resource a view acts on: declared, or the ``tenancy_resource`` of its model."""
    declared: Resource | None = getattr(view, "tenancy_resource", None)
    if declared is not None:
        return declared
    queryset = getattr(view, "queryset", None)
    if queryset is not None:
        resource: Resource = queryset.model.tenancy_resource
        return resource
    return None


class RolePermission(permissions.BasePermission):
    """Authenticated firm member whose role may do the request's action on the view's resource."""

    message = "Your role may not perform this action."

    def has_permission(self, request: Request, view: APIView) -> bool:
        user = request.user
        if user is None or not user.is_authenticated:
            return False  # DRF answers 401 because an authenticator offers a challenge
        membership = membership_of(user)
        if membership is None:
            self.message = "Your user has no membership of an active firm."
            return False
        resource = view_resource(view)
        if resource is None:
            return True
        return role_can(membership.role, resource, request_action(request))


class IsFirmMember(RolePermission):
    """Any authenticated member of an active firm (schema, docs, API root)."""

    def has_permission(self, request: Request, view: APIView) -> bool:
        user = request.user
        if user is None or not user.is_authenticated:
            return False
        return membership_of(user) is not None


def int_param(request: Request, name: str) -> int | None:
    """An optional positive integer query parameter; a clear 400 when it is not one."""
    raw = request.query_params.get(name)
    if raw is None or raw == "":
        return None
    if not raw.isdigit() or int(raw) <= 0:
        raise ValidationError({name: f"must be a positive integer id, got {raw!r}"})
    return int(raw)


class FirmScopedViewSet(viewsets.ReadOnlyModelViewSet[_M]):
    """Read-only, paginated, firm-scoped endpoint over ``queryset.model``.

    Subclasses declare ``queryset = Model.objects.all()`` (names the model for routing and the
    schema; never evaluated as is), a serializer, and optionally ``int_filters`` / ``str_filters``
    mapping query parameters to lookups (``{"account": "account_id"}``) and
    :meth:`refine_queryset`. Filters narrow the scoped rows; refinements (annotations, joins,
    prefetches) are applied to one page of them only.
    """

    permission_classes = [RolePermission]
    int_filters: ClassVar[dict[str, str]] = {}
    str_filters: ClassVar[dict[str, str]] = {}
    ordering: ClassVar[tuple[str, ...]] = ("pk",)

    def scoped_queryset(self) -> models.QuerySet[_M]:
        """``Model.objects.for_user(user, action)`` with the query filters, in list order."""
        declared: Any = getattr(self, "queryset", None)
        assert declared is not None, f"{type(self).__name__} declares no queryset"
        model: Any = declared.model
        scoped: models.QuerySet[_M] = model.objects.for_user(
            self.request.user, request_action(self.request)
        )
        filters: dict[str, Any] = {
            lookup: value
            for param, lookup in sorted(self.int_filters.items())
            if (value := int_param(self.request, param)) is not None
        }
        for param, lookup in sorted(self.str_filters.items()):
            text = self.request.query_params.get(param, "").strip()
            if text:
                filters[lookup] = text
        return scoped.filter(**filters).order_by(*self.ordering)

    def get_queryset(self) -> models.QuerySet[_M]:
        return self.refine_queryset(self.scoped_queryset())

    def refine_queryset(self, queryset: models.QuerySet[_M]) -> models.QuerySet[_M]:
        """Annotate, select or prefetch on the already scoped queryset. Never widen it."""
        return queryset

    def list(self, request: Request, *args: Any, **kwargs: Any) -> Response:
        """Page the plain scoped ids first, then refine only the page's rows.

        Annotations (latest prices, market values) are then computed for one page, not for
        every row an OFFSET skips.
        """
        ids_page = self.paginate_queryset(self.scoped_queryset().values_list("pk", flat=True))
        ids: list[Any] = list(ids_page) if ids_page is not None else []
        if ids_page is None:  # pagination switched off: the whole (scoped) list
            ids = list(self.scoped_queryset().values_list("pk", flat=True))
        by_pk = {
            row.pk: row for row in self.refine_queryset(self.scoped_queryset().filter(pk__in=ids))
        }
        rows = [by_pk[pk] for pk in ids if pk in by_pk]
        data = self.get_serializer(rows, many=True).data
        return self.get_paginated_response(data) if ids_page is not None else Response(data)

"""The one base DRF viewset and the role permission class every API endpoint uses.

* anonymous -> 401 (token authentication is listed first in settings, so the response carries a
  ``WWW-Authenticate: Token`` header);
* no firm membership, or a role that may not do the action (:func:`role_can`) -> 403;
* :meth:`FirmScopedViewSet.get_queryset` always starts from ``Model.objects.for_user(user,
  action)``; subclasses may only refine it (:meth:`refine_queryset`), so another firm's object is
  not found -> 404 and a new endpoint is scoped without anyone remembering.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, ClassVar, TypeVar

from django.db import models
from django_filters.rest_framework import DjangoFilterBackend
from rest_framework import permissions, viewsets
from rest_framework.exceptions import APIException, ValidationError
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from rebalancer.filters import FirmFilterSet
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


class StrictFilterBackend(DjangoFilterBackend):
    """The view's FilterSet, and a 400 for any query parameter it does not understand.

    ``?status=bogus`` is a 400 naming the allowed values (the FilterSet's choice), and
    ``?colour=red`` a 400 listing the supported parameters: nothing is silently ignored.
    """

    def filter_queryset(self, request: Any, queryset: Any, view: Any) -> Any:
        filterset_class = self.get_filterset_class(view, queryset)
        paginator = getattr(view, "paginator", None)
        allowed = {"format"} | {
            name
            for attribute in ("page_query_param", "cursor_query_param", "page_size_query_param")
            if (name := getattr(paginator, attribute, None))
        }
        if filterset_class is not None:
            allowed |= set(filterset_class.base_filters)
        unknown = sorted(set(request.query_params) - allowed)
        if unknown:
            raise ValidationError(
                {
                    name: f"unsupported query parameter; supported: {', '.join(sorted(allowed))}"
                    for name in unknown
                }
            )
        return super().filter_queryset(request, queryset, view)


class FirmScopedViewSet(viewsets.ReadOnlyModelViewSet[_M]):
    """Read-only, paginated, firm-scoped endpoint over ``queryset.model``.

    Subclasses declare ``queryset = Model.objects.all()`` (names the model for routing and the
    schema; never evaluated as is), a serializer, a ``filterset_class`` (the same FilterSet the
    pages use) and optionally :meth:`refine_queryset`. Filters and ``ordering`` narrow and sort
    the scoped rows; refinements (annotations, joins, prefetches) are applied to one page only.

    Write endpoints (none yet) take ids in their serializers and let the service resolve them
    through scoped querysets: no ``ModelSerializer`` foreign key, whose default queryset would
    be the unscoped ``objects.all()``.
    """

    permission_classes = [RolePermission]
    filter_backends = [StrictFilterBackend]
    filterset_class: ClassVar[type[FirmFilterSet] | None] = None
    ordering: ClassVar[tuple[str, ...]] = ("pk",)

    def scoped_queryset(self) -> models.QuerySet[_M]:
        """``Model.objects.for_user(user, action)`` in list order, then the query's filters."""
        declared: Any = getattr(self, "queryset", None)
        assert declared is not None, f"{type(self).__name__} declares no queryset"
        model: Any = declared.model
        scoped: models.QuerySet[_M] = model.objects.for_user(
            self.request.user, request_action(self.request)
        ).order_by(*self.ordering)
        filtered: models.QuerySet[_M] = self.filter_queryset(scoped)
        return filtered

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
        keys = self.scoped_queryset().values("pk")
        ids_page = self.paginate_queryset(keys)
        rows_of_ids = ids_page if ids_page is not None else list(keys)
        ids: list[Any] = [row["pk"] for row in rows_of_ids]
        by_pk = {
            row.pk: row for row in self.refine_queryset(self.scoped_queryset().filter(pk__in=ids))
        }
        rows = [by_pk[pk] for pk in ids if pk in by_pk]
        data = self.get_serializer(rows, many=True).data
        return self.get_paginated_response(data) if ids_page is not None else Response(data)


class Conflict(APIException):
    """409: the object changed since the caller read it (an optimistic-concurrency check)."""

    status_code = 409
    default_detail = "Changed by someone else since you read it; read it again."
    default_code = "conflict"


def service_error(errors: Mapping[str, str]) -> ValidationError:
    """A service's ``errors`` (field -> message; ``""`` for the whole change) as a 400 body."""
    return ValidationError({(field or "detail"): [message] for field, message in errors.items()})

"""The one view mixin every server-rendered page uses.

Order of checks, the same on every page:

1. anonymous -> redirect to the login page (``?next=`` back here);
2. no firm membership (or an inactive firm) -> 403;
3. the role may not do ``tenancy_action`` on ``tenancy_resource`` (:func:`role_can`) -> 403;
4. objects come from ``Model.objects.for_user(user, action)``, so another firm's object (or an
   advisor's unassigned household) is simply not found -> 404.

Checks 1-3 run before the view does anything, so a refused POST changes nothing.
"""

from __future__ import annotations

from typing import Any, ClassVar

from django.contrib.auth.mixins import AccessMixin
from django.core.exceptions import PermissionDenied
from django.db import models
from django.http import HttpRequest, HttpResponseBase

from rebalancer.models import Membership
from rebalancer.roles import Action, Resource, role_can
from rebalancer.tenancy import membership_of

SAFE_METHODS = frozenset({"GET", "HEAD", "OPTIONS"})


class FirmScopedMixin(AccessMixin):
    """Login, membership and role checks plus firm-scoped querysets for class-based views.

    ``tenancy_resource = None`` means "any member of a firm" (home page, API token page).
    """

    tenancy_resource: ClassVar[Resource | None] = None
    tenancy_action: ClassVar[Action] = Action.VIEW
    #: The action a POST (or any unsafe method) needs; None: the same as ``tenancy_action``.
    tenancy_write_action: ClassVar[Action | None] = None
    model: Any = None
    membership: Membership
    request: HttpRequest

    def dispatch(self, request: HttpRequest, *args: Any, **kwargs: Any) -> HttpResponseBase:
        if not request.user.is_authenticated:
            return self.handle_no_permission()
        membership = membership_of(request.user)
        if membership is None:
            return self.handle_no_membership()
        resource = self.tenancy_resource
        action = self.tenancy_action
        if request.method not in SAFE_METHODS and self.tenancy_write_action is not None:
            action = self.tenancy_write_action
        if resource is not None and not role_can(membership.role, resource, action):
            raise PermissionDenied(
                f"Your role ({membership.get_role_display()}) may not {action} {resource}s."
            )
        self.membership = membership
        response: HttpResponseBase = super().dispatch(request, *args, **kwargs)  # type: ignore[misc]
        return response

    def handle_no_membership(self) -> HttpResponseBase:
        raise PermissionDenied("Your user has no membership of an active firm.")

    def get_queryset(self) -> models.QuerySet[Any]:
        """The view's model scoped to the user and the view's action (other firms -> 404)."""
        if self.model is None:
            raise NotImplementedError(f"{type(self).__name__} sets no model")
        queryset: models.QuerySet[Any] = self.model.objects.for_user(
            self.request.user, self.tenancy_action
        )
        return queryset

    def role_can(self, resource: Resource, action: Action) -> bool:
        """For templates: whether the current role may do ``action`` on ``resource``."""
        return role_can(self.membership.role, resource, action)

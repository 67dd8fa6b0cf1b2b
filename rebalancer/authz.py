"""Write-side authorization in one place: every service that changes state calls :func:`authorize`
first, the way every read goes through ``Model.objects.for_user`` (:mod:`rebalancer.tenancy`).

Who may act:

* a :class:`SystemActor` (the import worker, the scheduler, the demo builder, a management command
  run on the server) may act in any firm: system code is trusted and named explicitly, never
  implied by a missing user;
* the platform operator (an active superuser) may act in any firm;
* anyone else must be an active member of the firm whose role may do ``action`` on ``resource``
  (:func:`rebalancer.roles.role_can`) and, for household-scoped roles (advisors), whose assigned
  households include ``household``.

A refusal raises :class:`NotAuthorized` (a ``PermissionDenied``). When the refusal would tell the
actor that something exists in another firm, or in a household not assigned to them, it is
``hidden``: pages and the API answer 404 (:class:`HiddenAuthorizationMiddleware`,
:func:`rebalancer.api.exception_handler`); otherwise 403.
"""

from __future__ import annotations

import enum
from typing import Any

from django.contrib.auth.models import AbstractBaseUser
from django.core.exceptions import PermissionDenied
from django.http import Http404, HttpRequest, HttpResponse
from django.views.defaults import page_not_found

from rebalancer.roles import HOUSEHOLD_SCOPED_ROLES, Action, Resource, role_can
from rebalancer.tenancy import assigned_household_ids, membership_of


class SystemActor(enum.StrEnum):
    """Code acting for a firm without a user; the value is the audit trail's actor label."""

    IMPORT = "system:import"
    SCHEDULER = "system:scheduler"
    DEMO = "system:demo"
    COMMAND = "system:command"


#: Who performs a write: a user (checked against the role table) or an explicit system actor.
Actor = AbstractBaseUser | SystemActor


class NotAuthorized(PermissionDenied):
    """The actor may not do this. ``hidden`` refusals are answered as "not found" (404)."""

    def __init__(self, message: str, *, hidden: bool = False) -> None:
        super().__init__(message)
        self.hidden = hidden


def is_operator(actor: Actor) -> bool:
    """The platform operator: an active superuser (manages firms, may act in any firm)."""
    return (
        not isinstance(actor, SystemActor)
        and actor.is_active
        and bool(getattr(actor, "is_superuser", False))
    )


def authorize(
    *,
    actor: Actor,
    firm: Any,
    resource: Resource,
    action: Action = Action.CHANGE,
    household: int | None = None,
) -> None:
    """Return if ``actor`` may do ``action`` on ``resource`` rows of ``firm``; else raise.

    ``firm`` is a :class:`~rebalancer.models.Firm`, a firm id, or None for platform-level
    resources (firms themselves), which only system actors and the platform operator may change.
    ``household`` (an id) names the household the rows belong to, when they belong to one.
    """
    if actor is None:
        raise TypeError("authorize() needs an actor: a user or a SystemActor")
    if isinstance(actor, SystemActor) or is_operator(actor):
        return
    if firm is None:
        raise NotAuthorized("Only the platform operator (a superuser) may do this.")
    firm_id = firm if isinstance(firm, int) else firm.pk
    membership = membership_of(actor)
    if membership is None or membership.firm_id != firm_id:
        raise NotAuthorized("Not found in your firm.", hidden=True)
    if not role_can(membership.role, resource, action):
        raise NotAuthorized(
            f"Your role ({membership.get_role_display()}) may not {action} {resource}s."
        )
    if (
        household is not None
        and membership.role in HOUSEHOLD_SCOPED_ROLES
        and not assigned_household_ids(actor).filter(content_object_id=household).exists()
    ):
        raise NotAuthorized("This household is not assigned to you.", hidden=True)


def actor_user(actor: Actor) -> Any:
    """The user behind an actor, for ``created_by`` columns: None for a system actor."""
    return None if isinstance(actor, SystemActor) or actor.pk is None else actor


def actor_label(actor: Actor) -> str:
    """How the audit trail names an actor: the username, or the system actor's label."""
    return actor.value if isinstance(actor, SystemActor) else actor.get_username()


class HiddenAuthorizationMiddleware:
    """Pages: a hidden :class:`NotAuthorized` becomes the ordinary 404 page."""

    def __init__(self, get_response: Any) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        response: HttpResponse = self.get_response(request)
        return response

    def process_exception(self, request: HttpRequest, exception: Exception) -> HttpResponse | None:
        if isinstance(exception, NotAuthorized) and exception.hidden:
            return page_not_found(request, Http404("Not found."))
        return None

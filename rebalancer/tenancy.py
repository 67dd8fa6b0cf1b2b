"""Tenant scoping in one place.

Every firm-owned model has a non-null ``firm`` foreign key, a ``tenancy_resource`` class attribute
naming its row in :data:`rebalancer.roles.PERMISSIONS`, and a manager built from
:class:`FirmQuerySet`. ``Model.objects.for_user(user, action)`` is the only way views, API viewsets
and selectors read firm-owned rows:

* a user without a membership, or whose role may not do ``action`` on the resource, gets nothing;
* everyone else gets only their own firm's rows;
* advisors (:data:`HOUSEHOLD_SCOPED_ROLES`) get only rows of the households assigned to them by a
  django-guardian object permission, applied as one ``household_id IN (subquery)`` filter.

Models whose rows belong to a household declare ``tenancy_household_path`` (the lookup path from the
model to the household id, e.g. ``"account__household_id"``).
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any, ClassVar, TypeVar

from django.apps import apps
from django.contrib.auth.models import AbstractBaseUser, AnonymousUser
from django.db import models

from rebalancer.roles import HOUSEHOLD_SCOPED_ROLES, Action, Resource, role_can

if TYPE_CHECKING:
    from rebalancer.models import Membership

_M = TypeVar("_M", bound=models.Model)

AnyUser = AbstractBaseUser | AnonymousUser

#: The guardian permission codename that assigns a household to an advisor.
HOUSEHOLD_ASSIGNMENT_PERMISSION = "view_household"


def membership_of(user: AnyUser | None) -> Membership | None:
    """The user's membership (firm + role), or None for anonymous users and platform operators.

    Cached on the user object for the duration of the request.
    """
    if user is None or not user.is_authenticated or not user.is_active:
        return None
    cached: Membership | bool | None = getattr(user, "_rebalancer_membership", False)
    if cached is not False:
        return cached  # type: ignore[return-value]
    membership_model = apps.get_model("rebalancer", "Membership")
    membership = (
        membership_model.objects.select_related("firm")
        .filter(user_id=user.pk, firm__is_active=True)
        .first()
    )
    setattr(user, "_rebalancer_membership", membership)  # noqa: B010 (a per-request cache)
    return membership


def assigned_household_ids(user: AnyUser) -> models.QuerySet[Any]:
    """Subquery of household ids assigned to ``user`` through guardian object permissions."""
    perm_model = apps.get_model("accounts", "HouseholdUserObjectPermission")
    return perm_model.objects.filter(
        user_id=user.pk, permission__codename=HOUSEHOLD_ASSIGNMENT_PERMISSION
    ).values("content_object_id")


class FirmQuerySet(models.QuerySet[_M]):
    """QuerySet of a firm-owned model; see the module docstring."""

    def for_user(self, user: AnyUser | None, action: Action = Action.VIEW) -> FirmQuerySet[_M]:
        membership = membership_of(user)
        resource: Resource = self.model.tenancy_resource  # type: ignore[attr-defined]
        if membership is None or not role_can(membership.role, resource, action):
            return self.none()
        scoped = self.filter(firm_id=membership.firm_id)
        path: str | None = getattr(self.model, "tenancy_household_path", None)
        if path is not None and membership.role in HOUSEHOLD_SCOPED_ROLES:
            assert user is not None
            scoped = scoped.filter(**{f"{path}__in": assigned_household_ids(user)})
        return scoped

    def for_firm(self, firm_id: int) -> FirmQuerySet[_M]:
        """Rows of one firm, for system code (imports, nightly run) acting for the firm."""
        return self.filter(firm_id=firm_id)


class FirmOwned(models.Model):
    """Abstract base of every firm-owned model: the non-null firm FK and the scoped manager."""

    tenancy_resource: ClassVar[Resource]

    firm = models.ForeignKey("rebalancer.Firm", on_delete=models.PROTECT, related_name="+")

    class Meta:
        abstract = True

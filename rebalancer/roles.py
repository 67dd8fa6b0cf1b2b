"""Roles and what each may do: the one declarative table of permissions.

Views, API viewsets and querysets ask :func:`role_can`; nothing else decides who may do what.
Advisors are additionally limited to the households assigned to them (django-guardian object
permissions, applied by :meth:`rebalancer.tenancy.FirmQuerySet.for_user`).
"""

from __future__ import annotations

from django.db import models


class Role(models.TextChoices):
    ADVISOR = "advisor", "Advisor"
    IPC = "ipc", "Investment policy committee"
    OVERLAY_MANAGER = "overlay_manager", "Overlay manager"
    COMPLIANCE = "compliance", "Compliance"
    MANAGEMENT = "management", "Management"
    DATA_MANAGER = "data_manager", "Data manager"
    FIRM_ADMIN = "firm_admin", "Firm admin"


class Resource(models.TextChoices):
    HOUSEHOLD = "household"
    ACCOUNT = "account"
    POSITION = "position"
    SECURITY = "security"
    PRICE = "price"
    IMPORT = "import"
    MEMBERSHIP = "membership"
    AUDIT = "audit"
    #: The IPC's program: asset classes, allocations, security models, strategies, equivalence
    #: sets, screens, customization limits, the firm's default settings, provider subscriptions.
    MODEL = "model"
    #: An account's or household's customization (menus): strategy, restrictions, tax, cash.
    ACCOUNT_SETTINGS = "account_settings"
    #: A change applied to every account a filter matches.
    BULK_CHANGE = "bulk_change"
    #: Named account filters (private to their owner or shared with the firm).
    SAVED_FILTER = "saved_filter"
    #: Nightly runs, their analyses and proposed trades.
    RUN = "run"
    #: Firms themselves: no role may change them; only the platform operator (see authz).
    FIRM = "firm"


class Action(models.TextChoices):
    VIEW = "view"
    CHANGE = "change"


_ALL = frozenset(Role)
_R = Role

#: (resource, action) -> roles allowed. Anything not listed is denied.
PERMISSIONS: dict[tuple[Resource, Action], frozenset[Role]] = {
    (Resource.HOUSEHOLD, Action.VIEW): _ALL,
    (Resource.HOUSEHOLD, Action.CHANGE): frozenset({_R.ADVISOR, _R.FIRM_ADMIN}),
    (Resource.ACCOUNT, Action.VIEW): _ALL,
    (Resource.ACCOUNT, Action.CHANGE): frozenset({_R.ADVISOR, _R.OVERLAY_MANAGER, _R.FIRM_ADMIN}),
    (Resource.POSITION, Action.VIEW): _ALL,
    (Resource.POSITION, Action.CHANGE): frozenset({_R.DATA_MANAGER}),
    (Resource.SECURITY, Action.VIEW): _ALL,
    (Resource.SECURITY, Action.CHANGE): frozenset({_R.DATA_MANAGER, _R.IPC}),
    (Resource.PRICE, Action.VIEW): _ALL,
    (Resource.PRICE, Action.CHANGE): frozenset({_R.DATA_MANAGER}),
    (Resource.IMPORT, Action.VIEW): frozenset({_R.DATA_MANAGER, _R.FIRM_ADMIN, _R.COMPLIANCE}),
    (Resource.IMPORT, Action.CHANGE): frozenset({_R.DATA_MANAGER}),
    (Resource.MEMBERSHIP, Action.VIEW): frozenset({_R.FIRM_ADMIN, _R.MANAGEMENT}),
    (Resource.MEMBERSHIP, Action.CHANGE): frozenset({_R.FIRM_ADMIN}),
    (Resource.AUDIT, Action.VIEW): frozenset({_R.COMPLIANCE, _R.MANAGEMENT, _R.FIRM_ADMIN}),
    (Resource.MODEL, Action.VIEW): _ALL,
    (Resource.MODEL, Action.CHANGE): frozenset({_R.IPC}),
    (Resource.ACCOUNT_SETTINGS, Action.VIEW): _ALL,
    (Resource.ACCOUNT_SETTINGS, Action.CHANGE): frozenset({_R.ADVISOR, _R.FIRM_ADMIN}),
    (Resource.BULK_CHANGE, Action.VIEW): frozenset(
        {_R.ADVISOR, _R.OVERLAY_MANAGER, _R.COMPLIANCE, _R.MANAGEMENT, _R.FIRM_ADMIN}
    ),
    (Resource.BULK_CHANGE, Action.CHANGE): frozenset(
        {_R.ADVISOR, _R.OVERLAY_MANAGER, _R.FIRM_ADMIN}
    ),
    (Resource.RUN, Action.VIEW): _ALL,
    (Resource.RUN, Action.CHANGE): frozenset({_R.OVERLAY_MANAGER, _R.FIRM_ADMIN}),
    (Resource.SAVED_FILTER, Action.VIEW): _ALL,
    (Resource.SAVED_FILTER, Action.CHANGE): _ALL,
}

#: Roles whose view of household-owned rows is limited to the households assigned to them.
HOUSEHOLD_SCOPED_ROLES: frozenset[Role] = frozenset({Role.ADVISOR})


def role_can(role: str, resource: Resource, action: Action) -> bool:
    """Whether ``role`` may perform ``action`` on ``resource`` (within its own firm)."""
    return role in PERMISSIONS.get((resource, action), frozenset())

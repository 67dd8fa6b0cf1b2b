"""Saved account filters: named AccountFilterSet criteria, private to their owner or shared.

The same criteria drive the account list (``?saved=<id>``), the API and bulk changes; the
daily queues will be saved filters with a purpose.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, cast

from django.db import IntegrityError, transaction
from django.db.models import Q, QuerySet
from django.http import QueryDict

from accounts.filters import AccountFilterSet, saved_filter_fields
from accounts.models import Account, SavedFilter
from rebalancer.audit import audit_record
from rebalancer.authz import Actor, NotAuthorized, authorize
from rebalancer.roles import Resource
from rebalancer.tenancy import AnyUser


class SavedFilterError(ValueError):
    def __init__(self, errors: Mapping[str, str]) -> None:
        self.errors = dict(sorted(errors.items()))
        super().__init__("; ".join(f"{k}: {v}" for k, v in self.errors.items()))


def saved_filter_list(*, user: AnyUser) -> QuerySet[SavedFilter]:
    """The user's own saved filters and the firm's shared ones."""
    rows = SavedFilter.objects.for_user(user)
    return rows.filter(Q(owner_id=user.pk) | Q(shared=True)).order_by("name", "id")


def saved_filter_visible(*, user: AnyUser | None, pk: int) -> SavedFilter | None:
    if user is None:
        return None
    return saved_filter_list(user=user).filter(pk=pk).first()


def criteria_clean(criteria: Any, *, allow_saved: bool = False) -> dict[str, Any]:
    """Criteria as the AccountFilterSet accepts them, or :class:`SavedFilterError`.

    ``allow_saved``: the criteria may name a saved filter (a bulk change may; a saved filter
    may not name another)."""
    if not isinstance(criteria, Mapping) or not criteria:
        raise SavedFilterError({"criteria": "give at least one criterion"})
    allowed = set(saved_filter_fields()) | ({"saved"} if allow_saved else set())
    unknown = sorted(set(criteria) - allowed)
    if unknown:
        raise SavedFilterError(
            {unknown[0]: f"unknown criterion (allowed: {', '.join(sorted(allowed))})"}
        )
    cleaned = {str(k): str(v) for k, v in sorted(criteria.items()) if v not in (None, "")}
    if not cleaned:
        raise SavedFilterError({"criteria": "give at least one criterion"})
    data = QueryDict(mutable=True)
    data.update(cleaned)
    filterset = AccountFilterSet(data, queryset=Account.objects.none())
    if not filterset.is_valid():
        raise SavedFilterError(
            {name: " ".join(str(e) for e in errors) for name, errors in filterset.errors.items()}
        )
    return cleaned


def saved_filter_save(
    *,
    actor: Actor,
    firm_id: int,
    name: str,
    criteria: Any,
    shared: bool = False,
    saved_filter: SavedFilter | None = None,
) -> SavedFilter:
    """Create (or, for its owner, change) a saved filter."""
    authorize(actor=actor, firm=firm_id, resource=Resource.SAVED_FILTER)
    name = (name or "").strip()
    if not name or len(name) > 200:
        raise SavedFilterError({"name": "give a name of at most 200 characters"})
    cleaned = criteria_clean(criteria)
    if saved_filter is not None and saved_filter.owner_id != getattr(actor, "pk", None):
        raise NotAuthorized("Only its owner may change a saved filter.")
    with transaction.atomic():
        before = None
        try:
            if saved_filter is None:
                saved_filter = SavedFilter.objects.create(
                    firm_id=firm_id,
                    owner=cast(Any, actor),
                    name=name,
                    criteria=cleaned,
                    shared=shared,
                )
            else:
                before = {
                    "name": saved_filter.name,
                    "criteria": saved_filter.criteria,
                    "shared": saved_filter.shared,
                }
                saved_filter.name, saved_filter.criteria, saved_filter.shared = (
                    name,
                    cleaned,
                    shared,
                )
                saved_filter.save()
        except IntegrityError:
            raise SavedFilterError({"name": f"you already have a filter named {name!r}"}) from None
        audit_record(
            firm=saved_filter.firm,
            actor=actor,
            action="saved_filter.save",
            obj=saved_filter,
            before=before,
            after={"name": name, "criteria": cleaned, "shared": shared},
        )
    return saved_filter


def saved_filter_delete(*, actor: Actor, saved_filter: SavedFilter) -> None:
    authorize(actor=actor, firm=saved_filter.firm_id, resource=Resource.SAVED_FILTER)
    if saved_filter.owner_id != getattr(actor, "pk", None):
        raise NotAuthorized("Only its owner may delete a saved filter.")
    with transaction.atomic():
        audit_record(
            firm=saved_filter.firm,
            actor=actor,
            action="saved_filter.delete",
            obj=saved_filter,
            before={"name": saved_filter.name, "criteria": saved_filter.criteria},
        )
        saved_filter.delete()

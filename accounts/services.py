"""Write side of accounts: every function validates, writes in one transaction and audits.

Keyword-only arguments, scope first. ``actor`` None means the system (an import job, the demo
builder); a platform operator (superuser) may act in any firm; anyone else must be a member of the
account's firm whose role may change the resource (:func:`rebalancer.roles.role_can`) and, for
advisors, whose assigned households include the account's.
"""

from __future__ import annotations

import datetime as dt
from collections import Counter, defaultdict
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from decimal import Decimal, InvalidOperation
from typing import Any

from django.contrib.auth import get_user_model
from django.contrib.auth.models import User
from django.core.exceptions import PermissionDenied, ValidationError
from django.db import transaction
from django.utils import timezone

from accounts.models import Account, AccountFlag, AccountStatus, Position, TaxLot
from models_hub.models import Security
from rebalancer.audit import audit_record
from rebalancer.roles import HOUSEHOLD_SCOPED_ROLES, Action, Resource, Role, role_can
from rebalancer.tenancy import membership_of

QUANTITY_PLACES = 6
MONEY_PLACES = 2


def _require(*, actor: User | None, account: Account, resource: Resource) -> None:
    """PermissionDenied unless ``actor`` may change ``resource`` rows of ``account``."""
    if actor is None or getattr(actor, "is_superuser", False):
        return
    membership = membership_of(actor)
    if membership is None or membership.firm_id != account.firm_id:
        raise PermissionDenied("not a member of this account's firm")
    if not role_can(membership.role, resource, Action.CHANGE):
        raise PermissionDenied(f"the {membership.get_role_display()} role may not change this")
    if (
        membership.role in HOUSEHOLD_SCOPED_ROLES
        and not Account.objects.for_user(actor, Action.VIEW).filter(pk=account.pk).exists()
    ):
        raise PermissionDenied("this account's household is not assigned to you")


def _places(value: Decimal) -> int:
    exponent = value.as_tuple().exponent
    return -exponent if isinstance(exponent, int) and exponent < 0 else 0


def _positions_summary(account_id: int) -> dict[str, str]:
    rows = Position.objects.filter(account_id=account_id).values_list(
        "security__ticker", "quantity"
    )
    return {ticker: format(quantity.normalize(), "f") for ticker, quantity in sorted(rows)}


# --- lots -----------------------------------------------------------------------------------------


@dataclass(frozen=True)
class LotInput:
    """One tax lot as a feed or a user states it. ``cost_basis`` is total dollars for the lot."""

    security_id: int
    lot_id: str
    quantity: Decimal
    cost_basis: Decimal
    acquired_on: dt.date


@dataclass(frozen=True)
class LotsReplaceResult:
    positions: int
    lots: int
    lots_removed: int


def _lot_errors(*, account: Account, lots: Sequence[LotInput], today: dt.date) -> list[str]:
    errors: list[str] = []
    ids = Counter(lot.lot_id for lot in lots)
    for n, lot in enumerate(lots, start=1):
        where = f"lot {n} ({lot.lot_id or 'no id'})"
        if not lot.lot_id.strip() or len(lot.lot_id) > 64:
            errors.append(f"{where}: lot id must be 1 to 64 characters")
        elif ids[lot.lot_id] > 1:
            errors.append(f"{where}: lot id appears {ids[lot.lot_id]} times")
        if not isinstance(lot.quantity, Decimal) or not lot.quantity.is_finite():
            errors.append(f"{where}: quantity must be a finite Decimal")
        elif lot.quantity <= 0:
            errors.append(f"{where}: quantity must be greater than 0, got {lot.quantity}")
        elif _places(lot.quantity) > QUANTITY_PLACES:
            errors.append(f"{where}: quantity has more than {QUANTITY_PLACES} decimal places")
        if not isinstance(lot.cost_basis, Decimal) or not lot.cost_basis.is_finite():
            errors.append(f"{where}: cost basis must be a finite Decimal")
        elif lot.cost_basis < 0:
            errors.append(f"{where}: cost basis must not be negative, got {lot.cost_basis}")
        elif _places(lot.cost_basis) > MONEY_PLACES:
            errors.append(f"{where}: cost basis has more than {MONEY_PLACES} decimal places")
        if lot.acquired_on > today:
            errors.append(f"{where}: acquired on {lot.acquired_on}, after today ({today})")
    wanted = {lot.security_id for lot in lots}
    known = set(
        Security.objects.for_firm(account.firm_id)
        .filter(pk__in=sorted(wanted))
        .values_list("pk", flat=True)
    )
    for n, lot in enumerate(lots, start=1):
        if lot.security_id not in known:
            errors.append(f"lot {n} ({lot.lot_id}): no security {lot.security_id} in this firm")
    taken = sorted(
        TaxLot.objects.for_firm(account.firm_id)
        .exclude(account_id=account.pk)
        .filter(lot_id__in=sorted(ids))
        .values_list("lot_id", flat=True)
    )
    errors += [f"lot id {lot_id} is already used by another account" for lot_id in taken]
    return errors


def lots_replace(
    *,
    account: Account,
    actor: User | None,
    lots: Sequence[LotInput],
    reason: str,
    today: dt.date | None = None,
) -> LotsReplaceResult:
    """Make ``lots`` the account's complete set of tax lots, and its positions their sums.

    Everything is checked first (``ValidationError`` listing every problem; nothing written): ids
    unique and free in the firm, quantities > 0 with at most 6 places, cost basis >= 0 in cents,
    acquisition not after ``today``, every security in the account's firm. Then, in one transaction
    with the account row locked, the old lots and positions go, one position per security is
    written with quantity = the sum of its lots, the lots are written, and one audit event records
    the positions before and after. An empty ``lots`` empties the account.
    """
    _require(actor=actor, account=account, resource=Resource.POSITION)
    if not reason.strip():
        raise ValidationError({"reason": "say why the lots are replaced"})
    errors = _lot_errors(account=account, lots=lots, today=today or timezone.localdate())
    if errors:
        raise ValidationError({"lots": errors})
    with transaction.atomic():
        locked = Account.objects.select_for_update().get(pk=account.pk)
        before = _positions_summary(locked.pk)
        lots_removed = TaxLot.objects.filter(account_id=locked.pk).count()
        TaxLot.objects.filter(account_id=locked.pk).delete()
        Position.objects.filter(account_id=locked.pk).delete()
        totals: dict[int, Decimal] = defaultdict(Decimal)
        for lot in lots:
            totals[lot.security_id] += lot.quantity
        positions = Position.objects.bulk_create(
            [
                Position(firm_id=locked.firm_id, account=locked, security_id=sid, quantity=qty)
                for sid, qty in sorted(totals.items())
            ]
        )
        position_ids = dict(
            Position.objects.filter(account_id=locked.pk).values_list("security_id", "pk")
        )
        TaxLot.objects.bulk_create(
            [
                TaxLot(
                    firm_id=locked.firm_id,
                    account=locked,
                    security_id=lot.security_id,
                    position_id=position_ids[lot.security_id],
                    lot_id=lot.lot_id,
                    quantity=lot.quantity,
                    cost_basis=lot.cost_basis,
                    acquired_on=lot.acquired_on,
                )
                for lot in sorted(lots, key=lambda lot: (lot.security_id, lot.lot_id))
            ],
            batch_size=1000,
        )
        audit_record(
            firm=locked.firm,
            actor=actor,
            action="lots.replace",
            obj=locked,
            before={"positions": before, "lots": lots_removed},
            after={"positions": _positions_summary(locked.pk), "lots": len(lots)},
            reason=reason,
        )
    return LotsReplaceResult(positions=len(positions), lots=len(lots), lots_removed=lots_removed)


# --- account fields -------------------------------------------------------------------------------

#: Fields :func:`account_update` may change. ``advisor`` takes a user id (or None); ``flags`` a
#: list of flag names that exist in the firm.
ACCOUNT_UPDATABLE = ("name", "status", "discretionary", "cash_balance", "advisor", "flags")


def _account_snapshot(account: Account, fields: Sequence[str]) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for f in fields:
        if f == "flags":
            out[f] = sorted(account.flags.values_list("name", flat=True))
        elif f == "advisor":
            out[f] = account.advisor_id
        else:
            out[f] = getattr(account, f)
    return out


def _coerce_change(account: Account, field: str, value: Any) -> tuple[Any, str | None]:
    """(value ready to set, error message or None) for one requested change."""
    if field == "cash_balance":
        try:
            amount = Decimal(str(value))
        except InvalidOperation:
            return None, f"not a number: {value!r}"
        if not amount.is_finite() or _places(amount) > MONEY_PLACES:
            return None, f"must be dollars with at most {MONEY_PLACES} decimal places"
        return amount, None
    if field == "discretionary":
        if not isinstance(value, bool):
            return None, "must be true or false"
        return value, None
    if field == "status":
        if value not in AccountStatus.values:
            return None, f"must be one of {', '.join(AccountStatus.values)}"
        return value, None
    if field == "advisor":
        if value is None:
            return None, None
        advisor = (
            get_user_model()
            .objects.filter(
                pk=value,
                membership__firm_id=account.firm_id,
                membership__role=Role.ADVISOR,
                is_active=True,
            )
            .first()
        )
        if advisor is None:
            return None, f"no active advisor {value!r} in this firm"
        return advisor.pk, None
    if field == "flags":
        if isinstance(value, str) or not isinstance(value, Sequence):
            return None, "must be a list of flag names"
        names = sorted(set(value))
        found = list(AccountFlag.objects.for_firm(account.firm_id).filter(name__in=names))
        missing = sorted(set(names) - {flag.name for flag in found})
        if missing:
            return None, f"no such flags in this firm: {', '.join(missing)}"
        return found, None
    if not isinstance(value, str):
        return None, "must be text"
    return value.strip(), None


def account_update(
    *,
    account: Account,
    actor: User | None,
    changes: Mapping[str, Any],
    reason: str,
) -> Account:
    """Change some of :data:`ACCOUNT_UPDATABLE` on ``account``; return the saved account.

    Every change is validated first (``ValidationError`` keyed by field; nothing written). Changes
    that equal the current values are dropped; if nothing is left, nothing is written and no audit
    event appears. Otherwise one transaction saves the account (``full_clean`` first) and writes one
    audit event with the changed fields before and after.
    """
    _require(actor=actor, account=account, resource=Resource.ACCOUNT)
    unknown = sorted(set(changes) - set(ACCOUNT_UPDATABLE))
    if unknown:
        raise ValidationError({f: "this field cannot be changed here" for f in unknown})
    if not reason.strip():
        raise ValidationError({"reason": "say why the account is changed"})
    coerced: dict[str, Any] = {}
    errors: dict[str, str] = {}
    for field in sorted(changes):
        value, error = _coerce_change(account, field, changes[field])
        if error is not None:
            errors[field] = error
        else:
            coerced[field] = value
    if errors:
        raise ValidationError(errors)
    with transaction.atomic():
        locked = Account.objects.select_for_update().get(pk=account.pk)
        before = _account_snapshot(locked, list(coerced))
        wanted = {
            f: (sorted(flag.name for flag in v) if f == "flags" else v) for f, v in coerced.items()
        }
        changed = sorted(f for f in coerced if before[f] != wanted[f])
        if not changed:
            return locked
        for field in changed:
            if field == "advisor":
                locked.advisor_id = coerced[field]
            elif field != "flags":
                setattr(locked, field, coerced[field])
        locked.full_clean()
        locked.save()
        if "flags" in changed:
            locked.flags.set(coerced["flags"])
        audit_record(
            firm=locked.firm,
            actor=actor,
            action="account.update",
            obj=locked,
            before={f: before[f] for f in changed},
            after=_account_snapshot(locked, changed),
            reason=reason,
        )
    return locked

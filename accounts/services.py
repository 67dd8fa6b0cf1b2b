"""Write side of accounts: every function validates, writes in one transaction and audits.

Keyword-only arguments, scope first. Every service calls :func:`rebalancer.authz.authorize` first:
``actor`` is a user (a member of the account's firm whose role may change the resource and, for
advisors, whose assigned households include the account's; or the platform operator) or an
explicit :class:`~rebalancer.authz.SystemActor` (an import job, the demo builder).
"""

from __future__ import annotations

import datetime as dt
from collections import Counter, defaultdict
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from decimal import Decimal, InvalidOperation
from typing import Any, NamedTuple

from django.contrib.auth import get_user_model
from django.core.exceptions import ValidationError
from django.db import transaction
from django.db.models import F, OuterRef, Subquery, Sum, Value
from django.db.models.functions import Coalesce
from django.utils import timezone

from accounts.models import Account, AccountFlag, AccountStatus, Household, Position, TaxLot
from accounts.selectors import VALUE_FIELD, cents
from models_hub.models import Security
from models_hub.services import security_last_close_refresh
from rebalancer.audit import audit_record
from rebalancer.authz import Actor, authorize
from rebalancer.bulk import chunked, ids_reserve, rows_insert, rows_update
from rebalancer.roles import Resource, Role

QUANTITY_PLACES = 6
MONEY_PLACES = 2


def _authorize(*, actor: Actor, account: Account, resource: Resource) -> None:
    """``actor`` may change ``resource`` rows of ``account`` (its firm, role and household)."""
    authorize(
        actor=actor,
        firm=account.firm_id,
        resource=resource,
        household=account.household_id,
    )


def _places(value: Decimal) -> int:
    exponent = value.as_tuple().exponent
    return -exponent if isinstance(exponent, int) and exponent < 0 else 0


def _positions_summary(account_id: int) -> dict[str, str]:
    rows = Position.objects.filter(account_id=account_id).values_list(
        "security__ticker", "quantity"
    )
    return {ticker: format(quantity.normalize(), "f") for ticker, quantity in sorted(rows)}


# --- lots -----------------------------------------------------------------------------------------


class LotInput(NamedTuple):
    """One tax lot as a feed or a user states it. ``cost_basis`` is total dollars for the lot.

    A named tuple, not a dataclass: the demo book hands millions of them to :func:`lots_sync`.
    """

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


@dataclass
class LotsSyncCounts:
    """What :func:`lots_sync` wrote: lots by outcome, positions by outcome."""

    accounts: int = 0
    created: int = 0
    updated: int = 0
    unchanged: int = 0
    deleted: int = 0
    positions_created: int = 0
    positions_updated: int = 0
    positions_deleted: int = 0

    @property
    def positions_changed(self) -> int:
        return self.positions_created + self.positions_updated + self.positions_deleted


_LOT_FIELDS = ("account_id", "security_id", "position_id", "quantity", "cost_basis", "acquired_on")
SYNC_BATCH = 2_000


def account_values_refresh(
    *,
    firm_id: int,
    actor: Actor,
    account_ids: Sequence[int] | None = None,
    security_ids: Sequence[int] | None = None,
) -> int:
    """Recompute ``Account.securities_value`` (positions at the latest closes) of the firm's
    accounts: those named, or those holding one of ``security_ids``, or (neither) all of them.

    :func:`lots_sync` calls it for the accounts it changed and :func:`book_revalue` after prices
    change; nothing else writes the column. One UPDATE per batch of accounts. Returns the rows
    updated.
    """
    authorize(actor=actor, firm=firm_id, resource=Resource.POSITION)
    return _account_values_refresh(
        firm_id=firm_id, account_ids=account_ids, security_ids=security_ids
    )


def _account_values_refresh(
    *,
    firm_id: int,
    account_ids: Sequence[int] | None = None,
    security_ids: Sequence[int] | None = None,
) -> int:
    held = (
        Position.objects.filter(account_id=OuterRef("pk"))
        .order_by()
        .values("account_id")
        .annotate(value=Sum(F("quantity") * F("security__last_close")))
        .values("value")
    )
    value = Coalesce(
        Subquery(held, output_field=VALUE_FIELD), Value(Decimal("0")), output_field=VALUE_FIELD
    )
    accounts = Account.objects.for_firm(firm_id)
    if security_ids is not None:
        holders = Position.objects.filter(firm_id=firm_id, security_id__in=sorted(security_ids))
        accounts = accounts.filter(pk__in=holders.values("account_id"))
    if account_ids is None:
        return accounts.update(securities_value=value)
    updated = 0
    for chunk in chunked(sorted(account_ids)):
        updated += accounts.filter(pk__in=chunk).update(securities_value=value)
    return updated


def book_revalue(*, firm_id: int, actor: Actor, security_ids: Sequence[int] | None = None) -> int:
    """After prices were written: each security's latest close, then the value of every account
    holding one of them (all securities and accounts of the firm when ``security_ids`` is None).
    Every price writer calls this in the transaction that wrote the prices."""
    authorize(actor=actor, firm=firm_id, resource=Resource.PRICE)
    security_last_close_refresh(firm_id=firm_id, actor=actor, security_ids=security_ids)
    return _account_values_refresh(firm_id=firm_id, security_ids=security_ids)


def lots_sync(
    *,
    firm_id: int,
    actor: Actor,
    lots: Mapping[int, Sequence[LotInput]],
    new_accounts: bool = False,
) -> LotsSyncCounts:
    """The one writer of tax lots and positions: make each named account's lots exactly
    ``lots[account_id]`` and each of its positions the sum of its lots.

    ``Position.quantity == sum(lot.quantity)`` holds after every call, by construction; it is
    the only code that writes ``TaxLot`` or ``Position`` rows (the lots page, the lots feed and
    the demo book all call it). Lots are matched by lot id (unique in the firm): unchanged ones
    are kept as they are, changed ones updated (a lot may move between named accounts), missing
    ones deleted, new ones created; accounts not named are not touched. An empty sequence
    empties the account. The named accounts' ``securities_value`` is recomputed at the end.

    The input is trusted: callers validate it first (:func:`lots_replace` a user's lots, the
    lots feed its rows, the demo its plan). ``new_accounts`` says the accounts were created in
    this transaction and hold nothing yet: rows are then inserted in bulk with reserved ids and
    nothing is read (the demo book writes millions of lots this way). Runs inside the caller's
    transaction (or its own).
    """
    authorize(actor=actor, firm=firm_id, resource=Resource.POSITION)
    with transaction.atomic():
        if new_accounts:
            return _lots_insert_new(firm_id=firm_id, lots=lots)
        counts = _lots_merge(firm_id=firm_id, lots=lots)
        _account_values_refresh(firm_id=firm_id, account_ids=sorted(lots))
    return counts


def _lots_insert_new(*, firm_id: int, lots: Mapping[int, Sequence[LotInput]]) -> LotsSyncCounts:
    totals: list[tuple[int, int, Decimal]] = []
    for account_id in sorted(lots):
        per_security: dict[int, Decimal] = defaultdict(Decimal)
        for lot in lots[account_id]:
            per_security[lot.security_id] += lot.quantity
        totals += [(account_id, sid, qty) for sid, qty in sorted(per_security.items())]
    # The new accounts' values, from the quantities in hand and each security's latest close:
    # the same figure account_values_refresh computes, without reading back what was just written.
    held = sorted({sid for _, sid, _ in totals})
    closes = dict(
        Security.objects.for_firm(firm_id)
        .filter(pk__in=held, last_close__isnull=False)
        .values_list("pk", "last_close")
    )
    values: dict[int, Decimal] = dict.fromkeys(lots, Decimal("0"))
    for account_id, sid, qty in totals:
        close = closes.get(sid)
        if close is not None:
            values[account_id] += qty * close
    rows_update(
        model=Account,
        field="securities_value",
        rows=((cents(value), account_id) for account_id, value in sorted(values.items())),
    )
    ids = ids_reserve(model=Position, count=len(totals))
    position_of = {(a, s): pk for (a, s, _), pk in zip(totals, ids, strict=True)}
    rows_insert(
        model=Position,
        fields=("id", "firm_id", "account_id", "security_id", "quantity"),
        rows=((pk, firm_id, a, s, q) for (a, s, q), pk in zip(totals, ids, strict=True)),
    )
    created = rows_insert(
        model=TaxLot,
        fields=(
            "firm_id",
            "account_id",
            "security_id",
            "position_id",
            "lot_id",
            "quantity",
            "cost_basis",
            "acquired_on",
        ),
        rows=(
            (
                firm_id,
                account_id,
                lot.security_id,
                position_of[(account_id, lot.security_id)],
                lot.lot_id,
                lot.quantity,
                lot.cost_basis,
                lot.acquired_on,
            )
            for account_id in sorted(lots)
            for lot in lots[account_id]
        ),
    )
    return LotsSyncCounts(accounts=len(lots), created=created, positions_created=len(totals))


def _lots_merge(*, firm_id: int, lots: Mapping[int, Sequence[LotInput]]) -> LotsSyncCounts:
    named = sorted(lots)
    counts = LotsSyncCounts(accounts=len(named))
    held: dict[str, TaxLot] = {}
    positions: dict[tuple[int, int], Position] = {}
    for chunk in chunked(named):
        held.update(
            (lot.lot_id, lot)
            for lot in TaxLot.objects.for_firm(firm_id).filter(account_id__in=chunk)
        )
        positions.update(
            ((p.account_id, p.security_id), p)
            for p in Position.objects.for_firm(firm_id).filter(account_id__in=chunk)
        )
    wanted: dict[tuple[int, int], Decimal] = defaultdict(Decimal)
    for account_id in named:
        for lot in lots[account_id]:
            wanted[(account_id, lot.security_id)] += lot.quantity

    # Positions first: new lots need their position's id.
    new_positions = [
        Position(firm_id=firm_id, account_id=a, security_id=s, quantity=q)
        for (a, s), q in sorted(wanted.items())
        if (a, s) not in positions
    ]
    resized = [
        p for key, p in sorted(positions.items()) if key in wanted and p.quantity != wanted[key]
    ]
    for position in resized:
        position.quantity = wanted[(position.account_id, position.security_id)]
    gone_positions = [p.pk for key, p in sorted(positions.items()) if key not in wanted]
    Position.objects.bulk_create(new_positions, batch_size=SYNC_BATCH)
    Position.objects.bulk_update(resized, ["quantity"], batch_size=SYNC_BATCH)
    position_ids = {key: p.pk for key, p in positions.items()}
    position_ids.update({(p.account_id, p.security_id): p.pk for p in new_positions})

    new_lots: list[TaxLot] = []
    changed_lots: list[TaxLot] = []
    for account_id in named:
        for lot in lots[account_id]:
            fields = {
                "account_id": account_id,
                "security_id": lot.security_id,
                "position_id": position_ids[(account_id, lot.security_id)],
                "quantity": lot.quantity,
                "cost_basis": lot.cost_basis,
                "acquired_on": lot.acquired_on,
            }
            row = held.pop(lot.lot_id, None)
            if row is None:
                new_lots.append(TaxLot(firm_id=firm_id, lot_id=lot.lot_id, **fields))
            elif any(getattr(row, k) != v for k, v in fields.items()):
                for name, value in fields.items():
                    setattr(row, name, value)
                changed_lots.append(row)
            else:
                counts.unchanged += 1
    gone_lots = sorted(row.pk for row in held.values())  # held before, not in the new sets
    for chunk in chunked(gone_lots):
        TaxLot.objects.filter(pk__in=chunk).delete()
    TaxLot.objects.bulk_update(changed_lots, list(_LOT_FIELDS), batch_size=SYNC_BATCH)
    TaxLot.objects.bulk_create(new_lots, batch_size=SYNC_BATCH)
    for chunk in chunked(gone_positions):
        Position.objects.filter(pk__in=chunk).delete()
    counts.created = len(new_lots)
    counts.updated = len(changed_lots)
    counts.deleted = len(gone_lots)
    counts.positions_created = len(new_positions)
    counts.positions_updated = len(resized)
    counts.positions_deleted = len(gone_positions)
    return counts


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
    actor: Actor,
    lots: Sequence[LotInput],
    reason: str,
    today: dt.date | None = None,
) -> LotsReplaceResult:
    """Make ``lots`` the account's complete set of tax lots, and its positions their sums.

    Everything is checked first (``ValidationError`` listing every problem; nothing written): ids
    unique and free in the firm, quantities > 0 with at most 6 places, cost basis >= 0 in cents,
    acquisition not after ``today``, every security in the account's firm. Then, in one transaction
    with the account row locked, :func:`lots_sync` makes them the account's lots (matched by lot
    id) and its positions their sums, and one audit event records the positions before and
    after. An empty ``lots`` empties the account. ``lots_removed`` counts the lots deleted.
    """
    _authorize(actor=actor, account=account, resource=Resource.POSITION)
    if not reason.strip():
        raise ValidationError({"reason": "say why the lots are replaced"})
    errors = _lot_errors(account=account, lots=lots, today=today or timezone.localdate())
    if errors:
        raise ValidationError({"lots": errors})
    with transaction.atomic():
        locked = Account.objects.select_for_update().get(pk=account.pk)
        before = _positions_summary(locked.pk)
        lots_before = TaxLot.objects.filter(account_id=locked.pk).count()
        synced = lots_sync(firm_id=locked.firm_id, actor=actor, lots={locked.pk: list(lots)})
        audit_record(
            firm=locked.firm,
            actor=actor,
            action="lots.replace",
            obj=locked,
            before={"positions": before, "lots": lots_before},
            after={"positions": _positions_summary(locked.pk), "lots": len(lots)},
            reason=reason,
        )
    return LotsReplaceResult(
        positions=len({lot.security_id for lot in lots}),
        lots=len(lots),
        lots_removed=synced.deleted,
    )


# --- account fields -------------------------------------------------------------------------------

#: Fields :func:`account_update` may change. ``advisor`` takes a user id (or None); ``flags`` a
#: list of flag names that exist in the firm.
ACCOUNT_UPDATABLE = (
    "name",
    "status",
    "discretionary",
    "cash_balance",
    "advisor",
    "flags",
    "household",
)


def _account_snapshot(account: Account, fields: Sequence[str]) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for f in fields:
        if f == "flags":
            out[f] = sorted(account.flags.values_list("name", flat=True))
        elif f == "advisor":
            out[f] = account.advisor_id
        elif f == "household":
            out[f] = account.household_id
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
    if field == "household":
        if isinstance(value, bool) or not isinstance(value, int):
            return None, "must be a household id"
        if not Household.objects.for_firm(account.firm_id).filter(pk=value).exists():
            return None, f"no household {value!r} in this firm"
        return value, None
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
    actor: Actor,
    changes: Mapping[str, Any],
    reason: str,
) -> Account:
    """Change some of :data:`ACCOUNT_UPDATABLE` on ``account``; return the saved account.

    Every change is validated first (``ValidationError`` keyed by field; nothing written). Changes
    that equal the current values are dropped; if nothing is left, nothing is written and no audit
    event appears. Otherwise one transaction saves the account (``full_clean`` first) and writes one
    audit event with the changed fields before and after.
    """
    _authorize(actor=actor, account=account, resource=Resource.ACCOUNT)
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
    if "household" in coerced:
        # Moving an account is a change to the household it joins too (advisors: theirs only).
        authorize(
            actor=actor,
            firm=account.firm_id,
            resource=Resource.ACCOUNT,
            household=coerced["household"],
        )
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
            elif field == "household":
                locked.household_id = coerced[field]
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

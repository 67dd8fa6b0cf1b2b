"""Tenancy-core services: firms, memberships, passwords and API tokens.

Every service that changes state validates first (a refused call changes nothing), writes inside
one transaction, and appends one :class:`~rebalancer.models.AuditEvent` via :func:`audit_record`.
"""

from __future__ import annotations

from dataclasses import dataclass

from django.contrib.auth.models import User
from django.contrib.auth.tokens import default_token_generator
from django.core.exceptions import ValidationError
from django.core.validators import validate_email
from django.db import transaction
from django.urls import reverse
from django.utils.encoding import force_bytes
from django.utils.http import urlsafe_base64_encode

from rebalancer.audit import audit_record
from rebalancer.authz import authorize
from rebalancer.models import Firm, Membership
from rebalancer.roles import Resource, Role
from rebalancer.tenancy import membership_of
from rebalancer.tokens import api_tokens_revoke_all

# --- Firms (platform operator) -------------------------------------------------------------


def firm_create(*, operator: User, name: str, slug: str) -> Firm:
    """Create a tenant. Only the platform operator may; the firm's first event records who."""
    authorize(actor=operator, firm=None, resource=Resource.FIRM)
    firm = Firm(name=name.strip(), slug=slug.strip())
    firm.full_clean()
    with transaction.atomic():
        firm.save()
        audit_record(
            firm=firm,
            actor=operator,
            action="firm.create",
            obj=firm,
            after={"name": firm.name, "slug": firm.slug},
        )
    return firm


def firm_update(*, operator: User, firm: Firm, name: str, is_active: bool, reason: str) -> Firm:
    """Rename or (de)activate a firm. Deactivating a firm locks all its members out."""
    authorize(actor=operator, firm=None, resource=Resource.FIRM)
    before = {"name": firm.name, "is_active": firm.is_active}
    firm.name = name.strip()
    firm.is_active = is_active
    firm.full_clean()
    after = {"name": firm.name, "is_active": firm.is_active}
    if after == before:
        return firm
    with transaction.atomic():
        firm.save(update_fields=["name", "is_active"])
        audit_record(
            firm=firm,
            actor=operator,
            action="firm.update",
            obj=firm,
            before=before,
            after=after,
            reason=reason,
        )
    return firm


# --- Memberships (firm admins) -------------------------------------------------------------


def _require_reason(reason: str) -> str:
    reason = reason.strip()
    if not reason:
        raise ValidationError({"reason": "Give a reason; it is kept in the audit log."})
    return reason


def _require_role(role: str) -> Role:
    if role not in Role.values:
        raise ValidationError({"role": f"Unknown role {role!r}; choose one of {Role.values}."})
    return Role(role)


def _other_active_admins(membership: Membership) -> bool:
    return (
        Membership.objects.filter(
            firm_id=membership.firm_id, role=Role.FIRM_ADMIN, user__is_active=True
        )
        .exclude(pk=membership.pk)
        .exists()
    )


@dataclass(frozen=True)
class Invitation:
    """A new member and the one-time path where they choose their password.

    The path holds a Django password-reset token: it stops working once the password is set
    (the token hashes the password), or after ``PASSWORD_RESET_TIMEOUT``. Show it to the admin
    once; it is not stored anywhere.
    """

    membership: Membership
    set_password_path: str


def member_username(*, firm: Firm, requested: str) -> str:
    """The login name of an invited user: ``<requested>@<firm slug>``.

    Usernames are unique on the whole platform; scoping invited ones by the firm's (unique) slug
    means an invitation can only collide with the inviting firm's own users, so the invite form
    never tells one firm whether a username exists in another.
    """
    requested = requested.strip()
    if "@" in requested:
        raise ValidationError(
            {"username": "Letters, digits and . + - _ only: the firm is added after an @."}
        )
    return f"{requested}@{firm.slug}"


def membership_invite(
    *, firm: Firm, actor: User, username: str, email: str, role: str, reason: str
) -> Invitation:
    """Create a user with an unusable password and a membership of ``firm`` in ``role``."""
    authorize(actor=actor, firm=firm, resource=Resource.MEMBERSHIP)
    new_role = _require_role(role)
    reason = _require_reason(reason)
    email = email.strip()
    try:
        validate_email(email)
    except ValidationError as exc:
        raise ValidationError({"email": f"{email!r} is not a valid email address."}) from exc
    user = User(username=member_username(firm=firm, requested=username), email=email)
    user.set_unusable_password()
    user.full_clean(exclude=["password"])
    with transaction.atomic():
        user.save()
        membership = Membership(firm=firm, user=user, role=new_role)
        membership.full_clean()
        membership.save()
        audit_record(
            firm=firm,
            actor=actor,
            action="membership.invite",
            obj=membership,
            after={"username": user.username, "email": user.email, "role": new_role.value},
            reason=reason,
        )
    path = reverse(
        "password_reset_confirm",
        kwargs={
            "uidb64": urlsafe_base64_encode(force_bytes(user.pk)),
            "token": default_token_generator.make_token(user),
        },
    )
    return Invitation(membership=membership, set_password_path=path)


def membership_set_role(
    *, membership: Membership, actor: User, role: str, reason: str
) -> Membership:
    """Change a member's role. A firm always keeps at least one active firm admin."""
    authorize(actor=actor, firm=membership.firm_id, resource=Resource.MEMBERSHIP)
    new_role = _require_role(role)
    reason = _require_reason(reason)
    if membership.role == new_role:
        raise ValidationError(
            {"role": f"{membership.user.get_username()} already is {new_role.label}."}
        )
    with transaction.atomic():
        if (
            membership.role == Role.FIRM_ADMIN
            and membership.user.is_active
            and not _other_active_admins(membership)
        ):
            raise ValidationError(
                {"role": "This is the firm's last active firm admin; appoint another first."}
            )
        before = {"role": membership.role}
        membership.role = new_role
        membership.full_clean()
        membership.save(update_fields=["role"])
        audit_record(
            firm=membership.firm,
            actor=actor,
            action="membership.set_role",
            obj=membership,
            before=before,
            after={"role": new_role.value},
            reason=reason,
        )
    return membership


def membership_deactivate(*, membership: Membership, actor: User, reason: str) -> Membership:
    """Deactivate a member's user: they can no longer log in and their API token is revoked.

    The user and membership rows stay (audit events point at them).
    """
    authorize(actor=actor, firm=membership.firm_id, resource=Resource.MEMBERSHIP)
    reason = _require_reason(reason)
    user = membership.user
    if not user.is_active:
        raise ValidationError(f"{user.get_username()} is already deactivated.")
    if user.pk == actor.pk:
        raise ValidationError("You cannot deactivate yourself; ask another firm admin.")
    with transaction.atomic():
        if membership.role == Role.FIRM_ADMIN and not _other_active_admins(membership):
            raise ValidationError("This is the firm's last active firm admin.")
        user.is_active = False
        user.save(update_fields=["is_active"])
        api_tokens_revoke_all(user=user)
        audit_record(
            firm=membership.firm,
            actor=actor,
            action="membership.deactivate",
            obj=membership,
            before={"is_active": True},
            after={"is_active": False},
            reason=reason,
        )
    return membership


# --- Passwords --------------------------------------------------------------


def _set_password(*, user: User, new_password: str, action: str) -> None:
    with transaction.atomic():
        user.set_password(new_password)
        user.save(update_fields=["password"])
        membership = membership_of(user)
        if membership is not None:  # the platform operator has no firm to log to
            audit_record(firm=membership.firm, actor=user, action=action, obj=user)


def password_change(*, user: User, new_password: str) -> None:
    """A logged-in user changes their password (validated by the form). Audited; no secrets."""
    _set_password(user=user, new_password=new_password, action="user.password_change")


def password_set_from_invitation(*, user: User, new_password: str) -> None:
    """An invited user sets their first password through the one-time link. Audited."""
    _set_password(user=user, new_password=new_password, action="user.password_set")

"""Two-factor authentication (TOTP, django-otp) with recovery codes (django-otp static tokens).

Required for firm admins and the platform operator (superusers); optional for everyone else, and
required from the moment a user has enrolled. Services write; the views only call them.
"""

from __future__ import annotations

from typing import Any

from django.db import transaction
from django_otp.plugins.otp_static.models import StaticDevice, StaticToken
from django_otp.plugins.otp_totp.models import TOTPDevice

from rebalancer.audit import audit_record
from rebalancer.roles import Role
from rebalancer.tenancy import membership_of

RECOVERY_CODES = 10
TOTP_NAME = "authenticator app"
RECOVERY_NAME = "recovery codes"


def twofactor_enrolled(user: Any) -> bool:
    return bool(TOTPDevice.objects.filter(user=user, confirmed=True).exists())


def twofactor_required(user: Any, *, enrolled: bool | None = None) -> bool:
    """Whether this user must pass a second factor before using the app.

    ``enrolled``: whether they have an authenticator, if already known (the middleware keeps it
    in the session from login, saving a query per request); looked up when None.
    """
    if not user.is_authenticated:
        return False
    if user.is_superuser:
        return True
    if enrolled if enrolled is not None else twofactor_enrolled(user):
        return True
    membership = membership_of(user)
    return membership is not None and membership.role == Role.FIRM_ADMIN


def totp_begin(*, user: Any) -> TOTPDevice:
    """The user's unconfirmed TOTP device (a fresh secret), created if missing."""
    device = TOTPDevice.objects.filter(user=user, confirmed=False).first()
    if device is None:
        device = TOTPDevice.objects.create(user=user, name=TOTP_NAME, confirmed=False)
    return device


def totp_confirm(*, user: Any, token: str) -> list[str] | None:
    """Confirm the pending device with a code from the app; returns new recovery codes.

    Any earlier authenticator and recovery codes are replaced. None if the code is wrong.
    """
    device = TOTPDevice.objects.filter(user=user, confirmed=False).first()
    if device is None or not device.verify_token(token.strip()):
        return None
    with transaction.atomic():
        TOTPDevice.objects.filter(user=user, confirmed=True).delete()
        device.confirmed = True
        device.save(update_fields=["confirmed"])
        codes = recovery_codes_replace(user=user)
        membership = membership_of(user)
        if membership is not None:
            audit_record(
                firm=membership.firm,
                actor=user,
                action="user.twofactor_enrol",
                reason="two-factor authentication enrolled",
            )
    return codes


def recovery_codes_replace(*, user: Any) -> list[str]:
    """New single-use recovery codes, shown once; the old ones stop working.

    django-otp stores static tokens as issued (not hashed): they are spent on use and replaced
    whenever the user enrols again or asks for new ones.
    """
    device, _ = StaticDevice.objects.get_or_create(
        user=user, name=RECOVERY_NAME, defaults={"confirmed": True}
    )
    device.token_set.all().delete()
    codes = [StaticToken.random_token() for _ in range(RECOVERY_CODES)]
    StaticToken.objects.bulk_create([StaticToken(device=device, token=c) for c in codes])
    return codes


def twofactor_verify(*, user: Any, token: str) -> Any | None:
    """The device (authenticator or recovery code) that accepts ``token``, or None.

    A recovery code is spent on use. Devices throttle repeated failures (django-otp).
    """
    token = token.strip().replace(" ", "")
    # Six digits are an authenticator code, anything else a recovery code: a wrong guess then
    # throttles only the device it was meant for.
    model: type[TOTPDevice] | type[StaticDevice] = (
        TOTPDevice if token.isdigit() and len(token) == 6 else StaticDevice
    )
    for device in model.objects.filter(user=user, confirmed=True):
        if device.verify_is_allowed()[0] and device.verify_token(token):
            return device
    return None

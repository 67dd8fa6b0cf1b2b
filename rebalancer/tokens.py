"""API tokens: stored hashed, shown once, with an expiry, revocable; the API throttled per token.

A token is ``<prefix>.<secret>``: 32 random bytes, of which only the SHA-256 digest is kept (a
high-entropy key needs no slow hash). The prefix (not secret) identifies it on the page.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import secrets
from typing import Any

from django.conf import settings
from django.contrib.auth.models import User
from django.core.exceptions import PermissionDenied, ValidationError
from django.db import models, transaction
from django.utils import timezone
from drf_spectacular.extensions import OpenApiAuthenticationExtension
from drf_spectacular.plumbing import build_bearer_security_scheme_object
from rest_framework import exceptions
from rest_framework.authentication import BaseAuthentication, get_authorization_header
from rest_framework.request import Request
from rest_framework.throttling import SimpleRateThrottle

#: Lifetimes a user may choose, in days.
LIFETIME_DAYS = (7, 30, 90, 365)
PREFIX_LENGTH = 8


def _digest(key: str) -> str:
    return hashlib.sha256(key.encode()).hexdigest()


class ApiToken(models.Model):
    """One API token of one user. The key itself is never stored, only its SHA-256."""

    user = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="api_tokens"
    )
    name = models.CharField(max_length=100)
    prefix = models.CharField(max_length=PREFIX_LENGTH, db_index=True)
    digest = models.CharField(max_length=64, unique=True)
    created_at = models.DateTimeField(auto_now_add=True)
    expires_at = models.DateTimeField()
    revoked_at = models.DateTimeField(null=True, blank=True)
    last_used_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ("-created_at", "-id")

    def __str__(self) -> str:
        return f"{self.name} ({self.prefix}…)"

    @property
    def is_active(self) -> bool:
        return self.revoked_at is None and self.expires_at > timezone.now()


def api_token_create(*, user: User, name: str, days: int) -> tuple[ApiToken, str]:
    """A new token for a firm member; returns it and the key, which is shown this once."""
    from rebalancer.audit import audit_record
    from rebalancer.tenancy import membership_of

    membership = membership_of(user)
    if membership is None:
        raise PermissionDenied("Only firm members have API tokens.")
    name = name.strip()
    if not name:
        raise ValidationError({"name": "Name the token (what will use it)."})
    if days not in LIFETIME_DAYS:
        raise ValidationError({"days": f"Choose one of {', '.join(map(str, LIFETIME_DAYS))}."})
    prefix = secrets.token_hex(PREFIX_LENGTH // 2)
    key = f"{prefix}.{secrets.token_urlsafe(32)}"
    with transaction.atomic():
        token = ApiToken(
            user=user,
            name=name,
            prefix=prefix,
            digest=_digest(key),
            expires_at=timezone.now() + dt.timedelta(days=days),
        )
        token.full_clean()
        token.save()
        audit_record(
            firm=membership.firm,
            actor=user,
            action="api_token.create",
            obj=user,
            after={"name": name, "prefix": prefix, "expires_at": token.expires_at},
        )
    return token, key


def api_token_revoke(*, user: User, token_id: int) -> ApiToken:
    """Revoke one of the user's own tokens (404-style: another user's token is not found)."""
    from rebalancer.audit import audit_record
    from rebalancer.tenancy import membership_of

    token = ApiToken.objects.filter(user=user, pk=token_id, revoked_at=None).first()
    if token is None:
        raise ApiToken.DoesNotExist(f"no active token {token_id}")
    with transaction.atomic():
        token.revoked_at = timezone.now()
        token.save(update_fields=["revoked_at"])
        membership = membership_of(user)
        if membership is not None:
            audit_record(
                firm=membership.firm,
                actor=user,
                action="api_token.revoke",
                obj=user,
                before={"name": token.name, "prefix": token.prefix},
            )
    return token


def api_tokens_revoke_all(*, user: Any) -> int:
    """Revoke every token of a user (deactivation). Returns how many were active."""
    return ApiToken.objects.filter(user=user, revoked_at=None).update(revoked_at=timezone.now())


def api_token_list(*, user: Any) -> models.QuerySet[ApiToken]:
    return ApiToken.objects.filter(user=user)


class ApiTokenAuthentication(BaseAuthentication):
    """``Authorization: Token <key>``: an active, unexpired token of an active user."""

    keyword = "Token"

    def authenticate(self, request: Request) -> tuple[Any, ApiToken] | None:
        parts = get_authorization_header(request).split()
        if not parts or parts[0].lower() != self.keyword.lower().encode():
            return None
        if len(parts) != 2:
            raise exceptions.AuthenticationFailed("Invalid token header.")
        try:
            key = parts[1].decode("ascii")
        except UnicodeError:
            raise exceptions.AuthenticationFailed("Invalid token.") from None
        token = ApiToken.objects.select_related("user").filter(digest=_digest(key)).first()
        if token is None or not token.is_active or not token.user.is_active:
            raise exceptions.AuthenticationFailed("Invalid, expired or revoked token.")
        now = timezone.now()
        if token.last_used_at is None or now - token.last_used_at > dt.timedelta(minutes=5):
            ApiToken.objects.filter(pk=token.pk).update(last_used_at=now)
        return token.user, token

    def authenticate_header(self, request: Request) -> str:
        return self.keyword


class TokenRateThrottle(SimpleRateThrottle):
    """Requests per token (per user for session calls), at ``API_THROTTLE_RATE``."""

    scope = "token"

    def get_rate(self) -> str:
        rate: str = settings.API_THROTTLE_RATE
        return rate

    def get_cache_key(self, request: Request, view: Any) -> str | None:
        if isinstance(request.auth, ApiToken):
            ident = f"token-{request.auth.pk}"
        elif request.user and request.user.is_authenticated:
            ident = f"user-{request.user.pk}"
        else:
            ident = f"ip-{self.get_ident(request)}"
        return self.cache_format % {"scope": self.scope, "ident": ident}


class ApiTokenScheme(OpenApiAuthenticationExtension):  # type: ignore[no-untyped-call]
    """How the OpenAPI schema describes :class:`ApiTokenAuthentication`."""

    target_class = "rebalancer.tokens.ApiTokenAuthentication"
    name = "tokenAuth"

    def get_security_definition(self, auto_schema: Any) -> Any:
        return build_bearer_security_scheme_object(
            header_name="HTTP_AUTHORIZATION", token_prefix="Token"
        )

"""Typed environment parsers that fail loudly.

Every setting read from the environment goes through one of these functions. A value that cannot be
parsed raises :class:`EnvError` naming the variable and what was expected, so a misconfigured
deployment stops at start-up instead of running with a silently wrong setting.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass
from urllib.parse import parse_qs, unquote, urlsplit

from django.core.exceptions import ImproperlyConfigured

_TRUE = frozenset({"1", "true", "yes", "on"})
_FALSE = frozenset({"0", "false", "no", "off"})


class EnvError(ImproperlyConfigured):
    """An environment variable is missing or malformed."""


def _raw(name: str, environ: Mapping[str, str] | None) -> str | None:
    value = (os.environ if environ is None else environ).get(name)
    if value is None or value.strip() == "":
        return None
    return value.strip()


def env_str(
    name: str, default: str | None = None, *, environ: Mapping[str, str] | None = None
) -> str | None:
    """The variable as a stripped string, or ``default`` when unset or blank."""
    value = _raw(name, environ)
    return default if value is None else value


def env_required(name: str, *, why: str, environ: Mapping[str, str] | None = None) -> str:
    """The variable's value; raise naming the variable and why it is needed when unset."""
    value = _raw(name, environ)
    if value is None:
        raise EnvError(f"{name} must be set: {why}")
    return value


def env_bool(name: str, default: bool, *, environ: Mapping[str, str] | None = None) -> bool:
    """true/false, 1/0, yes/no, on/off (any case); anything else is an error."""
    value = _raw(name, environ)
    if value is None:
        return default
    lowered = value.lower()
    if lowered in _TRUE:
        return True
    if lowered in _FALSE:
        return False
    raise EnvError(f"{name} must be a boolean (true/false, 1/0, yes/no, on/off), got {value!r}")


def env_int(
    name: str,
    default: int,
    *,
    minimum: int | None = None,
    maximum: int | None = None,
    environ: Mapping[str, str] | None = None,
) -> int:
    """A whole number within optional bounds."""
    value = _raw(name, environ)
    if value is None:
        return default
    try:
        number = int(value)
    except ValueError:
        raise EnvError(f"{name} must be a whole number, got {value!r}") from None
    if minimum is not None and number < minimum:
        raise EnvError(f"{name} must be >= {minimum}, got {number}")
    if maximum is not None and number > maximum:
        raise EnvError(f"{name} must be <= {maximum}, got {number}")
    return number


def env_list(
    name: str, default: list[str], *, environ: Mapping[str, str] | None = None
) -> list[str]:
    """A comma-separated list; blank items are dropped."""
    value = _raw(name, environ)
    if value is None:
        return list(default)
    return [item.strip() for item in value.split(",") if item.strip()]


@dataclass(frozen=True)
class DatabaseConfig:
    """A parsed ``DATABASE_URL`` (PostgreSQL only; the embedded default is SQLite)."""

    name: str
    user: str
    password: str
    host: str
    port: int
    options: dict[str, str]

    def as_django(self) -> dict[str, object]:
        return {
            "ENGINE": "django.db.backends.postgresql",
            "NAME": self.name,
            "USER": self.user,
            "PASSWORD": self.password,
            "HOST": self.host,
            "PORT": str(self.port),
            "CONN_MAX_AGE": 60,
            "CONN_HEALTH_CHECKS": True,
            "OPTIONS": dict(self.options),
        }


def env_database_url(
    name: str = "DATABASE_URL", *, environ: Mapping[str, str] | None = None
) -> DatabaseConfig | None:
    """Parse ``postgres://user:pass@host:port/dbname?sslmode=...``; None when unset."""
    value = _raw(name, environ)
    if value is None:
        return None
    parts = urlsplit(value)
    if parts.scheme not in {"postgres", "postgresql", "postgresql+psycopg"}:
        raise EnvError(
            f"{name} must be a postgres:// or postgresql:// URL, got scheme {parts.scheme!r}"
        )
    db_name = unquote(parts.path.lstrip("/"))
    if not db_name:
        raise EnvError(f"{name} must name a database (postgres://user@host:5432/NAME)")
    try:
        port = parts.port or 5432
    except ValueError:
        raise EnvError(f"{name} has a malformed port") from None
    options = {key: values[-1] for key, values in sorted(parse_qs(parts.query).items())}
    return DatabaseConfig(
        name=db_name,
        user=unquote(parts.username or ""),
        password=unquote(parts.password or ""),
        host=parts.hostname or "",
        port=port,
        options=options,
    )


def env_redis_url(
    name: str = "REDIS_URL", *, environ: Mapping[str, str] | None = None
) -> str | None:
    """A ``redis://`` or ``rediss://`` URL; None when unset."""
    value = _raw(name, environ)
    if value is None:
        return None
    parts = urlsplit(value)
    if parts.scheme not in {"redis", "rediss"} or not parts.hostname:
        raise EnvError(f"{name} must be a redis://host:port/db URL, got {value!r}")
    return value

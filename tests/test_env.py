"""rebalancer.env parsers and the settings they drive: fail loudly, naming the variable."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from rebalancer.env import (
    EnvError,
    env_bool,
    env_database_url,
    env_int,
    env_list,
    env_redis_url,
    env_required,
)

ROOT = Path(__file__).resolve().parent.parent


def test_bool_accepts_the_usual_spellings_and_rejects_others() -> None:
    assert env_bool("X", False, environ={"X": "Yes"}) is True
    assert env_bool("X", True, environ={"X": "off"}) is False
    assert env_bool("X", True, environ={}) is True
    with pytest.raises(EnvError, match="X must be a boolean"):
        env_bool("X", False, environ={"X": "maybe"})


def test_int_checks_format_and_bounds() -> None:
    assert env_int("N", 3, environ={"N": "7"}) == 7
    with pytest.raises(EnvError, match="N must be a whole number, got 'seven'"):
        env_int("N", 3, environ={"N": "seven"})
    with pytest.raises(EnvError, match="N must be >= 1"):
        env_int("N", 3, minimum=1, environ={"N": "0"})


def test_list_and_required() -> None:
    assert env_list("H", [], environ={"H": "a.example, b.example,,"}) == ["a.example", "b.example"]
    with pytest.raises(EnvError, match="SECRET_KEY must be set: because"):
        env_required("SECRET_KEY", why="because", environ={"SECRET_KEY": "  "})


def test_database_url_parsing() -> None:
    config = env_database_url(
        environ={"DATABASE_URL": "postgres://u:p%40ss@db.internal:6543/book?sslmode=require"}
    )
    assert config is not None
    assert (config.user, config.password, config.host, config.port, config.name) == (
        "u",
        "p@ss",
        "db.internal",
        6543,
        "book",
    )
    assert config.as_django()["OPTIONS"] == {"sslmode": "require"}
    assert env_database_url(environ={}) is None
    with pytest.raises(EnvError, match="DATABASE_URL must be a postgres"):
        env_database_url(environ={"DATABASE_URL": "mysql://x@y/z"})
    with pytest.raises(EnvError, match="must name a database"):
        env_database_url(environ={"DATABASE_URL": "postgres://x@y:5432/"})


def test_redis_url_parsing() -> None:
    assert env_redis_url(environ={"REDIS_URL": "redis://127.0.0.1:6379/0"}) == (
        "redis://127.0.0.1:6379/0"
    )
    with pytest.raises(EnvError, match="REDIS_URL must be a redis://"):
        env_redis_url(environ={"REDIS_URL": "http://127.0.0.1:6379"})


def _manage(args: list[str], env: dict[str, str]) -> subprocess.CompletedProcess[str]:
    base = {k: v for k, v in os.environ.items() if k in {"PATH", "HOME", "LANG", "PYTHONPATH"}}
    return subprocess.run(
        [sys.executable, "manage.py", *args],
        cwd=ROOT,
        env={**base, **env},
        capture_output=True,
        text=True,
        timeout=120,
    )


def _production_env(tmp_path: Path) -> dict[str, str]:
    return {
        "DATABASE_URL": "postgres://rebalancer@127.0.0.1:5432/rebalancer",
        "SECRET_KEY": "x" * 20 + "-not-a-real-secret-but-long-and-random-enough-0123456789abcdef",
        "ALLOWED_HOSTS": "rebalancer.example.com",
        "REBALANCER_VAR_DIR": str(tmp_path),
    }


def test_startup_fails_naming_the_variable_when_secret_key_missing(tmp_path: Path) -> None:
    env = _production_env(tmp_path)
    del env["SECRET_KEY"]
    result = _manage(["check"], env)
    assert result.returncode != 0
    assert "SECRET_KEY must be set" in result.stderr


def test_startup_fails_on_a_malformed_variable(tmp_path: Path) -> None:
    result = _manage(["check"], {**_production_env(tmp_path), "DEBUG": "sometimes"})
    assert result.returncode != 0
    assert "DEBUG must be a boolean" in result.stderr


def test_check_deploy_is_clean_in_a_production_like_environment(tmp_path: Path) -> None:
    result = _manage(["check", "--deploy", "--fail-level", "WARNING"], _production_env(tmp_path))
    assert result.returncode == 0, result.stderr + result.stdout
    assert "no issues" in result.stdout


def test_embedded_default_is_sqlite_in_var_without_services(tmp_path: Path) -> None:
    code = (
        "import django; from django.conf import settings; django.setup();"
        "print(settings.DATABASES['default']['ENGINE'], settings.DATABASES['default']['NAME'],"
        " settings.CELERY_TASK_ALWAYS_EAGER, settings.DEBUG, settings.DEMO_MODE)"
    )
    base = {k: v for k, v in os.environ.items() if k in {"PATH", "HOME", "LANG"}}
    result = subprocess.run(
        [sys.executable, "-c", code],
        cwd=ROOT,
        env={
            **base,
            "DJANGO_SETTINGS_MODULE": "rebalancer.settings",
            "REBALANCER_VAR_DIR": str(tmp_path),
        },
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert result.returncode == 0, result.stderr
    engine, name, eager, debug, demo = result.stdout.split()
    assert engine == "django.db.backends.sqlite3"
    assert name == str(tmp_path / "rebalancer.sqlite3")
    assert (eager, debug, demo) == ("True", "False", "True")

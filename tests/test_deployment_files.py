"""docker-compose.yml and the Dockerfile: services and environment wired as the settings expect.

Docker is not available on every machine that runs the tests, so the compose file is parsed and
checked structurally (the same facts `docker compose config` would resolve).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import yaml

ROOT = Path(__file__).resolve().parent.parent


def _compose() -> dict[str, Any]:
    data = yaml.safe_load((ROOT / "docker-compose.yml").read_text())
    assert isinstance(data, dict)
    return data


def test_compose_has_the_five_services_and_a_migrate_step() -> None:
    assert set(_compose()["services"]) == {"postgres", "redis", "migrate", "web", "worker", "beat"}


def test_app_services_share_the_environment_the_settings_read() -> None:
    services = _compose()["services"]
    for name in ("web", "worker", "beat"):
        env = services[name]["environment"]
        assert env["DATABASE_URL"].startswith("postgres://")
        assert "@postgres:5432/" in env["DATABASE_URL"]
        assert env["REDIS_URL"] == "redis://redis:6379/0"
        assert env["SECRET_KEY"].startswith("${SECRET_KEY:?"), "secret must come from outside"
        assert env["ALLOWED_HOSTS"]
        assert services[name]["build"] == "."
    db = services["postgres"]["environment"]
    url = services["web"]["environment"]["DATABASE_URL"]
    assert url.startswith("postgres://rebalancer_app:${DB_APP_PASSWORD:?")
    assert url.endswith(f"@postgres:5432/{db['POSTGRES_DB']}")
    assert db["POSTGRES_PASSWORD"].startswith("${POSTGRES_PASSWORD:?"), "no password in the repo"


def test_only_the_migrate_step_holds_the_owner_and_admin_credentials() -> None:
    services = _compose()["services"]
    migrate = services["migrate"]
    assert migrate["environment"]["DATABASE_OWNER_URL"].startswith(
        "postgres://rebalancer_owner:${DB_OWNER_PASSWORD:?"
    )
    command = " ".join(migrate["command"])
    assert "rebalancer.dbroles" in command and "manage.py migrate" in command
    for name in ("web", "worker", "beat"):
        env = services[name]["environment"]
        assert "DATABASE_OWNER_URL" not in env and "DATABASE_ADMIN_URL" not in env
    for name in ("web", "worker"):
        assert services[name]["depends_on"]["migrate"] == {
            "condition": "service_completed_successfully"
        }


def test_commands_run_gunicorn_celery_worker_and_beat() -> None:
    services = _compose()["services"]
    assert services["web"]["command"][:2] == ["gunicorn", "rebalancer.wsgi"]
    assert services["worker"]["command"][:4] == ["celery", "-A", "rebalancer", "worker"]
    assert services["beat"]["command"][:4] == ["celery", "-A", "rebalancer", "beat"]
    assert services["web"]["depends_on"]["postgres"]["condition"] == "service_healthy"


def test_dockerfile_installs_the_project_and_serves_with_gunicorn() -> None:
    text = (ROOT / "Dockerfile").read_text()
    assert "pip install --no-cache-dir ." in text
    assert "collectstatic" in text
    assert 'CMD ["gunicorn", "rebalancer.wsgi"' in text
    assert "USER rebalancer" in text

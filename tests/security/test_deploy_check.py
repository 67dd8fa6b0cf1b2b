"""``manage.py check --deploy`` is clean with the environment docker-compose gives the app."""

from __future__ import annotations

import os
import re
import secrets
import subprocess
import sys
from pathlib import Path

import yaml

ROOT = Path(__file__).resolve().parents[2]


def _compose_env(service: str) -> dict[str, str]:
    compose = yaml.safe_load((ROOT / "docker-compose.yml").read_text())
    env: dict[str, str] = compose["services"][service]["environment"]

    def resolve(value: str) -> str:  # ${VAR:?msg} and ${VAR:-default} as compose would
        return re.sub(
            r"\$\{(\w+)(?::[?-]([^}]*))?\}",
            lambda m: secrets.token_urlsafe(50) if ":?" in m.group(0) else (m.group(2) or ""),
            value,
        )

    return {key: resolve(str(value)) for key, value in env.items()}


def test_check_deploy_is_clean_with_the_compose_settings(tmp_path: Path) -> None:
    base = {k: v for k, v in os.environ.items() if k in {"PATH", "HOME", "LANG"}}
    env = {**base, **_compose_env("web"), "REBALANCER_VAR_DIR": str(tmp_path)}
    assert env["SECURE_SSL_REDIRECT"] == "false" and "DATABASE_OWNER_URL" not in env
    result = subprocess.run(
        [sys.executable, "manage.py", "check", "--deploy", "--fail-level", "WARNING"],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert result.returncode == 0, result.stderr + result.stdout
    assert "no issues" in result.stdout

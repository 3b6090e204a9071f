"""Django's deployment checklist passes with a production environment.

Runs `manage.py check --deploy --fail-level WARNING` in a child process, so the settings are
read exactly as a server would read them: no DEBUG, no test mode, real keys from the environment.
"""

from __future__ import annotations

import os
import secrets
import string
import subprocess
import sys
from pathlib import Path

import pytest
from cryptography.fernet import Fernet

BASE_DIR = Path(__file__).resolve().parent.parent

# Variables a developer or the test run may have set that a production server would not.
NOT_IN_PRODUCTION = ("DEBUG", "TERTULIA_TESTING", "TERTULIA_INSECURE_HTTP", "SECRET_KEY", "SECRET_KEY_FILE",
                     "TERTULIA_FERNET_KEYS", "TERTULIA_FERNET_KEY_FILE", "HUEY_IMMEDIATE", "ALLOWED_HOSTS",
                     "SECURE_SSL_REDIRECT", "SECURE_HSTS_SECONDS", "CSRF_TRUSTED_ORIGINS", "SITE_URL")


def _production_env(tmp_path: Path, **overrides: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if k not in NOT_IN_PRODUCTION}
    alphabet = string.ascii_letters + string.digits + string.punctuation.replace("$", "")
    env.update({
        "DJANGO_SETTINGS_MODULE": "tertulia.settings",
        "SECRET_KEY": "".join(secrets.choice(alphabet) for _ in range(60)),
        "TERTULIA_FERNET_KEYS": Fernet.generate_key().decode(),
        "ALLOWED_HOSTS": "example.com",
        "SITE_URL": "https://example.com",
        "TERTULIA_VAR_DIR": str(tmp_path),
        # The production layout: jobs on Redis, shared by every consumer (see tertulia.W001).
        "REDIS_URL": os.environ.get("REDIS_URL", "redis://127.0.0.1:6379/0"),
    })
    env.update(overrides)
    return env


def _check_deploy(env: dict[str, str]) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "manage.py", "check", "--deploy", "--fail-level", "WARNING"],
        cwd=BASE_DIR, env=env, capture_output=True, text=True, timeout=120,
    )


def test_check_deploy_is_clean_in_production(tmp_path):
    done = _check_deploy(_production_env(tmp_path))
    assert done.returncode == 0, done.stdout + done.stderr
    assert "System check identified no issues" in done.stdout
    # The keys came from the environment: nothing was written next to the code.
    assert not (tmp_path / "secret_key").exists()


@pytest.mark.parametrize(("overrides", "warning"), [
    ({"DEBUG": "1"}, "security.W018"),
    ({"SECRET_KEY": "too-short"}, "security.W009"),
])
def test_check_deploy_notices_a_bad_setting(tmp_path, overrides, warning):
    # A control: the same command does fail when something is wrong, so the clean run above
    # means something.
    done = _check_deploy(_production_env(tmp_path, **overrides))
    assert done.returncode != 0
    assert warning in done.stdout + done.stderr


def test_production_refuses_to_start_without_a_secret_key(tmp_path):
    env = _production_env(tmp_path)
    del env["SECRET_KEY"]
    done = _check_deploy(env)
    assert done.returncode != 0
    assert "No SECRET_KEY" in done.stderr


def test_postgres_without_redis_is_flagged(tmp_path):
    env = _production_env(tmp_path, DATABASE_URL="postgres://tertulia:secret@db.example.com/tertulia")
    del env["REDIS_URL"]
    result = _check_deploy(env)
    assert result.returncode != 0
    assert "tertulia.W001" in result.stdout + result.stderr

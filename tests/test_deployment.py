"""compose.yaml and the Dockerfile describe processes that exist. No Docker engine runs here, so this parses
the files and checks every service's command, settings module and environment against the code."""

from __future__ import annotations

import importlib
import re
from pathlib import Path
from typing import Any

import pytest
import yaml

ROOT = Path(__file__).resolve().parent.parent
COMPOSE = yaml.safe_load((ROOT / "compose.yaml").read_text())
APP_SERVICES = ["migrate", "web", "engine", "worker", "worker-long", "beat"]


def settings_source() -> str:
    return "\n".join(path.read_text() for path in (ROOT / "quantarb" / "settings").glob("*.py"))


def test_the_topology_has_every_process_of_the_services_mode() -> None:
    assert set(COMPOSE["services"]) == {"postgres", "redis", *APP_SERVICES}


@pytest.mark.parametrize("name", APP_SERVICES)
def test_each_app_service_runs_a_command_that_exists(name: str) -> None:
    from django.core.management import get_commands

    command = COMPOSE["services"][name]["command"]
    if command[:2] == ["python", "manage.py"]:
        assert command[2] in get_commands(), f"{name}: manage.py {command[2]} does not exist"
    else:
        assert command[0] == "celery" and command[1] == "-A"
        module = importlib.import_module(command[2])
        assert hasattr(module, "app"), f"{name}: {command[2]} has no Celery app"
        assert command[3] in {"worker", "beat"}


@pytest.mark.parametrize("name", APP_SERVICES)
def test_each_app_service_uses_a_settings_module_and_variables_the_settings_read(name: str) -> None:
    environment: dict[str, Any] = COMPOSE["services"][name]["environment"]
    importlib.import_module(environment["DJANGO_SETTINGS_MODULE"].rsplit(".", 1)[0])
    assert (ROOT / (environment["DJANGO_SETTINGS_MODULE"].replace(".", "/") + ".py")).exists()
    source = settings_source()
    for variable in environment:
        if variable == "DJANGO_SETTINGS_MODULE":
            continue
        assert re.search(rf'"{variable}"', source), f"{name}: settings never read {variable}"
    # Production refuses to start without these; compose must pass them.
    assert {"DJANGO_SECRET_KEY", "QUANTARB_FIELD_KEYS", "DATABASE_URL", "REDIS_URL"} <= set(environment)


def test_services_wait_for_the_database_redis_and_migrations() -> None:
    for name in ("web", "engine", "worker", "beat"):
        depends = COMPOSE["services"][name]["depends_on"]
        assert depends["migrate"]["condition"] == "service_completed_successfully"
        assert {"postgres", "redis"} <= set(depends)


def test_the_image_builds_assets_then_python_and_runs_as_a_non_root_user() -> None:
    dockerfile = (ROOT / "Dockerfile").read_text()
    stages = re.findall(r"^FROM\s+(\S+)", dockerfile, re.MULTILINE)
    assert stages[0].startswith("node:") and stages[-1].startswith("python:3.11")
    assert "npm ci" in dockerfile and "COPY --from=assets" in dockerfile
    user = re.findall(r"^USER\s+(\S+)", dockerfile, re.MULTILINE)
    assert user and user[-1] not in {"root", "0"}


def test_only_migrate_connects_as_the_owner_and_the_app_role_is_created_at_init() -> None:
    """Two database roles (ARCHITECTURE.md "Security"): the owner migrates, the application's role runs."""
    from urllib.parse import urlsplit

    services = COMPOSE["services"]
    owner = urlsplit(services["migrate"]["environment"]["DATABASE_OWNER_URL"]).username
    assert owner == services["postgres"]["environment"]["POSTGRES_USER"]
    for name in APP_SERVICES:
        environment = services[name]["environment"]
        app_user = urlsplit(environment["DATABASE_URL"]).username
        assert app_user and app_user != owner, f"{name} connects as the owner"
        if name != "migrate":
            assert "DATABASE_OWNER_URL" not in environment, f"{name} must not know the owner's URL"
    mounts = " ".join(services["postgres"]["volumes"])
    script = ROOT / "deploy" / "postgres" / "10-app-role.sh"
    assert "./deploy/postgres/10-app-role.sh:/docker-entrypoint-initdb.d/" in mounts and script.exists()
    assert f"CREATE ROLE {app_user} LOGIN" in script.read_text()


def test_the_long_lane_has_its_own_worker_and_the_short_one_never_takes_its_jobs() -> None:
    long_worker = COMPOSE["services"]["worker-long"]["command"]
    assert long_worker[long_worker.index("--queues") + 1] == "long"
    assert "--queues" not in COMPOSE["services"]["worker"]["command"]  # the default queue only


def test_check_deploy_with_the_production_settings_prints_no_warning() -> None:
    import os
    import subprocess
    import sys

    env = {
        **os.environ,
        "DJANGO_SETTINGS_MODULE": "quantarb.settings.production",
        "DJANGO_SECRET_KEY": "deploy-check-" + "k" * 60,
    }
    env.pop("DATABASE_URL", None)  # the check needs no database
    result = subprocess.run(
        [sys.executable, "manage.py", "check", "--deploy", "--fail-level", "WARNING"],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert result.returncode == 0, result.stdout + result.stderr
    assert "no issues" in result.stdout


def test_production_sends_hsts_and_redirects_plain_http_behind_the_proxy(monkeypatch: pytest.MonkeyPatch) -> None:
    from importlib import import_module

    monkeypatch.setenv("DJANGO_SECRET_KEY", "deploy-check-" + "k" * 60)
    production = import_module("quantarb.settings.production")
    assert production.SECURE_HSTS_SECONDS >= 31536000 and production.SECURE_SSL_REDIRECT
    assert production.SESSION_COOKIE_SECURE and production.CSRF_COOKIE_SECURE
    assert production.SECURE_PROXY_SSL_HEADER == ("HTTP_X_FORWARDED_PROTO", "https")

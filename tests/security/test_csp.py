"""The Content-Security-Policy: production's header runs no inline script and no eval, every
response carries it, and no template carries what it would refuse (inline handlers, `javascript:` URLs, inline
script code, style elements). That every page passes it in a browser is tests/e2e/test_csp.py."""

from __future__ import annotations

import re
from importlib import import_module
from pathlib import Path
from types import ModuleType
from typing import Any

import pytest
from django.test import Client, override_settings

ROOT = Path(__file__).resolve().parents[2]
STRICT = {"'unsafe-inline'", "'unsafe-eval'", "'unsafe-hashes'", "'wasm-unsafe-eval'", "'strict-dynamic'"}


def directives(header: str) -> dict[str, list[str]]:
    parsed: dict[str, list[str]] = {}
    for part in header.split(";"):
        name, *values = part.split()
        parsed[name] = values
    return parsed


@pytest.fixture
def production(monkeypatch: pytest.MonkeyPatch) -> ModuleType:
    monkeypatch.setenv("DJANGO_SECRET_KEY", "csp-check-" + "k" * 60)
    return import_module("quantarb.settings.production")


def production_header(production: ModuleType, **request: Any) -> dict[str, list[str]]:
    """The header production's middleware and policy send on the sign-in page."""
    assert "quantarb.csp.CSPMiddleware" in production.MIDDLEWARE
    with override_settings(CONTENT_SECURITY_POLICY=production.CONTENT_SECURITY_POLICY):
        response = Client().get("/accounts/login/", **request)
    assert response.status_code == 200
    return directives(response["Content-Security-Policy"])


@pytest.mark.django_db
def test_production_runs_scripts_from_its_own_files_only(production: ModuleType) -> None:
    policy = production_header(production)

    # Scripts: this origin's files, nothing inline, nothing evaluated; no script-src-attr/-elem loosening it.
    assert policy["script-src"] == ["'self'"]
    assert not {"script-src-attr", "script-src-elem"} & set(policy)
    assert policy["default-src"] == ["'self'"]
    assert not STRICT & set(policy["default-src"])
    assert policy["object-src"] == ["'none'"]
    assert policy["frame-ancestors"] == ["'none'"]
    assert policy["base-uri"] == ["'self'"]
    assert policy["form-action"] == ["'self'"]
    assert policy["img-src"] == ["'self'", "data:"]
    # Stylesheets from our files only, no <style> element; style attributes allowed (they cannot select elements).
    assert policy["style-src"] == ["'self'"]
    assert policy["style-src-attr"] == ["'unsafe-inline'"]
    assert "style-src-elem" not in policy
    # Only this host's socket origin beside 'self': never every ws:/wss: destination.
    assert policy["connect-src"] == ["'self'", "ws://testserver"]


@pytest.mark.django_db
def test_over_https_the_sockets_are_allowed_on_wss_to_the_same_host_only(production: ModuleType) -> None:
    policy = production_header(production, secure=True, HTTP_HOST="localhost")

    assert policy["connect-src"] == ["'self'", "wss://localhost"]


@pytest.mark.django_db
def test_every_kind_of_response_carries_the_policy(alice: Any) -> None:
    client = Client()
    client.force_login(alice.user)
    for path, status in (("/", 200), ("/api/docs/", 200), ("/api/v1/me/", 200), ("/no-such-page/", 404)):
        response = client.get(path)
        assert response.status_code == status, path
        assert "'unsafe-inline'" not in directives(response["Content-Security-Policy"])["script-src"], path
    # A host that is not allowed gets the policy too, without naming that host as a socket origin.
    response = Client().get("/accounts/login/", HTTP_HOST="evil.example")
    assert response.status_code == 400
    assert directives(response["Content-Security-Policy"])["connect-src"] == ["'self'"]


# --- templates: nothing the policy would refuse ---------------------------------------------------------------
def template_files() -> list[Path]:
    from django.conf import settings

    engines: list[dict[str, Any]] = settings.TEMPLATES
    roots = [Path(d) for engine in engines for d in engine.get("DIRS", [])]
    roots += [
        p
        for app in ("accounts", "alerts", "mt5ops", "quantarb", "risk", "strategies", "trading")
        for p in (ROOT / app / "templates",)
        if p.exists()
    ]
    return sorted(path for root in roots for path in root.rglob("*.html"))


HANDLER = re.compile(r"<[a-zA-Z][^>]*?\son[a-z]+\s*=", re.DOTALL)
JS_URL = re.compile(r"""(?:href|src|action|formaction)\s*=\s*["']?\s*javascript:""", re.IGNORECASE)
SCRIPT = re.compile(r"<script\b([^>]*)>(.*?)</script>", re.DOTALL | re.IGNORECASE)
STYLE = re.compile(r"<style\b", re.IGNORECASE)


def test_no_template_has_an_inline_handler_a_javascript_url_inline_script_code_or_a_style_element() -> None:
    files = template_files()
    assert len(files) > 50, files  # the project's templates were found
    problems = []
    for path in files:
        text = path.read_text()
        name = path.relative_to(ROOT)
        problems += [f"{name}: inline handler {m.group(0)[-40:]!r}" for m in HANDLER.finditer(text)]
        problems += [f"{name}: javascript: URL" for _ in JS_URL.finditer(text)]
        problems += [f"{name}: inline <style> element" for _ in STYLE.finditer(text)]
        for attributes, body in SCRIPT.findall(text):
            data = re.search(r"""type=["']application/(ld\+)?json["']""", attributes)
            if body.strip() and not data:
                problems.append(f"{name}: inline <script> code")
            if not body.strip() and "src=" not in attributes:
                problems.append(f"{name}: a <script> with neither src nor JSON data")
    assert not problems, "\n".join(problems)


def test_the_scan_finds_what_it_looks_for() -> None:
    """The patterns above catch the forms that were in the templates before (they would pass anything otherwise)."""
    assert HANDLER.search('<select name="x" class="a"\n onchange="this.form.submit()">')
    assert HANDLER.search("<form method=post onsubmit='return confirm(1)'>")
    assert not HANDLER.search('<select data-autosubmit name="online">')
    assert JS_URL.search('<a href="javascript:void(0)">')
    assert SCRIPT.search("<script>alert(1)</script>")
    assert STYLE.search("<style>\n  html { margin: 0 }")

"""The production image's `collectstatic` works (it failed on a source map @tabler/core names
but does not ship, so the Dockerfile failed as written). Runs the Dockerfile's command, production settings and
all, into a temporary directory."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent.parent


@pytest.mark.timeout(600)
def test_collectstatic_with_production_settings_succeeds(tmp_path: Path) -> None:
    environment = {
        **{key: value for key, value in os.environ.items() if not key.startswith(("DJANGO_", "QUANTARB_"))},
        "DJANGO_SETTINGS_MODULE": "quantarb.settings.production",
        "DJANGO_SECRET_KEY": "build-only",
        "DJANGO_STATIC_ROOT": str(tmp_path / "static"),
    }
    result = subprocess.run(
        [sys.executable, "manage.py", "collectstatic", "--noinput"],
        cwd=ROOT,
        env=environment,
        capture_output=True,
        text=True,
        timeout=600,
        check=False,
    )
    assert result.returncode == 0, result.stderr[-3000:]
    manifest = json.loads((tmp_path / "static" / "staticfiles.json").read_text())["paths"]
    # What the pages load, hashed and compressed as WhiteNoise serves it in production.
    for name in (
        "vendor/tabler/css/tabler.min.css",
        "vendor/tabler/js/tabler.min.js",
        "vendor/htmx/htmx.min.js",
        "vendor/lightweight-charts/lightweight-charts.standalone.production.js",
        "css/quantarb.css",
    ):
        assert name in manifest, name
        assert (tmp_path / "static" / (manifest[name] + ".gz")).exists()


def test_the_pages_load_only_collected_vendor_files() -> None:
    """Every vendor file a template names is under a collected prefix (settings.STATICFILES_DIRS)."""
    import re

    from django.conf import settings

    prefixes = [entry[0] for entry in settings.STATICFILES_DIRS if isinstance(entry, tuple)]
    named = set()
    for template in (ROOT / "templates").rglob("*.html"):
        named |= set(re.findall(r"vendor/[A-Za-z0-9_./-]+", template.read_text()))
    assert named
    for name in named:
        assert any(name.startswith(prefix + "/") for prefix in prefixes), name

"""Every user-facing string has its zh-Hans translation: the catalog holds no empty or fuzzy entry, and the
compiled catalog is up to date with it (`make messages` refreshes both)."""

from __future__ import annotations

import subprocess
from pathlib import Path

import pytest

from tests.helpers.platform import ROOT

PO = ROOT / "locale" / "zh_Hans" / "LC_MESSAGES" / "django.po"
MO = PO.with_suffix(".mo")


def entries() -> list[tuple[str, str, bool]]:
    """(msgid, first msgstr, fuzzy) for each entry of the catalog, header excluded."""
    found = []
    for block in PO.read_text(encoding="utf-8").split("\n\n"):
        lines = block.splitlines()
        fuzzy = any(line.startswith("#,") and "fuzzy" in line for line in lines)
        current: str | None = None
        values: dict[str, str] = {}
        for line in lines:
            if line.startswith(("msgid ", "msgid_plural ", "msgstr ", "msgstr[0] ")):
                current, _, rest = line.partition(" ")
                values[current] = eval(rest)  # noqa: S307 (a .po string literal)
            elif line.startswith('"') and current:
                values[current] += eval(line)  # noqa: S307
        if values.get("msgid"):
            found.append((values["msgid"], values.get("msgstr", values.get("msgstr[0]", "")), fuzzy))
    return found


def test_every_message_is_translated() -> None:
    missing = [msgid for msgid, msgstr, fuzzy in entries() if not msgstr or fuzzy]
    assert missing == [], f"{len(missing)} untranslated or fuzzy zh-Hans messages"


def test_the_compiled_catalog_is_current() -> None:
    if not shutil_which("msgfmt"):
        pytest.skip("gettext's msgfmt is not installed")
    compiled = subprocess.run(["msgfmt", "-o", "-", str(PO)], capture_output=True, check=True).stdout
    assert compiled == MO.read_bytes(), "run `make messages` (compilemessages) and commit django.mo"


def shutil_which(name: str) -> str | None:
    import shutil

    return shutil.which(name)


def test_the_catalog_is_where_settings_look() -> None:
    from django.conf import settings

    assert Path(settings.LOCALE_PATHS[0]) == PO.parents[2]

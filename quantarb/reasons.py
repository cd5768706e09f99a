"""Reasons the system writes (a strategy's state, an automatic kill switch) stored as a code and its parameters,
translated when they are shown: the row keeps the code, the parameters and an English rendering (for logs, audit
summaries and readers without the catalogue), and the page renders the code's template in the reader's language.
A reason a person typed has no code and is shown as typed."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from django.utils import translation
from django.utils.translation import gettext


def render(templates: Mapping[str, str], code: str, params: Mapping[str, Any] | None, fallback: str = "") -> str:
    """The code's template (a `gettext_noop` string) translated and filled; `fallback` when the code is unknown
    (a row written by a newer version, or no code at all) or its parameters do not fill the template."""
    template = templates.get(code) if code else None
    if template is None:
        return fallback
    try:
        return gettext(template) % dict(params or {})
    except (KeyError, TypeError, ValueError):
        return fallback or template


def english(templates: Mapping[str, str], code: str, params: Mapping[str, Any] | None) -> str:
    """The stored fallback text: the template filled in English, whatever language is active."""
    with translation.override("en"):
        return render(templates, code, params, fallback=code)


def plain(params: Mapping[str, Any] | None) -> dict[str, str | int]:
    """Parameters as JSON-safe values (numbers stay numbers, anything else its text)."""
    return {str(k): v if isinstance(v, int) and not isinstance(v, bool) else str(v) for k, v in (params or {}).items()}


_FULL_WIDTH_STOPS = ("。", "！", "？", "：", "；", "）")


def join_sentences(texts: Sequence[str]) -> str:
    """Texts said one after the other: after a full-width stop or bracket (Chinese) the next follows without a
    space; after an ASCII one, with one. Empty texts are left out."""
    joined = ""
    for text in filter(None, texts):
        joined += text if not joined or joined.endswith(_FULL_WIDTH_STOPS) else " " + text
    return joined


def part(code: str, params: Mapping[str, Any] | None = None) -> dict[str, Any]:
    """One part of a text made of several (a note and what followed it): a code and its JSON-safe parameters."""
    return {"code": code, "params": plain(params)}


def verbatim(text: str) -> dict[str, Any]:
    """A part kept as written (no code): text stored before its codes existed, or words a person typed."""
    return {"code": "", "params": {"text": text}}


def render_parts(templates: Mapping[str, str], parts: Sequence[Mapping[str, Any]] | None, fallback: str = "") -> str:
    """The parts rendered in the active language and joined as sentences; `fallback` when there are none or one
    has a code this version does not know."""
    texts = []
    for each in parts or ():
        code, params = str(each.get("code") or ""), each.get("params") or {}
        text = render(templates, code, params) if code else str(params.get("text", ""))
        if code and not text:
            return fallback
        texts.append(text)
    return join_sentences(texts) or fallback


def english_parts(templates: Mapping[str, str], parts: Sequence[Mapping[str, Any]]) -> str:
    """The stored fallback text of several parts: rendered in English, whatever language is active."""
    with translation.override("en"):
        return render_parts(templates, parts)

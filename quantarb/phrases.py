"""Sentences the system writes for people to read later (an alert's title), kept as the untranslated template — the
msgid, marked with `gettext_noop` where it is written — and its parameters, so that each reader sees them in their
own language, whenever and in whichever language the job that wrote them ran.

A parameter is plain (a name, a quantity: shown as written) or a phrase of its own (a choice's label, a coded
reason: translated too). A row keeps the phrase as JSON beside its English rendering (for logs, notifications, audit
summaries and readers without the catalogue). quantarb/reasons.py keeps coded reasons the same way, by code.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from django.utils import translation
from django.utils.functional import Promise
from django.utils.translation import gettext

from quantarb import reasons

_DEPTH = 4  # how deep phrases nest (a stored row from elsewhere may not nest without end)


@dataclass(frozen=True)
class Phrase:
    """A template (a msgid) and its parameters; or, with `parts`, several phrases said one after the other."""

    msgid: str = ""
    params: Mapping[str, Any] = field(default_factory=dict)
    parts: tuple[Phrase, ...] = ()

    def render(self) -> str:
        """In the active language."""
        return _render(self, _DEPTH)

    def english(self) -> str:
        with translation.override("en"):
            return self.render()

    def as_json(self) -> dict[str, Any]:
        if self.parts:
            return {"parts": [part.as_json() for part in self.parts]}
        params = {str(k): v.as_json() if isinstance(v, Phrase) else _plain(v) for k, v in self.params.items()}
        return {"msgid": self.msgid, "params": params}

    @classmethod
    def from_json(cls, data: Any, depth: int = _DEPTH) -> Phrase | None:
        """The phrase a row stored; None for anything else (an empty value, a shape this version cannot read)."""
        if not isinstance(data, Mapping) or depth <= 0:
            return None
        if "parts" in data:
            parts = data["parts"]
            if not isinstance(parts, list):
                return None
            read = [cls.from_json(part, depth - 1) for part in parts]
            return None if any(part is None for part in read) else cls(parts=tuple(p for p in read if p))
        msgid, params = data.get("msgid"), data.get("params", {})
        if not isinstance(msgid, str) or not msgid or not isinstance(params, Mapping):
            return None
        values: dict[str, Any] = {}
        for name, value in params.items():
            if isinstance(value, Mapping):
                nested = cls.from_json(value, depth - 1)
                if nested is None:
                    return None
                values[str(name)] = nested
            else:
                values[str(name)] = value
        return cls(msgid, values)


def phrase(msgid: str, **params: Any) -> Phrase:
    """`msgid` (marked `gettext_noop` by the caller, so that the catalogue has it) with its parameters; a lazy
    translation among them (a choice's label) becomes a phrase of its own."""
    return Phrase(msgid, {name: words(v) if isinstance(v, Promise) else v for name, v in params.items()})


def words(label: Promise | str) -> Phrase:
    """A lazy translation (a choice's label, a `gettext_lazy` string) as a phrase: its English text is its msgid."""
    with translation.override("en"):
        return Phrase(str(label))


def coded(templates: Mapping[str, str], code: str, params: Mapping[str, Any] | None, fallback: str) -> Phrase | str:
    """A coded reason (quantarb/reasons.py) as a phrase: its template and parameters; `fallback` (the words a person
    typed, or a code this version does not know) as plain text."""
    template = templates.get(code) if code else None
    return fallback if template is None else Phrase(template, dict(params or {}))


def said(*phrases: Phrase | None) -> Phrase:
    """Several phrases one after the other (the ones given; None are left out)."""
    return Phrase(parts=tuple(each for each in phrases if each is not None))


def render_stored(data: Any, fallback: str) -> str:
    """A stored phrase in the active language; `fallback` (the stored English) when there is none or it does not
    fill."""
    stored = Phrase.from_json(data)
    if stored is None:
        return fallback
    return stored.render() or fallback


def _render(each: Phrase, depth: int) -> str:
    if depth <= 0:
        return ""
    if each.parts:
        return reasons.join_sentences([_render(part, depth - 1) for part in each.parts])
    values = {k: _render(v, depth - 1) if isinstance(v, Phrase) else v for k, v in each.params.items()}
    for template in (gettext(each.msgid) if each.msgid else "", each.msgid):  # then the English, if it fills
        try:
            return template % values if values else template
        except (KeyError, TypeError, ValueError):
            continue
    return each.msgid


PARAM_MAX_LENGTH = 500  # a parameter's text is kept to this many characters (a venue's error may run on)


def _plain(value: Any) -> str | int:
    return value if isinstance(value, int) and not isinstance(value, bool) else str(value)[:PARAM_MAX_LENGTH]

"""Secrets at rest: MultiFernet over the keys in `QUANTARB_FIELD_KEYS` (comma-separated; the first encrypts,
all of them decrypt), so a key can be rotated in and an old one retired after `manage.py rotate_credential_keys`.

`EncryptedJSONField` keeps a JSON object encrypted in a text column: the database (and a dump of it) holds only
Fernet tokens; Python code sees the plain dictionary. It is for secrets only, never for lookups.
"""

from __future__ import annotations

import json
from functools import lru_cache
from typing import Any

from cryptography.fernet import Fernet, InvalidToken, MultiFernet
from django.conf import settings
from django.core.exceptions import ImproperlyConfigured
from django.db import models

MASK = "••••"


@lru_cache(maxsize=4)
def _fernet_for(keys: tuple[str, ...]) -> MultiFernet:
    if not keys:
        raise ImproperlyConfigured(
            "QUANTARB_FIELD_KEYS is empty: set at least one Fernet key (see scripts/write_env.py) to store credentials."
        )
    try:
        return MultiFernet([Fernet(key.strip().encode()) for key in keys])
    except (ValueError, TypeError) as error:
        raise ImproperlyConfigured(f"QUANTARB_FIELD_KEYS holds a malformed Fernet key: {error}") from None


def fernet() -> MultiFernet:
    return _fernet_for(tuple(key for key in settings.QUANTARB_FIELD_KEYS if key.strip()))


def encrypt_text(plain: str) -> str:
    return fernet().encrypt(plain.encode()).decode()


def decrypt_text(token: str) -> str:
    try:
        return fernet().decrypt(token.encode()).decode()
    except InvalidToken:
        raise ImproperlyConfigured(
            "A stored credential cannot be decrypted with any key in QUANTARB_FIELD_KEYS (was its key removed "
            "before `rotate_credential_keys` ran?)."
        ) from None


def rotate_token(token: str) -> str:
    """The same secret, re-encrypted with the first key (MultiFernet.rotate)."""
    return fernet().rotate(token.encode()).decode()


def mask(value: str | None, *, hint: bool = True) -> str:
    """'••••' and, for values long enough to keep it safe, their last four characters."""
    if not value:
        return ""
    return MASK + value[-4:] if hint and len(value) >= 12 else MASK


class EncryptedJSONField(models.TextField):  # type: ignore[type-arg]
    """A JSON object stored as one Fernet token. `None` and `{}` are stored as NULL / empty (nothing to hide)."""

    def from_db_value(self, value: str | None, expression: Any, connection: Any) -> dict[str, Any] | None:
        if value is None or value == "":
            return None
        loaded: dict[str, Any] = json.loads(decrypt_text(value))
        return loaded

    def to_python(self, value: Any) -> dict[str, Any] | None:
        if value is None or isinstance(value, dict):
            return value
        if isinstance(value, str) and value:
            return self.from_db_value(value, None, None)
        return None

    def get_prep_value(self, value: Any) -> str | None:
        if value is None or value == {}:
            return None
        if not isinstance(value, dict):
            raise TypeError("EncryptedJSONField stores a dict")
        return encrypt_text(json.dumps(value, sort_keys=True, separators=(",", ":")))

    def value_to_string(self, obj: Any) -> str:
        # Serialisers (dumpdata, fixtures) get the token, never the plain text.
        return self.get_prep_value(self.value_from_object(obj)) or ""

"""Write a local `.env` with generated secrets on first run (never overwrites an existing one)."""

from __future__ import annotations

import base64
import os
import secrets
import sys
from pathlib import Path


def main() -> int:
    target = Path(sys.argv[1] if len(sys.argv) > 1 else ".env")
    if target.exists():
        return 0
    django_key = secrets.token_urlsafe(50)
    field_key = base64.urlsafe_b64encode(os.urandom(32)).decode()
    target.write_text(
        "# Written by `make run` on first run. Keep it private; it is not committed.\n"
        f"DJANGO_SECRET_KEY={django_key}\n"
        "# Credential encryption keys (MultiFernet): comma-separated, the first encrypts.\n"
        f"QUANTARB_FIELD_KEYS={field_key}\n",
        encoding="utf-8",
    )
    target.chmod(0o600)
    print(f"wrote {target} with generated secrets")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())

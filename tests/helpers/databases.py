"""What a test needs of the database it runs on."""

from __future__ import annotations

import os

import pytest
from django.db import connection


def require_postgresql() -> None:
    """Skip the calling test on SQLite; in the services mode a missing PostgreSQL fails it instead."""
    if connection.vendor != "postgresql":
        if os.environ.get("QUANTARB_REQUIRE_SERVICES") == "1":
            pytest.fail("services mode required (QUANTARB_REQUIRE_SERVICES=1) but the database is not PostgreSQL")
        pytest.skip("PostgreSQL only (services mode)")

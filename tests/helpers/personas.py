"""The test personas: a member of a tenant with a role and a known password (tests/conftest.py makes alice, bob,
charlie, tom, ana and cora of them; a test needing another makes its own with `persona`)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from tests.factories import MembershipFactory


@dataclass
class Persona:
    user: Any
    tenant: Any
    role: str
    password: str = "correct horse battery staple 1"


def persona(username: str, tenant_slug: str, role: str) -> Persona:
    membership = MembershipFactory.create(user__username=username, tenant__slug=tenant_slug, role=role)
    return Persona(membership.user, membership.tenant, role)

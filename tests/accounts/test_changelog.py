"""django-auditlog on every tenant-owned model: the tenant on each entry, secrets masked, the request's
correlation id, append-only in PostgreSQL, nothing cascades."""

from __future__ import annotations

import uuid
from typing import Any

import pytest
from django.apps import apps
from django.db import DatabaseError, connection, transaction
from django.test import Client
from django.urls import reverse

from accounts.changelog import NOT_TRACKED, TRACKED
from accounts.db_roles import grant_application_role
from accounts.models import AuditEvent, ChangeLogEntry, Membership, Tenant, User
from tests.helpers.databases import require_postgresql

pytestmark = pytest.mark.django_db
TABLE = "accounts_changelogentry"


def entries_for(obj: Any) -> list[ChangeLogEntry]:
    return list(ChangeLogEntry.objects.filter(object_pk=str(obj.pk), content_type__model=obj._meta.model_name))


def test_every_tenant_owned_model_is_tracked_or_says_why_not() -> None:
    tenant_owned = {
        model._meta.label
        for model in apps.get_models()
        if any(field.name == "tenant" for field in model._meta.get_fields() if field.is_relation)
    }
    assert tenant_owned - set(TRACKED) - set(NOT_TRACKED) == set()


def test_entries_carry_their_tenant(alice: Any, charlie: Any) -> None:
    membership = Membership.objects.get(user=alice.user)
    [created] = entries_for(membership)
    assert created.tenant_id == alice.tenant.pk and created.action == ChangeLogEntry.Action.CREATE
    assert entries_for(alice.tenant)[0].tenant_id == alice.tenant.pk
    assert all(entry.tenant_id is None for entry in entries_for(alice.user))  # users belong to the platform


def test_passwords_are_masked(alice: Any) -> None:
    alice.user.set_password("another long passphrase 7")
    alice.user.save()
    changed = [entry for entry in entries_for(alice.user) if "password" in (entry.changes or {})]
    assert changed
    for entry in changed:
        before, after = entry.changes["password"]
        assert "pbkdf2" not in before + after and "another" not in before + after


def test_a_request_s_changes_carry_its_actor_ip_and_correlation_id(alice: Any) -> None:
    client = Client(headers={"X-Request-ID": "trace-0123456789"}, REMOTE_ADDR="10.1.2.3")
    client.force_login(alice.user)
    client.post(reverse("admin:accounts_tenant_change", args=[alice.tenant.pk]), {"name": "Alpha renamed"})
    entry = ChangeLogEntry.objects.filter(tenant=alice.tenant, action=ChangeLogEntry.Action.UPDATE).get()
    assert entry.actor_id == alice.user.pk and entry.cid == "trace-0123456789"
    assert entry.remote_addr == "10.1.2.3"
    event = AuditEvent.objects.get(tenant=alice.tenant, action="settings_changed")
    assert event.correlation_id == "trace-0123456789"


def test_a_forwarded_for_header_does_not_spoof_the_address(alice: Any) -> None:
    client = Client(headers={"X-Forwarded-For": "203.0.113.9"}, REMOTE_ADDR="10.1.2.3")
    client.force_login(alice.user)
    client.post(reverse("admin:accounts_tenant_change", args=[alice.tenant.pk]), {"name": "Alpha renamed"})
    entry = ChangeLogEntry.objects.filter(tenant=alice.tenant, action=ChangeLogEntry.Action.UPDATE).get()
    assert entry.remote_addr == "10.1.2.3"


def test_deleting_a_tracked_object_and_its_actor_keeps_the_entries(alice: Any, bob: Any) -> None:
    membership = Membership.objects.get(user=bob.user)
    membership_pk = membership.pk
    membership.delete()
    user_pk = bob.user.pk
    bob.user.delete()
    kept = ChangeLogEntry.objects.filter(object_pk=str(membership_pk), content_type__model="membership")
    assert {entry.action for entry in kept} == {ChangeLogEntry.Action.CREATE, ChangeLogEntry.Action.DELETE}
    assert ChangeLogEntry.objects.filter(object_pk=str(user_pk), content_type__model="user").exists()


def test_deleting_a_tenant_keeps_its_change_log(charlie: Any) -> None:
    tenant_pk = charlie.tenant.pk
    charlie.tenant.delete()
    assert ChangeLogEntry.objects.filter(tenant_id=tenant_pk, action=ChangeLogEntry.Action.DELETE).exists()


def test_the_model_refuses_to_change_or_delete_an_entry(alice: Any) -> None:
    entry = ChangeLogEntry.objects.first()
    with pytest.raises(TypeError):
        entry.save()
    with pytest.raises(TypeError):
        entry.delete()


@pytest.mark.parametrize(
    "statement",
    [f"UPDATE {TABLE} SET object_repr = 'x'", f"DELETE FROM {TABLE}", f"TRUNCATE {TABLE}"],  # noqa: S608
)
def test_postgresql_refuses_changes_to_the_change_log(alice: Any, statement: str) -> None:
    require_postgresql()
    count = ChangeLogEntry.objects.count()
    with pytest.raises(DatabaseError, match="append-only"), transaction.atomic(), connection.cursor() as cursor:
        cursor.execute("SET CONSTRAINTS ALL IMMEDIATE")
        cursor.execute(statement)
    assert ChangeLogEntry.objects.count() == count


def test_the_application_role_may_only_read_and_append_the_change_log(alice: Any) -> None:
    require_postgresql()
    role = f"quantarb_app_{uuid.uuid4().hex[:8]}"
    with connection.cursor() as cursor:
        cursor.execute(f"CREATE ROLE {role} NOLOGIN")
    grant_application_role(connection, role)
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT privilege_type FROM information_schema.role_table_grants WHERE grantee = %s AND table_name = %s",
            [role, TABLE],
        )
        assert {row[0] for row in cursor.fetchall()} == {"SELECT", "INSERT"}
    # Appending still works as that role.
    with transaction.atomic():
        with connection.cursor() as cursor:
            cursor.execute(f"SET LOCAL ROLE {role}")
        Tenant.objects.filter(pk=alice.tenant.pk).first().save()
        User.objects.create_user("appended", password="correct horse battery staple 1")
        with connection.cursor() as cursor:
            cursor.execute("RESET ROLE")
    assert ChangeLogEntry.objects.filter(object_repr="appended").exists()

"""The domain audit trail: per-tenant hash chains, append-only in the database, nothing cascades.

PostgreSQL-only tests skip on SQLite, and fail there when QUANTARB_REQUIRE_SERVICES=1.
"""

from __future__ import annotations

import logging
import os
import subprocess
import sys
import threading
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from decimal import Decimal
from io import StringIO
from typing import Any

import pytest
from django.core.management import call_command
from django.core.management.base import CommandError
from django.db import DatabaseError, OperationalError, connection, connections, transaction
from django.test import Client

from accounts.audit import GENESIS_HASH, MASK, audit_record, event_hash, mask_secrets, verify_chain
from accounts.choices import AuditAction
from accounts.db_roles import grant_application_role
from accounts.http import AuditContext
from accounts.models import AuditEvent, Membership, Tenant, User
from accounts.services import membership_set, user_create
from accounts.tasks import verify_audit_chains
from tests.helpers.databases import require_postgresql
from tests.helpers.personas import Persona
from tests.helpers.platform import ROOT
from tests.waiting import wait_for

TABLE = "accounts_auditevent"


def chain_of(tenant: Tenant | None) -> list[AuditEvent]:
    rows = AuditEvent.objects.filter(tenant=tenant) if tenant else AuditEvent.objects.filter(tenant__isnull=True)
    return list(rows.order_by("seq"))


def record(tenant: Tenant | None, n: int = 1, **kwargs: Any) -> list[AuditEvent]:
    return [
        audit_record(tenant=tenant, actor=None, action=AuditAction.SETTINGS_CHANGED, summary={"n": i, **kwargs})
        for i in range(n)
    ]


@contextmanager
def triggers_lifted() -> Iterator[None]:
    """As the superuser the tests connect as, switch the audit triggers off (the test's transaction undoes it)."""
    with connection.cursor() as cursor:
        # ALTER TABLE refuses while the rows just inserted still owe their deferred foreign-key checks.
        cursor.execute("SET CONSTRAINTS ALL IMMEDIATE")
        # The append-only triggers only: the sealing trigger (migration 0015) stays on, as it does for everyone.
        for trigger in (f"{TABLE}_no_update_delete", f"{TABLE}_no_truncate"):
            cursor.execute(f"ALTER TABLE {TABLE} DISABLE TRIGGER {trigger}")
    try:
        yield
    finally:
        with connection.cursor() as cursor:
            cursor.execute("SET CONSTRAINTS ALL IMMEDIATE")
            for trigger in (f"{TABLE}_no_update_delete", f"{TABLE}_no_truncate"):
                cursor.execute(f"ALTER TABLE {TABLE} ENABLE ALWAYS TRIGGER {trigger}")
            cursor.execute("SET CONSTRAINTS ALL DEFERRED")


def tamper(event: AuditEvent, summary: str) -> None:
    """Change a row behind the application's back, as someone with direct database access would."""
    sql = f"UPDATE {TABLE} SET summary = %s WHERE id = %s"  # noqa: S608 (constant table name)
    if connection.vendor == "postgresql":
        with triggers_lifted(), connection.cursor() as cursor:
            cursor.execute(sql, [summary, event.pk])
    else:
        with connection.cursor() as cursor:
            cursor.execute(sql, [summary, event.pk])


# --- the chain -----------------------------------------------------------------------------------------------
@pytest.mark.django_db
def test_each_row_hashes_the_one_before_it(alice: Persona, charlie: Persona) -> None:
    record(alice.tenant, 3)
    record(charlie.tenant, 1)

    alpha = chain_of(alice.tenant)

    assert [e.seq for e in alpha] == [1, 2, 3]
    assert alpha[0].prev_hash == GENESIS_HASH
    assert [e.prev_hash for e in alpha[1:]] == [e.hash for e in alpha[:-1]]
    if connection.vendor != "postgresql":  # there the hash is keyed, computed by the database (test_audit_seal.py)
        assert all(event_hash(e) == e.hash for e in alpha)  # read back, each row still hashes to its stored hash
    # Each tenant has its own chain, numbered from 1.
    assert [(e.seq, e.prev_hash) for e in chain_of(charlie.tenant)] == [(1, GENESIS_HASH)]
    assert verify_chain(alice.tenant) is None
    assert verify_chain(charlie.tenant) is None


@pytest.mark.django_db
def test_a_row_records_who_what_and_from_where(alice: Persona, rf: Any) -> None:
    request = rf.post("/", REMOTE_ADDR="2001:DB8::1", HTTP_USER_AGENT="desk-client/1.0")
    request.correlation_id = "req-123"

    event = audit_record(
        tenant=alice.tenant,
        actor=alice.user,
        action=AuditAction.ROLE_CHANGED,
        obj=alice.user.memberships.get(),
        summary={"before": {"role": "viewer"}, "after": {"role": "trader"}, "limit": Decimal("1.50")},
        context=AuditContext.from_request(request),
    )

    stored = AuditEvent.objects.get(pk=event.pk)
    assert (stored.actor_id, stored.actor_username, stored.action) == (alice.user.pk, "alice", "role_changed")
    assert (stored.object_type, stored.object_id) == ("accounts.membership", str(event.object_id))
    assert stored.summary == {"before": {"role": "viewer"}, "after": {"role": "trader"}, "limit": "1.50"}
    assert (stored.ip, stored.user_agent, stored.correlation_id) == ("2001:db8::1", "desk-client/1.0", "req-123")
    if connection.vendor != "postgresql":  # there the hash is keyed, computed by the database (test_audit_seal.py)
        assert event_hash(stored) == stored.hash


@pytest.mark.django_db
def test_verify_chain_pinpoints_a_row_edited_behind_the_apps_back(alice: Persona) -> None:
    _, second, _ = record(alice.tenant, 3)

    tamper(second, '{"n": 99}')

    assert verify_chain(alice.tenant) == second
    out = StringIO()
    with pytest.raises(CommandError, match="broken audit chain"):
        call_command("verify_audit_chain", "--tenant", "alpha", stdout=out)
    assert "broken at seq 2" in out.getvalue()


@pytest.mark.django_db
def test_verify_chain_pinpoints_the_row_after_a_removed_one(alice: Persona) -> None:
    _, second, third = record(alice.tenant, 3)
    sql = f"DELETE FROM {TABLE} WHERE id = %s"  # noqa: S608 (constant table name)
    if connection.vendor == "postgresql":
        with triggers_lifted(), connection.cursor() as cursor:
            cursor.execute(sql, [second.pk])
    else:
        with connection.cursor() as cursor:
            cursor.execute(sql, [second.pk])

    assert verify_chain(alice.tenant) == third


@pytest.mark.django_db
def test_the_command_reports_every_intact_chain(alice: Persona, charlie: Persona) -> None:
    record(alice.tenant, 2)
    record(charlie.tenant, 1)
    record(None, 1)
    out = StringIO()

    call_command("verify_audit_chain", stdout=out)

    assert "the platform: intact" in out.getvalue()
    assert "tenant 'alpha': intact" in out.getvalue()
    assert "3 audit chain(s) intact." in out.getvalue()


@pytest.mark.django_db
def test_the_daily_job_raises_a_broken_chain_at_error(alice: Persona, charlie: Persona, caplog: Any) -> None:
    record(alice.tenant, 2)
    [charlie_event] = record(charlie.tenant, 1)
    tamper(charlie_event, '{"n": 7}')

    with caplog.at_level(logging.ERROR, logger="quantarb.compliance"):
        result = verify_audit_chains.apply(throw=True).get()

    assert result == {"checked": 2, "broken": 1}
    [message] = [r.getMessage() for r in caplog.records if r.name == "quantarb.compliance"]
    assert "tenant 'bravo'" in message
    assert "seq 1" in message


# --- nothing cascades ----------------------------------------------------------------------------------------
@pytest.mark.django_db
def test_deleting_an_audited_user_and_membership_keeps_their_audit_rows(alice: Persona) -> None:
    trent = user_create(username="trent", password="x-long-password-1", tenant=alice.tenant, actor=alice.user)
    membership = membership_set(user=trent, tenant=alice.tenant, role="trader", actor=alice.user)
    membership_set(user=trent, tenant=alice.tenant, role="analyst", actor=alice.user)

    trent_pk, membership_pk = trent.pk, membership.pk
    trent.delete()  # cascades to the membership, never to the audit rows

    assert not Membership.objects.filter(pk=membership_pk).exists()
    rows = chain_of(alice.tenant)
    assert [(e.action, e.object_type) for e in rows] == [
        ("user_created", "accounts.user"),
        ("membership_created", "accounts.membership"),
        ("role_changed", "accounts.membership"),
    ]
    assert rows[0].object_id == str(trent_pk)
    assert {e.object_id for e in rows[1:]} == {str(membership_pk)}
    assert rows[2].summary == {
        "before": {"user": "trent", "role": "trader"},
        "after": {"user": "trent", "role": "analyst"},
    }
    assert verify_chain(alice.tenant) is None


@pytest.mark.django_db
def test_deleting_the_actor_keeps_the_rows_they_wrote(alice: Persona, bob: Persona) -> None:
    audit_record(tenant=alice.tenant, actor=bob.user, action=AuditAction.KILL_SWITCH)
    bob_pk = bob.user.pk

    bob.user.delete()

    [event] = chain_of(alice.tenant)
    assert (event.actor_id, event.actor_username) == (bob_pk, "bob")


@pytest.mark.django_db
def test_deleting_a_tenant_keeps_its_audit_trail_verifiable(charlie: Persona) -> None:
    record(charlie.tenant, 2)
    tenant_id = charlie.tenant.pk

    charlie.tenant.delete()

    rows = list(AuditEvent.objects.filter(tenant_id=tenant_id).order_by("seq"))
    assert [e.seq for e in rows] == [1, 2]
    out = StringIO()
    call_command("verify_audit_chain", stdout=out)
    assert f"tenant #{tenant_id} (deleted): intact" in out.getvalue()


@pytest.mark.django_db
def test_the_model_refuses_to_change_or_delete_a_row(alice: Persona) -> None:
    [event] = record(alice.tenant, 1)
    event.summary = {"n": 5}

    with pytest.raises(TypeError, match="append-only"):
        event.save()
    with pytest.raises(TypeError, match="append-only"):
        event.delete()


# --- append-only in PostgreSQL -------------------------------------------------------------------------------
@pytest.mark.django_db
@pytest.mark.parametrize(
    "statement",
    [
        f"UPDATE {TABLE} SET summary = '{{}}'",  # noqa: S608
        f"DELETE FROM {TABLE}",  # noqa: S608
        f"TRUNCATE {TABLE}",
        f"TRUNCATE {TABLE} CASCADE",
    ],
)
def test_postgresql_refuses_changes_even_to_a_superuser(alice: Persona, statement: str) -> None:
    require_postgresql()
    record(alice.tenant, 2)

    with pytest.raises(DatabaseError, match="append-only"), transaction.atomic(), connection.cursor() as cursor:
        cursor.execute("SET CONSTRAINTS ALL IMMEDIATE")  # TRUNCATE waits for no deferred check of the test's rows
        cursor.execute(statement)

    assert len(chain_of(alice.tenant)) == 2
    assert verify_chain(alice.tenant) is None


@pytest.mark.django_db
def test_postgresql_triggers_fire_in_replication_mode_too(alice: Persona) -> None:
    require_postgresql()
    record(alice.tenant, 1)

    with pytest.raises(DatabaseError, match="append-only"), transaction.atomic(), connection.cursor() as cursor:
        cursor.execute("SET LOCAL session_replication_role = replica")
        cursor.execute(f"DELETE FROM {TABLE}")  # noqa: S608


@pytest.mark.django_db
def test_a_non_owner_application_role_cannot_change_audit_rows_even_without_triggers(alice: Persona) -> None:
    require_postgresql()
    record(alice.tenant, 1)
    role = f"quantarb_app_{uuid.uuid4().hex[:8]}"
    with connection.cursor() as cursor:
        cursor.execute(f"CREATE ROLE {role} NOLOGIN")  # rolled back with the test's transaction
    grant_application_role(connection, role)

    with triggers_lifted():
        for statement in (
            f"UPDATE {TABLE} SET summary = '{{}}'",  # noqa: S608
            f"DELETE FROM {TABLE}",  # noqa: S608
            f"TRUNCATE {TABLE}",
        ):
            with (
                pytest.raises(DatabaseError, match="permission denied"),
                transaction.atomic(),
                connection.cursor() as cursor,
            ):
                cursor.execute(f"SET LOCAL ROLE {role}")
                cursor.execute(statement)
        # What the platform needs still works as that role: appending to the chain, and ordinary writes.
        with transaction.atomic():
            with connection.cursor() as cursor:
                cursor.execute(f"SET LOCAL ROLE {role}")
            event = audit_record(tenant=alice.tenant, actor=alice.user, action=AuditAction.LOGIN)
            Tenant.objects.filter(pk=alice.tenant.pk).update(name="Alpha desk")
            with connection.cursor() as cursor:
                cursor.execute("SELECT current_user")
                assert cursor.fetchone()[0] == role
                cursor.execute(
                    "SELECT privilege_type FROM information_schema.role_table_grants"
                    " WHERE grantee = %s AND table_name = %s",
                    [role, TABLE],
                )
                assert {row[0] for row in cursor.fetchall()} == {"SELECT", "INSERT"}
                cursor.execute("RESET ROLE")  # SET LOCAL outlives the savepoint's release

    assert event.seq == 2
    assert verify_chain(alice.tenant) is None


@pytest.mark.django_db
def test_migrate_with_an_owner_url_leaves_the_application_role_without_update_delete_truncate() -> None:
    """End to end: `manage.py migrate` as the owner (DATABASE_OWNER_URL), then the platform's role (DATABASE_URL)."""
    require_postgresql()
    import psycopg

    base = connection.settings_dict
    admin_dsn = f"host={base['HOST'] or '127.0.0.1'} port={base['PORT'] or 5432} user={base['USER']} dbname=postgres"
    suffix = uuid.uuid4().hex[:8]
    owner, app, database = f"quantarb_owner_{suffix}", f"quantarb_app_{suffix}", f"quantarb_roles_{suffix}"
    password = uuid.uuid4().hex
    with psycopg.connect(admin_dsn, autocommit=True) as admin:
        admin.execute(f"CREATE ROLE {owner} LOGIN PASSWORD '{password}'")
        admin.execute(f"CREATE ROLE {app} LOGIN PASSWORD '{password}'")
        admin.execute(f"CREATE DATABASE {database} OWNER {owner}")
    host, port = base["HOST"] or "127.0.0.1", base["PORT"] or 5432
    try:
        env = {
            **os.environ,
            "DJANGO_SETTINGS_MODULE": "quantarb.settings.test",
            "DATABASE_URL": f"postgres://{app}:{password}@{host}:{port}/{database}",
            "DATABASE_OWNER_URL": f"postgres://{owner}:{password}@{host}:{port}/{database}",
        }
        subprocess.run(
            [sys.executable, "manage.py", "migrate", "--noinput", "-v0"], cwd=ROOT, env=env, check=True, timeout=300
        )
        # As the platform's role: `seed_demo` writes users, memberships and their audit events...
        subprocess.run([sys.executable, "manage.py", "seed_demo"], cwd=ROOT, env=env, check=True, timeout=120)
        app_dsn = f"host={host} port={port} user={app} password={password} dbname={database}"
        with psycopg.connect(app_dsn, autocommit=True) as conn:
            count = conn.execute(f"SELECT count(*) FROM {TABLE}").fetchone()  # noqa: S608
            # 5 users, 5 memberships, the demo strategy, and the demo history's three cash-flow events
            assert count is not None and count[0] == 14
            owner_of = conn.execute("SELECT tableowner FROM pg_tables WHERE tablename = %s", [TABLE]).fetchone()
            assert owner_of is not None and owner_of[0] == owner
            # ...and can neither change its rows nor lift the triggers that protect them.
            for statement in (
                f"UPDATE {TABLE} SET summary = '{{}}'",  # noqa: S608
                f"DELETE FROM {TABLE}",  # noqa: S608
                f"TRUNCATE {TABLE}",
                f"ALTER TABLE {TABLE} DISABLE TRIGGER USER",
            ):
                with pytest.raises(psycopg.errors.InsufficientPrivilege):
                    conn.execute(statement)
        verify = subprocess.run(
            [sys.executable, "manage.py", "verify_audit_chain"], cwd=ROOT, env=env, capture_output=True, timeout=120
        )
        assert verify.returncode == 0, verify.stderr
    finally:
        with psycopg.connect(admin_dsn, autocommit=True) as admin:
            admin.execute(f"DROP DATABASE IF EXISTS {database} WITH (FORCE)")
            admin.execute(f"DROP ROLE IF EXISTS {app}")
            admin.execute(f"DROP ROLE IF EXISTS {owner}")


def test_only_migrate_connects_as_the_owner() -> None:
    """The settings switch: DATABASE_OWNER_URL replaces the connection for `migrate` and nothing else."""
    probe = (
        "import sys; sys.argv = ['manage.py', sys.argv[1]]; import django; django.setup(); "
        "from django.conf import settings; d = settings.DATABASES['default']; "
        "print(d['USER'], d['NAME'], settings.QUANTARB_DATABASE_APP_ROLE or '-')"
    )
    env = {
        **os.environ,
        "DJANGO_SETTINGS_MODULE": "quantarb.settings.test",
        "DATABASE_URL": "postgres://platform:pw@db.invalid:5432/quantarb",
        "DATABASE_OWNER_URL": "postgres://owner:pw@db.invalid:5432/quantarb",
    }

    def users(command: str) -> str:
        run = subprocess.run(
            [sys.executable, "-c", probe, command], cwd=ROOT, env=env, capture_output=True, text=True, check=True
        )
        return run.stdout.strip()

    assert users("migrate") == "owner quantarb platform"
    assert users("runplatform") == "platform quantarb -"
    assert users("seed_demo") == "platform quantarb -"


# --- concurrency ---------------------------------------------------------------------------------------------
# Serialized rollback: the flush after it must give the next tests back the migrations' reference data.
@pytest.mark.django_db(transaction=True, serialized_rollback=True)
def test_concurrent_writers_leave_one_unbroken_chain() -> None:
    tenant = Tenant.objects.create(slug="alpha", name="Alpha")
    writers, errors = 20, []
    start = threading.Barrier(writers)

    def write(i: int) -> None:
        try:
            start.wait()

            def written() -> bool:
                try:
                    audit_record(tenant=tenant, actor=None, action=AuditAction.ORDER_SUBMITTED, summary={"writer": i})
                    return True
                except OperationalError as exc:
                    # The SQLite test database is in memory with a shared cache, which answers "table is locked"
                    # at once where a file database (the platform's) waits out its busy timeout: wait here.
                    if connection.vendor != "sqlite" or "locked" not in str(exc):
                        raise
                    return False

            wait_for(written, 30, f"writer {i}: the SQLite lock", every_s=0.01)
        except Exception as exc:  # reported below: an exception in a thread would otherwise vanish
            errors.append(exc)
        finally:
            connections.close_all()

    threads = [threading.Thread(target=write, args=(i,)) for i in range(writers)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(60)

    assert errors == []
    rows = chain_of(tenant)
    assert [e.seq for e in rows] == list(range(1, writers + 1))
    assert sorted(e.summary["writer"] for e in rows) == list(range(writers))
    assert verify_chain(tenant) is None


# --- secrets -------------------------------------------------------------------------------------------------
def test_mask_secrets_hides_secret_looking_keys_at_any_depth() -> None:
    masked = mask_secrets(
        {
            "label": "Binance main",
            "api_key": "AKIAEXAMPLEKEY0001234",
            "API-Secret": "s3cr3t-very-long-value-9876",
            "password": "correct horse battery staple",
            "otp": "123456",
            "token": "short",
            "account": {"access_token": "eyJhbGciOiJIUzI1NiJ9.payload.sig-WXYZ", "login": 5551234},
            "venues": [{"passphrase": "another long passphrase"}, "binance"],
            "secret": None,
        }
    )

    assert masked == {
        "label": "Binance main",
        "api_key": MASK + "1234",
        "API-Secret": MASK + "9876",
        "password": MASK,  # never a hint of a password
        "otp": MASK,
        "token": MASK,  # too short to show any of it
        "account": {"access_token": MASK + "WXYZ", "login": 5551234},
        "venues": [{"passphrase": MASK}, "binance"],
        "secret": None,
    }


@pytest.mark.django_db
def test_secrets_are_masked_before_a_summary_is_stored(alice: Persona) -> None:
    audit_record(
        tenant=alice.tenant,
        actor=alice.user,
        action=AuditAction.SECRET_UPDATED,
        summary={"before": {"api_key": "OLDKEY-0000000001111"}, "after": {"api_key": "NEWKEY-0000000002222"}},
    )

    [event] = chain_of(alice.tenant)
    assert event.summary == {"before": {"api_key": MASK + "1111"}, "after": {"api_key": MASK + "2222"}}
    assert "OLDKEY" not in event.hash + str(event.summary)


# --- where identity changes today ----------------------------------------------------------------------------
@pytest.mark.django_db
def test_seed_demo_writes_user_and_membership_events_once() -> None:
    call_command("seed_demo", stdout=StringIO())
    tenant = Tenant.objects.get(slug="demo")
    first = [(e.action, e.actor_username, e.summary.get("after")) for e in chain_of(tenant)]

    call_command("seed_demo", stdout=StringIO())  # nothing changes, nothing is recorded

    users = {f"demo-{role}" for role in ("admin", "trader", "analyst", "viewer", "compliance")}
    assert {s["username"] for a, _, s in first if a == "user_created"} == users
    assert {(s["user"], s["role"]) for a, _, s in first if a == "membership_created"} == {
        (f"demo-{role}", role) for role in ("admin", "trader", "analyst", "viewer", "compliance")
    }
    assert [a for a, _, _ in first].count("settings_changed") == 1  # the seeded paper strategy, version 1
    # The demo history's two deposits and one withdrawal (quantarb/management/demo_history.py).
    assert [a for a, _, _ in first].count("cash_flow_booked") == 3
    assert len(first) == 14
    assert {actor for _, actor, _ in first} == {"(system)"}
    assert len(chain_of(tenant)) == 14
    assert verify_chain(tenant) is None


@pytest.mark.django_db
def test_login_logout_and_failed_login_write_events(alice: Persona, charlie: Persona) -> None:
    Membership.objects.create(user=alice.user, tenant=charlie.tenant, role="viewer")
    client = Client(HTTP_USER_AGENT="pytest-browser")

    client.post("/accounts/login/", {"username": "alice", "password": "wrong password"})
    client.post("/accounts/login/", {"username": "mallory", "password": "guess"})
    client.post("/accounts/login/", {"username": "alice", "password": alice.password})
    client.post("/accounts/logout/")

    alpha = [(e.action, e.actor_username, e.object_id) for e in chain_of(alice.tenant)]
    assert alpha == [
        ("login_failed", "(anonymous)", str(alice.user.pk)),
        ("login", "alice", str(alice.user.pk)),
        ("logout", "alice", str(alice.user.pk)),
    ]
    # A member of two desks: both desks' compliance see the sign-in.
    assert [e.action for e in chain_of(charlie.tenant)] == ["login_failed", "login", "logout"]
    [unknown] = chain_of(None)
    assert (unknown.action, unknown.object_id, unknown.summary) == ("login_failed", "", {"username": "mallory"})
    login = chain_of(alice.tenant)[1]
    assert (login.ip, login.user_agent) == ("127.0.0.1", "pytest-browser")
    failed = chain_of(alice.tenant)[0]
    assert "wrong" not in str(failed.summary)  # the attempted password is never recorded


@pytest.mark.django_db
def test_switching_tenant_or_language_is_not_audited(alice: Persona, charlie: Persona) -> None:
    Membership.objects.create(user=alice.user, tenant=charlie.tenant, role="viewer")
    client = Client()
    client.force_login(alice.user)
    before = AuditEvent.objects.count()

    client.post("/accounts/tenant/", {"tenant": charlie.tenant.pk})
    client.post("/accounts/language/", {"language": "zh-hans"})

    assert AuditEvent.objects.count() == before


@pytest.mark.django_db
def test_a_user_created_for_no_tenant_goes_to_the_platform_chain() -> None:
    user = user_create(username="ops", password="x-long-password-1", tenant=None, actor=None)

    [event] = chain_of(None)
    assert (event.action, event.object_id, event.actor_username) == ("user_created", str(user.pk), "(system)")
    assert User.objects.filter(username="ops").exists()

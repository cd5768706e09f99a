"""The audit chain and the change-log chain are locked in one order by every transaction (accounts/audit.py): one
that saves a tracked row and then audits it, beside one that audits and then saves (deleting a risk limit does
that), queue behind each other instead of deadlocking (PostgreSQL answered the loser with "deadlock detected",
which the API turned into a 503)."""

from __future__ import annotations

import contextlib
import threading
from decimal import Decimal
from typing import Any

import pytest
from django.db import connection, transaction

from accounts.audit import audit_record
from accounts.models import AuditEvent, ChangeLogEntry
from risk.models import RiskLimit
from tests.helpers.databases import require_postgresql

pytestmark = pytest.mark.django_db(transaction=True, serialized_rollback=True)


def test_saving_then_auditing_beside_auditing_then_saving_does_not_deadlock(alice: Any) -> None:
    require_postgresql()
    tenant = alice.tenant
    both_hold_their_first_lock = threading.Barrier(2)
    failures: list[BaseException] = []

    def meet() -> None:
        # Both reach this only when nothing orders them: then each holds the lock the other needs next.
        # Broken: the other transaction queued behind this one's lock, as it should.
        with contextlib.suppress(threading.BrokenBarrierError):
            both_hold_their_first_lock.wait(timeout=3)

    def save_then_audit() -> None:
        try:
            with transaction.atomic():
                limit = RiskLimit.objects.create(
                    tenant=tenant, scope_kind="desk", metric="unhedged_oz", breach_level=Decimal(2), name="first"
                )
                meet()
                audit_record(tenant=tenant, actor=None, action="risk_limit_saved", obj=limit, summary={"n": 1})
        except BaseException as error:
            failures.append(error)
        finally:
            connection.close()

    def audit_then_save() -> None:
        try:
            with transaction.atomic():
                audit_record(tenant=tenant, actor=None, action="risk_limit_saved", summary={"n": 2})
                meet()
                RiskLimit.objects.create(
                    tenant=tenant, scope_kind="desk", metric="unhedged_oz", breach_level=Decimal(3), name="second"
                )
        except BaseException as error:
            failures.append(error)
        finally:
            connection.close()

    threads = [threading.Thread(target=save_then_audit), threading.Thread(target=audit_then_save)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=30)
    assert not any(thread.is_alive() for thread in threads), "a transaction is still waiting for a lock"
    assert failures == [], failures  # before the fix: psycopg's DeadlockDetected in one of them

    assert set(RiskLimit.objects.filter(tenant=tenant).values_list("name", flat=True)) >= {"first", "second"}
    assert AuditEvent.objects.filter(tenant=tenant, summary__n__in=[1, 2]).count() == 2
    assert ChangeLogEntry.objects.filter(tenant_id=tenant.pk, object_repr__isnull=False).count() >= 2

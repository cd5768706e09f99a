"""The long lane: long jobs run apart from requests and short jobs, with their own limits and
progress. Personas: alice (admin of alpha, may read the audit trail), bob (viewer), charlie (another tenant)."""

from __future__ import annotations

import csv
import threading
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import pytest
from django.test import Client
from django.urls import reverse

from accounts.audit import audit_record
from accounts.choices import AuditAction
from accounts.models import AuditEvent
from quantarb import long_jobs
from quantarb.celery import app
from quantarb.models import LongJob, LongJobStatus


def signed_in(persona: Any) -> Client:
    client = Client()
    client.force_login(persona.user)
    return client


@pytest.fixture
def export_dir(tmp_path: Path, settings: Any) -> Path:
    settings.QUANTARB_EXPORT_DIR = str(tmp_path)
    return tmp_path


@pytest.mark.django_db(transaction=True, serialized_rollback=True)
@pytest.mark.usefixtures("thread_connections_closed")
def test_embedded_a_long_job_runs_in_the_pool_never_inside_the_request(
    alice: Any, export_dir: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    release = threading.Event()
    ran_in: list[str] = []

    half_way = threading.Event()

    def slow_export(job: Any, progress: Any) -> str:
        ran_in.append(threading.current_thread().name)
        progress(1, 2, "half way")
        half_way.set()
        release.wait(10)
        progress(2, 2, "done")
        target = export_dir / "slow.csv"
        target.write_text("ok")
        return str(target)

    monkeypatch.setitem(long_jobs.LONG_JOB_KINDS, "audit_export", f"{__name__}.SLOW")
    globals()["SLOW"] = slow_export
    request_thread = threading.current_thread().name
    response = signed_in(alice).post(reverse("audit_export_start"))
    # The request answered while the job is still running (it waits for `release`).
    assert response.status_code == 302
    job = LongJob.objects.get()
    # Wait on the job, not by polling its row: SQLite's shared in-memory test database refuses a read while
    # another thread writes (a file database, as the embedded mode uses, waits instead).
    assert half_way.wait(10)
    running = LongJob.objects.get(pk=job.pk)
    assert running.status == LongJobStatus.RUNNING and running.percent == 50 and running.message == "half way"
    page = signed_in(alice).get(response["Location"], headers={"HX-Request": "true"})
    assert 'data-status="running"' in page.content.decode() and 'hx-trigger="every 2s"' in page.content.decode()
    release.set()
    long_jobs.embedded_wait(job.pk, timeout_s=10)
    assert LongJob.objects.get(pk=job.pk).status == LongJobStatus.DONE
    assert ran_in and ran_in[0].startswith("quantarb-long-job") and ran_in[0] != request_thread


@pytest.mark.django_db(transaction=True, serialized_rollback=True)
@pytest.mark.usefixtures("thread_connections_closed")
def test_the_audit_export_writes_the_whole_trail_with_progress(alice: Any, charlie: Any, export_dir: Path) -> None:
    for n in range(1203):
        audit_record(tenant=alice.tenant, actor=None, action=AuditAction.SETTINGS_CHANGED, summary={"n": n})
    audit_record(tenant=charlie.tenant, actor=None, action=AuditAction.SETTINGS_CHANGED, summary={"n": "bravo"})
    client = signed_in(alice)  # its sign-in is one more row of the trail
    expected = AuditEvent.objects.filter(tenant=alice.tenant).count()
    location = client.post(reverse("audit_export_start"))["Location"]
    job = LongJob.objects.get()
    long_jobs.embedded_wait(job.pk, timeout_s=60)
    finished = LongJob.objects.get(pk=job.pk)
    assert expected > 1200 and (finished.done, finished.total, finished.percent) == (expected, expected, 100)
    assert 'data-testid="download"' in client.get(location).content.decode()
    download = client.get(reverse("long_job_download", args=[job.pk]))
    assert download.status_code == 200
    rows = list(csv.reader(download.getvalue().decode("utf-8-sig").splitlines()))
    assert len(rows) == 1 + expected and "bravo" not in str(rows)  # only the tenant's own trail


@pytest.mark.django_db
def test_a_viewer_may_not_export_and_another_tenant_sees_no_job(alice: Any, bob: Any, charlie: Any) -> None:
    assert signed_in(bob).post(reverse("audit_export_start")).status_code == 403
    job = LongJob.objects.create(kind="audit_export", tenant=alice.tenant, created_at="2026-11-18T12:00:00Z")
    client = signed_in(charlie)
    assert client.get(reverse("long_job", args=[job.pk])).status_code == 404
    assert client.get(reverse("long_job_download", args=[job.pk])).status_code == 404


def test_services_mode_sends_long_jobs_to_their_own_queue_with_their_own_limits(
    settings: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    from quantarb.tasks import run_long_job

    settings.CELERY_TASK_ALWAYS_EAGER = False
    sent: list[tuple[str, dict[str, Any]]] = []
    monkeypatch.setattr(
        long_jobs, "current_app", SimpleNamespace(send_task=lambda name, **kwargs: sent.append((name, kwargs)))
    )
    long_jobs._dispatch(7)
    assert sent == [(run_long_job.name, {"args": [7], "queue": "long"})]  # the task, sent by name
    assert settings.CELERY_TASK_ROUTES["quantarb.tasks.run_long_job"] == {"queue": "long"}
    # Longer than the global limit that would kill an export or a backtest.
    assert run_long_job.time_limit > app.conf.task_time_limit
    assert run_long_job.soft_time_limit < run_long_job.time_limit

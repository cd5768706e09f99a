"""Start a long export, watch its progress, download its file. The job runs in the long lane, never here."""

from __future__ import annotations

from pathlib import Path

from django.http import FileResponse, Http404, HttpRequest, HttpResponse, HttpResponseRedirect
from django.shortcuts import get_object_or_404, render
from django.urls import reverse
from django.views.decorators.http import require_POST

from quantarb.long_jobs import long_job_submit
from quantarb.models import LongJob, LongJobStatus

from .http import require_membership
from .permissions import Perm, permission_required


def _job_of_active_tenant(request: HttpRequest, job_id: int) -> LongJob:
    """A job of the active tenant, or 404 — another tenant's id answers exactly like a missing one."""
    membership = require_membership(request)
    return get_object_or_404(LongJob.objects.for_member(membership), pk=job_id)


@permission_required(Perm.AUDIT_READ)  # outermost: who may not export hears 403 whatever the method
@require_POST
def audit_export_start(request: HttpRequest) -> HttpResponse:
    membership = require_membership(request)
    job = long_job_submit(kind="audit_export", tenant=membership.tenant, requested_by=request.user)
    return HttpResponseRedirect(reverse("long_job", args=[job.pk]))


@permission_required(Perm.AUDIT_READ)
def long_job(request: HttpRequest, job_id: int) -> HttpResponse:
    """The job's progress; the page polls its partial until the job ends."""
    job = _job_of_active_tenant(request, job_id)
    template = "accounts/partials/_long_job.html" if request.headers.get("HX-Request") else "accounts/long_job.html"
    return render(request, template, {"job": job, "finished": job.status in (LongJobStatus.DONE, LongJobStatus.FAILED)})


@permission_required(Perm.AUDIT_READ)
def long_job_download(request: HttpRequest, job_id: int) -> HttpResponse:
    job = _job_of_active_tenant(request, job_id)
    path = Path(job.result_path)
    if job.status != LongJobStatus.DONE or not path.is_file():
        raise Http404
    response: HttpResponse = FileResponse(  # type: ignore[assignment]
        path.open("rb"), as_attachment=True, filename=path.name, content_type="text/csv"
    )
    return response

"""Long exports (run in the long lane, quantarb/long_jobs.py): a tenant's whole audit trail as a CSV file."""

from __future__ import annotations

import csv
from pathlib import Path
from typing import Any

from django.conf import settings
from django.utils.translation import gettext as _

from .models import AuditEvent

AUDIT_FIELDS = (
    "seq",
    "created_at",
    "actor_username",
    "action",
    "object_type",
    "object_id",
    "ip",
    "correlation_id",
    "summary",
    "hash",
)
STEP = 500


def audit_export(job: Any, progress: Any) -> str:
    """Write the job's tenant's audit trail, oldest first, to a CSV file of its own; the file's path."""
    rows = AuditEvent.objects.filter(tenant_id=job.tenant_id).order_by("seq")
    total = rows.count()
    target = Path(settings.QUANTARB_EXPORT_DIR) / f"job-{job.pk}-audit.csv"
    target.parent.mkdir(parents=True, exist_ok=True)
    with target.open("w", encoding="utf-8-sig", newline="") as file:
        writer = csv.writer(file)
        writer.writerow(AUDIT_FIELDS)
        for done, event in enumerate(rows.iterator(chunk_size=2000), start=1):
            writer.writerow(["" if getattr(event, f) is None else getattr(event, f) for f in AUDIT_FIELDS])
            if done % STEP == 0:
                progress(done, total, _("%(done)d of %(total)d rows") % {"done": done, "total": total})
    progress(total, total, _("%(done)d of %(total)d rows") % {"done": total, "total": total})
    return str(target)

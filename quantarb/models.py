"""The platform's own bookkeeping (no domain data): which scheduled job ran for which slot."""

from __future__ import annotations

from typing import Literal, Protocol

from django.db import models
from django.utils.translation import gettext_lazy as _


class _Member(Protocol):
    """What scoping reads of an `accounts.Membership` (this layer sits below `accounts` and cannot import it)."""

    tenant_id: int


class JobSlot(models.Model):
    """A claim on one run of a scheduled job: the unique (job, slot) pair makes it run once per slot, whatever the
    number of beats (quantarb/job_slots.py). `claimed_by` is the message that claimed it, so that message may run
    it again after its worker died (at least once) while any other copy is refused."""

    job = models.CharField(_("job"), max_length=80)
    slot = models.DateTimeField(_("slot start"))
    claimed_at = models.DateTimeField(_("claimed at"))
    claimed_by = models.CharField(_("claimed by"), max_length=255)

    class Meta:
        verbose_name = _("job slot")
        verbose_name_plural = _("job slots")
        constraints = [models.UniqueConstraint(fields=["job", "slot"], name="job_slot_once")]

    def __str__(self) -> str:
        return f"{self.job}@{self.slot.isoformat()}"


class LongJobStatus(models.TextChoices):
    QUEUED = "queued", _("Queued")
    RUNNING = "running", _("Running")
    DONE = "done", _("Done")
    FAILED = "failed", _("Failed")


class LongJobQuerySet(models.QuerySet["LongJob"]):
    """A long job is its desk's: a member reads the jobs of their tenant (the page that started a job polls it, an
    export is downloaded from it), as `accounts.scoping.TenantQuerySet.for_member(..., "view")` reads other rows.
    Jobs are started and changed only by services, so `view` is the one action."""

    def for_member(self, membership: _Member | None, action: Literal["view"] = "view") -> LongJobQuerySet:
        if action != "view":
            raise ValueError(f"long jobs are only viewed by members, not {action!r}")
        if membership is None:
            return self.none()
        return self.filter(tenant_id=membership.tenant_id)


class LongJob(models.Model):
    """One piece of long work (an export, a report, a backtest) run in the long lane (quantarb/long_jobs.py), with
    its progress for the page that started it."""

    kind = models.CharField(_("kind"), max_length=40)
    tenant = models.ForeignKey("accounts.Tenant", on_delete=models.CASCADE, related_name="+", verbose_name=_("tenant"))
    requested_by = models.ForeignKey(
        "accounts.User", on_delete=models.SET_NULL, null=True, blank=True, related_name="+", verbose_name=_("by")
    )
    params = models.JSONField(_("parameters"), default=dict, blank=True)
    status = models.CharField(_("status"), max_length=10, choices=LongJobStatus.choices, default=LongJobStatus.QUEUED)
    done = models.PositiveIntegerField(_("done"), default=0)
    total = models.PositiveIntegerField(_("total"), default=0)
    message = models.CharField(_("message"), max_length=200, blank=True)
    result_path = models.CharField(_("result file"), max_length=500, blank=True)
    error = models.TextField(_("error"), blank=True)
    created_at = models.DateTimeField(_("created"))
    started_at = models.DateTimeField(_("started"), null=True, blank=True)
    finished_at = models.DateTimeField(_("finished"), null=True, blank=True)

    objects = LongJobQuerySet.as_manager()

    class Meta:
        verbose_name = _("long job")
        verbose_name_plural = _("long jobs")
        ordering = ["-created_at"]

    def __str__(self) -> str:
        return f"{self.kind}#{self.pk} {self.status}"

    @property
    def percent(self) -> int:
        if self.status == LongJobStatus.DONE:
            return 100
        return min(100, self.done * 100 // self.total) if self.total else 0

"""The platform's own bookkeeping (no domain data): which scheduled job ran for which slot."""

from __future__ import annotations

from django.db import models
from django.utils.translation import gettext_lazy as _


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

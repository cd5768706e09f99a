"""The Celery app. The beat schedule is defined in code, in `quantarb.schedule`, and the embedded mode runs
the same tasks in-process (`quantarb.scheduler`)."""

import os
from typing import Any

from celery import Celery, signals

from quantarb.schedule import celery_beat_schedule

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "quantarb.settings.local")

app = Celery("quantarb")
app.config_from_object("django.conf:settings", namespace="CELERY")
app.autodiscover_tasks()


@app.on_after_finalize.connect
def _install_schedule(sender: Celery, **_kwargs: object) -> None:
    sender.conf.beat_schedule = celery_beat_schedule()


@signals.before_task_publish.connect(dispatch_uid="quantarb.job_slots.stamp")
def _stamp_slot(**kwargs: Any) -> None:
    # `celery -A quantarb` imports this module before django.setup(), and job_slots imports quantarb.models
    from quantarb.job_slots import stamp_slot

    stamp_slot(**kwargs)

"""Embedded/local development: `make run`. DEBUG on, everything else from base."""

from .base import *  # noqa: F403
from .base import env

DEBUG = env.bool("DJANGO_DEBUG", default=True)
# The embedded demo posts webhooks to receivers on this machine too (see base.py).
QUANTARB_ALERT_WEBHOOK_PRIVATE = env.bool("QUANTARB_ALERT_WEBHOOK_PRIVATE", default=True)

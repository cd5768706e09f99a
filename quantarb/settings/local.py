"""Embedded/local development: `make run`. DEBUG on, everything else from base."""

from .base import *  # noqa: F403
from .base import env

DEBUG = env.bool("DJANGO_DEBUG", default=True)
# The embedded demo posts webhooks to receivers on this machine too, and reaches MT5 bridges through SSH tunnels
# on loopback (see base.py).
QUANTARB_OUTBOUND_ALLOW_PRIVATE = env.bool(
    "QUANTARB_OUTBOUND_ALLOW_PRIVATE", default=env.bool("QUANTARB_ALERT_WEBHOOK_PRIVATE", default=True)
)
QUANTARB_MT5_BRIDGE_HOSTS = env.list("QUANTARB_MT5_BRIDGE_HOSTS", default=["127.0.0.1", "::1", "localhost"])

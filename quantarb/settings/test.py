"""Tests. SQLite unless DATABASE_URL is set (the services mode of `.ci/run` sets it to PostgreSQL)."""

from .base import *  # noqa: F403
from .base import DATABASES, MIDDLEWARE, env

SECRET_KEY = env.str("DJANGO_SECRET_KEY", default="test-only-secret-key-not-for-production-use-0123456789")
QUANTARB_FIELD_KEYS = ["P3RzHn3xZt7SgWwGQn3vQ0Ah0cG6m6xR2yHcC9kq1T8="]
PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]
if DATABASES["default"]["ENGINE"] == "django.db.backends.sqlite3":
    DATABASES["default"]["TEST"] = {"NAME": ":memory:"}
QUANTARB_DEMO_CALENDAR = False
CELERY_TASK_ALWAYS_EAGER = True
QUANTARB_OUTBOUND_ALLOW_PRIVATE = True  # the webhook receivers and fake venues of the tests listen on 127.0.0.1
QUANTARB_MT5_BRIDGE_HOSTS = ["127.0.0.1", "::1", "localhost"]  # the bridge fake (tests/fakes/mt5_bridge.py)
# WhiteNoise otherwise scans every static file (npm packages included) whenever a test client builds its
# middleware, about 0.3 s per client; on request lookup keeps test requests fast.
# https://whitenoise.readthedocs.io/en/stable/django.html#WHITENOISE_AUTOREFRESH
WHITENOISE_AUTOREFRESH = True

# Canary secrets planted by the tests must never reach a response (tests/canary.py): checked outermost.
MIDDLEWARE = ["tests.canary.CanaryMiddleware", *MIDDLEWARE]
# Checkpoints of the audit chains are off: rows roll back between tests, a shared file would not. The tests of
# accounts/audit_checkpoint.py name a file of their own.
QUANTARB_AUDIT_CHECKPOINT_PATH = ""

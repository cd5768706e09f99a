"""Tests. SQLite unless DATABASE_URL is set (the services mode of `.ci/run` sets it to PostgreSQL)."""

import os
from urllib.parse import urlsplit, urlunsplit

REDIS_DBS = 16  # Redis's default `databases`


def _worker_redis_url() -> None:
    """Give each pytest-xdist worker a Redis db of its own: the suite's REDIS_URL db plus the worker's number.

    pytest-django suffixes each worker's test database (`test_<name>_gw<n>`); the channel layers and Celery broker
    would still share one Redis db, so one worker's group messages would reach the other's consumers. Worker gw<n>
    gets db (suite db + n) mod 16: distinct for up to 16 workers. The suite's URL is kept in
    QUANTARB_SUITE_REDIS_URL and the workers' dbs in QUANTARB_SUITE_REDIS_DBS (the services-topology harness keeps
    its dedicated db off them). A child process whose REDIS_URL a test set to something else keeps it.
    """
    suite_url = os.environ.setdefault("QUANTARB_SUITE_REDIS_URL", os.environ.get("REDIS_URL", ""))
    worker = os.environ.get("PYTEST_XDIST_WORKER", "")
    if not suite_url or not worker.startswith("gw") or os.environ.get("REDIS_URL") != suite_url:
        return
    count = int(os.environ.get("PYTEST_XDIST_WORKER_COUNT", "1"))
    if count > REDIS_DBS:
        raise RuntimeError(f"{count} xdist workers but only {REDIS_DBS} Redis dbs: one per worker is needed")
    parts = urlsplit(suite_url)
    base = int(parts.path.strip("/") or "0")
    dbs = [(base + n) % REDIS_DBS for n in range(count)]
    os.environ["QUANTARB_SUITE_REDIS_DBS"] = ",".join(map(str, dbs))
    os.environ["REDIS_URL"] = urlunsplit(parts._replace(path=f"/{dbs[int(worker[2:])]}"))


_worker_redis_url()

from .base import *  # noqa: E402, F403
from .base import BASE_DIR, DATABASES, MIDDLEWARE, env  # noqa: E402

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

# Export files are named after their job's id, which each xdist worker's database numbers from 1: one folder per
# worker, so two workers' "job-1" never meet.
if os.environ.get("PYTEST_XDIST_WORKER") and not os.environ.get("QUANTARB_EXPORT_DIR"):
    QUANTARB_EXPORT_DIR = str(BASE_DIR / "var" / f"exports-{os.environ['PYTEST_XDIST_WORKER']}")

"""Settings shared by every run mode.

Run modes (ARCHITECTURE.md "Run modes"): with no DATABASE_URL the platform runs embedded on SQLite; with
DATABASE_URL it uses PostgreSQL; with REDIS_URL the channel layer and the Celery broker move to Redis.
Secrets come from the environment or from the local `.env` that `make run` writes on first run.
"""

import sys
from datetime import timedelta
from pathlib import Path
from urllib.parse import urlsplit

import environ
from csp.constants import NONE, SELF, UNSAFE_INLINE
from django.utils.translation import gettext_lazy as _

BASE_DIR = Path(__file__).resolve().parent.parent.parent

env = environ.Env()
# https://django-environ.readthedocs.io/en/latest/tips.html#multiple-env-files
ENV_FILE = env.str("QUANTARB_ENV_FILE", default=str(BASE_DIR / ".env"))
if Path(ENV_FILE).exists():
    env.read_env(ENV_FILE, overwrite=False)

SECRET_KEY = env.str("DJANGO_SECRET_KEY", default="")
DEBUG = env.bool("DJANGO_DEBUG", default=False)
ALLOWED_HOSTS = env.list("DJANGO_ALLOWED_HOSTS", default=["127.0.0.1", "localhost"])
CSRF_TRUSTED_ORIGINS = env.list("DJANGO_CSRF_TRUSTED_ORIGINS", default=[])

# Comma-separated Fernet keys; the first encrypts, all decrypt (MultiFernet rotation).
QUANTARB_FIELD_KEYS = env.list("QUANTARB_FIELD_KEYS", default=[])

INSTALLED_APPS = [
    "daphne",
    "quantarb.apps.QuantarbAdminConfig",
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "django.contrib.messages",
    "django.contrib.staticfiles",
    "django.contrib.humanize",
    "rest_framework",
    "rest_framework_simplejwt",
    "rest_framework_simplejwt.token_blacklist",
    "drf_spectacular",
    "drf_spectacular_sidecar",
    # FilterSets for the API's list filters (https://django-filter.readthedocs.io/en/stable/guide/rest_framework.html);
    # set per view (filter_backends), not as DRF's default, so a view without a FilterSet needs no queryset model.
    "django_filters",
    # Its system checks refuse a policy in django-csp 3's setting names (CONTENT_SECURITY_POLICY below).
    "csp",
    "channels",
    "guardian",
    "auditlog",
    "axes",
    "django_otp",
    "django_otp.plugins.otp_totp",
    "quantarb.apps.QuantarbConfig",
    "accounts",
    "trading",
    "strategies",
    "risk",
    "alerts",
    "mt5ops",
]

MIDDLEWARE = [
    "quantarb.correlation.CorrelationIdMiddleware",
    # A database outage in a view answers 503 (quantarb/outage.py; in a middleware, `handler500` does).
    "quantarb.outage.DatabaseOutageMiddleware",
    # NUL in the address or a form, too many form fields: 400 with a message (quantarb/input_guard.py).
    "quantarb.input_guard.InputGuardMiddleware",
    "django.middleware.security.SecurityMiddleware",
    # The Content-Security-Policy header on every response (CONTENT_SECURITY_POLICY below; quantarb/csp.py).
    "quantarb.csp.CSPMiddleware",
    "whitenoise.middleware.WhiteNoiseMiddleware",
    "django.contrib.sessions.middleware.SessionMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    # `request.user.is_verified()`: whether this session passed the second factor (accounts/two_factor.py).
    "django_otp.middleware.OTPMiddleware",
    "quantarb.i18n.UserLanguageMiddleware",
    "quantarb.tenancy.TenantMiddleware",
    "accounts.changelog.ChangeLogMiddleware",
    "django.contrib.messages.middleware.MessageMiddleware",
    # Ends revoked, idle and too-old portal sessions at their next request (accounts/sessions.py).
    "accounts.session_middleware.SessionLifetimeMiddleware",
    # Ends the sessions of suspended users; holds a user who needs two-factor at its pages until they pass it.
    "accounts.middleware.AccountGateMiddleware",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
    # Last, as its docs ask: turns a login that axes flagged as locked out into the lockout page.
    # https://django-axes.readthedocs.io/en/latest/2_installation.html
    "axes.middleware.AxesMiddleware",
]

# Request bodies: no page or API operation takes more than a few kilobytes (there are no file uploads), so a body
# declared or found larger than this is answered 413 before it is read or parsed (quantarb/web_handler.py, and under
# daphne as it arrives, runplatform); Django's own checks of form bodies use the same figure.
# https://docs.djangoproject.com/en/5.2/ref/settings/#data-upload-max-memory-size
DATA_UPLOAD_MAX_MEMORY_SIZE = 256 * 1024
# Threads that run requests' synchronous code (middleware, views, the ORM), each keeping its database connection
# from one request to the next; requests beyond them wait on the event loop (quantarb/web_handler.py). Each is at
# most one database connection of the web process.
QUANTARB_WEB_THREADS = env.int("QUANTARB_WEB_THREADS", default=16)

ROOT_URLCONF = "quantarb.urls"
# The error page hides secrets even with DEBUG on (quantarb/error_reports.py).
DEFAULT_EXCEPTION_REPORTER_FILTER = "quantarb.error_reports.AlwaysSafeExceptionReporterFilter"
ASGI_APPLICATION = "quantarb.asgi.application"
WSGI_APPLICATION = None

TEMPLATES = [
    {
        "BACKEND": "django.template.backends.django.DjangoTemplates",
        "DIRS": [BASE_DIR / "templates"],
        "APP_DIRS": True,
        "OPTIONS": {
            "context_processors": [
                "django.template.context_processors.request",
                "django.contrib.auth.context_processors.auth",
                "django.contrib.messages.context_processors.messages",
                "django.template.context_processors.i18n",
                "quantarb.context_processors.platform",
            ],
        },
    },
]

# --- Database -------------------------------------------------------------------------------------------
# https://django-environ.readthedocs.io/en/latest/types.html#environ-env-db-url
_default_sqlite = f"sqlite:///{BASE_DIR / 'var' / 'quantarb.sqlite3'}"
DATABASES = {"default": env.db_url("DATABASE_URL", default=_default_sqlite)}
if DATABASES["default"]["ENGINE"] == "django.db.backends.sqlite3":
    # WAL lets management commands read and write beside the running platform; the busy timeout makes a
    # writer wait for the lock instead of failing. https://docs.djangoproject.com/en/5.2/ref/databases/#sqlite-notes
    DATABASES["default"].setdefault("OPTIONS", {}).update(
        {
            "timeout": 20,
            "transaction_mode": "IMMEDIATE",
            "init_command": "PRAGMA journal_mode=WAL; PRAGMA synchronous=NORMAL; PRAGMA busy_timeout=20000;",
        }
    )
    # Kept open from one request to the next by each web thread (quantarb/web_handler.py), as on PostgreSQL:
    # opening the file and running the PRAGMAs again was a sixth of a small API request's time (bench/api_load.py).
    DATABASES["default"].setdefault("CONN_MAX_AGE", 60)
else:
    DATABASES["default"].setdefault("CONN_MAX_AGE", 60)
    DATABASES["default"]["CONN_HEALTH_CHECKS"] = True
DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"

# --- Database owner: migrations only --------------------------------------------------------------------
# With DATABASE_OWNER_URL set, `manage.py migrate` connects as that role, which then owns the tables, and grants
# the role of DATABASE_URL what the platform needs — never UPDATE, DELETE or TRUNCATE on the audit trail
# (accounts/db_roles.py). Every other command and process connects as DATABASE_URL. ARCHITECTURE.md "Security".
QUANTARB_DATABASE_APP_ROLE = ""
if env.str("DATABASE_OWNER_URL", default="") and sys.argv[1:2] == ["migrate"]:
    QUANTARB_DATABASE_APP_ROLE = DATABASES["default"]["USER"]
    DATABASES["default"] = {**DATABASES["default"], **env.db_url("DATABASE_OWNER_URL")}

# --- Redis: channel layer and Celery broker ------------------------------------------------------------
REDIS_URL = env.str("REDIS_URL", default="")
# The channel-layer alias that carries spread updates (quantarb/live.py `layer_for`); "default" without Redis.
QUANTARB_SPREAD_LAYER = "spreads" if REDIS_URL else "default"
if REDIS_URL:
    # https://github.com/django/channels_redis#configuration ; the pool is sized deliberately (ARCHITECTURE.md)
    # Per process and event loop, channels_redis keeps one redis-py pool. A web process's traffic is its fan-out
    # hub (one blocking receive, group joins as sockets come and go), not one connection per socket: a handful
    # of connections for 1,000 sockets (bench/ws_fanout.py), far below the bound (redis-py raises
    # MaxConnectionsError beyond it instead of opening more).
    # Reads must outlast the hub's blocking pop (BZPOPMIN, channels_redis brpop_timeout = 5 s): with redis-py's
    # default 5 s socket timeout an idle hub raced its own empty reply ("Timeout reading from ...") and
    # reconnected on a new channel, dropping what was in flight (bench/ws_fanout.py, 1,000 clients).
    CHANNEL_LAYERS = {
        "default": {
            "BACKEND": "channels_redis.core.RedisChannelLayer",
            "CONFIG": {
                "hosts": [
                    {
                        "address": REDIS_URL,
                        "max_connections": 100,
                        "socket_timeout": 10,
                        "socket_connect_timeout": 3,
                    }
                ],
                "capacity": 500,
                "expiry": 30,
            },
        },
        # Spread updates (groups `pair.<id>`, quantarb/live.py `layer_for`): Redis pub/sub, one PUBLISH per update
        # and each subscribed web process reads it straight off its subscription, instead of the default layer's
        # per-channel queues (a Lua script per group_send, then a blocking pop per receive: 4–5 ms from
        # publication to the hub, bench/ws_fanout.py). Pub/sub keeps nothing for a process that is not
        # listening, which is what a live state wants (the next update replaces it); control messages
        # (membership and alert changes) stay on the default layer. Redis pub/sub channels are not per database
        # number, so the prefix carries it: two deployments sharing a Redis server on different databases
        # (the engineers and CI on this machine) do not hear each other's updates.
        QUANTARB_SPREAD_LAYER: {
            "BACKEND": "channels_redis.pubsub.RedisPubSubChannelLayer",
            "CONFIG": {
                "hosts": [
                    {
                        "address": REDIS_URL,
                        "max_connections": 20,
                        "socket_timeout": 10,
                        "socket_connect_timeout": 3,
                    }
                ],
                "prefix": f"quantarb.db{urlsplit(REDIS_URL).path.strip('/') or '0'}.",
            },
        },
    }
else:
    CHANNEL_LAYERS = {"default": {"BACKEND": "channels.layers.InMemoryChannelLayer", "CONFIG": {"capacity": 500}}}

# Celery: with no Redis the embedded scheduler calls the same task functions in-process.
CELERY_BROKER_URL = REDIS_URL or "memory://"
CELERY_RESULT_BACKEND = None
CELERY_TASK_ALWAYS_EAGER = not REDIS_URL
CELERY_TASK_TIME_LIMIT = 120
CELERY_TASK_SOFT_TIME_LIMIT = 100
# At least once (quantarb/jobs.py): acknowledge a task after it ran, and put it back when its worker died, so a
# crash mid-task re-runs it (every task is idempotent). One message at a time per worker process, as acks_late asks.
# https://docs.celeryq.dev/en/stable/userguide/configuration.html#task-acks-late
CELERY_TASK_ACKS_LATE = True
CELERY_TASK_REJECT_ON_WORKER_LOST = True
CELERY_WORKER_PREFETCH_MULTIPLIER = 1
# The long lane (quantarb/long_jobs.py): its own queue, worker and limits; in the embedded mode a thread pool.
CELERY_TASK_ROUTES = {"quantarb.tasks.run_long_job": {"queue": "long"}}
QUANTARB_LONG_JOB_TIME_LIMIT_S = env.int("QUANTARB_LONG_JOB_TIME_LIMIT_S", default=4 * 3600)
QUANTARB_LONG_JOB_THREADS = env.int("QUANTARB_LONG_JOB_THREADS", default=2)
QUANTARB_EXPORT_DIR = env.str("QUANTARB_EXPORT_DIR", default=str(BASE_DIR / "var" / "exports"))
# Stated, not left to the default: no countdown may come near it (quantarb.jobs.MAX_COUNTDOWN_S).
CELERY_BROKER_TRANSPORT_OPTIONS = {"visibility_timeout": 3600}
CELERY_TIMEZONE = "UTC"

AUTH_USER_MODEL = "accounts.User"
# axes first: it refuses a locked-out username before any password is checked. Our backend is Django's
# ModelBackend that also refuses suspended users, at login and for existing sessions (accounts/backends.py).
# django-guardian last: it answers object permissions (a trader operates only the objects granted to them,
# accounts/grants.py), on top of what the role allows (accounts/permissions.py).
AUTHENTICATION_BACKENDS = [
    "axes.backends.AxesStandaloneBackend",
    "accounts.backends.AccountBackend",
    "guardian.backends.ObjectPermissionBackend",
]

# https://django-guardian.readthedocs.io/en/stable/configuration.html : no anonymous user row.
ANONYMOUS_USER_NAME = None
GUARDIAN_RAISE_403 = False

# django-auditlog: the change log of tenant-owned models, in our own table that carries the tenant
# (accounts.ChangeLogEntry, append-only like the domain audit) and the request's correlation id.
# https://django-auditlog.readthedocs.io/en/latest/usage.html#settings
AUDITLOG_LOGENTRY_MODEL = "accounts.ChangeLogEntry"
AUDITLOG_CID_GETTER = "quantarb.correlation.auditlog_cid"
# auditlog's own migrations create its stock `auditlog_logentry` table even when the model is swapped out; with
# none, no such dead table exists (nor its foreign key to users, which would block deleting or flushing them).
MIGRATION_MODULES = {"auditlog": None}
AUDITLOG_DISABLE_REMOTE_ADDR = False
AUTH_PASSWORD_VALIDATORS = [
    {"NAME": "django.contrib.auth.password_validation.UserAttributeSimilarityValidator"},
    {"NAME": "django.contrib.auth.password_validation.MinimumLengthValidator"},
    {"NAME": "django.contrib.auth.password_validation.CommonPasswordValidator"},
    {"NAME": "django.contrib.auth.password_validation.NumericPasswordValidator"},
]
LOGIN_URL = "login"
LOGIN_REDIRECT_URL = "dashboard"
LOGOUT_REDIRECT_URL = "login"

# --- Languages: zh-Hans and English --------------------------------------------------------------------
LANGUAGE_CODE = "en"
LANGUAGES = [("en", _("English")), ("zh-hans", _("Simplified Chinese"))]
LOCALE_PATHS = [BASE_DIR / "locale"]
USE_I18N = True
TIME_ZONE = "UTC"
USE_TZ = True

STATIC_URL = "static/"
# Where `collectstatic` writes (the image's build step; CI collects into a temporary directory).
STATIC_ROOT = env.path("DJANGO_STATIC_ROOT", default=BASE_DIR / "var" / "staticfiles")
# Front-end packages come from npm (`make` runs `npm ci`) and are served from node_modules, never a CDN.
STATICFILES_DIRS = [
    BASE_DIR / "static",
    # Tabler's stylesheets, scripts and the images they name; not its `libs/`, third-party plugins we do not use
    # whose files name source maps and images the package does not ship: production's manifest storage refuses to
    # collect a file that references a missing one (the image's collectstatic failed on tom-select's .css.map).
    *(
        (f"vendor/tabler/{part}", BASE_DIR / "node_modules" / "@tabler" / "core" / "dist" / part)
        for part in ("css", "js", "img")
    ),
    ("vendor/lightweight-charts", BASE_DIR / "node_modules" / "lightweight-charts" / "dist"),
    ("vendor/htmx", BASE_DIR / "node_modules" / "htmx.org" / "dist"),
    ("vendor/tablesort", BASE_DIR / "node_modules" / "tablesort" / "dist"),
    # The Reports page's heatmap, waterfall and histograms (static/js/reports.js): the prebuilt bundle only.
    ("vendor/echarts", BASE_DIR / "node_modules" / "echarts" / "dist"),
]
# https://whitenoise.readthedocs.io/en/stable/django.html#WHITENOISE_USE_FINDERS (production collects instead)
WHITENOISE_USE_FINDERS = True

REST_FRAMEWORK = {
    # JWT first: its `WWW-Authenticate` header makes a missing or bad token a 401 (never the session's 403), and
    # a bad token is refused before the session is looked at. The session stays for the portal's own calls.
    "DEFAULT_AUTHENTICATION_CLASSES": [
        "accounts.jwt.TenantJWTAuthentication",
        "rest_framework.authentication.SessionAuthentication",
    ],
    # The permission matrix (accounts/permissions.py): each view names its `required_permission`.
    "DEFAULT_PERMISSION_CLASSES": ["accounts.permissions.HasRolePermission"],
    "DEFAULT_PAGINATION_CLASS": "quantarb.api.Pagination",
    "PAGE_SIZE": 100,
    "DEFAULT_SCHEMA_CLASS": "drf_spectacular.openapi.AutoSchema",
    # Decimals as plain strings, never exponents or floats (quantarb/api_decimals.py).
    "DEFAULT_RENDERER_CLASSES": ["quantarb.api_decimals.JSONRenderer"],
    # JSON that no column could hold (NUL, lone surrogates, nesting 10,000 deep) is a 400 (quantarb/input_guard.py).
    "DEFAULT_PARSER_CLASSES": [
        "quantarb.input_guard.GuardedJSONParser",
        "rest_framework.parsers.FormParser",
        "rest_framework.parsers.MultiPartParser",
    ],
    "EXCEPTION_HANDLER": "quantarb.api.exception_handler",
    "COERCE_DECIMAL_TO_STRING": True,
}
# --- Content-Security-Policy (django-csp 4: https://django-csp.readthedocs.io/en/latest/configuration.html) ----
# Scripts only from our own static files: no inline code, no event-handler attributes, no eval (templates bind
# behaviour by data attributes in static/js/; htmx runs with allowEval off; the API docs use drf-spectacular's
# split Swagger view, whose start-up script is a URL of its own). Every page passes it: tests/e2e/test_csp.py.
# Styles: stylesheets from our own files only, no <style> element (the front-end libraries inject none:
# lightweight-charts' attribution logo, which would, is off and credited in text; htmx's indicator rules are in
# quantarb.css; the API docs' page names a stylesheet). Style attributes stay allowed (style-src-attr): the
# templates size meters and boxes with them, and an attribute alone cannot select elements (no CSS exfiltration).
# connect-src: the API and the pages' polls, plus this host's ws:/wss: origin for the Channels sockets, added per
# request (quantarb/csp.py).
CONTENT_SECURITY_POLICY = {
    "DIRECTIVES": {
        "default-src": [SELF],
        "script-src": [SELF],
        "connect-src": [SELF],
        "img-src": [SELF, "data:"],
        "style-src": [SELF],
        "style-src-attr": [UNSAFE_INLINE],
        "font-src": [SELF],
        "object-src": [NONE],
        "base-uri": [SELF],
        "form-action": [SELF],
        "frame-ancestors": [NONE],
    }
}

# https://drf-spectacular.readthedocs.io/en/latest/settings.html ; Swagger UI's files come from the sidecar
# package (served as our static files), never a CDN; the validator badge would call validator.swagger.io.
SPECTACULAR_SETTINGS = {
    "TITLE": "quantarb API",
    "VERSION": "1.0.0",
    "SCHEMA_PATH_PREFIX": "/api/v1",
    "SERVE_PERMISSIONS": ["rest_framework.permissions.IsAuthenticated"],
    "SWAGGER_UI_DIST": "SIDECAR",
    "SWAGGER_UI_FAVICON_HREF": "SIDECAR",
    "REDOC_DIST": "SIDECAR",
    "SWAGGER_UI_SETTINGS": {"deepLinking": True, "validatorUrl": None},
    # One name per shared choice set, so the schema (and `check --deploy`) has no naming collision.
    # https://drf-spectacular.readthedocs.io/en/latest/settings.html
    "ENUM_NAME_OVERRIDES": {
        "SeverityEnum": "alerts.choices.Severity",
        "AlertStatusEnum": "alerts.choices.AlertStatus",
        "AccountModeEnum": "accounts.choices.AccountMode",
        "AccountStatusEnum": "accounts.choices.AccountStatus",
        "CategoryEnum": "alerts.choices.Category",
        "TerminalStateEnum": "mt5ops.choices.TerminalStateChoice",
        "DirectionEnum": "trading.choices.Direction",
        "LimitActionEnum": "risk.choices.LimitAction",
        "LimitDirectionEnum": "risk.choices.LimitDirection",
        "LimitScopeKindEnum": "risk.choices.LimitScopeKind",
        "LimitMetricEnum": "risk.choices.LimitMetric",
        "ChannelKindEnum": "alerts.choices.ChannelKind",
    },
    # Every error status the API answers is documented (quantarb/api_schema.py).
    "POSTPROCESSING_HOOKS": [
        "drf_spectacular.hooks.postprocess_schema_enums",
        "quantarb.api_schema.document_error_responses",
    ],
}

# https://django-rest-framework-simplejwt.readthedocs.io/en/latest/settings.html
# Signed with SECRET_KEY (HS256, the default). Tokens carry their tenant (accounts/jwt.py).
SIMPLE_JWT = {
    "ACCESS_TOKEN_LIFETIME": timedelta(minutes=15),
    "REFRESH_TOKEN_LIFETIME": timedelta(days=7),
    "ROTATE_REFRESH_TOKENS": True,
    "BLACKLIST_AFTER_ROTATION": True,
    "UPDATE_LAST_LOGIN": True,
    # A password change invalidates the tokens issued before it.
    "CHECK_REVOKE_TOKEN": True,
    "USER_AUTHENTICATION_RULE": "accounts.jwt.user_may_authenticate",
    "TOKEN_OBTAIN_SERIALIZER": "accounts.jwt.TenantTokenObtainPairSerializer",
    "TOKEN_REFRESH_SERIALIZER": "accounts.jwt.TenantTokenRefreshSerializer",
    "TOKEN_BLACKLIST_SERIALIZER": "accounts.jwt.TenantTokenBlacklistSerializer",
}

# --- Audit checkpoints (accounts/audit_checkpoint.py) ------------------------------------------------------
# Where each chain's signed head is appended: keep it out of reach of the database's administrators. The key
# signs its lines; empty: derived from SECRET_KEY.
# A file per database by default (checkpoints of one database are meaningless for another, and a second platform
# on another database must not read them as a broken chain): beside an SQLite file, else named by host and name.
_db = DATABASES["default"]
_default_checkpoints = (
    Path(f"{_db['NAME']}.audit-checkpoints.jsonl")
    if _db["ENGINE"] == "django.db.backends.sqlite3" and str(_db["NAME"]) != ":memory:"
    else BASE_DIR / "var" / "audit" / f"checkpoints-{_db.get('HOST') or 'local'}-{_db.get('NAME')}.jsonl"
)
QUANTARB_AUDIT_CHECKPOINT_PATH = env.str("QUANTARB_AUDIT_CHECKPOINT_PATH", default=str(_default_checkpoints))
QUANTARB_AUDIT_CHECKPOINT_KEY = env.str("QUANTARB_AUDIT_CHECKPOINT_KEY", default="")

# --- Portal sessions (accounts/sessions.py) --------------------------------------------------------------
# Idle: signed out after this long without a request a person made (background polls do not count). Absolute:
# signed out this long after sign-in whatever the activity; the cookie lives no longer either.
# https://docs.djangoproject.com/en/5.2/ref/settings/#session-cookie-age
SESSION_IDLE_TIMEOUT_SECONDS = env.int("QUANTARB_SESSION_IDLE_MINUTES", default=30) * 60
SESSION_ABSOLUTE_LIFETIME_SECONDS = env.int("QUANTARB_SESSION_MAX_HOURS", default=12) * 3600
SESSION_COOKIE_AGE = SESSION_ABSOLUTE_LIFETIME_SECONDS

# --- Login lockout (django-axes) -------------------------------------------------------------------------
# https://django-axes.readthedocs.io/en/latest/4_configuration.html
# Five failures lock the username (never the address: one attacker must not lock out a whole desk behind one
# NAT) for 15 minutes counted from the failure that locked it; attempts during the lock are refused without
# extending it, so the page can say exactly when to retry. The database handler works on SQLite and PostgreSQL
# and its rows roll back with each test.
AXES_HANDLER = "axes.handlers.database.AxesDatabaseHandler"
AXES_FAILURE_LIMIT = 5
AXES_COOLOFF_TIME = timedelta(minutes=15)
AXES_LOCKOUT_PARAMETERS = ["username"]
AXES_RESET_ON_SUCCESS = True
AXES_RESET_COOL_OFF_ON_FAILURE_DURING_LOCKOUT = False
AXES_HTTP_RESPONSE_CODE = 429
AXES_LOCKOUT_CALLABLE = "accounts.lockout.lockout_response"
# Sign-ins are in the audit trail already; axes keeps only the failure counters.
AXES_DISABLE_ACCESS_LOG = True
# Unlocking is a superuser-only admin page of ours (accounts/lockout_admin.py), which audits each unlock.
AXES_ENABLE_ADMIN = False
AXES_SENSITIVE_PARAMETERS = ["username", "ip_address", "otp", "code"]
# axes.W006 advises adding the address to the lockout parameters; locking by username alone is the decision
# above (and with the username only, rotating user agents or cookies bypasses nothing).
SILENCED_SYSTEM_CHECKS = ["axes.W006"]

# --- Two-factor (django-otp, TOTP) -----------------------------------------------------------------------
# https://django-otp-official.readthedocs.io/en/stable/overview.html#settings
OTP_TOTP_ISSUER = "quantarb"
# Wrong codes back off exponentially per device: 1, 2, 4, 8 ... seconds.
OTP_TOTP_THROTTLE_FACTOR = 1
OTP_ADMIN_HIDE_SENSITIVE_DATA = True
# How long the password step waits for the code before the user must start again.
QUANTARB_TWO_FACTOR_PENDING_SECONDS = 300

# Every line names its correlation id (quantarb/correlation.py). QUANTARB_LOG_FORMAT=json writes one JSON object
# per line (for log shippers), with structlog's bound context; "plain" is for people.
QUANTARB_LOG_FORMAT = env.str("QUANTARB_LOG_FORMAT", default="plain")
LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    "filters": {"correlation": {"()": "quantarb.correlation.CorrelationLogFilter"}},
    # Tracebacks without locals, messages bounded (quantarb/log_format.py).
    "formatters": {
        fmt: {"()": "quantarb.log_format.processor_formatter", "json_lines": fmt == "json"} for fmt in ("plain", "json")
    },
    "handlers": {
        "console": {
            "class": "logging.StreamHandler",
            "formatter": "json" if QUANTARB_LOG_FORMAT == "json" else "plain",
            "filters": ["correlation"],
        }
    },
    "root": {"handlers": ["console"], "level": env.str("QUANTARB_LOG_LEVEL", default="INFO")},
    "loggers": {
        "daphne": {"level": "WARNING"},
        "django.channels.server": {"level": "WARNING"},
        # Every run of a 5-second beat job is not news; failures still log at ERROR.
        "celery.app.trace": {"level": "WARNING"},
        # axes logs every sign-in at INFO; failures and lockouts stay (WARNING), and the audit trail has them all.
        "axes": {"level": "WARNING"},
    },
}

# --- quantarb ---------------------------------------------------------------------------------------------
# "embedded": one process runs web, feeds, engine and the beat jobs; "services": separate processes.
QUANTARB_RUN_MODE = env.str(
    "QUANTARB_RUN_MODE",
    default="services" if (REDIS_URL and "postgres" in DATABASES["default"]["ENGINE"]) else "embedded",
)
# Seed of the simulated venues (same seed, same market).
QUANTARB_SIM_SEED = env.int("QUANTARB_SIM_SEED", default=20260105)
# The embedded demo's simulated CFD follows an always-open calendar ("demo session").
QUANTARB_DEMO_CALENDAR = env.bool("QUANTARB_DEMO_CALENDAR", default=True)
# Seconds after which a quote is stale (amber) and never prices anything.
QUANTARB_STALE_AFTER_SECONDS = env.float("QUANTARB_STALE_AFTER_SECONDS", default=5.0)
# Feed manager (trading/marketdata/feeds.py): a source whose stream is silent longer than its limit (QuoteSource's
# own, else
# QUANTARB_STALE_AFTER_SECONDS) is stale and REST polling stands in; with no quote at all for this long it is down.
QUANTARB_FEED_DOWN_AFTER_SECONDS = env.float("QUANTARB_FEED_DOWN_AFTER_SECONDS", default=30.0)
# How often REST polling runs while a stream is stale (seconds).
QUANTARB_FEED_POLL_SECONDS = env.float("QUANTARB_FEED_POLL_SECONDS", default=1.0)
# The engine reads the source pairs again this often: a pair a desk admin creates streams, a changed one restarts
# and a disabled or deleted one stops within about this long, without a restart (trading/marketdata/pipeline.py).
QUANTARB_PAIR_RELOAD_SECONDS = env.float("QUANTARB_PAIR_RELOAD_SECONDS", default=2.0)
# Prometheus (https://prometheus.github.io/client_python/): `runengine` serves its metrics on 127.0.0.1 at this
# port (0: off); the web process serves /metrics to loopback callers, or to anyone with this bearer token.
QUANTARB_ENGINE_METRICS_PORT = env.int("QUANTARB_ENGINE_METRICS_PORT", default=0)
QUANTARB_METRICS_TOKEN = env.str("QUANTARB_METRICS_TOKEN", default="")
# Live push: per-client ceiling on update frames per second (coalesced beyond it).
QUANTARB_PUSH_MAX_HZ = env.float("QUANTARB_PUSH_MAX_HZ", default=8.0)
# Alert deliveries retry after base · 2^(attempt-1) seconds (30 s, 1 min, 2 min, 4 min), then end failed.
QUANTARB_ALERT_RETRY_BASE_S = env.float("QUANTARB_ALERT_RETRY_BASE_S", default=30.0)
# Destinations a tenant chose (webhooks, apprise URLs, endpoint overrides, quote-source endpoints) that resolve to
# loopback, private, link-local or reserved addresses are refused unless this is on: otherwise a tenant admin could
# make the server call internal services (SSRF; quantarb/outbound.py). The embedded demo and the tests allow them.
# QUANTARB_ALERT_WEBHOOK_PRIVATE is its former, webhook-only name.
QUANTARB_OUTBOUND_ALLOW_PRIVATE = env.bool(
    "QUANTARB_OUTBOUND_ALLOW_PRIVATE", default=env.bool("QUANTARB_ALERT_WEBHOOK_PRIVATE", default=False)
)
# MT5 bridges the platform may connect to, kept by its operators: `host`, `host:port`, `host:low-high`,
# `[v6]:port` or a network (`10.8.0.0/24`), comma-separated. Empty: no rpyc terminal can be reached.
QUANTARB_MT5_BRIDGE_HOSTS = env.list("QUANTARB_MT5_BRIDGE_HOSTS", default=[])
# Retention of raw market data (days); candles are kept longer.
QUANTARB_RETAIN_QUOTES_DAYS = env.int("QUANTARB_RETAIN_QUOTES_DAYS", default=7)
QUANTARB_RETAIN_CANDLES_DAYS = env.int("QUANTARB_RETAIN_CANDLES_DAYS", default=400)
# Paper capital a paper account starts with, in its leg's currency (USDT perp, USD CFD); its fills, fees and carry
# move the balance from there (trading/execution/paper.py).
QUANTARB_PAPER_BALANCE = env.str("QUANTARB_PAPER_BALANCE", default="100000")
# Leverage brackets paper perp accounts are margined by, as Binance's `GET /fapi/v1/leverageBracket?symbol=XAUUSDT`
# answers them (JSON: the symbol's entry or its list of brackets). Empty: trading/domain/margin.py's DEFAULT_BRACKETS
# (an assumption, labelled as such on the account). https://developers.binance.com/docs/derivatives/usds-margined-futures/account/rest-api/Notional-and-Leverage-Brackets
QUANTARB_PAPER_PERP_BRACKETS = env.str("QUANTARB_PAPER_PERP_BRACKETS", default="")
# Paper venue: a taker fills this long after the send, at the quote then in force, moved by the slippage (bps);
# beyond the displayed size per level (oz; 0 = unlimited) the paper book walks 1 bp per level (partial IOC fills).
QUANTARB_PAPER_LATENCY_MS = env.int("QUANTARB_PAPER_LATENCY_MS", default=80)
QUANTARB_PAPER_SLIPPAGE_BPS = env.float("QUANTARB_PAPER_SLIPPAGE_BPS", default=0.5)
QUANTARB_PAPER_DISPLAYED_OZ = env.float("QUANTARB_PAPER_DISPLAYED_OZ", default=25.0)
# Paper margin: the perp at this leverage, the CFD at this fraction of notional (1:100 → 0.01), against the pool's
# capital per leg.
QUANTARB_PAPER_PERP_LEVERAGE = env.str("QUANTARB_PAPER_PERP_LEVERAGE", default="20")
QUANTARB_PAPER_CFD_MARGIN_RATE = env.str("QUANTARB_PAPER_CFD_MARGIN_RATE", default="0.01")
# The risk centre (risk/metrics.py, risk/history.py): drawdown over this many days of hourly equity; the weekend
# move measured over this many days of recorded gaps and shown this many hours before the CFD closes; the risk
# history kept a minute apart for this many days, then hourly for this many.
QUANTARB_RISK_DRAWDOWN_DAYS = env.int("QUANTARB_RISK_DRAWDOWN_DAYS", default=30)
QUANTARB_RISK_GAP_LOOKBACK_DAYS = env.int("QUANTARB_RISK_GAP_LOOKBACK_DAYS", default=182)
QUANTARB_RISK_GAP_LEAD_HOURS = env.float("QUANTARB_RISK_GAP_LEAD_HOURS", default=12.0)
QUANTARB_RISK_HISTORY_MINUTE_DAYS = env.float("QUANTARB_RISK_HISTORY_MINUTE_DAYS", default=2.0)
QUANTARB_RISK_HISTORY_HOUR_DAYS = env.float("QUANTARB_RISK_HISTORY_HOUR_DAYS", default=400.0)
# Strategy runners hold a lease on their strategy for this long and renew it every step; a crashed engine's
# strategies are taken over by another engine once it expires.
QUANTARB_LEASE_TTL_SECONDS = env.float("QUANTARB_LEASE_TTL_SECONDS", default=10.0)
# On PostgreSQL each strategy runner writes a new hedge and its orders (the one durable write between a signal and
# the orders on the wire) through a connection of its own: autocommit, the statement prepared, hedge ids drawn
# ahead (trading/execution/order_writer.py). Off: the same statement through Django's connection — e.g. behind a
# transaction-
# pooling pooler that cannot keep prepared statements (PgBouncer before 1.21).
QUANTARB_RUNNER_ORDER_CONNECTION = env.bool("QUANTARB_RUNNER_ORDER_CONNECTION", default=True)

# Portfolio. A cash flow worth more than this (USD) needs a second admin's approval before it is booked;
# one desk-wide setting (not per tenant).
QUANTARB_CASH_FLOW_APPROVAL_USD = env.str("QUANTARB_CASH_FLOW_APPROVAL_USD", default="10000")
# The daily check of each live account's equity series against the equity its venue reports alerts beyond the larger
# of these: an absolute USD amount and a share of the venue's figure.
QUANTARB_EQUITY_CHECK_TOLERANCE_USD = env.str("QUANTARB_EQUITY_CHECK_TOLERANCE_USD", default="5")
QUANTARB_EQUITY_CHECK_TOLERANCE_SHARE = env.str("QUANTARB_EQUITY_CHECK_TOLERANCE_SHARE", default="0.005")
# The analytics' annualisation basis: this book trades around the clock (365 days a year).
QUANTARB_ANNUALISATION_DAYS = env.int("QUANTARB_ANNUALISATION_DAYS", default=365)

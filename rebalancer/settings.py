"""Django settings.

Two ways to run, same code:

* **Embedded default** (no environment): SQLite in ``var/``, tasks run in-process, demo mode on
  (a per-checkout secret key is generated in ``var/``, demo logins are printed).
* **Services**: ``DATABASE_URL`` selects PostgreSQL (psycopg 3), ``REDIS_URL`` selects Celery with
  Redis as broker. Outside demo mode ``SECRET_KEY`` and ``ALLOWED_HOSTS`` must be set explicitly.

Every variable is parsed by :mod:`rebalancer.env`, which fails loudly naming the variable.
"""

from __future__ import annotations

import secrets
from pathlib import Path

from rebalancer.env import (
    EnvError,
    env_bool,
    env_database_url,
    env_int,
    env_list,
    env_redis_url,
    env_required,
    env_str,
)

BASE_DIR = Path(__file__).resolve().parent.parent
VAR_DIR = Path(env_str("REBALANCER_VAR_DIR") or BASE_DIR / "var")

DATABASE = env_database_url("DATABASE_URL")
#: The role that owns the schema and runs ``migrate``; DATABASE_URL's role is then the app role,
#: which cannot change or remove rows of append-only tables (rebalancer/dbroles.py).
DATABASE_OWNER = env_database_url("DATABASE_OWNER_URL")
if DATABASE_OWNER is not None and (
    DATABASE is None
    or (DATABASE_OWNER.host, DATABASE_OWNER.port, DATABASE_OWNER.name)
    != (DATABASE.host, DATABASE.port, DATABASE.name)
):
    raise EnvError("DATABASE_OWNER_URL must name the same host, port and database as DATABASE_URL")
REDIS_URL = env_redis_url("REDIS_URL")

#: Embedded demo: the single-machine mode with no services. Demo logins are printed only here.
DEMO_MODE = env_bool("REBALANCER_DEMO", default=DATABASE is None)
#: The embedded single-machine database (SQLite in var/): the only place the repository's demo
#: password is used (see demo.book.build.demo_password).
EMBEDDED_DATABASE = DATABASE is None
#: Password of the demo logins when set; otherwise the local demo's (embedded) or a random one.
DEMO_PASSWORD = env_str("REBALANCER_DEMO_PASSWORD") or ""
DEBUG = env_bool("DEBUG", default=False)


def _demo_secret_key() -> str:
    """A random key kept in var/ so sessions survive restarts; never used outside demo mode."""
    VAR_DIR.mkdir(parents=True, exist_ok=True)
    path = VAR_DIR / "secret_key"
    if not path.exists():
        path.write_text(secrets.token_urlsafe(64))
        path.chmod(0o600)
    return path.read_text().strip()


if DEMO_MODE:
    SECRET_KEY = env_str("SECRET_KEY") or _demo_secret_key()
    ALLOWED_HOSTS = env_list("ALLOWED_HOSTS", ["localhost", "127.0.0.1", "[::1]", "testserver"])
else:
    SECRET_KEY = env_required(
        "SECRET_KEY", why="a long random value is required outside the embedded demo"
    )
    ALLOWED_HOSTS = env_list("ALLOWED_HOSTS", [])
    if not ALLOWED_HOSTS:
        env_required("ALLOWED_HOSTS", why="list the host names this server answers to")

CSRF_TRUSTED_ORIGINS = env_list("CSRF_TRUSTED_ORIGINS", [])

INSTALLED_APPS = [
    "django.contrib.admin",
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "django.contrib.messages",
    "django.contrib.staticfiles",
    "django.contrib.humanize",
    "rest_framework",
    "drf_spectacular",
    "drf_spectacular_sidecar",
    "guardian",
    "axes",
    "django_otp",
    "django_otp.plugins.otp_totp",
    "django_otp.plugins.otp_static",
    "django_htmx",
    "django_filters",
    "rebalancer",
    "models_hub",
    "accounts",
    "workflow",
    "demo",
]

MIDDLEWARE = [
    "rebalancer.middleware.RequestSizeLimitMiddleware",
    "django.middleware.security.SecurityMiddleware",
    "whitenoise.middleware.WhiteNoiseMiddleware",
    "rebalancer.middleware.SecurityHeadersMiddleware",
    "django.contrib.sessions.middleware.SessionMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    "django_otp.middleware.OTPMiddleware",
    "rebalancer.middleware.SessionLifetimeMiddleware",
    "rebalancer.middleware.TwoFactorMiddleware",
    "django.contrib.messages.middleware.MessageMiddleware",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
    "django_htmx.middleware.HtmxMiddleware",
    "axes.middleware.AxesMiddleware",
    "rebalancer.authz.HiddenAuthorizationMiddleware",
]

ROOT_URLCONF = "rebalancer.urls"
WSGI_APPLICATION = "rebalancer.wsgi.application"

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
                "rebalancer.context_processors.tenancy",
            ],
        },
    },
]

if DATABASE is not None:
    DATABASES = {"default": DATABASE.as_django()}
    # Persistent connections (seconds); 0 closes each request's connection (the test suite uses
    # 0 so live-server threads leave no session behind when the test database is dropped).
    DATABASES["default"]["CONN_MAX_AGE"] = env_int("DB_CONN_MAX_AGE", 60, minimum=0)
else:
    VAR_DIR.mkdir(parents=True, exist_ok=True)
    DATABASES = {
        "default": {
            "ENGINE": "django.db.backends.sqlite3",
            "NAME": VAR_DIR / "rebalancer.sqlite3",
            "OPTIONS": {
                "timeout": 30,
                "transaction_mode": "IMMEDIATE",
                "init_command": "PRAGMA journal_mode=WAL; PRAGMA synchronous=NORMAL;",
            },
        }
    }

DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"

AUTH_PASSWORD_VALIDATORS = [
    {"NAME": "django.contrib.auth.password_validation.UserAttributeSimilarityValidator"},
    {"NAME": "django.contrib.auth.password_validation.MinimumLengthValidator"},
    {"NAME": "django.contrib.auth.password_validation.CommonPasswordValidator"},
    {"NAME": "django.contrib.auth.password_validation.NumericPasswordValidator"},
]

AUTHENTICATION_BACKENDS = [
    "axes.backends.AxesStandaloneBackend",
    "django.contrib.auth.backends.ModelBackend",
    "guardian.backends.ObjectPermissionBackend",
]
LOGIN_URL = "login"
LOGIN_REDIRECT_URL = "home"
LOGOUT_REDIRECT_URL = "login"

# django-axes: lock a username (from one address) out after repeated failed logins.
AXES_FAILURE_LIMIT = env_int("AXES_FAILURE_LIMIT", 5, minimum=1)
AXES_COOLOFF_TIME = env_int("AXES_COOLOFF_HOURS", 1, minimum=1)
AXES_LOCKOUT_PARAMETERS = [["username", "ip_address"]]
AXES_RESET_ON_SUCCESS = True
AXES_LOCKOUT_TEMPLATE = "registration/locked_out.html"
# The client address: REMOTE_ADDR, or behind the proxies listed in TRUSTED_PROXY_IPS (addresses
# or networks) the nearest X-Forwarded-For entry they appended; never a client-set header alone.
TRUSTED_PROXY_IPS = env_list("TRUSTED_PROXY_IPS", [])
AXES_CLIENT_IP_CALLABLE = "rebalancer.security.login.client_ip"
#: Failed logins (any usernames) after which one address is refused for the cool-off.
LOGIN_IP_FAILURE_LIMIT = env_int("LOGIN_IP_FAILURE_LIMIT", 20, minimum=1)

# Sessions end SESSION_IDLE_SECONDS after the last request and SESSION_ABSOLUTE_SECONDS after
# login whatever happens (rebalancer.middleware.SessionLifetimeMiddleware).
SESSION_IDLE_SECONDS = env_int("SESSION_IDLE_SECONDS", 30 * 60, minimum=60)
SESSION_ABSOLUTE_SECONDS = env_int("SESSION_ABSOLUTE_SECONDS", 12 * 3600, minimum=60)
SESSION_COOKIE_AGE = SESSION_ABSOLUTE_SECONDS
# Two-factor authentication (django-otp): required for firm admins and superusers.
OTP_TOTP_ISSUER = "Rebalancer"

# django-guardian: no anonymous user row; object permissions only for authenticated users.
ANONYMOUS_USER_NAME = None
GUARDIAN_MONKEY_PATCH_USER = False

LANGUAGE_CODE = "en-us"
TIME_ZONE = "UTC"
USE_I18N = False
USE_TZ = True

STATIC_URL = "static/"
STATICFILES_DIRS = [BASE_DIR / "static"]
STATIC_ROOT = VAR_DIR / "staticfiles"
WHITENOISE_USE_FINDERS = DEMO_MODE or DEBUG
if DEMO_MODE:
    STATIC_ROOT.mkdir(parents=True, exist_ok=True)  # whitenoise warns when it is missing
STORAGES = {
    "default": {"BACKEND": "django.core.files.storage.FileSystemStorage"},
    "staticfiles": {
        "BACKEND": "django.contrib.staticfiles.storage.StaticFilesStorage"
        if DEMO_MODE or DEBUG
        else "whitenoise.storage.CompressedManifestStaticFilesStorage"
    },
}
DATA_UPLOAD_MAX_MEMORY_SIZE = 10 * 1024 * 1024
FILE_UPLOAD_MAX_MEMORY_SIZE = 10 * 1024 * 1024
DATA_UPLOAD_MAX_NUMBER_FILES = 10
#: Bounded input: a request body above this is refused (413) before it is read
#: (rebalancer.middleware.RequestSizeLimitMiddleware); a feed line above FEED_MAX_LINE_BYTES or a
#: feed above FEED_MAX_DECOMPRESSED_BYTES after gunzip is rejected while streaming.
REQUEST_MAX_BYTES = env_int("REQUEST_MAX_BYTES", 101 * 1024 * 1024, minimum=1024 * 1024)
FEED_MAX_LINE_BYTES = env_int("FEED_MAX_LINE_BYTES", 1024 * 1024, minimum=1024)
FEED_MAX_DECOMPRESSED_BYTES = env_int(
    "FEED_MAX_DECOMPRESSED_BYTES", 2 * 1024 * 1024 * 1024, minimum=1024 * 1024
)

REST_FRAMEWORK = {
    # Token first so an anonymous API call gets 401 with a WWW-Authenticate header.
    "DEFAULT_AUTHENTICATION_CLASSES": [
        "rebalancer.tokens.ApiTokenAuthentication",
        "rest_framework.authentication.SessionAuthentication",
    ],
    "DEFAULT_PERMISSION_CLASSES": ["rest_framework.permissions.IsAuthenticated"],
    "DEFAULT_PAGINATION_CLASS": "rebalancer.drf.Pagination",
    "EXCEPTION_HANDLER": "rebalancer.drf.exception_handler",
    "PAGE_SIZE": 100,
    "DEFAULT_SCHEMA_CLASS": "rebalancer.api_schema.AutoSchema",
    "DEFAULT_RENDERER_CLASSES": ["rest_framework.renderers.JSONRenderer"],
    "DEFAULT_THROTTLE_CLASSES": ["rebalancer.tokens.TokenRateThrottle"],
}
#: Requests per token (per user for session calls) to the API, DRF's "N/second|minute|hour|day".
API_THROTTLE_RATE = env_str("API_THROTTLE_RATE") or "300/minute"
# The throttle's counters: shared by every process through Redis when there is one.
if REDIS_URL is not None:
    CACHES = {
        "default": {
            "BACKEND": "django.core.cache.backends.redis.RedisCache",
            "LOCATION": REDIS_URL,
            "KEY_PREFIX": "rebalancer",
        }
    }
SPECTACULAR_SETTINGS = {
    "TITLE": "Rebalancer API",
    "DESCRIPTION": "Read API for households, accounts, positions, lots and securities. "
    "Every response is scoped to the caller's firm and role. Lists are paged (`page`, "
    "`page_size` up to 500), filtered by the parameters each list documents and sorted by "
    "`ordering`; an unsupported parameter is a 400. [Back to the app](/)",
    "VERSION": "1",
    "SERVE_INCLUDE_SCHEMA": False,
    # Swagger UI and Redoc assets from drf-spectacular-sidecar: served locally, no CDN.
    "SWAGGER_UI_DIST": "SIDECAR",
    "SWAGGER_UI_FAVICON_HREF": "SIDECAR",
    "REDOC_DIST": "SIDECAR",
}

# Celery: Redis when REDIS_URL is set; otherwise tasks run eagerly in-process (embedded mode).
CELERY_BROKER_URL = REDIS_URL or "memory://"
CELERY_RESULT_BACKEND = REDIS_URL
CELERY_TASK_ALWAYS_EAGER = REDIS_URL is None
CELERY_TASK_EAGER_PROPAGATES = True
CELERY_TASK_SERIALIZER = "json"
CELERY_RESULT_SERIALIZER = "json"
CELERY_ACCEPT_CONTENT = ["json"]
CELERY_TASK_ACKS_LATE = True
CELERY_WORKER_PREFETCH_MULTIPLIER = 1
CELERY_BROKER_CONNECTION_RETRY_ON_STARTUP = True
# Work that never gets stuck: a task whose worker dies is handed back to the broker (acks late +
# reject on worker lost); a task is stopped after its time limits; Redis re-delivers an
# unacknowledged message only after the visibility timeout, which is above the hard limit so a
# live task is never delivered twice; the sweeper re-queues or fails claims older than the lease.
TASK_TIME_LIMIT = env_int("TASK_TIME_LIMIT", 3600, minimum=10)
CELERY_TASK_TIME_LIMIT = TASK_TIME_LIMIT
CELERY_TASK_SOFT_TIME_LIMIT = TASK_TIME_LIMIT - 5
CELERY_TASK_REJECT_ON_WORKER_LOST = True
CELERY_BROKER_TRANSPORT_OPTIONS = {"visibility_timeout": TASK_TIME_LIMIT + 600}
CELERY_TASK_PUBLISH_RETRY_POLICY = {"max_retries": 2, "interval_start": 0, "interval_step": 0.5}
#: A claimed import not finished after this many seconds lost its worker (default: above the
#: hard time limit, so a live task is never taken away).
IMPORT_LEASE_SECONDS = env_int("IMPORT_LEASE_SECONDS", TASK_TIME_LIMIT + 60, minimum=1)
IMPORT_MAX_ATTEMPTS = env_int("IMPORT_MAX_ATTEMPTS", 3, minimum=1)
#: Nightly runs: accounts claimed per batch by a worker, competing worker tasks per run, the
#: lease after which a claimed batch is taken back, and how often before the account fails.
NIGHTLY_BATCH = env_int("NIGHTLY_BATCH", 200, minimum=1)
NIGHTLY_TASKS_PER_RUN = env_int("NIGHTLY_TASKS_PER_RUN", 8, minimum=1)
NIGHTLY_LEASE_SECONDS = env_int("NIGHTLY_LEASE_SECONDS", 600, minimum=1)
NIGHTLY_MAX_ATTEMPTS = env_int("NIGHTLY_MAX_ATTEMPTS", 3, minimum=1)
CELERY_TASK_ROUTES = {"workflow.run_work": {"queue": "nightly"}}
CELERY_BEAT_SCHEDULE = {
    "import-sweep": {"task": "workflow.import_sweep", "schedule": 60.0},
    "run-sweep": {"task": "workflow.run_sweep", "schedule": 60.0},
    "nightly-kickoff": {"task": "workflow.nightly_kickoff", "schedule": 60.0},
}

# Security: production-safe unless demo mode. Behind a TLS-terminating proxy set
# SECURE_PROXY_SSL_HEADER_ENABLED=true.
if not DEMO_MODE:
    SECURE_SSL_REDIRECT = env_bool("SECURE_SSL_REDIRECT", True)
    SECURE_HSTS_SECONDS = env_int("SECURE_HSTS_SECONDS", 31536000, minimum=0)
    SECURE_HSTS_INCLUDE_SUBDOMAINS = True
    SECURE_HSTS_PRELOAD = True
    SESSION_COOKIE_SECURE = True
    CSRF_COOKIE_SECURE = True
    if env_bool("SECURE_PROXY_SSL_HEADER_ENABLED", False):
        SECURE_PROXY_SSL_HEADER = ("HTTP_X_FORWARDED_PROTO", "https")
    if not SECURE_SSL_REDIRECT:
        # Turned off on purpose (docker-compose's plain-HTTP localhost, or a proxy that redirects
        # itself): check --deploy need not warn about a decision made explicitly.
        SILENCED_SYSTEM_CHECKS = ["security.W008"]
SESSION_COOKIE_HTTPONLY = True
X_FRAME_OPTIONS = "DENY"
SECURE_CONTENT_TYPE_NOSNIFF = True
SECURE_REFERRER_POLICY = "same-origin"

LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    "formatters": {"plain": {"format": "%(asctime)s %(levelname)s %(name)s %(message)s"}},
    "handlers": {"console": {"class": "logging.StreamHandler", "formatter": "plain"}},
    "root": {"handlers": ["console"], "level": env_str("LOG_LEVEL", "INFO")},
    "loggers": {"axes": {"level": "WARNING"}},
}

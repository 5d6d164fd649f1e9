"""Steward settings, read from the environment (see README, "Configuration").

One module for every environment: development, tests and production differ only in
environment variables. Bad values raise ImproperlyConfigured at start-up.
"""

import os
from pathlib import Path

import environ
from csp.constants import NONE, SELF
from django.core.exceptions import ImproperlyConfigured

BASE_DIR = Path(__file__).resolve().parent.parent

env = environ.Env()


def env_bool(name: str, default: bool) -> bool:
    """Read a boolean variable, refusing values that are not clearly true or false."""
    raw = env.str(name, default="").strip().lower()
    if raw == "":
        return default
    if raw in {"1", "true", "yes", "on"}:
        return True
    if raw in {"0", "false", "no", "off"}:
        return False
    raise ImproperlyConfigured(f"{name} must be true or false, not {raw!r}.")


def env_int(name: str, default: int, *, minimum: int = 0) -> int:
    """Read a whole-number variable with a lower bound."""
    raw = env.str(name, default="").strip()
    if raw == "":
        return default
    try:
        value = int(raw)
    except ValueError:
        raise ImproperlyConfigured(f"{name} must be a whole number, not {raw!r}.") from None
    if value < minimum:
        raise ImproperlyConfigured(f"{name} must be at least {minimum}, not {value}.")
    return value


DEBUG = env_bool("DEBUG", False)

DATA_DIR = Path(env.str("STEWARD_DATA_DIR", default=str(BASE_DIR / "data")))
DATA_DIR.mkdir(parents=True, exist_ok=True)  # the SQLite file and uploads live here

SECRET_KEY = env.str("SECRET_KEY", default="")
if not SECRET_KEY:
    if not DEBUG:
        raise ImproperlyConfigured("SECRET_KEY must be set when DEBUG is off.")
    SECRET_KEY = "django-insecure-development-only-key-never-use-in-production"

ALLOWED_HOSTS = env.list("ALLOWED_HOSTS", default=["localhost", "127.0.0.1", "[::1]"] if DEBUG else [])
CSRF_TRUSTED_ORIGINS = env.list("CSRF_TRUSTED_ORIGINS", default=[])

# --- HTTPS hardening: on by default in production, off for local http development.
HTTPS = env_bool("STEWARD_HTTPS", not DEBUG)
SECURE_SSL_REDIRECT = HTTPS
SESSION_COOKIE_SECURE = HTTPS
CSRF_COOKIE_SECURE = HTTPS
SECURE_HSTS_SECONDS = env_int("SECURE_HSTS_SECONDS", 31_536_000 if HTTPS else 0)
SECURE_HSTS_INCLUDE_SUBDOMAINS = HTTPS
SECURE_HSTS_PRELOAD = HTTPS
if env_bool("TRUST_X_FORWARDED_PROTO", False):
    SECURE_PROXY_SSL_HEADER = ("HTTP_X_FORWARDED_PROTO", "https")
SECURE_CONTENT_TYPE_NOSNIFF = True
SECURE_REFERRER_POLICY = "same-origin"
X_FRAME_OPTIONS = "DENY"
SESSION_COOKIE_HTTPONLY = True

INSTALLED_APPS = [
    "django.contrib.admin",
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "django.contrib.messages",
    "whitenoise.runserver_nostatic",
    "django.contrib.staticfiles",
    "django.contrib.humanize",
    "rest_framework",
    "rest_framework.authtoken",
    "django_filters",
    "drf_spectacular",
    "drf_spectacular_sidecar",
    "django_htmx",
    "csp",
    "axes",
    "django_celery_beat",
    "rules.apps.AutodiscoverRulesConfig",
    "steward",
    "accounts",
    "lineage",
    "mastering",
    "curation",
    "feedback",
]

MIDDLEWARE = [
    "django.middleware.security.SecurityMiddleware",
    "whitenoise.middleware.WhiteNoiseMiddleware",
    "django.contrib.sessions.middleware.SessionMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    "django.contrib.messages.middleware.MessageMiddleware",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
    "django_htmx.middleware.HtmxMiddleware",
    "csp.middleware.CSPMiddleware",
    "steward.middleware.LoginRequiredMiddleware",
    "steward.middleware.BusyDatabaseMiddleware",
    # Axes last, as its documentation asks.
    "axes.middleware.AxesMiddleware",
]

AUTHENTICATION_BACKENDS = [
    "axes.backends.AxesStandaloneBackend",
    "rules.permissions.ObjectPermissionBackend",
    "accounts.backends.RoleBackend",  # Django's ModelBackend, one query for permissions
]

ROOT_URLCONF = "steward.urls"
WSGI_APPLICATION = "steward.wsgi.application"
ASGI_APPLICATION = "steward.asgi.application"

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
                "steward.context_processors.navigation",
                "feedback.context_processors.notifications",
            ],
        },
    },
]

# --- Database: an SQLite file by default, anything django-environ understands otherwise.
DATABASES = {
    "default": env.db_url("DATABASE_URL", default=f"sqlite:///{DATA_DIR / 'steward.sqlite3'}"),
}
if DATABASES["default"]["ENGINE"] == "django.db.backends.sqlite3":
    # WAL lets page reads go on while a batch writes. IMMEDIATE makes every transaction take the file's write lock
    # when it begins, where SQLite waits up to `timeout` seconds for it; a deferred one that read first and then
    # wants to write gets "database is locked" at once, whatever the timeout. A wait that runs out answers 503.
    DATABASES["default"].setdefault("OPTIONS", {}).update({
        "timeout": env_int("SQLITE_BUSY_TIMEOUT", 30, minimum=1),
        "transaction_mode": "IMMEDIATE",
        "init_command": "PRAGMA journal_mode=WAL; PRAGMA synchronous=NORMAL;",
    })
else:
    DATABASES["default"]["CONN_MAX_AGE"] = env_int("CONN_MAX_AGE", 60)
    DATABASES["default"]["CONN_HEALTH_CHECKS"] = True

DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"

AUTH_PASSWORD_VALIDATORS = [
    {"NAME": "django.contrib.auth.password_validation.UserAttributeSimilarityValidator"},
    {"NAME": "django.contrib.auth.password_validation.MinimumLengthValidator"},
    {"NAME": "django.contrib.auth.password_validation.CommonPasswordValidator"},
    {"NAME": "django.contrib.auth.password_validation.NumericPasswordValidator"},
]

LOGIN_URL = "login"
LOGIN_REDIRECT_URL = "home"
LOGOUT_REDIRECT_URL = "login"

LANGUAGE_CODE = "en-us"
TIME_ZONE = env.str("TIME_ZONE", default="UTC")
USE_I18N = True
USE_TZ = True

STATIC_URL = "static/"
STATIC_ROOT = DATA_DIR / "staticfiles"
STATIC_ROOT.mkdir(exist_ok=True)
STATICFILES_DIRS = [BASE_DIR / "static"]
# After `collectstatic` (production), files are served compressed under hashed names; before it
# (development, tests), straight from the app folders.
COLLECTED_STATIC = (STATIC_ROOT / "staticfiles.json").exists() and not DEBUG
STORAGES = {
    "default": {"BACKEND": "django.core.files.storage.FileSystemStorage"},
    "staticfiles": {
        "BACKEND": "whitenoise.storage.CompressedManifestStaticFilesStorage"
        if COLLECTED_STATIC
        else "django.contrib.staticfiles.storage.StaticFilesStorage"
    },
}
WHITENOISE_USE_FINDERS = not COLLECTED_STATIC
WHITENOISE_AUTOREFRESH = DEBUG

MEDIA_ROOT = DATA_DIR / "media"

# --- Uploads: a table larger than this is refused (413) before it is read.
STEWARD_MAX_UPLOAD_BYTES = env_int("STEWARD_MAX_UPLOAD_MB", 200, minimum=1) * 1024 * 1024
# A table with more columns than this is refused before its rows are read (a wide header is costly to check).
STEWARD_MAX_COLUMNS = env_int("STEWARD_MAX_COLUMNS", 1000, minimum=1)
# Tables larger than this are ingested by a background job rather than inside the request.
STEWARD_INLINE_INGEST_BYTES = env_int("STEWARD_INLINE_INGEST_MB", 5, minimum=0) * 1024 * 1024
# Django's own limits: request bodies above this spill to temporary files, not memory.
FILE_UPLOAD_MAX_MEMORY_SIZE = 2_621_440
DATA_UPLOAD_MAX_MEMORY_SIZE = env_int("DATA_UPLOAD_MAX_MEMORY_MB", 50, minimum=1) * 1024 * 1024
FILE_UPLOAD_TEMP_DIR = None

# --- Active learning.
STEWARD_RETRAIN_EVERY = env_int("STEWARD_RETRAIN_EVERY", 10, minimum=1)
# After an automatic retraining, the next waits this share of the time the last one took (100: as long), so a stream of
# answers keeps a worker training at most half the time (curation.selectors.training_paused). Off by default: a curator
# answering fast (or a script answering from the truth) would otherwise be asked from a staler model; a deployment
# with dozens of curators on few cores may turn it on.
STEWARD_RETRAIN_PAUSE_PERCENT = env_int("STEWARD_RETRAIN_PAUSE_PERCENT", 0)
# A Celery worker raises its niceness by this much when it starts (0: leave it), so that on a machine it shares with
# gunicorn, retraining and mastering yield the CPU to the requests people wait for. No effect on a machine of its own.
STEWARD_WORKER_NICENESS = env_int("STEWARD_WORKER_NICENESS", 10)

# Issue notifications: printed to the console unless a mail backend is configured.
EMAIL_BACKEND = env.str("EMAIL_BACKEND", default="django.core.mail.backends.console.EmailBackend")
DEFAULT_FROM_EMAIL = env.str("DEFAULT_FROM_EMAIL", default="steward@localhost")
# Links in emails point here (no request to take the host from when a notification is sent).
STEWARD_BASE_URL = env.str("STEWARD_BASE_URL", default="http://localhost:8000").rstrip("/")

# --- OpenLineage: every job's run is stored as run events (GET /api/lineage/openlineage/) and, when
# OPENLINEAGE_URL is set, sent to that Marquez-compatible endpoint (POST {url}/api/v1/lineage).
OPENLINEAGE_NAMESPACE = env.str("OPENLINEAGE_NAMESPACE", default="steward").strip() or "steward"
OPENLINEAGE_URL = env.str("OPENLINEAGE_URL", default="").strip().rstrip("/")
if OPENLINEAGE_URL and not OPENLINEAGE_URL.startswith(("http://", "https://")):
    raise ImproperlyConfigured(f"OPENLINEAGE_URL must be an http:// or https:// address, not {OPENLINEAGE_URL!r}.")
OPENLINEAGE_API_KEY = env.str("OPENLINEAGE_API_KEY", default="")
OPENLINEAGE_TIMEOUT_SECONDS = env_int("OPENLINEAGE_TIMEOUT_SECONDS", 5, minimum=1)
# How often a failed send is tried again (with a growing wait) before the event is marked as not delivered.
OPENLINEAGE_RETRIES = env_int("OPENLINEAGE_RETRIES", 5)
OPENLINEAGE_PRODUCER = env.str("OPENLINEAGE_PRODUCER", default="urn:steward")

# --- Celery: with no broker configured, tasks run in-process (eagerly).
CELERY_BROKER_URL = env.str("CELERY_BROKER_URL", default="")
CELERY_TASK_ALWAYS_EAGER = not CELERY_BROKER_URL
CELERY_TASK_EAGER_PROPAGATES = True
CELERY_RESULT_BACKEND = env.str("CELERY_RESULT_BACKEND", default="") or None
CELERY_TASK_DEFAULT_QUEUE = env.str("CELERY_TASK_DEFAULT_QUEUE", default="steward")
# Parallel test processes (pytest-xdist) each start their own worker on their own test database: a queue each,
# so no worker takes another process's tasks. (The worker inherits the variable, so it listens on the same queue.)
if os.environ.get("PYTEST_XDIST_WORKER"):
    CELERY_TASK_DEFAULT_QUEUE += "-" + os.environ["PYTEST_XDIST_WORKER"]
CELERY_TASK_ACKS_LATE = True
CELERY_WORKER_PREFETCH_MULTIPLIER = 1
CELERY_TASK_SERIALIZER = "json"
CELERY_ACCEPT_CONTENT = ["json"]
CELERY_BROKER_CONNECTION_RETRY_ON_STARTUP = True
CELERY_WORKER_HIJACK_ROOT_LOGGER = False
# Housekeeping on a schedule (`celery -A steward beat`), never inside a request. With no broker there is no beat:
# the job sweep runs where a job is started, the upload clean-up where a table arrives.
CELERY_BEAT_SCHEDULER = "django_celery_beat.schedulers:DatabaseScheduler"
CELERY_BEAT_SCHEDULE = {
    "sweep-jobs": {"task": "mastering.tasks.sweep_jobs", "schedule": 60.0},
    "remove-abandoned-uploads": {"task": "mastering.tasks.remove_abandoned_uploads", "schedule": 3600.0},
}

# --- REST API.
REST_FRAMEWORK = {
    "DEFAULT_AUTHENTICATION_CLASSES": [
        "rest_framework.authentication.SessionAuthentication",
        "rest_framework.authentication.TokenAuthentication",
    ],
    # DRF's default is allow-any; Steward's is signed-in users only.
    "DEFAULT_PERMISSION_CLASSES": ["rest_framework.permissions.IsAuthenticated"],
    "DEFAULT_FILTER_BACKENDS": [
        "django_filters.rest_framework.DjangoFilterBackend",
        "rest_framework.filters.OrderingFilter",
    ],
    "DEFAULT_PAGINATION_CLASS": "steward.api.pagination.StandardPagination",
    "PAGE_SIZE": 50,
    "DEFAULT_RENDERER_CLASSES": [
        "rest_framework.renderers.JSONRenderer",
        "rest_framework.renderers.BrowsableAPIRenderer",
        "steward.api.renderers.SafeCSVRenderer",
    ],
    "DEFAULT_SCHEMA_CLASS": "steward.api.schema.StewardAutoSchema",
    "EXCEPTION_HANDLER": "steward.api.exceptions.exception_handler",
    "DEFAULT_METADATA_CLASS": "steward.api.metadata.StewardMetadata",
    "DEFAULT_THROTTLE_RATES": {"login": "20/minute"},
    "TEST_REQUEST_DEFAULT_FORMAT": "json",
}

SPECTACULAR_SETTINGS = {
    "TITLE": "Steward API",
    "DESCRIPTION": "Tables in, golden records out: sources, ingest, curation, mastering, issues and lineage.",
    "VERSION": "1",
    "SERVE_INCLUDE_SCHEMA": False,
    "SERVE_PERMISSIONS": ["rest_framework.permissions.IsAuthenticated"],
    "SWAGGER_UI_DIST": "SIDECAR",
    "SWAGGER_UI_FAVICON_HREF": "SIDECAR",
    "REDOC_DIST": "SIDECAR",
    "COMPONENT_SPLIT_REQUEST": True,
    "ENUM_NAME_OVERRIDES": {
        "LabelAnswerEnum": "curation.models.Label.Answer",
        "AdjudicationAnswerEnum": [("match", "Match"), ("distinct", "Not a match")],
        "SurvivorshipRuleEnum": "mastering.models.Attribute.Rule",
        "IssueKindEnum": "feedback.models.DataIssue.Kind",
        "IssueResolutionEnum": "feedback.models.DataIssue.Resolution",
        "IssueStatusEnum": "feedback.models.DataIssue.Status",
        "IssueEventKindEnum": "feedback.models.IssueEvent.Kind",
    },
}

# --- Login lockout (django-axes, extended in accounts/lockout.py).
AXES_FAILURE_LIMIT = env_int("AXES_FAILURE_LIMIT", 10, minimum=1)
# Failed sign-ins from one address over all usernames (password spraying) before it is locked out.
AXES_ADDRESS_FAILURE_LIMIT = env_int("AXES_ADDRESS_FAILURE_LIMIT", 10, minimum=1)
AXES_COOLOFF_TIME = 1  # hours
AXES_LOCKOUT_PARAMETERS = [["username", "ip_address"]]
AXES_RESET_ON_SUCCESS = True
AXES_ENABLED = env_bool("AXES_ENABLED", True)
AXES_HANDLER = "accounts.lockout.LockoutHandler"
AXES_LOCKOUT_CALLABLE = "accounts.lockout.lockout_response"
AXES_CLIENT_IP_CALLABLE = "accounts.lockout.client_address"
# Reverse proxies in front that append X-Forwarded-For; 0 trusts only REMOTE_ADDR. Behind a proxy, set it:
# otherwise every client shares the proxy's address and one sprayer locks everybody out.
STEWARD_TRUSTED_PROXIES = env_int("STEWARD_TRUSTED_PROXIES", 0)

# --- Content-Security-Policy: no inline script, nothing from other origins.
CONTENT_SECURITY_POLICY = {
    "DIRECTIVES": {
        "default-src": [SELF],
        "script-src": [SELF],
        "style-src": [SELF],
        "img-src": [SELF, "data:"],
        "font-src": [SELF],
        "connect-src": [SELF],
        "frame-ancestors": [NONE],
        "form-action": [SELF],
        "base-uri": [SELF],
        "object-src": [NONE],
    },
}

LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    "formatters": {"plain": {"format": "%(asctime)s %(levelname)s %(name)s %(message)s"}},
    "handlers": {"console": {"class": "logging.StreamHandler", "formatter": "plain"}},
    "root": {"handlers": ["console"], "level": env.str("LOG_LEVEL", default="INFO")},
    "loggers": {"axes": {"level": "WARNING"}},
}

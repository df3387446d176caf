"""Settings for studyserver, read from the environment with safe defaults.

The embedded default needs no server: SQLite under ./var, Celery tasks run eagerly in-process, media on
local disk. Every variable is documented in .env.example.
"""
from __future__ import annotations

import secrets
from pathlib import Path

import dj_database_url
from django.core.exceptions import ImproperlyConfigured

from .env import env_bool, env_int, env_list, env_str

BASE_DIR = Path(__file__).resolve().parent.parent
VAR_DIR = Path(env_str("STUDYSERVER_VAR_DIR", str(BASE_DIR / "var")))

DEBUG = env_bool("DEBUG", False)
HTTPS = env_bool("STUDYSERVER_HTTPS", False)


def _secret_key() -> str:
    """SECRET_KEY from the environment; otherwise one generated once and kept in var/ (never in git)."""
    key = env_str("SECRET_KEY")
    if key:
        return key
    if HTTPS:
        raise ImproperlyConfigured("SECRET_KEY must be set when STUDYSERVER_HTTPS is on (production).")
    key_file = VAR_DIR / "secret_key"
    try:
        return key_file.read_text().strip()
    except FileNotFoundError:
        VAR_DIR.mkdir(parents=True, exist_ok=True)
        key = secrets.token_urlsafe(50)
        key_file.write_text(key)
        key_file.chmod(0o600)
        return key


SECRET_KEY = _secret_key()
ALLOWED_HOSTS = env_list("ALLOWED_HOSTS", ["localhost", "127.0.0.1", "[::1]", "testserver"])
CSRF_TRUSTED_ORIGINS = env_list("CSRF_TRUSTED_ORIGINS", [])

INSTALLED_APPS = [
    "django.contrib.admin",
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "django.contrib.messages",
    "whitenoise.runserver_nostatic",
    "django.contrib.staticfiles",
    "rest_framework",
    "rest_framework.authtoken",
    "drf_spectacular",
    "drf_spectacular_sidecar",  # Swagger UI and Redoc served from static files: the docs work offline
    "studies",
    "studies.designs.trials.apps.TrialsConfig",
    "studies.designs.annotation.apps.AnnotationConfig",
    "explainers",
    "stats",
    "studyserver",
]

MIDDLEWARE = [
    # First: a grid's 150 cell images skip everything below (public files; off when the proxy serves media).
    "studyserver.media.MediaMiddleware",
    "django.middleware.security.SecurityMiddleware",
    "whitenoise.middleware.WhiteNoiseMiddleware",
    "django.contrib.sessions.middleware.SessionMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    "django.contrib.messages.middleware.MessageMiddleware",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
    # After XFrameOptionsMiddleware, so it sees the response first and can exempt participant pages.
    "studyserver.middleware.ParticipantFramingMiddleware",
    "studyserver.middleware.DatabaseUnavailableMiddleware",
]

ROOT_URLCONF = "studyserver.urls"
WSGI_APPLICATION = "studyserver.wsgi.application"

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
                "studies.forgery.participant_form_token_context",
            ],
        },
    },
]

DATABASES = {
    "default": dj_database_url.parse(
        env_str("DATABASE_URL", f"sqlite:///{VAR_DIR / 'db.sqlite3'}"),
        # Connections are kept between requests (a new PostgreSQL connection costs more than a whole page);
        # the health check at each request's first query replaces one the server closed, e.g. after a
        # database restart, instead of answering that request with a 503 (on PostgreSQL it polls the socket
        # and sends a SELECT 1 only when the server has spoken: studyserver/postgresql).
        conn_max_age=env_int("DATABASE_CONN_MAX_AGE", 60, minimum=0),
        conn_health_checks=env_bool("DATABASE_CONN_HEALTH_CHECKS", True),
    )
}
# The platform is built and tested on these two; a few hot statements are written for them by hand
# (studies/services/navigation.py: INSERT ... ON CONFLICT, the seconds between two timestamps).
SUPPORTED_DATABASE_ENGINES = ("django.db.backends.sqlite3", "django.db.backends.postgresql")
if DATABASES["default"]["ENGINE"] not in SUPPORTED_DATABASE_ENGINES:
    raise ImproperlyConfigured(f"DATABASE_URL must name a SQLite or PostgreSQL database; "
                               f"{DATABASES['default']['ENGINE']} is not supported.")
if DATABASES["default"]["ENGINE"] == "django.db.backends.postgresql":
    # The same backend, with a connection health check that costs no round trip (studyserver/postgresql).
    DATABASES["default"]["ENGINE"] = "studyserver.postgresql"
if DATABASES["default"]["ENGINE"] == "django.db.backends.sqlite3":
    # Writers wait for the lock instead of failing at once when several requests arrive together: IMMEDIATE
    # takes the write lock at BEGIN, where the busy timeout applies (a deferred upgrade fails at once).
    # Write-ahead log: readers never wait for a writer, and a commit appends to one file (one fsync) instead
    # of writing, syncing and deleting a rollback journal. Durability is unchanged (synchronous stays FULL).
    # SQLITE_JOURNAL_MODE=delete restores SQLite's default (e.g. a database on a network file system).
    _journal_mode = env_str("SQLITE_JOURNAL_MODE", "wal").lower()
    if _journal_mode not in ("wal", "delete", "truncate", "persist"):
        raise ImproperlyConfigured(
            f"SQLITE_JOURNAL_MODE must be wal, delete, truncate or persist, not {_journal_mode!r}.")
    DATABASES["default"].setdefault("OPTIONS", {}).update({
        "timeout": 20, "transaction_mode": "IMMEDIATE", "init_command": f"PRAGMA journal_mode={_journal_mode};"})
DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"

AUTH_PASSWORD_VALIDATORS = [
    {"NAME": "django.contrib.auth.password_validation.UserAttributeSimilarityValidator"},
    {"NAME": "django.contrib.auth.password_validation.MinimumLengthValidator"},
    {"NAME": "django.contrib.auth.password_validation.CommonPasswordValidator"},
    {"NAME": "django.contrib.auth.password_validation.NumericPasswordValidator"},
]

LANGUAGE_CODE = "en-us"
TIME_ZONE = "UTC"
USE_I18N = True
USE_TZ = True

STATIC_URL = "static/"
STATIC_ROOT = Path(env_str("STATIC_ROOT", str(VAR_DIR / "staticfiles")))
STATICFILES_DIRS = [BASE_DIR / "static"]
# Serve static files straight from the apps when they were not collected (local runs); collectstatic in
# production.
WHITENOISE_USE_FINDERS = env_bool("WHITENOISE_USE_FINDERS", not HTTPS)
MEDIA_URL = env_str("MEDIA_URL", "/media/")
# Serve MEDIA_ROOT from Django (studyserver/media.py) where no reverse proxy does; off in production, where the
# proxy serves it (never django.views.static.serve).
SERVE_MEDIA = env_bool("SERVE_MEDIA", not HTTPS)
# Participant grid pages draw their cells from the grid's sprite (one image request instead of one per cell;
# explainers/core/stimuli/manifest.py); off: one <img> per cell file (what bench/grid_browser.py compares).
STIMULUS_GRID_SPRITES = env_bool("STIMULUS_GRID_SPRITES", True)
# Collected static files get content-hashed names (far-future cache headers from WhiteNoise); local runs
# serve them straight from the apps.
STORAGES = {
    "default": {"BACKEND": "django.core.files.storage.FileSystemStorage"},
    "staticfiles": {"BACKEND": "django.contrib.staticfiles.storage.StaticFilesStorage" if WHITENOISE_USE_FINDERS
                    else "whitenoise.storage.CompressedManifestStaticFilesStorage"},
}
MEDIA_ROOT = Path(env_str("MEDIA_ROOT", str(VAR_DIR / "media")))
# Cached model checkpoints and datasets built by the demo and by training.
ARTIFACTS_ROOT = Path(env_str("STUDYSERVER_ARTIFACTS", str(VAR_DIR / "artifacts")))
# Researchers' uploads (dataset and stimulus zips, model files): bounded in size, count and pixels per image.
EXPLAINERS_UPLOAD_MAX_BYTES = env_int("EXPLAINERS_UPLOAD_MAX_BYTES", 512 * 1024 * 1024, minimum=1024)
EXPLAINERS_UPLOAD_MAX_FILES = env_int("EXPLAINERS_UPLOAD_MAX_FILES", 20_000, minimum=1)
EXPLAINERS_IMAGE_MAX_PIXELS = env_int("EXPLAINERS_IMAGE_MAX_PIXELS", 1024 * 1024, minimum=64)
EXPLAINERS_MODEL_MAX_BYTES = env_int("EXPLAINERS_MODEL_MAX_BYTES", 1024 * 1024 * 1024, minimum=1024)

# Request size limits: participants submit small forms; anything larger is refused with 400.
DATA_UPLOAD_MAX_MEMORY_SIZE = env_int("DATA_UPLOAD_MAX_MEMORY_SIZE", 256 * 1024, minimum=1024)
DATA_UPLOAD_MAX_NUMBER_FIELDS = env_int("DATA_UPLOAD_MAX_NUMBER_FIELDS", 500, minimum=10)
FILE_UPLOAD_MAX_MEMORY_SIZE = env_int("FILE_UPLOAD_MAX_MEMORY_SIZE", 5 * 1024 * 1024, minimum=1024)

LOGIN_URL = "/admin/login/"

# --- security -------------------------------------------------------------------------------------
SESSION_COOKIE_HTTPONLY = True
CSRF_COOKIE_HTTPONLY = False
X_FRAME_OPTIONS = "DENY"
SECURE_CONTENT_TYPE_NOSNIFF = True
SECURE_REFERRER_POLICY = "same-origin"
if HTTPS:
    SECURE_PROXY_SSL_HEADER = ("HTTP_X_FORWARDED_PROTO", "https")
    SECURE_SSL_REDIRECT = env_bool("SECURE_SSL_REDIRECT", True)
    SESSION_COOKIE_SECURE = True
    CSRF_COOKIE_SECURE = True
    SECURE_HSTS_SECONDS = env_int("SECURE_HSTS_SECONDS", 31536000, minimum=0)
    SECURE_HSTS_INCLUDE_SUBDOMAINS = env_bool("SECURE_HSTS_INCLUDE_SUBDOMAINS", True)
    SECURE_HSTS_PRELOAD = env_bool("SECURE_HSTS_PRELOAD", True)

# --- platforms ------------------------------------------------------------------------------------
PROLIFIC_COMPLETION_BASE_URL = env_str(
    "PROLIFIC_COMPLETION_BASE_URL", "https://app.prolific.com/submissions/complete"
)
MTURK_SUBMIT_HOSTS = env_list("MTURK_SUBMIT_HOSTS", ["www.mturk.com", "workersandbox.mturk.com"])
# Sites allowed to frame the participant pages (CSP frame-ancestors). MTurk shows an ExternalQuestion inside
# the worker site (worker.mturk.com) and, for older HIT views and the sandbox, inside the submit hosts.
MTURK_FRAME_ANCESTORS = env_list(
    "MTURK_FRAME_ANCESTORS",
    ["https://worker.mturk.com", "https://workersandbox.mturk.com", "https://www.mturk.com",
     "https://sandbox.mturk.com"],
)
# Prolific's researcher API: with a token, submission statuses are read every PROLIFIC_SYNC_MINUTES (Celery
# beat, or `manage.py prolific_sync` from cron) and approvals, rejections and bonuses can be sent.
PROLIFIC_API_TOKEN = env_str("PROLIFIC_API_TOKEN", "")
PROLIFIC_API_BASE_URL = env_str("PROLIFIC_API_BASE_URL", "https://api.prolific.com")
PROLIFIC_SYNC_MINUTES = env_int("PROLIFIC_SYNC_MINUTES", 5, minimum=1)
# Participants active within this many minutes keep their place when assigning conditions.
ASSIGNMENT_ACTIVE_CUTOFF_MINUTES = env_int("ASSIGNMENT_ACTIVE_CUTOFF_MINUTES", 60, minimum=1)
# Seconds a web process may keep a study's structure (items, a rendered grid) without a shared cache telling
# it of a change (studyserver/process_cache.py); with CACHE_URL on Redis changes show at once.
PROCESS_CACHE_MAX_AGE = env_int("PROCESS_CACHE_MAX_AGE", 5, minimum=0)
# The address participants reach this server at, for links shown where no request says it (the MTurk XML
# of a proxied site, printed URLs). Empty: links use the host of the request that shows them.
PUBLIC_BASE_URL = env_str("PUBLIC_BASE_URL", "")

# --- REST API -------------------------------------------------------------------------------------
REST_FRAMEWORK = {
    "DEFAULT_AUTHENTICATION_CLASSES": [
        "rest_framework.authentication.TokenAuthentication",
        "rest_framework.authentication.SessionAuthentication",
    ],
    "DEFAULT_PERMISSION_CLASSES": ["rest_framework.permissions.IsAuthenticated"],
    "DEFAULT_SCHEMA_CLASS": "drf_spectacular.openapi.AutoSchema",
    "DEFAULT_PAGINATION_CLASS": "rest_framework.pagination.LimitOffsetPagination",
    "PAGE_SIZE": 100,
    # Per client address for anonymous calls, per account (token or session) for researchers.
    "DEFAULT_THROTTLE_CLASSES": [
        "rest_framework.throttling.AnonRateThrottle",
        "rest_framework.throttling.UserRateThrottle",
    ],
    "DEFAULT_THROTTLE_RATES": {
        "anon": env_str("API_ANON_RATE", "120/min"),
        "user": env_str("API_USER_RATE", "2000/min"),
    },
    # Proxies in front of the app that append to X-Forwarded-For (the client address of the throttles).
    "NUM_PROXIES": env_int("NUM_PROXIES", 0, minimum=0) or None,
}
# New participants one address may start per minute (a lab or university NAT shares one address, so keep
# it well above a room of people); POSTs one participant may send per minute. 0 switches a limit off.
PARTICIPANT_ENTRY_LIMIT_PER_MINUTE = env_int("PARTICIPANT_ENTRY_LIMIT_PER_MINUTE", 60, minimum=0)
PARTICIPANT_POST_LIMIT_PER_MINUTE = env_int("PARTICIPANT_POST_LIMIT_PER_MINUTE", 300, minimum=0)
# The throttles' counters. Several web processes should share one: CACHE_URL=redis://host:6379/3.
_CACHE_URL = env_str("CACHE_URL", "")
CACHES = {
    "default": {"BACKEND": "django.core.cache.backends.redis.RedisCache", "LOCATION": _CACHE_URL}
    if _CACHE_URL.startswith(("redis://", "rediss://"))
    else {"BACKEND": "django.core.cache.backends.locmem.LocMemCache"}
}
SPECTACULAR_SETTINGS = {
    "TITLE": "studyserver researcher API",
    "DESCRIPTION": "Configure studies, conditions, items and stimulus grids; monitor participants; "
    "export responses and analyses. Every object is visible only to the study's owner.",
    "VERSION": "1.0.0",
    "SERVE_INCLUDE_SCHEMA": False,
    # Anonymous visitors reach only participant pages; the schema and docs are for signed-in researchers.
    "SERVE_PERMISSIONS": ["rest_framework.permissions.IsAuthenticated"],
    "COMPONENT_SPLIT_REQUEST": True,
    # The docs page loads its scripts from this server, not a CDN, so it works without internet access.
    "SWAGGER_UI_DIST": "SIDECAR",
    "SWAGGER_UI_FAVICON_HREF": "SIDECAR",
    "REDOC_DIST": "SIDECAR",
    # Several models call a choices field "status" or "kind"; name each enum after its model.
    "ENUM_NAME_OVERRIDES": {
        "StudyStatusEnum": "studies.models.Study.Status",
        "StudyPlatformEnum": "studies.models.Study.Platform",
        "ItemKindEnum": "studies.models.Item.Kind",
        "ItemPageEnum": "studies.models.Item.Page",
        "GridStatusEnum": "explainers.models.StimulusGrid.Status",
        "DatasetKindEnum": "explainers.models.Dataset.Kind",
    },
}

# --- Celery ---------------------------------------------------------------------------------------
CELERY_BROKER_URL = env_str("CELERY_BROKER_URL")
# Without a broker every task runs in-process at once, so a fresh checkout needs no server.
CELERY_TASK_ALWAYS_EAGER = not CELERY_BROKER_URL
CELERY_TASK_EAGER_PROPAGATES = True
CELERY_RESULT_BACKEND = env_str("CELERY_RESULT_BACKEND", "")
CELERY_TASK_ACKS_LATE = True
CELERY_TASK_REJECT_ON_WORKER_LOST = True
CELERY_WORKER_PREFETCH_MULTIPLIER = 1
CELERY_TASK_DEFAULT_QUEUE = "default"
CELERY_TASK_ROUTES = {"explainers.tasks.*": {"queue": "gpu"}}
CELERY_TASK_TRACK_STARTED = True
CELERY_BEAT_SCHEDULE = {
    "prolific-sync": {"task": "studies.tasks.prolific_sync_all", "schedule": 60.0 * PROLIFIC_SYNC_MINUTES},
} if PROLIFIC_API_TOKEN else {}
CELERY_BROKER_CONNECTION_RETRY_ON_STARTUP = True
# A task of a killed worker (acks late) is redelivered after this many seconds on Redis; grid workers
# should set it above the longest grid build.
CELERY_BROKER_TRANSPORT_OPTIONS = {"visibility_timeout": env_int("CELERY_VISIBILITY_TIMEOUT", 3600, minimum=60)}

LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    "formatters": {"plain": {"format": "%(asctime)s %(levelname)s %(name)s %(message)s"}},
    "handlers": {"console": {"class": "logging.StreamHandler", "formatter": "plain"}},
    "root": {"handlers": ["console"], "level": env_str("LOG_LEVEL", "INFO")},
    "loggers": {"django.db.backends": {"level": "WARNING"}},
}

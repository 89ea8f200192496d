"""Settings for ArrayStream, every one of them read from the environment.

The README lists the variables. Nothing here needs editing to deploy: set
the environment instead.
"""

import warnings
from pathlib import Path

from django.core.exceptions import ImproperlyConfigured

from arraystream.env import env_bool, env_int, env_list, env_str

BASE_DIR = Path(__file__).resolve().parent.parent

# A key that only development may use; production refuses to start with it.
DEVELOPMENT_SECRET_KEY = "arraystream-development-only-not-secret"

DEBUG = env_bool("DEBUG", False)
SECRET_KEY = env_str("SECRET_KEY") or DEVELOPMENT_SECRET_KEY
if not DEBUG and SECRET_KEY == DEVELOPMENT_SECRET_KEY:
    raise ImproperlyConfigured(
        "SECRET_KEY is not set and DEBUG is off. Set SECRET_KEY to a long random "
        "value (python -c 'import secrets; print(secrets.token_urlsafe(50))'), "
        "or set DEBUG=true for development."
    )

ALLOWED_HOSTS = env_list("ALLOWED_HOSTS", ["localhost", "127.0.0.1", "[::1]"])
CSRF_TRUSTED_ORIGINS = env_list("CSRF_TRUSTED_ORIGINS", [])

INSTALLED_APPS = [
    "daphne",
    "django.contrib.staticfiles",
    "rest_framework",
    "drf_spectacular",
    "drf_spectacular_sidecar",
    "channels",
    "generator",
    "history",
]

MIDDLEWARE = [
    # First, so that its time covers every other layer and every answer.
    "arraystream.middleware.RequestLogMiddleware",
    "django.middleware.security.SecurityMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
    # Last: WhiteNoise runs synchronously only, and any layer after it would
    # cost every request another switch between the event loop and a thread
    # (0.8 ms per POST /api/generate, measured with `python -m bench.api`).
    "whitenoise.middleware.WhiteNoiseMiddleware",
]

ROOT_URLCONF = "arraystream.urls"
ASGI_APPLICATION = "arraystream.asgi.application"

TEMPLATES = [
    {
        "BACKEND": "django.template.backends.django.DjangoTemplates",
        "DIRS": [BASE_DIR / "templates"],
        "APP_DIRS": True,
        "OPTIONS": {
            "context_processors": [
                "django.template.context_processors.request",
            ],
        },
    },
]

# Arrays live in MongoDB through MongoEngine; the project has no SQL models.
DATABASES = {}

LANGUAGE_CODE = "en-us"
TIME_ZONE = "UTC"
USE_I18N = True
USE_TZ = True

STATIC_URL = "static/"
STATIC_ROOT = BASE_DIR / "staticfiles"
STATICFILES_DIRS = [BASE_DIR / "static"]
# Serve from the source folders too, so development and tests need no
# collectstatic; production images collect them at build time.
WHITENOISE_USE_FINDERS = True
# STATIC_ROOT exists only once collectstatic has run; until then WhiteNoise
# serves from the finders above and its warning about the folder is noise.
warnings.filterwarnings("ignore", message="No directory at: ")
WHITENOISE_AUTOREFRESH = DEBUG

# --- Security --------------------------------------------------------------

SECURE_CONTENT_TYPE_NOSNIFF = True
X_FRAME_OPTIONS = "DENY"
SECURE_REFERRER_POLICY = "same-origin"
# Behind a TLS-terminating proxy, set ARRAYSTREAM_HTTPS=true.
HTTPS = env_bool("ARRAYSTREAM_HTTPS", False)
SESSION_COOKIE_SECURE = HTTPS
CSRF_COOKIE_SECURE = HTTPS
SECURE_SSL_REDIRECT = HTTPS and env_bool("ARRAYSTREAM_SSL_REDIRECT", True)
SECURE_HSTS_SECONDS = env_int("ARRAYSTREAM_HSTS_SECONDS", 31536000 if HTTPS else 0)
SECURE_HSTS_INCLUDE_SUBDOMAINS = HTTPS
SECURE_HSTS_PRELOAD = HTTPS
if HTTPS:
    SECURE_PROXY_SSL_HEADER = ("HTTP_X_FORWARDED_PROTO", "https")
# Health probes come over plain HTTP from inside the network (Docker, the
# proxy): a redirect to HTTPS would read as a failed probe.
SECURE_REDIRECT_EXEMPT = [r"^healthz$", r"^readyz$"]

# Request bodies: the largest valid generate request is a few hundred bytes.
DATA_UPLOAD_MAX_MEMORY_SIZE = env_int("ARRAYSTREAM_MAX_BODY_BYTES", 64 * 1024)

# --- MongoDB ---------------------------------------------------------------

# Unset: the embedded MongoDB wire-protocol server (development and tests).
MONGODB_URI = env_str("MONGODB_URI")
MONGODB_DB = env_str("MONGODB_DB", "arraystream")
MONGODB_TIMEOUT_MS = env_int("ARRAYSTREAM_MONGODB_TIMEOUT_MS", 2000, minimum=100)
DATA_DIR = Path(env_str("ARRAYSTREAM_DATA_DIR") or BASE_DIR / "var")
EMBEDDED_MONGODB_PORT = env_int("ARRAYSTREAM_EMBEDDED_MONGODB_PORT", 27117, minimum=1)

# --- Channel layer and cache -----------------------------------------------

REDIS_URL = env_str("REDIS_URL")
if REDIS_URL:
    # One PUBLISH per array reaches every server process: see the README.
    CHANNEL_LAYERS = {
        "default": {
            "BACKEND": "channels_redis.pubsub.RedisPubSubChannelLayer",
            "CONFIG": {"hosts": [REDIS_URL]},
        }
    }
    CACHES = {
        "default": {
            "BACKEND": "django.core.cache.backends.redis.RedisCache",
            "LOCATION": REDIS_URL,
            "KEY_PREFIX": "arraystream",
        }
    }
else:
    CHANNEL_LAYERS = {
        "default": {"BACKEND": "channels.layers.InMemoryChannelLayer"},
    }
    CACHES = {
        "default": {"BACKEND": "django.core.cache.backends.locmem.LocMemCache"},
    }

# --- ArrayStream limits ----------------------------------------------------

ARRAYSTREAM_MIN_SIZE = env_int("ARRAYSTREAM_MIN_SIZE", 10_000, minimum=1)
ARRAYSTREAM_MAX_SIZE = env_int("ARRAYSTREAM_MAX_SIZE", 10_000_000, minimum=1)
if ARRAYSTREAM_MIN_SIZE > ARRAYSTREAM_MAX_SIZE:
    raise ImproperlyConfigured(
        "ARRAYSTREAM_MIN_SIZE must not exceed ARRAYSTREAM_MAX_SIZE; got "
        f"{ARRAYSTREAM_MIN_SIZE} > {ARRAYSTREAM_MAX_SIZE}"
    )
# Arrays larger than this are announced with a URL instead of their values.
ARRAYSTREAM_BROADCAST_MAX_SIZE = env_int(
    "ARRAYSTREAM_BROADCAST_MAX_SIZE", 1_000_000, minimum=1
)
ARRAYSTREAM_GENERATE_RATE = env_str("ARRAYSTREAM_GENERATE_RATE", "600/min")

# --- WebSockets ------------------------------------------------------------

# Client frames above this size get an `error` and are not parsed.
ARRAYSTREAM_WS_MAX_FRAME_BYTES = env_int(
    "ARRAYSTREAM_WS_MAX_FRAME_BYTES", 64 * 1024, minimum=1
)
# Arrays one `resume` replays at most; a client further behind is told to
# reload the history.
ARRAYSTREAM_WS_RESUME_MAX = env_int("ARRAYSTREAM_WS_RESUME_MAX", 1000, minimum=1)
# `generate_array` requests per connection, as "N/s", "N/min" or "N/hour".
ARRAYSTREAM_WS_GENERATE_RATE = env_str("ARRAYSTREAM_WS_GENERATE_RATE", "20/s")
# Generations one connection may have running at once; more wait their turn.
ARRAYSTREAM_WS_GENERATE_CONCURRENCY = env_int(
    "ARRAYSTREAM_WS_GENERATE_CONCURRENCY", 4, minimum=1
)
# Bytes written to a client but not yet taken by it; past this the client is
# closed with code 4008 and can reconnect and resume.
ARRAYSTREAM_WS_BACKLOG_BYTES = env_int(
    "ARRAYSTREAM_WS_BACKLOG_BYTES", 8 * 1024 * 1024, minimum=64 * 1024
)
# An array that arrives before the one it follows waits this long for it,
# then the missing one is read from MongoDB; one that never appears in
# MongoDB is given up after the second delay.
ARRAYSTREAM_WS_GAP_WAIT_MS = env_int("ARRAYSTREAM_WS_GAP_WAIT_MS", 200, minimum=1)
ARRAYSTREAM_WS_GAP_GIVE_UP_MS = env_int(
    "ARRAYSTREAM_WS_GAP_GIVE_UP_MS", 5000, minimum=1
)
# How often each server process asks MongoDB whether a stream it serves has
# arrays whose broadcast never arrived (the channel layer was down).
ARRAYSTREAM_WS_CATCH_UP_SECONDS = env_int(
    "ARRAYSTREAM_WS_CATCH_UP_SECONDS", 5, minimum=1
)

# --- Django REST framework and the OpenAPI document ------------------------

REST_FRAMEWORK = {
    "DEFAULT_RENDERER_CLASSES": [
        "generator.renderers.ORJSONRenderer",
        "rest_framework.renderers.BrowsableAPIRenderer",
    ],
    "DEFAULT_PARSER_CLASSES": [
        "rest_framework.parsers.JSONParser",
        "rest_framework.parsers.FormParser",
    ],
    # The service is public and has no accounts.
    "DEFAULT_AUTHENTICATION_CLASSES": [],
    "DEFAULT_PERMISSION_CLASSES": [],
    "UNAUTHENTICATED_USER": None,
    "DEFAULT_SCHEMA_CLASS": "drf_spectacular.openapi.AutoSchema",
    "EXCEPTION_HANDLER": "generator.exception_handler.api_exception_handler",
    "DEFAULT_THROTTLE_RATES": {"generate": ARRAYSTREAM_GENERATE_RATE},
}

SPECTACULAR_SETTINGS = {
    "TITLE": "ArrayStream API",
    "DESCRIPTION": "Generate arrays of random integers, store them, stream them.",
    "VERSION": "1.0.0",
    "SERVE_INCLUDE_SCHEMA": False,
    # The docs page loads Swagger UI from this project's static files.
    "SWAGGER_UI_DIST": "SIDECAR",
    "SWAGGER_UI_FAVICON_HREF": "SIDECAR",
    "REDOC_DIST": "SIDECAR",
}

# --- Logging ---------------------------------------------------------------

LOG_LEVEL = env_str("ARRAYSTREAM_LOG_LEVEL", "INFO").upper()
if LOG_LEVEL not in {"DEBUG", "INFO", "WARNING", "ERROR", "CRITICAL"}:
    raise ImproperlyConfigured(
        "ARRAYSTREAM_LOG_LEVEL must be DEBUG, INFO, WARNING, ERROR or CRITICAL; "
        f"got {LOG_LEVEL!r}"
    )
LOG_FORMAT = env_str("ARRAYSTREAM_LOG_FORMAT", "plain").lower()
if LOG_FORMAT not in {"plain", "json"}:
    raise ImproperlyConfigured(
        f"ARRAYSTREAM_LOG_FORMAT must be 'plain' or 'json'; got {LOG_FORMAT!r}"
    )

LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    "formatters": {
        "plain": {"format": "%(asctime)s %(levelname)s %(name)s: %(message)s"},
        "json": {"()": "arraystream.log_format.JSONLinesFormatter"},
    },
    "handlers": {
        "console": {"class": "logging.StreamHandler", "formatter": LOG_FORMAT},
    },
    "root": {"handlers": ["console"], "level": LOG_LEVEL},
    "loggers": {
        "django": {"level": LOG_LEVEL},
        # Daphne runs with -v 0 (no access log): the request log replaces it.
        "daphne": {"level": "WARNING"},
        "pymongo": {"level": "WARNING"},
        "asyncio": {"level": "WARNING"},
    },
}

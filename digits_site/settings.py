"""Settings for Digits, read from environment variables with safe embedded defaults.

With nothing set, the site runs on SQLite and file storage under ``var/`` with no Redis, with DEBUG off and a random
signing key kept in ``var/secret_key``: the README's run command works on a fresh machine and is safe to open to a
school network. ``DEBUG=1`` is the development switch. Production sets ``DATABASE_URL`` (PostgreSQL), ``REDIS_URL``,
``SECRET_KEY``, ``ALLOWED_HOSTS`` and ``DIGITS_HTTPS=1``.
"""

from __future__ import annotations

from pathlib import Path

import environ
from csp.constants import NONE, SELF, UNSAFE_INLINE
from django.core.exceptions import ImproperlyConfigured
from kombu import Queue

from digits_site.secret_key import kept_secret_key

BASE_DIR = Path(__file__).resolve().parent.parent


class Env(environ.Env):
    """django-environ's reader, with numbers read as Python writes them (``5e-4`` too): its own ``float`` strips every
    character but digits, commas, dots and minus signs before converting, so ``5e-4`` fails and ``1e3`` reads 13."""

    def float(self, var: str, default: float | environ.NoValue = environ.Env.NOTSET) -> float:
        value = str(self.str(var, default)).strip()
        if not value and default is not self.NOTSET:
            return float(default)  # set but empty: the default, as before
        try:
            return float(value)
        except ValueError:
            raise ImproperlyConfigured(f"{var}={value!r} is not a number") from None


env = Env()


def env_rate(name: str, default: str) -> str | None:
    """Read a DRF rate such as ``120/min``; ``off`` (or ``none``, ``0``) means no limit."""
    value = env.str(name, default).strip()
    return None if value.lower() in {"", "off", "none", "0"} else value


#: Development only: Django's debug pages (settings, paths, source) on any error. Never on a network.
DEBUG = env.bool("DEBUG", False)
VAR_DIR = Path(env.str("DIGITS_VAR_DIR", str(BASE_DIR / "var")))

# Without SECRET_KEY, a random key made once and kept in var/secret_key (mode 0600), shared by every process of this
# site: never a key written in the public source, which would let anyone forge client cookies and correction tokens.
SECRET_KEY = env.str("SECRET_KEY", "") or kept_secret_key(VAR_DIR)

ALLOWED_HOSTS = env.list("ALLOWED_HOSTS", default=["127.0.0.1", "localhost", "[::1]"])
CSRF_TRUSTED_ORIGINS = env.list("CSRF_TRUSTED_ORIGINS", default=[])

INSTALLED_APPS = [
    "django.contrib.admin",
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "django.contrib.messages",
    "django.contrib.staticfiles",
    "rest_framework",
    "drf_spectacular",
    "drf_spectacular_sidecar",
    "django_celery_beat",
    "axes",
    "recognizer",
    "training",
]

MIDDLEWARE = [
    "django.middleware.security.SecurityMiddleware",
    "whitenoise.middleware.WhiteNoiseMiddleware",
    "django.contrib.sessions.middleware.SessionMiddleware",
    "digits_site.middleware.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    "django.contrib.messages.middleware.MessageMiddleware",
    "recognizer.api.authentication.ClientCookieMiddleware",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
    "csp.middleware.CSPMiddleware",
    # Last, as django-axes asks: it answers a locked-out login attempt.
    "axes.middleware.AxesMiddleware",
]

AUTHENTICATION_BACKENDS = [
    # First, as django-axes asks: refuses a login (even a right password) while its username and address are locked.
    "axes.backends.AxesStandaloneBackend",
    "django.contrib.auth.backends.ModelBackend",
]

ROOT_URLCONF = "digits_site.urls"
WSGI_APPLICATION = "digits_site.wsgi.application"

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
            ],
        },
    },
]

DATABASES = {"default": env.db("DATABASE_URL", default=f"sqlite:///{VAR_DIR / 'db.sqlite3'}")}
DATABASES["default"]["CONN_MAX_AGE"] = env.int("DATABASE_CONN_MAX_AGE", 60)
# A kept connection is checked before a request reuses it (unless it served one less than
# DATABASE_HEALTH_CHECK_WINDOW seconds ago), so a database restart costs at most one request (a 503), not every
# request until the connection ages out.
DATABASES["default"]["CONN_HEALTH_CHECKS"] = env.bool("DATABASE_CONN_HEALTH_CHECKS", True)
if DATABASES["default"]["ENGINE"] == "django.db.backends.postgresql":
    # Django's PostgreSQL backend, with the health check skipped for a connection used moments ago (see its module).
    DATABASES["default"]["ENGINE"] = "digits_site.postgresql"
    # An unreachable database is reported (503) within seconds instead of hanging the web process.
    DATABASES["default"].setdefault("OPTIONS", {})["connect_timeout"] = env.int("DATABASE_CONNECT_TIMEOUT", 5)
if DATABASES["default"]["ENGINE"] == "django.db.backends.sqlite3":
    # Web, worker and scheduler share one SQLite file: wait for locks instead of failing, and use WAL.
    DATABASES["default"]["OPTIONS"] = {"timeout": 20, "init_command": "PRAGMA journal_mode=WAL;"}
    DATABASES["default"]["CONN_MAX_AGE"] = 0

#: Seconds after a request used a kept PostgreSQL connection without error during which the next request skips the
#: health check (digits_site/postgresql/base.py); 0 checks before every request.
DATABASE_HEALTH_CHECK_WINDOW = env.float("DATABASE_HEALTH_CHECK_WINDOW", 1)

DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"

AUTH_PASSWORD_VALIDATORS = [
    {"NAME": "django.contrib.auth.password_validation.UserAttributeSimilarityValidator"},
    {"NAME": "django.contrib.auth.password_validation.MinimumLengthValidator"},
    {"NAME": "django.contrib.auth.password_validation.CommonPasswordValidator"},
    {"NAME": "django.contrib.auth.password_validation.NumericPasswordValidator"},
]

LANGUAGE_CODE = "en-us"
TIME_ZONE = env.str("TIME_ZONE", "UTC")
USE_I18N = True
USE_TZ = True

STATIC_URL = "static/"
STATICFILES_DIRS = [BASE_DIR / "static"]
STATIC_ROOT = Path(env.str("STATIC_ROOT", str(VAR_DIR / "static")))
MEDIA_URL = "media/"
MEDIA_ROOT = Path(env.str("MEDIA_ROOT", str(VAR_DIR / "media")))
# Drawings, model artifacts and training figures go through the default storage: files under MEDIA_ROOT by default
# (one machine), or an S3-compatible object store that every web node and worker reaches when DIGITS_S3_BUCKET is set
# (django-storages; credentials from boto3's usual chain: AWS_ACCESS_KEY_ID/AWS_SECRET_ACCESS_KEY, or an instance
# role). See deploy/README.md.
DIGITS_S3_BUCKET = env.str("DIGITS_S3_BUCKET", "")
if DIGITS_S3_BUCKET:
    _DEFAULT_STORAGE = {
        "BACKEND": "storages.backends.s3.S3Storage",
        "OPTIONS": {
            "bucket_name": DIGITS_S3_BUCKET,
            "endpoint_url": env.str("AWS_S3_ENDPOINT_URL", "") or None,
            "region_name": env.str("AWS_S3_REGION_NAME", "") or None,
            "addressing_style": env.str("AWS_S3_ADDRESSING_STYLE", "") or None,
            "location": env.str("DIGITS_S3_PREFIX", ""),
            # Objects are private; the admin shows drawings through signed URLs valid this many seconds.
            "default_acl": None,
            "querystring_auth": True,
            "querystring_expire": env.int("DIGITS_S3_URL_SECONDS", 3600),
            "file_overwrite": False,
            # Drawings are a few kB: one PUT from the request's thread, no transfer threads.
            "use_threads": False,
        },
    }
else:
    _DEFAULT_STORAGE = {"BACKEND": "django.core.files.storage.FileSystemStorage"}
STORAGES = {
    "default": _DEFAULT_STORAGE,
    "staticfiles": {
        "BACKEND": "whitenoise.storage.CompressedManifestStaticFilesStorage"
        if not DEBUG
        else "django.contrib.staticfiles.storage.StaticFilesStorage"
    },
}

REDIS_URL = env.str("REDIS_URL", "")
#: Seconds to wait for Redis before giving up on it (the rate limits then fail open, see recognizer/api/throttling.py).
REDIS_TIMEOUT = env.float("REDIS_TIMEOUT", 0.5)
if REDIS_URL:
    CACHES = {
        "default": {
            "BACKEND": "django.core.cache.backends.redis.RedisCache",
            "LOCATION": REDIS_URL,
            "OPTIONS": {"socket_connect_timeout": REDIS_TIMEOUT, "socket_timeout": REDIS_TIMEOUT},
        }
    }
else:
    CACHES = {
        "default": {
            "BACKEND": "django.core.cache.backends.filebased.FileBasedCache",
            "LOCATION": str(VAR_DIR / "cache"),
        }
    }

REST_FRAMEWORK = {
    "DEFAULT_SCHEMA_CLASS": "drf_spectacular.openapi.AutoSchema",
    "DEFAULT_AUTHENTICATION_CLASSES": ["rest_framework.authentication.SessionAuthentication"],
    "DEFAULT_PERMISSION_CLASSES": ["rest_framework.permissions.AllowAny"],
    "DEFAULT_PARSER_CLASSES": [
        "recognizer.api.parsers.JSONParser",
        "recognizer.api.parsers.MultiPartParser",
        "rest_framework.parsers.FormParser",
    ],
    "EXCEPTION_HANDLER": "recognizer.api.exceptions.exception_handler",
    # Limits on predicting and correcting (scopes set by the API views), kept in the cache: per client (its signed
    # cookie; clients without one share their address's) and, generous enough for a class of 30 behind one router,
    # per address. See recognizer/api/throttling.py and docs/reliability.md.
    "DEFAULT_THROTTLE_CLASSES": ["recognizer.api.throttling.ClientAndAddressThrottle"],
    "DEFAULT_THROTTLE_RATES": {
        "predict": env_rate("DIGITS_RATE_PREDICT", "120/min"),  # digits: a number costs one per digit
        "correct": env_rate("DIGITS_RATE_CORRECT", "60/min"),
        "predict_address": env_rate("DIGITS_RATE_PREDICT_ADDRESS", "1800/min"),
        "correct_address": env_rate("DIGITS_RATE_CORRECT_ADDRESS", "600/min"),
    },
    # The address is the connection's. Behind N reverse proxies, set DIGITS_NUM_PROXIES=N so it comes from
    # X-Forwarded-For; with 0 that header is ignored, since any client can write it.
    "NUM_PROXIES": env.int("DIGITS_NUM_PROXIES", 0),
    "DEFAULT_PAGINATION_CLASS": None,
}
SPECTACULAR_SETTINGS = {
    "TITLE": "Digits API",
    "DESCRIPTION": "Handwritten digit recognition that learns from its users' corrections.",
    "VERSION": "1.0.0",
    "SERVE_INCLUDE_SCHEMA": False,
    # Swagger UI's files come from the installed sidecar package, not a CDN.
    "SWAGGER_UI_DIST": "SIDECAR",
    "SWAGGER_UI_FAVICON_HREF": "SIDECAR",
    "REDOC_DIST": "SIDECAR",
}

# Celery: Redis when configured, else kombu's filesystem transport under var/ (no server needed).
CELERY_BROKER_URL = env.str("CELERY_BROKER_URL", REDIS_URL or "filesystem://")
_BROKER_DIR = VAR_DIR / "broker"
CELERY_BROKER_TRANSPORT_OPTIONS = (
    {
        "data_folder_in": str(_BROKER_DIR / "out"),
        "data_folder_out": str(_BROKER_DIR / "out"),
        "control_folder": str(_BROKER_DIR / "control"),
        "store_processed": False,
    }
    if CELERY_BROKER_URL.startswith("filesystem")
    else {}
)
#: The queue the site's light tasks go to: lets several sites (or test runs) share one Redis.
CELERY_TASK_DEFAULT_QUEUE = env.str("CELERY_TASK_DEFAULT_QUEUE", "celery")
#: Fine-tuning and training go to their own queue, consumed by the host that trains (more memory, maybe a GPU).
DIGITS_TRAINING_QUEUE = env.str("DIGITS_TRAINING_QUEUE", "training")
CELERY_TASK_ROUTES = {"recognizer.tasks.fine_tune": {"queue": DIGITS_TRAINING_QUEUE}}
# A worker started without -Q consumes both (one machine: the Procfile's); `-Q training` or `-Q celery` picks one.
CELERY_TASK_QUEUES = [Queue(CELERY_TASK_DEFAULT_QUEUE), Queue(DIGITS_TRAINING_QUEUE)]
CELERY_RESULT_BACKEND = None
CELERY_TASK_ACKS_LATE = True
CELERY_WORKER_PREFETCH_MULTIPLIER = 1
# A fine-tune loads TensorFlow and a model (about 1 GB): a fresh pool process per task gives that memory back between
# fine-tunes, which run hours apart.
CELERY_WORKER_MAX_TASKS_PER_CHILD = 1
CELERY_TASK_ALWAYS_EAGER = env.bool("CELERY_TASK_ALWAYS_EAGER", False)
CELERY_BEAT_SCHEDULER = "django_celery_beat.schedulers:DatabaseScheduler"
CELERY_TIMEZONE = TIME_ZONE

# Digits' own settings.
#: Where MNIST is read from (fetched into it when missing); empty counts as unset, not as the current directory.
DIGITS_MNIST_DIR = Path(env.str("DIGITS_MNIST_DIR", "") or VAR_DIR / "mnist")
#: Where each process keeps the model artifacts it fetched from storage, named by their SHA-256 (checked on load).
DIGITS_MODEL_CACHE_DIR = Path(env.str("DIGITS_MODEL_CACHE_DIR", str(VAR_DIR / "model-cache")))
#: How often (seconds) a web process checks which model version is active, bounding the hot-swap delay.
DIGITS_MODEL_REFRESH_SECONDS = env.float("DIGITS_MODEL_REFRESH_SECONDS", 1.0)
#: Predictions below this confidence are presented as uncertain.
DIGITS_LOW_CONFIDENCE = env.float("DIGITS_LOW_CONFIDENCE", 0.7)

# The feedback loop (training.finetune, run by the Celery task recognizer.tasks.fine_tune and manage.py finetune).
#: A fine-tune is skipped unless at least this many distinct images got a usable correction since the last one that
#: trained (recognizer.corrections.new_corrections_since: copies count once, ones already trained on not at all).
DIGITS_FINETUNE_MIN_CORRECTIONS = env.int("DIGITS_FINETUNE_MIN_CORRECTIONS", 50)
DIGITS_FINETUNE_EPOCHS = env.int("DIGITS_FINETUNE_EPOCHS", 1)
#: How many MNIST training images are replayed next to the corrections, so the model does not forget MNIST.
DIGITS_FINETUNE_REPLAY = env.int("DIGITS_FINETUNE_REPLAY", 20000)
#: The share of training examples that are (differently augmented repeats of) corrections.
DIGITS_FINETUNE_CORRECTION_SHARE = env.float("DIGITS_FINETUNE_CORRECTION_SHARE", 0.15)
#: The share of corrections held out (chosen by a hash of their input, so for good) to judge models on.
DIGITS_FINETUNE_HELDOUT_SHARE = env.float("DIGITS_FINETUNE_HELDOUT_SHARE", 0.2)
#: The candidate's weights are this share of the fine-tuned ones plus the rest of the active model's (1: no mixing).
#: 0.5, with the distillation's 0.8 below: with them the shipped digits-v7's fine-tunes passed the gate 9 times of 9
#: (bench.feedback_loop and bench.adaptation); with 0.7 and 0.5, the values before, its fine-tune was refused at
#: -0.05 points of MNIST (README, "The shipped model").
DIGITS_FINETUNE_INTERPOLATION = env.float("DIGITS_FINETUNE_INTERPOLATION", 0.5)
#: Each replayed MNIST image's target is this share of the active model's own answer plus the rest of its one-hot
#: label (0: labels only), so the candidate keeps the active model's answers on MNIST (training.finetune). Not 1: a
#: weak model taught its own answers alone lost 0.6-1.5 points of MNIST in the tests' fine-tunes.
DIGITS_FINETUNE_DISTILL = env.float("DIGITS_FINETUNE_DISTILL", 0.8)
#: A fine-tune trains this many members, each on its own replay sample, and the candidate is their average (a model
#: soup): one member's MNIST accuracy moves by chance, their average much less (training.finetune.train_soup).
DIGITS_FINETUNE_MEMBERS = env.int("DIGITS_FINETUNE_MEMBERS", 3)
DIGITS_FINETUNE_LEARNING_RATE = env.float("DIGITS_FINETUNE_LEARNING_RATE", 5e-4)
DIGITS_FINETUNE_BATCH_SIZE = env.int("DIGITS_FINETUNE_BATCH_SIZE", 128)
#: Seed of every fine-tune's replay samples and generated outliers (manage.py finetune --seed, for all runs): unset,
#: each run draws its own. Set it where runs must be repeatable, as the test suite's worker processes are: a tiny
#: model's MNIST accuracy moved up to 1.8 points between unseeded runs, more than the gate's allowance in those tests.
DIGITS_FINETUNE_SEED = env.int("DIGITS_FINETUNE_SEED", None)
#: Evaluate on only the first N MNIST test images. 0 (the default) means all 10,000; only tests lower it.
DIGITS_FINETUNE_EVAL_LIMIT = env.int("DIGITS_FINETUNE_EVAL_LIMIT", 0)
#: The gate: the candidate may lose at most this much MNIST test accuracy (0: none, it must be at least as good;
#: 0.001 would allow 0.1 point) …
DIGITS_GATE_MAX_MNIST_DROP = env.float("DIGITS_GATE_MAX_MNIST_DROP", 0.0)
#: … and at most this much accuracy on the held-out corrections (0: at least the active model's).
DIGITS_GATE_MAX_HELDOUT_DROP = env.float("DIGITS_GATE_MAX_HELDOUT_DROP", 0.0)
#: … and it may answer "not a digit" to at most this much more of the MNIST test digits (real digits told they are
#: none; 0.001 = 0.1 point, 10 of the 10,000).
DIGITS_GATE_MAX_FLAGGED_RISE = env.float("DIGITS_GATE_MAX_FLAGGED_RISE", 0.001)
#: A running training run writes a heartbeat this often; one silent for DIGITS_RUN_STALE_SECONDS died with its worker.
DIGITS_RUN_HEARTBEAT_SECONDS = env.float("DIGITS_RUN_HEARTBEAT_SECONDS", 5)
DIGITS_RUN_STALE_SECONDS = env.float("DIGITS_RUN_STALE_SECONDS", 60)
DIGITS_MAX_UPLOAD_BYTES = env.int("DIGITS_MAX_UPLOAD_BYTES", 4 * 1024 * 1024)
DIGITS_MAX_IMAGE_PIXELS = env.int("DIGITS_MAX_IMAGE_PIXELS", 4096 * 4096)
DATA_UPLOAD_MAX_MEMORY_SIZE = DIGITS_MAX_UPLOAD_BYTES * 2
#: Bounded work per request: a number has at most this many digits, on a canvas of at most this many pixels (both
#: checked before any digit is recognized; more is a 400).
DIGITS_MAX_NUMBER_DIGITS = env.int("DIGITS_MAX_NUMBER_DIGITS", 12)
DIGITS_MAX_NUMBER_PIXELS = env.int("DIGITS_MAX_NUMBER_PIXELS", 4_000_000)
#: The whole-digit verifier that helps cut a number's picture (``manage.py train_whole_digit``; shipped beside the
#: default model) and how much its score weighs in the cuts (0: not used; recognizer.core.whole_digit.WEIGHT).
DIGITS_WHOLE_DIGIT_FILE = Path(
    env.str("DIGITS_WHOLE_DIGIT_FILE", str(BASE_DIR / "recognizer" / "default_model" / "whole_digit.tflite"))
)
DIGITS_WHOLE_DIGIT_WEIGHT = env.float("DIGITS_WHOLE_DIGIT_WEIGHT", 0.25)
#: The not-a-digit detector read beside the digit model (``manage.py train_not_a_digit``; shipped beside the default
#: model). When it cannot be read, "not a digit" is judged by the digit model's evidence alone (core.open_set).
DIGITS_NOT_A_DIGIT_FILE = Path(
    env.str("DIGITS_NOT_A_DIGIT_FILE", str(BASE_DIR / "recognizer" / "default_model" / "not_a_digit.tflite"))
)
#: How long a correction token stays valid (seconds): a day by default.
DIGITS_CORRECTION_TOKEN_AGE = env.int("DIGITS_CORRECTION_TOKEN_AGE", 24 * 3600)
#: Secret salt of the anonymous network key stored with each submission (a hash of its /24 or /64 prefix); by
#: default derived from SECRET_KEY.
DIGITS_NETWORK_SALT = env.str("DIGITS_NETWORK_SALT", "")
#: The staff listing GET /api/predictions/: drawings per page, and the most a page may ask for.
DIGITS_LIST_PAGE_SIZE = env.int("DIGITS_LIST_PAGE_SIZE", 100)
#: Whether corrections still pending review may train (by default only accepted ones do; see recognizer.corrections).
DIGITS_TRAIN_ON_PENDING = env.bool("DIGITS_TRAIN_ON_PENDING", False)
#: How many known drawings of other clients the trust's nearest-neighbour reader compares a correction with.
DIGITS_TRUST_POOL = env.int("DIGITS_TRUST_POOL", 4000)

# Security. A site served over HTTPS (DIGITS_HTTPS=1, production) is served over HTTPS only: secure cookies, HSTS and
# a redirect from HTTP (`manage.py check --deploy` is clean). The run command serves plain HTTP on a laptop (a
# classroom's network), so without DIGITS_HTTPS none of these is on; `check --deploy` says so. Each can be changed
# by its environment variable.
HTTPS = env.bool("DIGITS_HTTPS", False) and not DEBUG
SESSION_COOKIE_SECURE = env.bool("SESSION_COOKIE_SECURE", HTTPS)
CSRF_COOKIE_SECURE = env.bool("CSRF_COOKIE_SECURE", HTTPS)
SECURE_SSL_REDIRECT = env.bool("SECURE_SSL_REDIRECT", HTTPS)
# Load balancers probe the health check over plain HTTP.
SECURE_REDIRECT_EXEMPT = [r"^healthz$"]
SECURE_HSTS_SECONDS = env.int("SECURE_HSTS_SECONDS", 365 * 24 * 3600 if HTTPS else 0)
SECURE_HSTS_INCLUDE_SUBDOMAINS = env.bool("SECURE_HSTS_INCLUDE_SUBDOMAINS", True)
SECURE_HSTS_PRELOAD = env.bool("SECURE_HSTS_PRELOAD", HTTPS)
if env.bool("DIGITS_BEHIND_TLS_PROXY", False):
    # Only behind a proxy that sets this header itself (and strips it from clients) may it be trusted.
    SECURE_PROXY_SSL_HEADER = ("HTTP_X_FORWARDED_PROTO", "https")
SECURE_CONTENT_TYPE_NOSNIFF = True
SECURE_REFERRER_POLICY = "same-origin"
SECURE_CROSS_ORIGIN_OPENER_POLICY = "same-origin"
X_FRAME_OPTIONS = "DENY"
# Content-Security-Policy (django-csp), in DEBUG too so the browser tests run under it: scripts, styles, fonts and
# requests only from this site; images also as data: URLs (the 28x28 view, admin thumbnails); no plugins, no
# framing, no forms posting elsewhere. Inline styles stay allowed for the admin's meters (style="width:…").
CONTENT_SECURITY_POLICY = {
    "DIRECTIVES": {
        "default-src": [SELF],
        "script-src": [SELF],
        "style-src": [SELF, UNSAFE_INLINE],
        "img-src": [SELF, "data:"],
        "connect-src": [SELF],
        "object-src": [NONE],
        "base-uri": [SELF],
        "form-action": [SELF],
        "frame-ancestors": [NONE],
    }
}
SESSION_COOKIE_HTTPONLY = True
#: The signed cookie that tells an anonymous client's drawings from others' (recognizer.api.authentication), a year.
DIGITS_CLIENT_COOKIE_NAME = env.str("DIGITS_CLIENT_COOKIE_NAME", "digits_client")
DIGITS_CLIENT_COOKIE_AGE = env.int("DIGITS_CLIENT_COOKIE_AGE", 365 * 24 * 3600)
SESSION_COOKIE_SAMESITE = "Lax"
# The page's script reads the CSRF cookie to send it back as X-CSRFToken, so that cookie cannot be HttpOnly.
CSRF_COOKIE_HTTPONLY = False

# Admin login guessing (django-axes): each failure from an address for a username is counted; after
# AXES_FAILURE_LIMIT of them that username is locked out from that address for AXES_COOLOFF_TIME hours (a 429 page),
# even for the right password. Failures are slowed as they come (recognizer.admin_login), before the lock-out.
AXES_FAILURE_LIMIT = env.int("AXES_FAILURE_LIMIT", 5)
AXES_COOLOFF_TIME = env.float("AXES_COOLOFF_TIME", 1.0)
AXES_LOCKOUT_PARAMETERS = [["username", "ip_address"]]
AXES_RESET_ON_SUCCESS = True
# The same client address as the rate limits (DIGITS_NUM_PROXIES decides whether X-Forwarded-For is trusted).
AXES_CLIENT_IP_CALLABLE = "recognizer.network.client_address"
AXES_VERBOSE = False
#: Seconds each failed admin login waits before it is answered (slowing guessing before the lock-out).
DIGITS_LOGIN_FAILURE_DELAY = env.float("DIGITS_LOGIN_FAILURE_DELAY", 1.0)

LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    "handlers": {"console": {"class": "logging.StreamHandler"}},
    "root": {"handlers": ["console"], "level": env.str("LOG_LEVEL", "INFO")},
}

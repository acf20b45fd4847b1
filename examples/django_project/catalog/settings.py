"""A minimal project: one middleware line and a GATEWAYERRORS dict are the whole integration."""

import os
from pathlib import Path

BASE_DIR = Path(__file__).resolve().parent.parent

SECRET_KEY = os.environ.get("DJANGO_SECRET_KEY", "insecure-example-key-do-not-deploy")
DEBUG = os.environ.get("DJANGO_DEBUG") == "1"
ALLOWED_HOSTS = ["127.0.0.1", "localhost"]

INSTALLED_APPS = ["gatewayerrors.django"]  # its system checks: manage.py check
MIDDLEWARE = [
    # First, so maintenance mode answers before anything else runs.
    "gatewayerrors.django.GatewayErrorsMiddleware",
    "django.middleware.security.SecurityMiddleware",
    "django.middleware.common.CommonMiddleware",
]
ROOT_URLCONF = "catalog.urls"
WSGI_APPLICATION = "catalog.wsgi.application"
DATABASES: dict[str, dict[str, str]] = {}

TEMPLATES = [
    {
        "BACKEND": "django.template.backends.django.DjangoTemplates",
        "DIRS": [BASE_DIR / "templates"],
        "OPTIONS": {"context_processors": ["django.template.context_processors.request"]},
    }
]

GATEWAYERRORS = {
    "service": "catalog",
    "default_retry_after": 10,
    "template_name": "gateway_error.html",  # HTML errors rendered by Django's engine
}

# Nothing listens on the discard port: by default every call is refused.
CATALOG_UPSTREAM = os.environ.get("CATALOG_UPSTREAM", "http://127.0.0.1:9/")

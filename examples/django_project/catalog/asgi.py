"""ASGI entry point: ``uvicorn catalog.asgi:application`` (from examples/django_project)."""

import os

from django.core.asgi import get_asgi_application

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "catalog.settings")

application = get_asgi_application()

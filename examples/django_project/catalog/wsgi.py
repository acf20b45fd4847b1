"""WSGI entry point: ``waitress-serve catalog.wsgi:application`` (from examples/django_project).

The middleware in settings answers view failures; this outer wrapper adds the one case Django
cannot reach: a streamed body that fails before its first byte.
"""

import os

from django.core.wsgi import get_wsgi_application

from gatewayerrors import GatewayErrorsWSGIMiddleware
from gatewayerrors.django import get_translator

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "catalog.settings")

application = GatewayErrorsWSGIMiddleware(get_wsgi_application(), translator=get_translator())

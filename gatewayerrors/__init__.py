"""gatewayerrors: failed upstream calls become correct 502/503/504 responses.

    from gatewayerrors import GatewayErrorsMiddleware
    app = GatewayErrorsMiddleware(app, service="checkout-api")

The flow is exception → classify → one error value → negotiate → render → adapter sends.
This namespace is what an app author needs; adapter authors find the translator and its values
in :mod:`gatewayerrors.core`; framework helpers live in ``gatewayerrors.starlette``,
``.flask``, ``.django`` and ``.aiohttp``; fault servers for your own tests in
``gatewayerrors.testing``.
"""

from __future__ import annotations

from ._catalog import ErrorKind, catalog
from ._classify import Classifier, register
from ._error import UpstreamFailure
from ._exceptions import BadGateway, GatewayError, GatewayTimeout, ServiceUnavailable
from ._settings import DEFAULT_MAINTENANCE_EXEMPT, Settings, SettingsError, SettingsOptions
from .asgi import GatewayErrorsMiddleware
from .wsgi import GatewayErrorsWSGIMiddleware

__version__ = "0.1.0"

__all__ = [
    "DEFAULT_MAINTENANCE_EXEMPT",
    "BadGateway",
    "Classifier",
    "ErrorKind",
    "GatewayError",
    "GatewayErrorsMiddleware",
    "GatewayErrorsWSGIMiddleware",
    "GatewayTimeout",
    "ServiceUnavailable",
    "Settings",
    "SettingsError",
    "SettingsOptions",
    "UpstreamFailure",
    "__version__",
    "catalog",
    "register",
]

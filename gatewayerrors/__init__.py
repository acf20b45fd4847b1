"""gatewayerrors: failed upstream calls become correct 502/503/504 responses.

    from gatewayerrors import GatewayErrorsMiddleware
    app = GatewayErrorsMiddleware(app, service="checkout-api")

The flow is exception → classify → one error value → negotiate → render → adapter sends.
The public names are all here; the modules behind them are private.
"""

from __future__ import annotations

from typing import Any

from ._catalog import Catalog, ErrorKind, catalog
from ._classify import Classifier, default_classifier, parse_retry_after, register
from ._error import Evidence, UpstreamFailure
from ._exceptions import BadGateway, GatewayError, GatewayTimeout, ServiceUnavailable
from ._negotiate import Format, negotiate
from ._pages import PageContext, page_context
from ._settings import Settings
from ._translate import ErrorResponse, RequestInfo, Translator, websocket_close_code

__version__ = "0.1.0"

__all__ = [
    "BadGateway",
    "Catalog",
    "Classifier",
    "ErrorKind",
    "ErrorResponse",
    "Evidence",
    "Format",
    "GatewayError",
    "GatewayErrorsMiddleware",
    "GatewayErrorsWSGIMiddleware",
    "GatewayTimeout",
    "PageContext",
    "RequestInfo",
    "ServiceUnavailable",
    "Settings",
    "Translator",
    "UpstreamFailure",
    "__version__",
    "catalog",
    "default_classifier",
    "negotiate",
    "page_context",
    "parse_retry_after",
    "register",
    "websocket_close_code",
]

_ADAPTERS = {
    "GatewayErrorsMiddleware": ".asgi",
    "GatewayErrorsWSGIMiddleware": ".wsgi",
}


def __getattr__(name: str) -> Any:
    # Adapters load on first use, so importing the core costs nothing extra.
    module = _ADAPTERS.get(name)
    if module is None:
        raise AttributeError(f"module 'gatewayerrors' has no attribute {name!r}")
    import importlib

    return getattr(importlib.import_module(module, __name__), name)

"""For adapter authors: the translator and the values that flow through it.

An adapter describes the request as a :class:`RequestInfo`, asks
:meth:`Translator.translate` for the :class:`ErrorResponse` of an exception (None: not an
upstream failure, re-raise it), sends it, and reports it::

    from gatewayerrors.core import RequestInfo, Translator

    translator = Translator(service="checkout-api")
    response = translator.translate(exc, RequestInfo(method, path, query, accept, request_id))
    if response is None:
        raise
    send(response.status, response.headers, response.body)
    translator.report(response, exc)

App authors need none of this: see :mod:`gatewayerrors`.
"""

from __future__ import annotations

from ._catalog import Catalog, ErrorKind, catalog
from ._classify import Classifier, default_classifier, parse_retry_after
from ._error import Evidence, UpstreamFailure
from ._integrations import Integration
from ._languages import BUNDLED_LANGUAGES
from ._negotiate import negotiate
from ._pages import page_context
from ._settings import Settings, SettingsOptions
from ._translate import Translator, websocket_close_code
from ._types import (
    ContextTemplateFunction,
    ErrorResponse,
    Format,
    MaintenanceCheck,
    OnError,
    PageContext,
    Predicate,
    RequestInfo,
    Rule,
    StyleFunction,
    TemplateFunction,
)

__all__ = [
    "BUNDLED_LANGUAGES",
    "Catalog",
    "Classifier",
    "ContextTemplateFunction",
    "ErrorKind",
    "ErrorResponse",
    "Evidence",
    "Format",
    "Integration",
    "MaintenanceCheck",
    "OnError",
    "PageContext",
    "Predicate",
    "RequestInfo",
    "Rule",
    "Settings",
    "SettingsOptions",
    "StyleFunction",
    "TemplateFunction",
    "Translator",
    "UpstreamFailure",
    "catalog",
    "default_classifier",
    "negotiate",
    "page_context",
    "parse_retry_after",
    "websocket_close_code",
]

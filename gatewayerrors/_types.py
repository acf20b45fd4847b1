"""The values and callback types every layer shares: a leaf module.

It imports nothing of the package but the error value itself (``_error``, which imports only
the catalog), so renderers, the translator and adapters can all type their arguments precisely
without importing each other, and the package has no import cycle (a test checks).
"""

from __future__ import annotations

import enum
from collections.abc import Awaitable, Callable
from typing import Any, NamedTuple, Protocol, TypedDict

from ._error import Evidence, UpstreamFailure

__all__ = [
    "ContextTemplateFunction",
    "ErrorResponse",
    "Format",
    "MaintenanceCheck",
    "OnError",
    "PageContext",
    "Predicate",
    "RequestInfo",
    "Rule",
    "StyleFunction",
    "TemplateFunction",
]


class Format(enum.Enum):
    """A response format and its media type."""

    JSON = "application/problem+json"
    XML = "application/problem+xml"
    HTML = "text/html"
    TEXT = "text/plain"


class RequestInfo(NamedTuple):
    """What the core needs to know about the request being answered."""

    method: str = "GET"
    path: str = "/"
    query: str = ""
    accept: str | None = None
    request_id: str | None = None
    """The incoming request-id header's value, if any (validated before use)."""
    native: Any = None
    """The framework's own request object (scope, environ, request), for user callables."""
    raw_path: str | None = None
    """The path as the client sent it (percent-encoded, no query), when the server gives it
    (ASGI ``raw_path``, WSGI ``REQUEST_URI``): what makes ``instance`` exact."""
    client: str | None = None
    """The connection's peer address (ASGI ``scope["client"]``, WSGI ``REMOTE_ADDR``)."""
    forwarded_for: str | None = None
    """The ``X-Forwarded-For`` header, believed only from ``trusted_proxies``."""
    bypass_token: str | None = None
    """The ``X-Maintenance-Bypass`` header (checked against ``maintenance_bypass_token``)."""
    accept_language: str | None = None
    """The ``Accept-Language`` header, which chooses the page's language (docs/languages.md)."""


class ErrorResponse(NamedTuple):
    """A complete response: what an adapter sends."""

    status: int
    headers: list[tuple[str, str]]
    body: bytes
    error: UpstreamFailure


class PageContext(TypedDict):
    """What a page template gets. Text values are escaped when inserted (autoescape).

    ``problem_json``, ``problem_script`` and ``refresh_meta`` are ready-made markup and are
    inserted as they are.
    """

    status: int
    """The HTTP status (502, 503, 504, ...)."""
    reason: str
    """Its reason phrase ("Bad Gateway")."""
    heading: str
    """The page's heading, words for a person ("Something went wrong on our side"), in
    ``language``; the ``overrides`` ``heading``, else an overridden ``title``, else ours."""
    title: str
    """The code's short title, for machines and operators: English, as in the problem details
    (``overrides`` apply)."""
    detail: str
    """What happened, in one plain sentence, in ``language`` (``overrides`` apply)."""
    hint: str
    """What the person can do, in ``language`` (``overrides`` apply)."""
    code: str
    """The stable catalog code, e.g. ``connection_refused``."""
    number: int
    """The code's stable number, e.g. 20."""
    request_id: str | None
    """The request id to quote to support (also in the response header)."""
    retry_after: int | None
    """Seconds from ``Retry-After``, when known."""
    auto_retry: bool
    """True when the page may reload itself: a GET/HEAD request and a bounded Retry-After."""
    refresh_seconds: int | None
    """The reload delay when ``auto_retry``, else None."""
    method: str
    """The request method; never resend an unsafe one automatically."""
    upstream: str | None
    """The logical name of the failed service, when given (``upstream="payments"``)."""
    upstream_status: int | None
    """The status the upstream answered, when it answered."""
    instance: str | None
    """The request path (the problem's ``instance``)."""
    debug: str | None
    """The exception's type and message, only with ``debug=True``."""
    problem_json: str
    """The problem details as JSON, safe inside ``<script type="application/problem+json">``."""
    problem_script: str
    """That whole ``<script type="application/problem+json">`` element."""
    refresh_meta: str
    """``<noscript><meta http-equiv="refresh" ...></noscript>`` when ``auto_retry``, else ``""``."""
    language: str
    """The page's language, a BCP 47 tag (``"de"``, ``"zh-Hans"``): chosen from
    ``Accept-Language`` among the ``languages`` offered; ``heading``, ``detail`` and ``hint``
    are in it. Also the response's ``Content-Language``: use it for ``<html lang>``."""


OnError = Callable[[UpstreamFailure, BaseException | None], Awaitable[object] | object]
"""``on_error(error, exception)``: called after each translated error; may be ``async``."""

StyleFunction = Callable[[UpstreamFailure, Format, RequestInfo], tuple[str, bytes | str] | None]
"""``style(error, format, request) -> (content_type, body) | None``; None: the default renderer."""


class ContextTemplateFunction(Protocol):
    """``template(error, request, context) -> page``: a template callable that takes the page's
    context (a parameter named ``context``), its language and texts chosen for the request."""

    def __call__(
        self, error: UpstreamFailure, request: RequestInfo, context: PageContext
    ) -> str | bytes:
        """The HTML page for an error."""
        ...


TemplateFunction = Callable[[UpstreamFailure, RequestInfo], str | bytes] | ContextTemplateFunction
"""``template(error, request) -> page``: the HTML page for an error; a callable with a
``context`` parameter is given the :class:`PageContext` too (``template(error, request,
context=...)``)."""

MaintenanceCheck = Callable[[], bool]
"""``check() -> bool``: whether maintenance mode is on now. Called per request: keep it cheap."""

Predicate = Callable[[BaseException], bool]
"""``predicate(exception) -> bool``: a classifier rule's match by test rather than by class."""

Rule = Callable[[BaseException], Evidence | None]
"""A classification rule: evidence for an exception, or None when it does not apply."""

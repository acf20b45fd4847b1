"""One small app per adapter, served on a real server, for the tests that run the same checks
through every adapter (tests/adapters/conftest.py starts the servers).

The app (``/ok``, ``/health``, ``/fault/<name>[/anything]``, ``/stream/<name>``) runs under each
adapter (the builders here and in ``apps_<framework>.py``; the framework x server matrix is in
support_matrix.py): the ASGI middleware under uvicorn; the WSGI middleware, the Flask extension
and the Django middleware under waitress; the aiohttp middleware under aiohttp (its app:
tests/helpers/apps_aiohttp.py). A fault view calls a real failing loopback upstream with requests
(see :func:`fault_urls`). ``Adapter.configure(**options)`` swaps in the adapter built with those
options (Django: ``override_settings(GATEWAYERRORS=...)``), so one server per adapter serves
every test of a module.
"""

from __future__ import annotations

import asyncio
import contextlib
import sys
import types
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import Any

import flask
import httpx
import requests
from django_setup import URLCONF, configure_django

from gatewayerrors import GatewayErrorsMiddleware, GatewayErrorsWSGIMiddleware
from gatewayerrors.flask import GatewayErrors

ADAPTERS = ("asgi", "wsgi", "flask", "django", "aiohttp")
BASE: dict[str, Any] = {"service": "shop"}
"""Options every adapter gets; a test's options are added to these."""
REQUEST_ID = "rid-customization-1"
HTML = "text/html"
JSON = "application/json"
XML = "application/xml"
TEXT = "text/plain"
RETRY_AFTER = "30"
READ_TIMEOUT = 0.3
# Percent-encoded by us so every client sends the same bytes; servers decode it to
# /fault/refused/<script>alert("x")</script>&amp
HOSTILE_PATH = "/fault/refused/%3Cscript%3Ealert(%22x%22)%3C/script%3E&amp"
HOSTILE_INSTANCE = '/fault/refused/<script>alert("x")</script>&amp'
HOSTILE_DETAIL = '<img src=x onerror=alert(1)> & "co"'
ERROR_HEADERS = (
    "content-type",
    "content-length",
    "cache-control",
    "vary",
    "retry-after",
    "proxy-status",
    "x-request-id",
)
DJANGO_URLCONF = "gatewayerrors_test_customization_urls"


# -- the app, once per framework -------------------------------------------------------------


def fault_urls(upstreams: Any) -> dict[str, str]:
    """The failing upstream behind each ``/fault/<name>``."""
    return {
        "refused": upstreams.refused_url,
        "timeout": upstreams.hang_url,
        "reset": upstreams.reset_url,
        "tls": upstreams.tls_url,
        "dns": upstreams.dns_url,
        "unavailable": upstreams.status_url(503, retry_after=RETRY_AFTER),
    }


def fault_name(path: str) -> str | None:
    """``refused`` for ``/fault/refused`` and ``/fault/refused/<anything>``."""
    if not path.startswith("/fault/"):
        return None
    return path[len("/fault/") :].partition("/")[0] or None


def call_upstream(urls: dict[str, str], name: str) -> None:
    """What every fault view does: a real call that fails (requests raises). ``/fault/bug``
    is a bug instead: an exception that is not an upstream failure."""
    if name == "bug":
        raise ValueError("a bug, not an upstream failure")
    # The hanging upstream must time out fast; the others fail at once.
    timeout = READ_TIMEOUT if name == "timeout" else 2
    requests.get(urls[name], timeout=timeout).raise_for_status()
    raise AssertionError(f"{name} did not fail")


def stream_name(path: str) -> str | None:
    """``refused`` for ``/stream/refused``."""
    if not path.startswith("/stream/"):
        return None
    return path[len("/stream/") :] or None


STREAM_FIRST = b"first\n"
"""What a ``/stream/<name>`` body sends before it calls the failing upstream."""


def stream_body(urls: dict[str, str], name: str) -> Iterator[bytes]:
    """A streamed body that fails after its first chunk went out: a failure the adapter can no
    longer answer (the status and headers are on the wire)."""
    yield STREAM_FIRST
    call_upstream(urls, name)


def asgi_app(urls: dict[str, str]) -> Any:
    async def app(scope: dict[str, Any], receive: Any, send: Any) -> None:
        assert scope["type"] == "http"
        path = scope["path"]
        streamed = stream_name(path)
        if streamed is not None:
            start = {"type": "http.response.start", "status": 200}
            await send({**start, "headers": [(b"content-type", b"text/plain")]})
            await send({"type": "http.response.body", "body": STREAM_FIRST, "more_body": True})
            await asyncio.to_thread(call_upstream, urls, streamed)
        name = fault_name(path)
        if name is not None:
            await asyncio.to_thread(call_upstream, urls, name)
        status = 200 if path in ("/ok", "/health") else 404
        headers = [(b"content-type", b"text/plain"), (b"content-length", b"5")]
        await send({"type": "http.response.start", "status": status, "headers": headers})
        await send({"type": "http.response.body", "body": b"hello" if status == 200 else b"nope!"})

    return app


def wsgi_app(urls: dict[str, str]) -> Any:
    def app(environ: dict[str, Any], start_response: Any) -> list[bytes]:
        path = environ["PATH_INFO"]
        streamed = stream_name(path)
        if streamed is not None:
            start_response("200 OK", [("Content-Type", "text/plain")])
            return stream_body(urls, streamed)  # type: ignore[return-value]
        name = fault_name(path)
        if name is not None:
            call_upstream(urls, name)
        if path in ("/ok", "/health"):
            start_response("200 OK", [("Content-Type", "text/plain"), ("Content-Length", "5")])
            return [b"hello"]
        start_response("404 Not Found", [("Content-Type", "text/plain"), ("Content-Length", "5")])
        return [b"nope!"]

    return app


def flask_app(urls: dict[str, str], options: dict[str, Any]) -> flask.Flask:
    app = flask.Flask(__name__)

    @app.get("/ok")
    @app.get("/health")
    def ok() -> str:
        return "hello"

    @app.route("/fault/<name>", methods=["GET", "POST"])
    @app.route("/fault/<name>/<path:rest>", methods=["GET", "POST"])
    def fault(name: str, rest: str = "") -> str:
        call_upstream(urls, name)
        return "unreachable"

    @app.get("/stream/<name>")
    def stream(name: str) -> flask.Response:
        return flask.Response(stream_body(urls, name), mimetype="text/plain")

    GatewayErrors(app, **options)
    return app


def django_urlconf(urls: dict[str, str]) -> types.ModuleType:
    from django.http import HttpRequest, HttpResponse, StreamingHttpResponse
    from django.urls import path, re_path

    def ok(request: HttpRequest) -> HttpResponse:
        return HttpResponse("hello", content_type="text/plain")

    def fault(request: HttpRequest, name: str) -> HttpResponse:
        call_upstream(urls, name)
        return HttpResponse("unreachable")

    def stream(request: HttpRequest, name: str) -> StreamingHttpResponse:
        return StreamingHttpResponse(stream_body(urls, name), content_type="text/plain")

    module = types.ModuleType(DJANGO_URLCONF)
    module.urlpatterns = [  # type: ignore[attr-defined]
        path("ok", ok),
        path("health", ok),
        re_path(r"^fault/(?P<name>[^/]+)(?:/.*)?$", fault),
        path("stream/<str:name>", stream),
    ]
    return module


# -- the builders of the shared interface: build(urls, options) -> the app a server serves ---


def build_asgi(urls: dict[str, str], options: dict[str, Any]) -> Any:
    """The raw ASGI app behind the generic ASGI middleware."""
    return GatewayErrorsMiddleware(asgi_app(urls), **options)


def build_wsgi(urls: dict[str, str], options: dict[str, Any]) -> Any:
    """The raw WSGI app behind the generic WSGI middleware."""
    return GatewayErrorsWSGIMiddleware(wsgi_app(urls), **options)


def build_flask(urls: dict[str, str], options: dict[str, Any]) -> Any:
    """The Flask app with the ``GatewayErrors`` extension."""
    return flask_app(urls, options)


def build_django(urls: dict[str, str], options: dict[str, Any]) -> Any:
    """Django's WSGI handler, for a server process of its own: Django is configured once per
    process, so this sets ``GATEWAYERRORS`` for good (in the test process the matrix hosts
    Django with ``override_settings`` instead: support_matrix.django_hosted)."""
    configure_django()
    from django.conf import settings
    from django.core.wsgi import get_wsgi_application

    sys.modules[URLCONF] = django_urlconf(urls)
    settings.GATEWAYERRORS = options
    return get_wsgi_application()


# -- one server per adapter ------------------------------------------------------------------


@dataclass
class Adapter:
    """A running server for one adapter; ``configure`` swaps in that adapter with options."""

    name: str
    url: str
    apply: Callable[[dict[str, Any]], contextlib.AbstractContextManager[None]]

    def configure(self, **options: Any) -> contextlib.AbstractContextManager[None]:
        return self.apply({**BASE, **options})


class Switch:
    """What a server serves: the app in ``current``, replaced between tests."""

    def __init__(self, current: Any) -> None:
        self.current = current


class WSGISwitch(Switch):
    def __call__(self, environ: Any, start_response: Any) -> Any:
        return self.current(environ, start_response)


class ASGISwitch(Switch):
    # Explicit parameters: uvicorn takes an app it can call without arguments for a factory.
    async def __call__(self, scope: Any, receive: Any, send: Any) -> None:
        await self.current(scope, receive, send)


def switching(
    switch: Switch, build: Callable[[dict[str, Any]], Any]
) -> Callable[[dict[str, Any]], contextlib.AbstractContextManager[None]]:
    @contextlib.contextmanager
    def apply(options: dict[str, Any]) -> Iterator[None]:
        previous, switch.current = switch.current, build(options)
        try:
            yield
        finally:
            switch.current = previous

    return apply


def fetch(
    client: httpx.Client,
    adapter: Adapter,
    path: str,
    accept: str = JSON,
    method: str = "GET",
) -> httpx.Response:
    headers = {"Accept": accept, "X-Request-ID": REQUEST_ID}
    return client.request(method, adapter.url + path, headers=headers)


def error_headers(response: httpx.Response) -> dict[str, str | None]:
    return {name: response.headers.get(name) for name in ERROR_HEADERS}

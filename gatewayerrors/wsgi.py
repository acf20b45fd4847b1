"""WSGI middleware: upstream failures in any WSGI app become gateway error responses.

    from gatewayerrors import GatewayErrorsWSGIMiddleware
    app = GatewayErrorsWSGIMiddleware(app, service="catalog")

It catches what the app raises when called and while its body is iterated (PEP 3333: a
streamed body fails late). A failure before any body byte went out replaces the response,
calling ``start_response`` again with ``exc_info``; after that, an upstream failure is logged,
counted in :attr:`GatewayErrorsWSGIMiddleware.failures_after_start`, passed to ``on_error`` and
re-raised so the server aborts the connection: a client must see a broken response, never a
truncated body that looks complete. Exceptions that are not upstream failures propagate
untouched.

Flask and Django turn a view's exception into their own 500 before an outer WSGI wrapper sees
it: use :mod:`gatewayerrors.flask` or :mod:`gatewayerrors.django` there.
"""

from __future__ import annotations

import sys
import threading
from collections.abc import Callable, Iterable, Iterator
from types import GeneratorType
from typing import TYPE_CHECKING, Any
from urllib.parse import quote

from ._falcon import hand_on_from_falcon, is_falcon_app
from ._render import reason_phrase
from ._request_context import reset_request_id
from ._settings import Settings, SettingsOptions
from ._translate import ErrorResponse, RequestInfo, Translator

if TYPE_CHECKING:
    from _typeshed import OptExcInfo
    from _typeshed.wsgi import StartResponse, WSGIApplication, WSGIEnvironment
    from typing_extensions import Unpack

__all__ = ["GatewayErrorsWSGIMiddleware"]


def request_id_key(header: str) -> str:
    """The environ key of a request header (``x-request-id`` → ``HTTP_X_REQUEST_ID``)."""
    return "HTTP_" + header.upper().replace("-", "_")


def request_info(environ: WSGIEnvironment, request_id_key: str, native: Any = None) -> RequestInfo:
    """The core's view of a WSGI request (built only when an error is answered).

    Never raises: a value that is not the ``str`` PEP 3333 requires counts as missing, so the
    app's exception, not a TypeError of ours, is what gets answered or propagates.
    """
    if native is None:
        native = environ
    try:
        get = environ.get
        path, raw_path = request_path(environ)
        accept, accept_language = get("HTTP_ACCEPT"), get("HTTP_ACCEPT_LANGUAGE")
        request_id = get(request_id_key)
        return RequestInfo(
            _text(get("REQUEST_METHOD")) or "GET",
            path or "/",
            _text(get("QUERY_STRING")),
            accept if isinstance(accept, str) else None,
            request_id if isinstance(request_id, str) else None,
            native,
            raw_path,
            _text(get("REMOTE_ADDR")) or None,
            _text(get("HTTP_X_FORWARDED_FOR")) or None,
            _text(get("HTTP_X_MAINTENANCE_BYPASS")) or None,
            accept_language if isinstance(accept_language, str) else None,
        )
    except Exception:  # not even a mapping
        return RequestInfo(native=native)


# RFC 3986 pchar and "/" without "%": what quote() may leave as it is in a path.
_PATH_SAFE = "/:@!$&'()*+,;="


def request_path(environ: WSGIEnvironment) -> tuple[str, str | None]:
    """The decoded path and the path as sent (for ``instance``) of a WSGI request.

    The decoded path is ``SCRIPT_NAME + PATH_INFO`` re-decoded as UTF-8 (PEP 3333 hands it
    over as latin-1; clients send UTF-8, and ASGI decodes it so). The path as sent is
    ``REQUEST_URI`` or ``RAW_URI`` without its query (waitress, gunicorn, uWSGI, Werkzeug set
    one), else the PEP 3333 bytes percent-encoded again: exact for every byte, ``%`` included.
    """
    get = environ.get
    path = _text(get("SCRIPT_NAME")) + _text(get("PATH_INFO"))
    try:
        path_bytes = path.encode("latin-1")
    except UnicodeEncodeError:  # a server that decoded UTF-8 itself already gave the text
        path_bytes = None
    raw_path = sent_path(environ)
    if raw_path is None and path_bytes is not None:
        raw_path = quote(path_bytes, safe=_PATH_SAFE)
    if path_bytes is not None and not path.isascii():
        path = path_bytes.decode("utf-8", "replace")
    return path, raw_path


def sent_path(environ: WSGIEnvironment) -> str | None:
    """The path of ``REQUEST_URI`` or ``RAW_URI`` (no query), when the server sets one."""
    uri = environ.get("REQUEST_URI") or environ.get("RAW_URI")
    if not isinstance(uri, str) or not uri:
        return None
    uri = uri.partition("?")[0].partition("#")[0]
    if not uri.startswith("/") and "://" in uri:  # absolute-form (a proxy request)
        uri = "/" + uri.partition("://")[2].partition("/")[2]
    return uri


def _text(value: object) -> str:
    return value if isinstance(value, str) else ""


_status_lines: dict[int, str] = {}


def status_line(status: int) -> str:
    """A WSGI status string: ``"502 Bad Gateway"``."""
    line = _status_lines.get(status)
    if line is None:  # an enum lookup costs ~0.7 µs: once per status is enough
        line = _status_lines[status] = f"{status} {reason_phrase(status)}"
    return line


class GatewayErrorsWSGIMiddleware:
    """Answers upstream failures raised by a WSGI app with 502/503/504 responses.

    Takes the :class:`~gatewayerrors.Settings` options as keyword arguments, a ``Settings``, or
    a ready :class:`~gatewayerrors.Translator` shared with another adapter.
    """

    failures_after_start: int
    """How many upstream failures came after the body's first bytes went out (the connection
    was aborted instead of answered). A plain counter, for tests and metrics."""

    def __init__(
        self,
        app: WSGIApplication,
        settings: Settings | None = None,
        *,
        translator: Translator | None = None,
        **options: Unpack[SettingsOptions],
    ) -> None:
        translator = Translator.for_adapter(settings, translator, options)
        self.app = app
        self.translator = translator
        if is_falcon_app(app, asgi=False):
            # Falcon answers every exception itself (its handler for Exception sends a 500):
            # ours, registered in its place, hands upstream failures on to this middleware.
            hand_on_from_falcon(app, translator, asgi=False)
        self._maintenance_check = translator.maintenance_check
        self._request_id_key = request_id_key(translator.settings.request_id_header)
        self._forward_request_id = translator.settings.forward_request_id
        self.failures_after_start = 0
        self._count_lock = threading.Lock()

    def __call__(self, environ: WSGIEnvironment, start_response: StartResponse) -> Iterable[bytes]:
        if self._maintenance_check is not None:
            early = self._maintenance(environ, start_response)
            if early is not None:
                return early
        # forward_request_id: the id outgoing calls send on, while the app runs (a streamed
        # body iterated later by the server is not covered). Off by default: costs nothing.
        bound = None
        if self._forward_request_id:
            incoming = environ.get(self._request_id_key)
            bound = self.translator_for(environ).bind_request_id(
                incoming if isinstance(incoming, str) else None
            )
        # The app's status and headers are held until its body's first chunk: until then
        # nothing went to the server, so an error is answered with a plain first call of the
        # server's start_response. PEP 3333 asks for exc_info only once a status went to the
        # server, and Werkzeug's test client (so Flask's test_client) re-raises whenever
        # exc_info is given.
        start = _HeldStart(start_response)
        try:
            body = self.app(environ, start)
        except Exception as exc:
            answer = self._answer(exc, environ, start)
            if answer is None:
                raise  # not an upstream failure: not ours
            return answer
        finally:
            if bound is not None:
                reset_request_id(bound)
        body_type = type(body)
        if body_type is list or body_type is tuple:
            start.forward()  # cannot fail while iterated: the server gets the status now
            return body
        if environ.get("SERVER_SOFTWARE") == "Granian":
            # Granian reads the status when the app returns and ignores a start_response made
            # while the body is iterated (PEP 3333 allows one): hand it over now; a failure in
            # the body is then one after the start (logged, the connection aborted).
            start.forward()
            return _GuardedBody(body, self, environ, start, answerable=False)
        if body_type is GeneratorType:
            # A generator needs no close() before it starts: a generator guards it, at a third
            # of the cost of a class instance (measured, CPython 3.11).
            return _guarded(body, self, environ, start, body.close)  # type: ignore[attr-defined]
        if body_type is environ.get("wsgi.file_wrapper"):
            start.forward()
            return body  # keep the server's sendfile path
        return _GuardedBody(body, self, environ, start)

    def translator_for(self, environ: WSGIEnvironment) -> Translator:
        """The translator for this request (a subclass may pick one per request)."""
        return self.translator

    def _answer(
        self,
        exc: Exception,
        environ: WSGIEnvironment,
        start: _HeldStart,
    ) -> list[bytes] | None:
        """The error body for ``exc`` after (re)starting the response, or None: not ours."""
        translator = self.translator_for(environ)
        response = translator.translate(exc, request_info(environ, self._request_id_key))
        if response is None:
            return None
        try:
            start.restart(status_line(response.status), response.headers)
        except Exception:
            # PEP 3333: the server re-raises when the headers already went out (the app used
            # write()): the failure is one after the start, the server aborts the connection.
            self._count_after_start()
            translator.report(response, exc, response_started=True)
            raise
        translator.report(response, exc)
        return [response.body]

    def _report_after_start(self, exc: Exception, environ: WSGIEnvironment) -> None:
        """Log, count and hand to ``on_error`` a failure that can no longer be answered."""
        translator = self.translator_for(environ)
        response = translator.translate(exc, request_info(environ, self._request_id_key))
        if response is None:
            return
        self._count_after_start()
        translator.report(response, exc, response_started=True)

    def _count_after_start(self) -> None:
        with self._count_lock:  # server worker threads share the middleware
            self.failures_after_start += 1

    def _start(self, response: ErrorResponse, start_response: StartResponse) -> None:
        start_response(status_line(response.status), response.headers)

    def _maintenance(
        self, environ: WSGIEnvironment, start_response: StartResponse
    ) -> list[bytes] | None:
        response = self.translator_for(environ).maintenance_answer(
            lambda: request_info(environ, self._request_id_key)
        )
        if response is None:
            return None
        self._start(response, start_response)
        return [response.body]


class _HeldStart:
    """The ``start_response`` the app gets: it holds the app's status and headers until the
    middleware hands them to the server's (at the body's first chunk, or when the app uses
    ``write()``), so that a failure before then can start the response afresh.

    An object with slots, not closures: as cheap per request (~0.3 µs, measured, CPython
    3.11), with the type annotations paid once, not at each request.
    """

    __slots__ = ("_held", "_server_write", "_start_response", "forwarded")

    def __init__(self, start_response: StartResponse) -> None:
        self._start_response = start_response
        self._held: tuple[str, list[tuple[str, str]]] | None = None
        self._server_write: Callable[[bytes], object] | None = None
        self.forwarded = False
        """Whether the server's ``start_response`` was called (its status is then the one)."""

    def __call__(
        self,
        status: str,
        headers: list[tuple[str, str]],
        exc_info: OptExcInfo | None = None,
    ) -> Callable[[bytes], object]:
        if self.forwarded:
            # The server has a status: it replaces it, or re-raises if its headers are out.
            self._server_write = self._start_response(status, headers, exc_info)
        elif exc_info is None and self._held is not None:
            raise AssertionError("start_response called a second time without exc_info")
        else:
            self._held = (status, headers)  # with exc_info: nothing was sent, replace
        return self.write

    def forward(self) -> None:
        """Hand the app's held status and headers to the server (once)."""
        if self._held is not None and not self.forwarded:
            self.forwarded = True
            self._server_write = self._start_response(*self._held)

    def write(self, data: bytes) -> object:
        """PEP 3333's ``write()`` for the apps that use it: the status goes to the server first."""
        self.forward()
        if self._server_write is None:
            raise AssertionError("write() before start_response()")
        return self._server_write(data)

    def restart(self, status: str, headers: list[tuple[str, str]]) -> None:
        """Start our response instead of the app's: the server's first ``start_response`` while
        it has no status; else (PEP 3333) again with ``exc_info``, on which the server replaces
        its status, or re-raises if its headers already went out."""
        if self.forwarded:
            self._start_response(status, headers, sys.exc_info())  # called in an except block
        else:
            self.forwarded = True
            self._start_response(status, headers)


def _guarded(
    body: Iterable[bytes],
    middleware: GatewayErrorsWSGIMiddleware,
    environ: WSGIEnvironment,
    start: _HeldStart,
    close: Callable[[], object] | None = None,
    answerable: bool = True,
) -> Iterator[bytes]:
    """``body``'s chunks; a failure before the first non-empty one is answered instead, unless
    the server took the status already (``answerable`` False)."""
    try:
        chunks = iter(body)
        for chunk in chunks:
            start.forward()  # the server needs the status with any chunk, even empty
            yield chunk
            if chunk:
                break  # the server sends headers with the first non-empty chunk
        else:
            start.forward()  # an empty body still has a status
            return
    except Exception as exc:
        if not answerable:
            middleware._report_after_start(exc, environ)
            raise
        answer = middleware._answer(exc, environ, start)
        if answer is None:
            raise
    else:
        # Bytes went out: a failure from here on must reach the server, which aborts.
        try:
            yield from chunks
        except Exception as exc:
            middleware._report_after_start(exc, environ)
            raise
        return
    finally:
        if close is not None:
            close()
    yield from answer


class _GuardedBody:
    """The app's body, iterated so that a failure before the first byte still gets an answer.

    A class, not a generator, because PEP 3333 requires ``close()`` to reach the app's body
    even when the server never starts iterating.
    """

    __slots__ = ("_answerable", "_body", "_environ", "_middleware", "_start")

    def __init__(
        self,
        body: Iterable[bytes],
        middleware: GatewayErrorsWSGIMiddleware,
        environ: WSGIEnvironment,
        start: _HeldStart,
        answerable: bool = True,
    ) -> None:
        self._body = body
        self._middleware = middleware
        self._environ = environ
        self._start = start
        self._answerable = answerable

    def __iter__(self) -> Iterator[bytes]:
        return _guarded(
            self._body, self._middleware, self._environ, self._start, None, self._answerable
        )

    def close(self) -> None:
        close = getattr(self._body, "close", None)
        if close is not None:
            close()

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

import contextlib
import sys
import threading
from collections.abc import Callable, Iterable, Iterator
from types import GeneratorType
from typing import TYPE_CHECKING, Any

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
        path = _text(get("SCRIPT_NAME")) + _text(get("PATH_INFO"))
        if not path.isascii():
            # PEP 3333 hands the path over as latin-1; clients send UTF-8 (ASGI decodes it so).
            # A server that decoded UTF-8 itself already gave the right text.
            with contextlib.suppress(UnicodeEncodeError):
                path = path.encode("latin-1").decode("utf-8", "replace")
        accept = get("HTTP_ACCEPT")
        request_id = get(request_id_key)
        return RequestInfo(
            _text(get("REQUEST_METHOD")) or "GET",
            path or "/",
            _text(get("QUERY_STRING")),
            accept if isinstance(accept, str) else None,
            request_id if isinstance(request_id, str) else None,
            native,
        )
    except Exception:  # not even a mapping
        return RequestInfo(native=native)


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
        try:
            body = self.app(environ, start_response)
        except Exception as exc:
            answer = self._answer(exc, environ, start_response)
            if answer is None:
                raise  # not an upstream failure: not ours
            return answer
        finally:
            if bound is not None:
                reset_request_id(bound)
        body_type = type(body)
        if body_type is list or body_type is tuple:
            return body  # cannot fail while iterated: the common case costs nothing
        if body_type is GeneratorType:
            # A generator needs no close() before it starts: a generator guards it, at a third
            # of the cost of a class instance (measured, CPython 3.11).
            return _guarded(body, self, environ, start_response, body.close)  # type: ignore[attr-defined]
        if body_type is environ.get("wsgi.file_wrapper"):
            return body  # keep the server's sendfile path
        return _GuardedBody(body, self, environ, start_response)

    def translator_for(self, environ: WSGIEnvironment) -> Translator:
        """The translator for this request (a subclass may pick one per request)."""
        return self.translator

    def _answer(
        self, exc: Exception, environ: WSGIEnvironment, start_response: StartResponse
    ) -> list[bytes] | None:
        """The error body for ``exc`` after restarting the response, or None: not ours."""
        translator = self.translator_for(environ)
        response = translator.translate(exc, request_info(environ, self._request_id_key))
        if response is None:
            return None
        try:
            self._start(response, start_response, sys.exc_info())  # called in an except block
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

    def _start(
        self,
        response: ErrorResponse,
        start_response: StartResponse,
        exc_info: OptExcInfo | None = None,
    ) -> None:
        # With exc_info the server replaces headers not yet sent, or re-raises if they were.
        start_response(status_line(response.status), response.headers, exc_info)

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


def _guarded(
    body: Iterable[bytes],
    middleware: GatewayErrorsWSGIMiddleware,
    environ: WSGIEnvironment,
    start_response: StartResponse,
    close: Callable[[], object] | None = None,
) -> Iterator[bytes]:
    """``body``'s chunks; a failure before the first non-empty one is answered instead."""
    try:
        chunks = iter(body)
        for chunk in chunks:
            yield chunk
            if chunk:
                break  # the server sends headers with the first non-empty chunk
        else:
            return
    except Exception as exc:
        answer = middleware._answer(exc, environ, start_response)
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

    __slots__ = ("_body", "_environ", "_middleware", "_start_response")

    def __init__(
        self,
        body: Iterable[bytes],
        middleware: GatewayErrorsWSGIMiddleware,
        environ: WSGIEnvironment,
        start_response: StartResponse,
    ) -> None:
        self._body = body
        self._middleware = middleware
        self._environ = environ
        self._start_response = start_response

    def __iter__(self) -> Iterator[bytes]:
        return _guarded(self._body, self._middleware, self._environ, self._start_response)

    def close(self) -> None:
        close = getattr(self._body, "close", None)
        if close is not None:
            close()

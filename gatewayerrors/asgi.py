"""The ASGI adapter: a pure ASGI middleware for Starlette, FastAPI and any ASGI app.

    app = GatewayErrorsMiddleware(app, service="checkout-api")               # any ASGI app, Falcon
    app.add_middleware(GatewayErrorsMiddleware, service="checkout-api")      # Starlette, FastAPI

Wrapping a Starlette or FastAPI application from outside gives the same answers as
:func:`gatewayerrors.starlette.install`: the middleware installs itself inside the app (where
Starlette's own error middleware cannot answer first) and passes everything through outside.
Wrapping a Falcon ASGI app registers a handler for ``Exception`` in it that re-raises upstream
failures out of Falcon, to the middleware (the WSGI middleware does the same for a Falcon WSGI
app). Litestar and Quart answer every exception inside the app: see
:mod:`gatewayerrors.litestar` and :mod:`gatewayerrors.quart`.

HTTP: an upstream failure raised by the app becomes the translated 502/503/504 response and is
*not* re-raised, so the client's keep-alive connection survives. Anything else is re-raised
untouched for the framework's own 500 handling. If the app had already started its response,
the failure is logged, counted in :attr:`GatewayErrorsMiddleware.failures_after_start` and
re-raised, so the server aborts the connection and the client sees a broken response rather
than a truncated body that looks complete.

WebSocket: before ``websocket.accept`` the error is sent as an HTTP response when the server
offers the *WebSocket Denial Response* extension, otherwise the handshake is closed (the server
answers 403); after accept the socket is closed with 1014 (bad gateway) or 1013 (try again
later, for 503 kinds) and the error code as the reason.

Lifespan and unknown scope types pass straight through (with a ``maintenance_store``, the
store's background refresher also starts on ``lifespan.startup`` and stops on
``lifespan.shutdown``).
"""

from __future__ import annotations

import contextlib
from collections.abc import Awaitable, Callable, MutableMapping
from contextvars import Token
from typing import TYPE_CHECKING, Any

from ._falcon import hand_on_from_falcon, is_falcon_app
from ._request_context import reset_request_id
from ._settings import Settings, SettingsOptions
from ._translate import ErrorResponse, RequestInfo, Translator, websocket_close_code

if TYPE_CHECKING:
    from typing_extensions import Unpack

__all__ = ["ASGIApp", "GatewayErrorsMiddleware", "Message", "Receive", "Scope", "Send"]

Scope = MutableMapping[str, Any]
Message = MutableMapping[str, Any]
Receive = Callable[[], Awaitable[Message]]
Send = Callable[[Message], Awaitable[None]]
ASGIApp = Callable[[Scope, Receive, Send], Awaitable[None]]

_WS_HANDSHAKE, _WS_ACCEPTED, _WS_CLOSED = 0, 1, 2
_DENIAL_EXTENSION = "websocket.http.response"

_ENCODED: dict[tuple[str, str], tuple[bytes, bytes]] = {}
_ENCODED_LIMIT = 512


def _encode_headers(
    headers: list[tuple[str, str]], request_id_name: str
) -> list[tuple[bytes, bytes]]:
    """The headers as ASGI bytes.

    Most pairs repeat from one error to the next (content type, cache-control, vary, the
    Proxy-Status of a code), so their encodings are kept: measured 0.5 µs less per error.
    The cache is bounded and never holds the request id header, which differs every time.
    """
    encoded = []
    for pair in headers:
        raw = _ENCODED.get(pair)
        if raw is None:
            name, value = pair
            # The core sends ASCII; "replace" keeps a custom style's odd header from failing.
            raw = (name.encode("latin-1", "replace"), value.encode("latin-1", "replace"))
            if name != request_id_name and len(_ENCODED) < _ENCODED_LIMIT:
                _ENCODED[pair] = raw
        encoded.append(raw)
    return encoded


def raw_path(scope: Scope) -> str | None:
    """The path as the client sent it (ASGI's optional ``raw_path``, without a query), or None."""
    raw = scope.get("raw_path")
    if not isinstance(raw, (bytes, bytearray)) or not raw:
        return None
    return bytes(raw).partition(b"?")[0].decode("latin-1")


def request_info(scope: Scope, request_id_header: bytes) -> RequestInfo:
    """The core's view of the request in ``scope`` (``request_id_header``: its lower-case
    name as bytes). Never raises: a field that breaks the ASGI spec gets its default, so the
    app's exception, not an AttributeError of ours, is answered or re-raised."""
    try:
        get = scope.get
        accept = None
        accept_language = None
        request_id = None
        forwarded = None
        bypass = None
        # Not (bytes, bytes) pairs: what was read before the odd one is kept.
        with contextlib.suppress(Exception):
            for name, value in get("headers") or ():
                if name == b"accept":
                    text = value.decode("latin-1")
                    accept = text if accept is None else f"{accept}, {text}"
                elif name == b"accept-language":
                    text = value.decode("latin-1")
                    accept_language = (
                        text if accept_language is None else f"{accept_language}, {text}"
                    )
                elif name == request_id_header:
                    request_id = value.decode("latin-1")
                elif name == b"x-forwarded-for":
                    text = value.decode("latin-1")
                    forwarded = text if forwarded is None else f"{forwarded}, {text}"
                elif name == b"x-maintenance-bypass":
                    bypass = value.decode("latin-1")
        method = get("method")
        path = get("path")
        query = get("query_string")
        client = get("client")
        host = client[0] if isinstance(client, (tuple, list)) and client else None
        return RequestInfo(
            method if isinstance(method, str) and method else "GET",
            path if isinstance(path, str) and path else "/",
            query.decode("latin-1") if isinstance(query, (bytes, bytearray)) else "",
            accept,
            request_id,
            scope,
            raw_path(scope),
            host if isinstance(host, str) else None,
            forwarded,
            bypass,
            accept_language,
        )
    except Exception:  # not even a mapping
        return RequestInfo(native=scope)


class GatewayErrorsMiddleware:
    """Answers upstream failures raised by an ASGI app as correct gateway errors.

    Takes the :class:`~gatewayerrors.Settings` options as keyword arguments, one ``settings``
    object, or a ``translator`` shared with another adapter. All request state lives in local
    variables: one instance serves every request.
    """

    failures_after_start: int
    """How many upstream failures came after the app had started its response (the
    connection was aborted instead of answered). A plain counter, for tests and metrics."""

    def __init__(
        self,
        app: ASGIApp,
        settings: Settings | None = None,
        *,
        translator: Translator | None = None,
        **options: Unpack[SettingsOptions],
    ) -> None:
        self.app = app
        self.translator = Translator.for_adapter(settings, translator, options)
        self.failures_after_start = 0
        self._delegated = _is_starlette_app(app)
        if self._delegated:
            # Starlette's ServerErrorMiddleware sits inside the app and would answer 500 (and
            # re-raise) before a wrapper outside could answer: put the middleware inside the
            # app instead, where install() puts it, and pass everything through out here.
            install_inside(app, self.translator)
        elif is_falcon_app(app, asgi=True):
            # Falcon answers every exception itself (its handler for Exception sends a 500):
            # ours, registered in its place, hands upstream failures on to this middleware.
            hand_on_from_falcon(app, self.translator, asgi=True)
        self._maintenance = self.translator.maintenance_check
        self._switch = self.translator.maintenance_switch
        self._request_id_name = self.translator.settings.request_id_header.lower()
        self._request_id_header = self._request_id_name.encode("latin-1")
        self._forward_request_id = self.translator.settings.forward_request_id

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if self._delegated:
            if self._switch is not None and scope["type"] == "lifespan":
                receive = self._lifespan_receive(receive)
            await self.app(scope, receive, send)
            return
        scope_type = scope["type"]
        if scope_type != "http":
            if scope_type == "websocket":
                await self._websocket(scope, receive, send)
            else:
                if self._switch is not None and scope_type == "lifespan":
                    receive = self._lifespan_receive(receive)
                await self.app(scope, receive, send)
            return
        if self._maintenance is not None and await self._maintenance_answer(scope, send):
            return
        started = False

        # A plain function returning the server's own awaitable: no extra coroutine per
        # message, so it costs less than an ``async def`` wrapper (benchmarks/bench_asgi.py).
        def send_tracking(message: Message) -> Awaitable[None]:
            nonlocal started
            if message["type"] == "http.response.start":
                started = True
            return send(message)

        # forward_request_id: the id outgoing calls send on (off by default: costs nothing).
        bound = self._bind_request_id(scope) if self._forward_request_id else None
        try:
            await self.app(scope, receive, send_tracking)
        except Exception as exc:
            if not await self._answer_http(exc, scope, send, started):
                raise
        finally:
            if bound is not None:
                reset_request_id(bound)

    def _bind_request_id(self, scope: Scope) -> Token[list[str | None] | None] | None:
        request_id = None
        wanted = self._request_id_header
        try:
            for name, value in scope.get("headers") or ():
                if name == wanted:
                    request_id = value.decode("latin-1")
                    break
        except Exception:  # headers that break the ASGI spec: no incoming id
            request_id = None
        return self.translator.bind_request_id(request_id)

    def _lifespan_receive(self, receive: Receive) -> Receive:
        """``receive`` for the lifespan scope: the maintenance store's refresher starts with
        the app's startup and stops with its shutdown (it also runs without lifespan)."""
        switch = self._switch
        assert switch is not None

        async def receive_lifespan() -> Message:
            message = await receive()
            kind = message.get("type")
            if kind == "lifespan.startup":
                switch.start()
            elif kind == "lifespan.shutdown":
                switch.stop(timeout=0)  # no join in the event loop: it ends after its read
            return message

        return receive_lifespan

    # -- the error path: everything below runs only when something failed ----------------

    def _request(self, scope: Scope) -> RequestInfo:
        return request_info(scope, self._request_id_header)

    async def _answer_http(self, exc: Exception, scope: Scope, send: Send, started: bool) -> bool:
        """Send the translated error; False means "re-raise" (not ours, or too late)."""
        translator = self.translator
        response = translator.translate(exc, self._request(scope))
        if response is None:
            return False
        if started:
            self.failures_after_start += 1
            await translator.areport(response, exc, response_started=True)
            return False
        observed = False
        try:
            await send(
                {
                    "type": "http.response.start",
                    "status": response.status,
                    "headers": _encode_headers(response.headers, self._request_id_name),
                }
            )
            # Between the start and the body: OpenTelemetry's ASGI instrumentation sets the
            # status on its span at the start and ends the span with the last body message.
            translator.observe(response, exc)
            observed = True
            await send({"type": "http.response.body", "body": response.body})
        finally:
            await translator.areport(response, exc, observed=observed)
        return True

    async def _maintenance_answer(self, scope: Scope, send: Send) -> bool:
        response = self.translator.maintenance_answer(lambda: self._request(scope))
        if response is None:
            return False
        if scope["type"] == "websocket":
            await _deny_websocket(scope, send, response, self._request_id_name)
        else:
            await _send_http(send, response, self._request_id_name)
        return True

    async def _websocket(self, scope: Scope, receive: Receive, send: Send) -> None:
        if self._maintenance is not None and await self._maintenance_answer(scope, send):
            return
        state = _WS_HANDSHAKE

        def send_tracking(message: Message) -> Awaitable[None]:
            nonlocal state
            message_type = message["type"]
            if message_type == "websocket.accept":
                state = _WS_ACCEPTED
            elif message_type in ("websocket.close", "websocket.http.response.start"):
                state = _WS_CLOSED
            return send(message)

        try:
            await self.app(scope, receive, send_tracking)
        except Exception as exc:
            if not await self._answer_websocket(exc, scope, send, state):
                raise

    async def _answer_websocket(self, exc: Exception, scope: Scope, send: Send, state: int) -> bool:
        translator = self.translator
        response = translator.translate(exc, self._request(scope))
        if response is None:
            return False
        if state == _WS_CLOSED:
            self.failures_after_start += 1
            await translator.areport(response, exc, response_started=True)
            return False
        try:
            # A client that already left makes the server raise on send (uvicorn's
            # ClientDisconnected is an OSError): nothing is left to tell it, the log still is.
            with contextlib.suppress(OSError):
                if state == _WS_ACCEPTED:
                    await _close_websocket(send, response)
                else:
                    await _deny_websocket(scope, send, response, self._request_id_name)
        finally:
            await translator.areport(response, exc)
        return True


def install_inside(app: Any, translator: Translator) -> None:
    """Add the middleware to a Starlette app's own stack, innermost of its user middleware
    (what :func:`gatewayerrors.starlette.install` does)."""
    from starlette.middleware import Middleware  # only ever called for a Starlette app

    if app.middleware_stack is not None:
        raise RuntimeError("install() must be called before the application starts serving")
    # user_middleware runs outermost first; Starlette's add_middleware inserts at the front.
    app.user_middleware.append(Middleware(GatewayErrorsMiddleware, translator=translator))


def _is_starlette_app(app: object) -> bool:
    """A Starlette application (FastAPI's included), recognised without importing Starlette."""
    return any(
        cls.__name__ == "Starlette" and cls.__module__.startswith("starlette.")
        for cls in type(app).__mro__
    )


async def _send_http(send: Send, response: ErrorResponse, request_id_name: str) -> None:
    await send(
        {
            "type": "http.response.start",
            "status": response.status,
            "headers": _encode_headers(response.headers, request_id_name),
        }
    )
    await send({"type": "http.response.body", "body": response.body})


async def _close_websocket(send: Send, response: ErrorResponse) -> None:
    error = response.error
    await send(
        {"type": "websocket.close", "code": websocket_close_code(error), "reason": error.code}
    )


async def _deny_websocket(
    scope: Scope, send: Send, response: ErrorResponse, request_id_name: str
) -> None:
    """Refuse a handshake: the HTTP error itself if the server can send it, else a close."""
    if _DENIAL_EXTENSION not in (scope.get("extensions") or {}):
        # Without the extension a close before accept becomes a bare HTTP 403 (ASGI spec).
        await _close_websocket(send, response)
        return
    await send(
        {
            "type": "websocket.http.response.start",
            "status": response.status,
            "headers": _encode_headers(response.headers, request_id_name),
        }
    )
    await send({"type": "websocket.http.response.body", "body": response.body})

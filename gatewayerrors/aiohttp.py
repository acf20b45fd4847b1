"""aiohttp.web: a native middleware, since an aiohttp app is neither ASGI nor WSGI.

    from gatewayerrors.aiohttp import install
    install(app, service="checkout-api")          # before the app starts serving

    # or, in the app's own list:
    app = web.Application(middlewares=[middleware(service="checkout-api")])

The settings are checked at the call: a misspelt option raises there, not at the first request.

An upstream failure raised by a handler becomes the translated 502/503/504 response, returned
like any response, so aiohttp keeps the connection alive and the middleware outside ours (the
ones earlier in ``app.middlewares``) see it. ``web.HTTPException`` (404, redirects...) and
every exception that is not an upstream failure are re-raised untouched: aiohttp answers them
(its 500). Maintenance mode answers before the handler runs (aiohttp runs middleware after
routing, so an unknown path is answered too); with :func:`install` and a
``maintenance_store``, the store's refresher starts on ``app.on_startup`` and stops on
``app.on_cleanup``.

After a handler prepared a ``StreamResponse`` (its headers went out), a new response cannot be
sent: the failure is logged, counted in :attr:`GatewayErrors.failures_after_start` and
re-raised, and aiohttp aborts the connection, so the client sees a broken response rather than
a truncated body that looks complete. The same holds for a WebSocket handler: before
``ws.prepare(request)`` the client's handshake gets the HTTP error; after it, the middleware
has no handle on the socket, so aiohttp drops the connection (the client sees 1006, where the
ASGI adapter can send a 1014 / 1013 close). A body aiohttp itself writes after the handler
returned (an async-iterable payload) fails outside every middleware: aiohttp drops the
connection without telling any middleware.
"""

from __future__ import annotations

from ._optional import require

require("aiohttp", extra="aiohttp", needed_by="gatewayerrors.aiohttp", project="aiohttp")

from collections.abc import Awaitable, Callable
from typing import TYPE_CHECKING
from urllib.parse import unquote

from aiohttp import web

from ._request_context import reset_request_id
from ._settings import Settings, SettingsOptions
from ._translate import ErrorResponse, RequestInfo, Translator

if TYPE_CHECKING:
    from typing_extensions import Unpack

__all__ = ["GatewayErrors", "install", "middleware"]

_Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]


class GatewayErrors:
    """The middleware: answers upstream failures raised by aiohttp handlers.

    Takes the :class:`~gatewayerrors.Settings` options as keyword arguments, one ``settings``
    object, or a ``translator`` shared with another adapter. An instance is the middleware
    (``app.middlewares.append(GatewayErrors(...))``); :func:`install` and :func:`middleware`
    build one. All request state lives in local variables: one instance serves every request.
    """

    __middleware_version__ = 1  # aiohttp's mark of a new-style middleware (@web.middleware)

    failures_after_start: int
    """How many upstream failures came after the handler had started its response (the
    connection was aborted instead of answered). A plain counter, for tests and metrics."""

    def __init__(
        self,
        settings: Settings | None = None,
        *,
        translator: Translator | None = None,
        **options: Unpack[SettingsOptions],
    ) -> None:
        self.translator = Translator.for_adapter(settings, translator, options)
        self.failures_after_start = 0
        settings = self.translator.settings
        self._maintenance = self.translator.maintenance_check
        self._request_id_header = settings.request_id_header
        self._forward_request_id = settings.forward_request_id

    async def __call__(self, request: web.Request, handler: _Handler) -> web.StreamResponse:
        if self._maintenance is not None:
            early = self.translator.maintenance_answer(lambda: self._request(request))
            if early is not None:
                return _web_response(early)
        # forward_request_id: the id outgoing calls send on (off by default: costs nothing).
        bound = None
        if self._forward_request_id:
            bound = self.translator.bind_request_id(_last(request, self._request_id_header))
        try:
            return await handler(request)
        except web.HTTPException:
            raise  # aiohttp's own answers (404, redirects): not failures, not ours
        except Exception as exc:
            response = await self._answer(exc, request)
            if response is None:
                raise
            return response
        finally:
            if bound is not None:
                reset_request_id(bound)

    # -- the error path: everything below runs only when something failed ----------------

    async def _answer(self, exc: Exception, request: web.Request) -> web.Response | None:
        """The translated response; None means "re-raise" (not ours, or too late)."""
        translator = self.translator
        response = translator.translate(exc, self._request(request))
        if response is None:
            return None
        if _started(request):
            self.failures_after_start += 1
            await translator.areport(response, exc, response_started=True)
            return None
        await translator.areport(response, exc)
        return _web_response(response)

    def _request(self, request: web.Request) -> RequestInfo:
        """The core's view of the request. Never raises: what cannot be read gets its default,
        so the handler's exception, not an error of ours, is answered or re-raised."""
        try:
            target = request.raw_path
            if not target.startswith("/") and "://" in target:  # absolute-form (a proxy)
                target = "/" + target.partition("://")[2].partition("/")[2]
            raw_path, _, query = target.partition("?")
            raw_path = raw_path.partition("#")[0]
            # Decoded as ASGI servers decode it (yarl keeps an invalid UTF-8 escape as it
            # is): the same request gives the same path, exempt match and instance.
            path = unquote(raw_path, errors="replace") if raw_path else request.path
            client = request.remote
            return RequestInfo(
                request.method or "GET",
                path or "/",
                query.partition("#")[0],
                _joined(request, "Accept"),
                _last(request, self._request_id_header),
                request,
                raw_path or None,
                client if isinstance(client, str) and client else None,
                _joined(request, "X-Forwarded-For"),
                _last(request, "X-Maintenance-Bypass"),
                _joined(request, "Accept-Language"),
            )
        except Exception:  # a request object that breaks aiohttp's own interface
            return RequestInfo(native=request)


def middleware(
    settings: Settings | None = None,
    *,
    translator: Translator | None = None,
    **options: Unpack[SettingsOptions],
) -> GatewayErrors:
    """The middleware for ``web.Application(middlewares=[...])`` or ``app.middlewares``.

    Raises :class:`~gatewayerrors.SettingsError` (or ``TypeError`` for an unknown option) at
    once for invalid settings. A ``maintenance_store``'s refresher runs from here on; use
    :func:`install` to tie it to the app's startup and cleanup.
    """
    return GatewayErrors(settings, translator=translator, **options)


def install(
    app: web.Application,
    settings: Settings | None = None,
    *,
    translator: Translator | None = None,
    **options: Unpack[SettingsOptions],
) -> GatewayErrors:
    """Append the middleware to ``app.middlewares`` (innermost of those listed so far: add it
    after middleware that should see its responses) and tie a ``maintenance_store``'s
    refresher to ``app.on_startup`` / ``app.on_cleanup``.

    Call it before the app starts serving. Returns the middleware (its ``translator`` can be
    shared with another adapter). Raises :class:`~gatewayerrors.SettingsError` (or
    ``TypeError`` for an unknown option) at once for invalid settings.
    """
    if app.frozen:
        raise RuntimeError("install() must be called before the application starts serving")
    found = GatewayErrors(settings, translator=translator, **options)
    app.middlewares.append(found)
    switch = found.translator.maintenance_switch
    if switch is not None:

        async def start_refresher(app: web.Application) -> None:
            switch.start()

        async def stop_refresher(app: web.Application) -> None:
            switch.stop(timeout=0)  # no join in the event loop: it ends after its read

        app.on_startup.append(start_refresher)
        app.on_cleanup.append(stop_refresher)
    return found


def _web_response(response: ErrorResponse) -> web.Response:
    """``response`` as aiohttp sends it: the core's headers as they are (aiohttp keeps a given
    Content-Length, so a HEAD answer has the GET one), its body, and aiohttp's own framing."""
    return web.Response(status=response.status, body=response.body, headers=response.headers)


def _started(request: web.Request) -> bool:
    """Whether bytes of a response already went out: aiohttp's own test before it answers
    (``RequestHandler.handle_error``)."""
    return request.writer.output_size > 0


def _joined(request: web.Request, name: str) -> str | None:
    """Every value of a request header, comma-joined (RFC 9110 §5.3), or None."""
    values = request.headers.getall(name, None)
    return ", ".join(values) if values else None


def _last(request: web.Request, name: str) -> str | None:
    values = request.headers.getall(name, None)
    return values[-1] if values else None

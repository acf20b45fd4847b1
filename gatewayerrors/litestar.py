"""Litestar: ``plugins=[GatewayErrorsPlugin(...)]`` answers upstream failures in one line.

    from litestar import Litestar
    from gatewayerrors.litestar import GatewayErrorsPlugin

    app = Litestar(route_handlers=[...], plugins=[GatewayErrorsPlugin(service="checkout-api")])

The settings are checked when the plugin is built: a misspelt option raises there.

Litestar catches every exception itself: each route's middleware stack ends in its own
exception middleware, so a middleware in ``Litestar(middleware=[...])``, and a wrapper around
the whole app, only ever see a 500 response. The plugin therefore adds two things:

- an exception handler for ``Exception`` that re-raises what the library answers (an upstream
  failure, however deep in the exception's chain) and gives everything else to the handler
  Litestar would have picked without it: your handler for ``500`` or ``Exception``, else
  Litestar's own 500 (or its debug page). ``HTTPException`` goes to Litestar as before;
- :class:`~gatewayerrors.GatewayErrorsMiddleware`, appended to the app's middleware (innermost
  of them, so a translated error goes through your middleware like any response), which
  answers what the handler re-raised with the same bytes as every other adapter, answers
  maintenance mode, and logs a failure after a streamed response started.

A handler you register for a more specific class (``exception_handlers={httpx.ConnectError:
...}``) wins: Litestar picks it before the one for ``Exception``.
"""

from __future__ import annotations

from ._optional import require

require("litestar", extra="litestar", needed_by="gatewayerrors.litestar", project="Litestar")

from typing import TYPE_CHECKING, Any, cast

from litestar.exceptions import HTTPException
from litestar.exceptions.responses import create_debug_response, create_exception_response
from litestar.middleware import DefineMiddleware
from litestar.plugins import InitPlugin
from litestar.status_codes import HTTP_500_INTERNAL_SERVER_ERROR

from ._settings import Settings, SettingsOptions
from ._translate import Translator, translates
from .asgi import GatewayErrorsMiddleware, Receive, Scope, Send

if TYPE_CHECKING:
    from litestar import Request, Response
    from litestar.config.app import AppConfig
    from litestar.types import ExceptionHandler, ExceptionHandlersMap
    from typing_extensions import Unpack

__all__ = ["GatewayErrorsPlugin"]


class GatewayErrorsPlugin(InitPlugin):
    """The Litestar plugin. Takes :class:`~gatewayerrors.Settings` options as keyword
    arguments, one ``settings`` object, or a shared ``translator``.

    Raises :class:`~gatewayerrors.SettingsError` (or ``TypeError`` for an unknown option) at
    once for invalid settings.
    """

    __slots__ = ("translator",)

    def __init__(
        self,
        settings: Settings | None = None,
        *,
        translator: Translator | None = None,
        **options: Unpack[SettingsOptions],
    ) -> None:
        self.translator = Translator.for_adapter(settings, translator, options)

    def on_app_init(self, app_config: AppConfig) -> AppConfig:
        """Add the exception handler and the middleware to the app being built."""
        handlers = app_config.exception_handlers
        handlers[Exception] = _handler(self.translator, handlers.get(Exception))
        app_config.middleware.append(
            # Litestar's ASGI types are TypedDicts; the middleware takes any mapping.
            DefineMiddleware(cast("Any", _RouteMiddleware), translator=self.translator)
        )
        switch = self.translator.maintenance_switch
        if switch is not None:
            # The middleware sits in each route's stack and never sees the lifespan scope:
            # the shared maintenance state's refresher follows the app's startup and shutdown.
            app_config.on_startup.append(switch.start)
            app_config.on_shutdown.append(lambda: switch.stop(timeout=0))
        return app_config


_INSIDE = "gatewayerrors.inside"
"""Scope key: True while the route runs inside the middleware."""


class _RouteMiddleware(GatewayErrorsMiddleware):
    """The middleware, marking the scope while the route runs inside it, so the handler only
    re-raises to a middleware that will catch it (not for an upstream failure raised in your
    middleware outside ours, which Litestar's outer exception middleware handles)."""

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        scope[_INSIDE] = True
        try:
            await super().__call__(scope, receive, send)
        finally:
            scope[_INSIDE] = False


def _handler(
    translator: Translator, replaced: ExceptionHandler[Exception] | None
) -> ExceptionHandler[Exception]:
    """The handler for ``Exception``: re-raise ours, else what Litestar would have done with
    the app's handlers (``replaced``: the app's own handler for ``Exception``, if any)."""

    def gatewayerrors_exception_handler(
        request: Request[Any, Any, Any], exc: Exception
    ) -> Response[Any]:
        if request.scope.get(_INSIDE) and translates(translator, exc):
            raise exc  # answered by the middleware just outside Litestar's exception middleware
        handler = _next_handler(request, exc, gatewayerrors_exception_handler, replaced)
        if handler is not None:
            return handler(request, exc)
        return _litestar_default(request, exc)

    return gatewayerrors_exception_handler


def _next_handler(
    request: Request[Any, Any, Any],
    exc: Exception,
    ours: ExceptionHandler[Exception],
    replaced: ExceptionHandler[Exception] | None,
) -> ExceptionHandler[Exception] | None:
    """The handler Litestar's lookup picks for ``exc`` without ours: the nearest class in the
    MRO, else (not an ``HTTPException``) the one for 500."""
    route_handler = request.scope.get("route_handler")
    layers = (
        route_handler.resolve_exception_handlers()
        if route_handler is not None
        else request.app.exception_handlers  # not routed (404, 405): the app's handlers
    )
    handlers: ExceptionHandlersMap = {}
    for key, value in layers.items():
        handler = replaced if value is ours else value
        if handler is not None:
            handlers[key] = handler
    # A handler for an HTTPException's status code never gets here: Litestar picks it first.
    for cls in type(exc).__mro__:
        handler = handlers.get(cls)
        if handler is not None:
            return handler
    if isinstance(exc, HTTPException):
        return None
    return handlers.get(HTTP_500_INTERNAL_SERVER_ERROR)


def _litestar_default(request: Request[Any, Any, Any], exc: Exception) -> Response[Any]:
    """What Litestar answers when no handler is registered (its exception middleware's
    default): the debug page for a 500 in debug mode, else its exception response."""
    status = exc.status_code if isinstance(exc, HTTPException) else HTTP_500_INTERNAL_SERVER_ERROR
    if status == HTTP_500_INTERNAL_SERVER_ERROR and request.app.debug:
        return create_debug_response(request, exc)
    return create_exception_response(request, exc)

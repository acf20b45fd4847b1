"""Quart: ``install(app)`` answers upstream failures in one line.

    from quart import Quart
    from gatewayerrors.quart import install

    app = Quart(__name__)
    install(app, service="checkout-api")

The settings are checked at the ``install`` call: a misspelt option raises there.

Quart answers every exception inside the app (its ``handle_exception`` sends a 500, or in debug
and testing mode re-raises it to its ASGI layer, which sends a traceback page), so a wrapper
around the app only ever sees finished responses. ``install`` hooks in where Quart decides:

- **Quart's exception handling** (``app.handle_user_exception``): an upstream failure, however
  deep in the exception's chain, for which the app registered no handler of its own, is
  answered with the same bytes as every other adapter, as the app's response (so
  ``after_request`` functions, CORS included, see it). A handler you register for its class
  (``@app.errorhandler(httpx.ConnectError)``) wins; one for ``Exception`` is a catch-all, and
  gets only what this library does not answer, like your handler for ``500``.
- **Quart's unhandled path** (``app.handle_exception``): an upstream failure raised outside the
  view (an ``after_request`` function, an error handler) is answered the same way; anything
  else goes on to Quart's own handling (``got_request_exception``, the log, the 500).
- **The ASGI app** (``app.asgi_app``): :class:`~gatewayerrors.GatewayErrorsMiddleware` answers
  maintenance mode before Quart does any work and logs a failure after a streamed response
  started.
"""

from __future__ import annotations

from ._optional import require

require("quart", extra="quart", needed_by="gatewayerrors.quart", project="Quart")

from typing import TYPE_CHECKING, Any, cast

from quart import Quart, Response, has_request_context, request
from werkzeug.exceptions import HTTPException

from ._settings import Settings, SettingsOptions
from ._translate import Translator
from .asgi import ASGIApp, GatewayErrorsMiddleware, Scope, request_info

if TYPE_CHECKING:
    from quart.typing import ResponseReturnValue, ResponseTypes
    from typing_extensions import Unpack

__all__ = ["install"]

# A handler for one of these is a catch-all, like one for 500: it gets what we do not answer.
_CATCH_ALL = (Exception, BaseException)


def install(
    app: Quart,
    settings: Settings | None = None,
    *,
    translator: Translator | None = None,
    **options: Unpack[SettingsOptions],
) -> Translator:
    """Answer upstream failures in ``app`` and wrap its ``asgi_app``.

    Call it before the app starts serving. Returns the translator, for sharing with another
    adapter. Raises :class:`~gatewayerrors.SettingsError` (or ``TypeError`` for an unknown
    option) at once for invalid settings.
    """
    translator = Translator.for_adapter(settings, translator, options)
    request_id_header = translator.settings.request_id_header.lower().encode("latin-1")
    handle_user_exception = app.handle_user_exception
    handle_exception = app.handle_exception

    async def respond(error: Exception) -> Response | None:
        native = request._get_current_object()  # type: ignore[attr-defined, unused-ignore]  # typed from Quart 0.23
        info = request_info(cast("Scope", request.scope), request_id_header)._replace(native=native)
        response = translator.translate(error, info)
        if response is None:
            return None
        rv = app.response_class(response.body, status=response.status)
        rv.headers.clear()  # exactly the core's headers, in its order
        rv.headers.extend(response.headers)
        await translator.areport(response, error)
        return rv

    # Quart 0.23 passes the context first (handle_user_exception(ctx, error)), earlier
    # versions only the error: the hooks take what they are given and pass it on.
    async def handle_user_exception_first(*args: Any) -> HTTPException | ResponseReturnValue:
        error = args[-1]
        # WebSocket errors come here too: they are left to Quart.
        if (
            has_request_context()
            and not isinstance(error, HTTPException)
            and not _has_own_handler(app, error)
        ):
            rv = await respond(error)
            if rv is not None:
                return rv
        return await handle_user_exception(*args)

    async def handle_exception_first(*args: Any) -> ResponseTypes:
        rv = await respond(args[-1])
        if rv is None:
            return await handle_exception(*args)
        finalize_request: Any = app.finalize_request
        return await finalize_request(*args[:-1], rv, from_error_handler=True)  # type: ignore[no-any-return]

    # Quart's signature (error; ctx, error from 0.23) differs from the version mypy checked.
    app.handle_user_exception = cast("Any", handle_user_exception_first)  # type: ignore[method-assign]
    app.handle_exception = cast("Any", handle_exception_first)  # type: ignore[method-assign]
    # Quart's ASGI types are TypedDicts; the middleware takes any mapping.
    inner = cast("ASGIApp", app.asgi_app)
    app.asgi_app = cast("Any", GatewayErrorsMiddleware(inner, translator=translator))  # type: ignore[method-assign]
    return translator


def _has_own_handler(app: Quart, error: Exception) -> bool:
    """Whether the app registered a handler for a class of ``error`` other than a catch-all:
    Quart's own lookup (blueprints first, then the app; the nearest class first)."""
    for name in (*request.blueprints, None):
        handlers = app.error_handler_spec[name][None]
        for cls in type(error).__mro__:
            if cls in handlers:
                return cls not in _CATCH_ALL
    return False

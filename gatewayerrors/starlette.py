"""Starlette and FastAPI: ``install(app)`` adds :class:`GatewayErrorsMiddleware` in one line.

    from gatewayerrors.starlette import install
    install(app, service="checkout-api")

The settings are checked at the ``install`` call: a misspelt option or a missing templates
folder raises there, not at the first request.

The middleware lands inside every middleware the app has, whatever the order of the calls
(before or after ``install``), and outside Starlette's ``ExceptionMiddleware``:

- a translated error passes through the app's own middleware — CORS (so a browser app can read
  the problem body), security headers, compression — like any response of the app;
- an exception handler you register for a class
  (``app.add_exception_handler(httpx.ConnectError, ...)``) still wins for that class, and your
  handler for ``500`` / ``Exception`` still gets every exception this library does not translate.

``app.add_middleware(GatewayErrorsMiddleware, ...)`` works too, but places the middleware where
Starlette puts the last one added: outside the middleware added before it (a CORS middleware
added earlier does not see our responses), and Starlette builds it lazily, so its options are
only checked at the first request.
"""

from __future__ import annotations

from ._optional import require

require("starlette", extra="starlette", needed_by="gatewayerrors.starlette", project="Starlette")

from typing import TYPE_CHECKING

from ._settings import Settings, SettingsOptions
from ._translate import Translator
from .asgi import install_inside

if TYPE_CHECKING:
    from starlette.applications import Starlette
    from typing_extensions import Unpack

__all__ = ["install"]


def install(
    app: Starlette,
    settings: Settings | None = None,
    *,
    translator: Translator | None = None,
    **options: Unpack[SettingsOptions],
) -> Translator:
    """Add the middleware to a Starlette or FastAPI app, innermost of its middleware.

    Call it before the app starts serving. Returns the translator, for sharing with another
    adapter. Raises :class:`~gatewayerrors.SettingsError` (or ``TypeError`` for an unknown
    option) at once for invalid settings.
    """
    translator = Translator.for_adapter(settings, translator, options)
    install_inside(app, translator)
    return translator

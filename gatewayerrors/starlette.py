"""Starlette and FastAPI: ``install(app)`` adds :class:`GatewayErrorsMiddleware` in one line.

    from gatewayerrors.starlette import install
    install(app, service="checkout-api")

The middleware lands outside Starlette's ``ExceptionMiddleware`` and inside its
``ServerErrorMiddleware``: an exception handler you register for a class
(``app.add_exception_handler(httpx.ConnectError, ...)``) still wins for that class, and your
handler for ``500`` / ``Exception`` still gets every exception this library does not translate.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from .asgi import GatewayErrorsMiddleware

if TYPE_CHECKING:
    from starlette.applications import Starlette
    from typing_extensions import Unpack

    from ._settings import Settings, SettingsOptions

__all__ = ["install"]


def install(
    app: Starlette, settings: Settings | None = None, **options: Unpack[SettingsOptions]
) -> None:
    """Add the middleware to a Starlette or FastAPI app (before it starts serving)."""
    app.add_middleware(GatewayErrorsMiddleware, settings=settings, **options)

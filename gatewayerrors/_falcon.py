"""Falcon, recognised without importing it: both its apps answer every exception themselves.

Falcon (3 and later) registers a handler for ``Exception`` that logs the error and sends a 500,
so a middleware around the app would only ever see that 500. The adapters register their own
handler in its place: it re-raises an upstream failure (Falcon then lets it out of the app, its
documented way to "handle errors outside of the Falcon app") and passes everything else to the
handler it replaced, so Falcon's own 500 (or the app's handler for ``Exception``) is unchanged.
"""

from __future__ import annotations

import inspect
from typing import Any

from ._translate import Translator, translates


def is_falcon_app(app: object, *, asgi: bool) -> bool:
    """A Falcon ASGI (``falcon.asgi.App``) or WSGI (``falcon.App``) application."""
    modules = {f"{cls.__module__}.{cls.__name__}" for cls in type(app).__mro__}
    if asgi:
        return "falcon.asgi.app.App" in modules
    return "falcon.app.App" in modules and "falcon.asgi.app.App" not in modules


def hand_on_from_falcon(app: Any, translator: Translator, *, asgi: bool) -> None:
    """Register, for ``Exception`` on a Falcon app, a handler that re-raises what
    ``translator`` answers and passes everything else to the handler it replaces."""
    # Falcon keeps one handler per class and has no public getter: the one it installs for
    # Exception (its 500) lives in _error_handlers since Falcon 3.
    previous = getattr(app, "_error_handlers", {}).get(Exception)
    if asgi:
        takes_ws = previous is not None and _takes_ws(previous)

        async def gatewayerrors_error_handler(
            req: Any, resp: Any, ex: Exception, params: Any, ws: Any = None
        ) -> None:
            if previous is None or translates(translator, ex):
                raise ex
            if ws is not None and takes_ws:  # Falcon passes it only to a handler that takes it
                await previous(req, resp, ex, params, ws=ws)
            else:
                await previous(req, resp, ex, params)

        app.add_error_handler(Exception, gatewayerrors_error_handler)
        return

    def gatewayerrors_wsgi_error_handler(req: Any, resp: Any, ex: Exception, params: Any) -> None:
        if previous is None or translates(translator, ex):
            raise ex
        previous(req, resp, ex, params)

    app.add_error_handler(Exception, gatewayerrors_wsgi_error_handler)


def _takes_ws(handler: Any) -> bool:
    # Falcon reads the same signature when the handler is called (falcon.util.misc).
    return "ws" in inspect.signature(handler).parameters

"""The contract app on Falcon (WSGI), behind the generic WSGI middleware.

Falcon 3+ answers every exception a responder raises with its own 500 (its default handler for
``Exception``); the middleware, recognising a Falcon app, registers one in its place that
re-raises upstream failures out of Falcon (docs/wsgi.md, "Falcon (WSGI)"). Its handlers for
``HTTPError`` and ``HTTPStatus`` stay Falcon's: a more specific class wins.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any, cast

import falcon
from adapter_servers import call_upstream, stream_body

from gatewayerrors import GatewayErrorsWSGIMiddleware

if TYPE_CHECKING:
    from _typeshed.wsgi import WSGIApplication


def build(urls: dict[str, str], options: dict[str, Any]) -> Any:
    """The Falcon WSGI app of the shared interface, wrapped with ``options``."""

    class Hello:
        def on_get(self, req: falcon.Request, resp: falcon.Response) -> None:
            resp.content_type = falcon.MEDIA_TEXT
            resp.text = "hello"

        on_head = on_get

    class Fault:
        def on_get(
            self, req: falcon.Request, resp: falcon.Response, name: str, rest: str = ""
        ) -> None:
            call_upstream(urls, name)

        on_head = on_post = on_get

    class Stream:
        def on_get(self, req: falcon.Request, resp: falcon.Response, name: str) -> None:
            resp.content_type = falcon.MEDIA_TEXT
            resp.stream = stream_body(urls, name)

    app = falcon.App()
    app.add_route("/ok", Hello())
    app.add_route("/health", Hello())
    app.add_route("/fault/{name}", Fault())
    app.add_route("/fault/{name}/{rest:path}", Fault())
    app.add_route("/stream/{name}", Stream())
    # Falcon types its start_response without the optional exc_info argument, narrower than
    # PEP 3333's (typeshed's WSGIApplication): the app is a WSGI app all the same.
    return GatewayErrorsWSGIMiddleware(cast("WSGIApplication", app), **options)

"""The contract app on Falcon (ASGI), wrapped in the ASGI middleware (docs/falcon.md).

``build(urls, options)`` follows the shared interface of the framework apps (see
tests/helpers/adapter_servers.py): ``GET|HEAD /ok`` and ``/health``, ``/fault/<name>[/...]``,
``/stream/<name>``.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from typing import Any, cast

import falcon
import falcon.asgi
from adapter_servers import call_upstream

from gatewayerrors import GatewayErrorsMiddleware
from gatewayerrors.asgi import ASGIApp


class Hello:
    async def on_get(self, req: falcon.asgi.Request, resp: falcon.asgi.Response) -> None:
        resp.content_type = falcon.MEDIA_TEXT
        resp.text = "hello"

    on_head = on_get


class Fault:
    def __init__(self, urls: dict[str, str]) -> None:
        self.urls = urls

    async def on_get(
        self, req: falcon.asgi.Request, resp: falcon.asgi.Response, name: str, rest: str = ""
    ) -> None:
        await asyncio.to_thread(call_upstream, self.urls, name)

    on_head = on_get


class Stream:
    def __init__(self, urls: dict[str, str]) -> None:
        self.urls = urls

    async def on_get(self, req: falcon.asgi.Request, resp: falcon.asgi.Response, name: str) -> None:
        async def body() -> AsyncIterator[bytes]:
            yield b"first\n"
            await asyncio.to_thread(call_upstream, self.urls, name)

        resp.content_type = falcon.MEDIA_TEXT
        resp.stream = body()


def build(urls: dict[str, str], options: dict[str, Any]) -> GatewayErrorsMiddleware:
    app = falcon.asgi.App()
    app.add_route("/ok", Hello())
    app.add_route("/health", Hello())
    app.add_route("/fault/{name}", Fault(urls))
    app.add_route("/fault/{name}/{rest:path}", Fault(urls))
    app.add_route("/stream/{name}", Stream(urls))
    # Falcon types the scope as a dict, the middleware as any mutable mapping.
    return GatewayErrorsMiddleware(cast("ASGIApp", app), **options)

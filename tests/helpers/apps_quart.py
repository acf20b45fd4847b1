"""The contract app on Quart, with gatewayerrors through ``install`` (docs/quart.md).

``build(urls, options)`` follows the shared interface of the framework apps (see
tests/helpers/adapter_servers.py): ``GET|HEAD /ok`` and ``/health``, ``/fault/<name>[/...]``,
``/stream/<name>``.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from typing import Any

from adapter_servers import call_upstream
from quart import Quart, Response

from gatewayerrors.quart import install


def build(urls: dict[str, str], options: dict[str, Any]) -> Quart:
    app = Quart(__name__)

    @app.route("/ok", methods=["GET", "HEAD"])
    @app.route("/health", methods=["GET", "HEAD"])
    async def ok() -> Response:
        return Response("hello", content_type="text/plain")

    @app.route("/fault/<name>", methods=["GET", "HEAD"])
    @app.route("/fault/<name>/<path:rest>", methods=["GET", "HEAD"])
    async def fault(name: str, rest: str = "") -> str:
        await asyncio.to_thread(call_upstream, urls, name)
        return "unreachable"

    @app.route("/stream/<name>")
    async def stream(name: str) -> Response:
        async def body() -> AsyncIterator[bytes]:
            yield b"first\n"
            await asyncio.to_thread(call_upstream, urls, name)

        return Response(body(), content_type="text/plain")

    install(app, **options)
    return app

"""The contract app on Litestar, with gatewayerrors through its plugin (docs/litestar.md).

``build(urls, options)`` follows the shared interface of the framework apps (see
tests/helpers/adapter_servers.py): ``GET|HEAD /ok`` and ``/health``, ``/fault/<name>[/...]``,
``/stream/<name>``.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from typing import Any

from adapter_servers import call_upstream
from litestar import Litestar, MediaType, route
from litestar.logging import LoggingConfig
from litestar.params import FromPath
from litestar.response import Stream

from gatewayerrors.litestar import GatewayErrorsPlugin


def build(urls: dict[str, str], options: dict[str, Any]) -> Litestar:
    @route(["/ok", "/health"], http_method=["GET", "HEAD"], media_type=MediaType.TEXT)
    async def ok() -> str:
        return "hello"

    @route(["/fault/{name:str}", "/fault/{name:str}/{rest:path}"], http_method=["GET", "HEAD"])
    async def fault(name: FromPath[str]) -> str:
        await asyncio.to_thread(call_upstream, urls, name)
        return "unreachable"

    @route("/stream/{name:str}", http_method=["GET"])
    async def stream(name: FromPath[str]) -> Stream:
        async def body() -> AsyncIterator[bytes]:
            yield b"first\n"
            await asyncio.to_thread(call_upstream, urls, name)

        return Stream(body(), media_type=MediaType.TEXT)

    return Litestar(
        [ok, fault, stream],
        plugins=[GatewayErrorsPlugin(**options)],
        # Litestar's default logging config adds a handler of its own to the root logger.
        logging_config=LoggingConfig(configure_root_logger=False),
    )

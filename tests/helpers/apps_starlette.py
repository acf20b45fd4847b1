"""The contract apps on Starlette and FastAPI, with gatewayerrors through ``install()``
(docs/asgi.md).

``build(urls, options)`` and ``build_fastapi(urls, options)`` follow the shared interface of the
framework apps (see tests/helpers/adapter_servers.py): ``GET|HEAD /ok`` and ``/health``,
``/fault/<name>[/...]``, ``/stream/<name>``.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from typing import Any

from adapter_servers import STREAM_FIRST, call_upstream
from fastapi import FastAPI
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import PlainTextResponse, StreamingResponse
from starlette.routing import Route

from gatewayerrors.starlette import install


async def _fail(urls: dict[str, str], name: str) -> None:
    await asyncio.to_thread(call_upstream, urls, name)


def _stream(urls: dict[str, str], name: str) -> StreamingResponse:
    async def body() -> AsyncIterator[bytes]:
        yield STREAM_FIRST
        await _fail(urls, name)

    return StreamingResponse(body(), media_type="text/plain")


def build(urls: dict[str, str], options: dict[str, Any]) -> Starlette:
    """The Starlette app, ``install(app, **options)``."""

    async def ok(request: Request) -> PlainTextResponse:
        return PlainTextResponse("hello")

    async def fault(request: Request) -> PlainTextResponse:
        await _fail(urls, request.path_params["name"])
        return PlainTextResponse("unreachable")

    async def stream(request: Request) -> StreamingResponse:
        return _stream(urls, request.path_params["name"])

    app = Starlette(
        routes=[
            Route("/ok", ok),  # GET routes answer HEAD too
            Route("/health", ok),
            Route("/fault/{name}", fault, methods=["GET", "POST"]),
            Route("/fault/{name}/{rest:path}", fault, methods=["GET", "POST"]),
            Route("/stream/{name}", stream),
        ]
    )
    install(app, **options)
    return app


def build_fastapi(urls: dict[str, str], options: dict[str, Any]) -> FastAPI:
    """The FastAPI app, ``install(app, **options)``."""
    app = FastAPI()

    @app.api_route("/ok", methods=["GET", "HEAD"], response_class=PlainTextResponse)
    @app.api_route("/health", methods=["GET", "HEAD"], response_class=PlainTextResponse)
    async def ok() -> str:
        return "hello"

    @app.api_route("/fault/{name}", methods=["GET", "HEAD", "POST"])
    @app.api_route("/fault/{name}/{rest:path}", methods=["GET", "HEAD", "POST"])
    async def fault(name: str) -> str:
        await _fail(urls, name)
        return "unreachable"

    @app.get("/stream/{name}")
    async def stream(name: str) -> StreamingResponse:
        return _stream(urls, name)

    install(app, **options)
    return app

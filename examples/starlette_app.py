"""A Starlette service whose failing upstream calls become correct 502/503/504 answers.

    pip install 'gatewayerrors[demo]'
    python examples/starlette_app.py                 # serves http://127.0.0.1:8000
    curl -i http://127.0.0.1:8000/quote              # 502 connection_refused, problem+json
    curl -i -H 'Accept: text/html' http://127.0.0.1:8000/quote
    curl -i http://127.0.0.1:8000/checkout           # 503 circuit_open, Retry-After: 30

QUOTES_URL points at the upstream (default: a port where nothing listens); PORT sets the port.
"""

from __future__ import annotations

import contextlib
import logging
import os
from collections.abc import AsyncIterator
from typing import Any

import httpx
import uvicorn
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, PlainTextResponse, Response
from starlette.routing import Route

from gatewayerrors import ServiceUnavailable
from gatewayerrors.starlette import install

QUOTES_URL = os.environ.get("QUOTES_URL", "http://127.0.0.1:9/")


@contextlib.asynccontextmanager
async def lifespan(app: Starlette) -> AsyncIterator[dict[str, Any]]:
    async with httpx.AsyncClient(timeout=httpx.Timeout(5.0, read=2.0)) as client:
        yield {"client": client}


async def quote(request: Request) -> Response:
    # No try/except: a refused, reset, timed-out or 5xx upstream becomes the right answer.
    response = await request.state.client.get(QUOTES_URL)
    response.raise_for_status()
    return JSONResponse(response.json())


async def checkout(request: Request) -> Response:
    # An upstream failure the app detects itself (say, its circuit breaker is open).
    raise ServiceUnavailable(code="circuit_open", retry_after=30, upstream="payments")


async def health(request: Request) -> Response:
    return PlainTextResponse("ok")


app = Starlette(
    routes=[Route("/quote", quote), Route("/checkout", checkout), Route("/health", health)],
    lifespan=lifespan,
)
install(app, service="quotes-api")

if __name__ == "__main__":
    logging.basicConfig(level=logging.INFO)
    uvicorn.run(app, host="127.0.0.1", port=int(os.environ.get("PORT", "8000")))

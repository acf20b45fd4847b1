"""Fail fast in an outage: real circuit breakers in front of httpx and requests calls.

    pip install 'gatewayerrors[demo]' aiobreaker pybreaker requests
    python examples/breaker_app.py                  # serves http://127.0.0.1:8000
    curl -i http://127.0.0.1:8000/orders/42          # 502 connection_refused, 5 times, then
    curl -i http://127.0.0.1:8000/orders/42          # 503 circuit_open, Retry-After: <= 30
    curl -i http://127.0.0.1:8000/stock/42           # the same with requests and pybreaker

Without a breaker, every request during an outage waits for the upstream (up to its timeout)
and logs a traceback. With one, after ``fail_max`` failures the breaker answers at once for
``reset`` seconds: gatewayerrors turns that into 503 ``circuit_open`` with ``Retry-After`` set
to the seconds until the breaker lets a trial call through, and logs no traceback for it.

ORDERS_URL and STOCK_URL point at the upstreams (default: ports where nothing listens);
PORT sets the port. The upstreams are named (``upstream_names``) after their host:port, so the
``upstream`` member says "orders" or "stock" and never the host.
"""

from __future__ import annotations

import contextlib
import logging
import os
from collections.abc import AsyncIterator
from datetime import timedelta
from typing import Any
from urllib.parse import urlsplit

import aiobreaker
import httpx
import pybreaker
import requests
import uvicorn
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, PlainTextResponse, Response
from starlette.routing import Route

from gatewayerrors.starlette import install

ORDERS_URL = os.environ.get("ORDERS_URL", "http://127.0.0.1:9/")
STOCK_URL = os.environ.get("STOCK_URL", "http://127.0.0.1:7/")
FAIL_MAX = 5
RESET = 30  # seconds the circuit stays open before one trial call

# One breaker per upstream, shared by every request (module level, or app state).
orders_breaker = aiobreaker.CircuitBreaker(
    fail_max=FAIL_MAX, timeout_duration=timedelta(seconds=RESET), name="orders"
)
stock_breaker = pybreaker.CircuitBreaker(fail_max=FAIL_MAX, reset_timeout=RESET, name="stock")


@contextlib.asynccontextmanager
async def lifespan(app: Starlette) -> AsyncIterator[dict[str, Any]]:
    async with httpx.AsyncClient(timeout=httpx.Timeout(1.0)) as client:
        yield {"client": client}


async def fetch_order(client: httpx.AsyncClient, order_id: str) -> Any:
    # raise_for_status() inside the breaker: an upstream 5xx counts as a failure too.
    response = await client.get(f"{ORDERS_URL}orders/{order_id}")
    return response.raise_for_status().json()


async def order(request: Request) -> Response:
    # No try/except: refused → 502, timeout → 504, open circuit → 503 with Retry-After.
    found = await orders_breaker.call_async(
        fetch_order, request.state.client, request.path_params["id"]
    )
    return JSONResponse(found)


def fetch_stock(item_id: str) -> Any:
    response = requests.get(f"{STOCK_URL}stock/{item_id}", timeout=1)
    response.raise_for_status()
    return response.json()


def stock(request: Request) -> Response:
    # A sync endpoint (Starlette runs it in its thread pool), as in a Flask or Django view.
    return JSONResponse(stock_breaker.call(fetch_stock, request.path_params["id"]))


async def health(request: Request) -> Response:
    return PlainTextResponse("ok")


def host_port(url: str) -> str:
    parts = urlsplit(url)
    return f"{parts.hostname}:{parts.port or 80}"


app = Starlette(
    routes=[
        Route("/orders/{id}", order),
        Route("/stock/{id}", stock),
        Route("/health", health),
    ],
    lifespan=lifespan,
)
install(
    app,
    service="shop-api",
    upstream_names={host_port(ORDERS_URL): "orders", host_port(STOCK_URL): "stock"},
    retry_after_jitter=0.1,  # spread the clients' retries over 10% more time
)

if __name__ == "__main__":
    logging.basicConfig(level=logging.INFO)
    uvicorn.run(app, host="127.0.0.1", port=int(os.environ.get("PORT", "8000")))

"""A FastAPI service whose failing upstream calls become correct 502/503/504 answers.

    pip install 'gatewayerrors[demo]' fastapi
    python examples/fastapi_app.py                   # serves http://127.0.0.1:8000
    curl -i http://127.0.0.1:8000/orders/42          # 502 connection_refused, problem+json
    curl -i -H 'Accept: application/xml' http://127.0.0.1:8000/orders/42
    curl -i http://127.0.0.1:8000/search?q=x         # the app's own handler (see below)

ORDERS_URL is the upstream's URL template (default: a port where nothing listens); PORT sets
the port.
"""

from __future__ import annotations

import logging
import os
from typing import Any

import httpx
import uvicorn
from fastapi import FastAPI, Request
from fastapi.responses import JSONResponse

from gatewayerrors import GatewayErrorsMiddleware, ServiceUnavailable, UpstreamFailure

ORDERS_URL = os.environ.get("ORDERS_URL", "http://127.0.0.1:9/orders/{order_id}")
ORDERS_TIMEOUT = httpx.Timeout(5.0, read=2.0)


class SearchBackendDown(ServiceUnavailable):
    """An upstream failure (503) the app prefers to answer itself: its handler wins."""


async def count_failure(error: UpstreamFailure, exc: BaseException | None) -> None:
    # on_error: called once per translated error (metrics, alerting); may be sync or async.
    logging.getLogger("orders").info("upstream failure %s (%s)", error.code, error.request_id)


app = FastAPI()
app.add_middleware(GatewayErrorsMiddleware, service="orders-api", on_error=count_failure)


@app.get("/orders/{order_id}")
async def get_order(order_id: int) -> Any:
    async with httpx.AsyncClient(timeout=ORDERS_TIMEOUT) as client:
        response = await client.get(ORDERS_URL.format(order_id=order_id))
        response.raise_for_status()
        return response.json()


@app.get("/search")
async def search(q: str) -> Any:
    raise SearchBackendDown(upstream="search")


@app.exception_handler(SearchBackendDown)
async def search_down(request: Request, exc: SearchBackendDown) -> JSONResponse:
    # A handler registered for a class wins over the middleware: this answer is the app's.
    return JSONResponse({"results": [], "degraded": True}, status_code=200)


@app.get("/health")
async def health() -> dict[str, str]:
    return {"status": "ok"}


if __name__ == "__main__":
    logging.basicConfig(level=logging.INFO)
    uvicorn.run(app, host="127.0.0.1", port=int(os.environ.get("PORT", "8000")))

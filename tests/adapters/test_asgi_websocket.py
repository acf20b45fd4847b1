"""WebSocket failures through real servers (uvicorn, hypercorn) and a real client (websockets).

Before accept: the HTTP error itself via the Websocket Denial Response extension (both servers
offer it), or a plain 403 when the server does not. After accept: close 1014 / 1013.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from typing import Any

import httpx
import pytest
from asgi_servers import RunningServer, serve
from fastapi import FastAPI
from fastapi import WebSocket as FastAPIWebSocket
from starlette.applications import Starlette
from starlette.routing import WebSocketRoute
from starlette.websockets import WebSocket
from websockets.exceptions import ConnectionClosedError, InvalidStatus
from websockets.sync.client import connect

from gatewayerrors import GatewayErrorsMiddleware, ServiceUnavailable
from gatewayerrors.starlette import install

pytestmark = pytest.mark.server


async def call_upstream(url: str) -> None:
    async with httpx.AsyncClient(timeout=2) as client:
        await client.get(url)


def endpoints(refused_url: str) -> dict[str, Any]:
    async def refused_before(ws: WebSocket) -> None:
        await call_upstream(refused_url)

    async def busy_before(ws: WebSocket) -> None:
        raise ServiceUnavailable(code="circuit_open", retry_after=12, upstream="quotes")

    async def refused_after(ws: WebSocket) -> None:
        await ws.accept()
        await ws.receive_text()
        await call_upstream(refused_url)

    async def busy_after(ws: WebSocket) -> None:
        await ws.accept()
        await ws.receive_text()
        raise ServiceUnavailable(code="circuit_open")

    async def echo(ws: WebSocket) -> None:
        await ws.accept()
        await ws.send_text(await ws.receive_text())
        await ws.close()

    return {
        "/ws/refused-before": refused_before,
        "/ws/busy-before": busy_before,
        "/ws/refused-after": refused_after,
        "/ws/busy-after": busy_after,
        "/ws/echo": echo,
    }


def starlette_app(refused_url: str) -> Starlette:
    routes = [WebSocketRoute(path, f) for path, f in endpoints(refused_url).items()]
    app = Starlette(routes=routes)
    install(app, service="ws-gateway")
    return app


def fastapi_app(refused_url: str) -> FastAPI:
    app = FastAPI()
    for path, endpoint in endpoints(refused_url).items():

        def bind(f: Any) -> Any:
            async def route(websocket: FastAPIWebSocket) -> None:
                await f(websocket)

            return route

        app.add_api_websocket_route(path, bind(endpoint))
    app.add_middleware(GatewayErrorsMiddleware, service="ws-gateway")
    return app


class WithoutDenialExtension:
    """Hides the Websocket Denial Response extension, as servers without it (daphne) do."""

    def __init__(self, app: Any) -> None:
        self.app = app

    async def __call__(self, scope: Any, receive: Any, send: Any) -> None:
        if scope["type"] == "websocket":
            extensions = dict(scope.get("extensions") or {})
            extensions.pop("websocket.http.response", None)
            scope = {**scope, "extensions": extensions}
        await self.app(scope, receive, send)


SETUPS = ["uvicorn-starlette", "uvicorn-fastapi", "hypercorn-starlette"]


@pytest.fixture(scope="module", params=SETUPS)
def ws_server(request: pytest.FixtureRequest, upstreams: Any) -> Iterator[RunningServer]:
    server_name, framework = request.param.split("-")
    build = starlette_app if framework == "starlette" else fastapi_app
    with serve(build(upstreams.refused_url), server_name) as server:
        yield server


def denied(url: str) -> Any:
    with pytest.raises(InvalidStatus) as raised, connect(url, open_timeout=5):
        pass
    return raised.value.response


def test_refused_before_accept_is_a_502_problem_response(ws_server: RunningServer) -> None:
    response = denied(ws_server.ws_url + "/ws/refused-before")
    assert response.status_code == 502
    assert response.headers["content-type"] == "application/problem+json"
    assert response.headers["proxy-status"] == "ws-gateway; error=connection_refused"
    assert response.headers["cache-control"] == "no-store"
    problem = json.loads(response.body)
    assert problem["status"] == 502
    assert problem["code"] == "connection_refused"


def test_unavailable_before_accept_carries_retry_after(ws_server: RunningServer) -> None:
    response = denied(ws_server.ws_url + "/ws/busy-before")
    assert response.status_code == 503
    assert response.headers["retry-after"] == "12"
    assert json.loads(response.body)["code"] == "circuit_open"


@pytest.mark.parametrize(
    ("path", "code", "reason"),
    [
        ("/ws/refused-after", 1014, "connection_refused"),
        ("/ws/busy-after", 1013, "circuit_open"),
    ],
)
def test_after_accept_the_socket_closes_with_a_gateway_code(
    ws_server: RunningServer, path: str, code: int, reason: str
) -> None:
    with connect(ws_server.ws_url + path, open_timeout=5) as ws:
        ws.send("go")
        with pytest.raises(ConnectionClosedError) as raised:
            ws.recv(timeout=5)
    assert raised.value.rcvd is not None
    assert raised.value.rcvd.code == code
    assert raised.value.rcvd.reason == reason


def test_healthy_websocket_is_untouched(ws_server: RunningServer) -> None:
    with connect(ws_server.ws_url + "/ws/echo", open_timeout=5) as ws:
        ws.send("hello")
        assert ws.recv(timeout=5) == "hello"


@pytest.mark.parametrize("server_name", ["uvicorn", "hypercorn"])
def test_without_denial_extension_the_handshake_gets_403(upstreams: Any, server_name: str) -> None:
    app = WithoutDenialExtension(starlette_app(upstreams.refused_url))
    with serve(app, server_name) as server:
        response = denied(server.ws_url + "/ws/refused-before")
    assert response.status_code == 403

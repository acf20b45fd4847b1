"""Service chains keep the cause: three real services on loopback, the last one's upstream refused.

    client ─▶ edge-api (Starlette, uvicorn, httpx) ─▶ orders-api (WSGI, waitress, requests)
           ─▶ inventory-api (Starlette, hypercorn, httpx) ─▶ refused port

Each service runs this library with ``forward_request_id=True`` and calls the next with
``gatewayerrors.client``'s hooks. The edge's answer must name the root cause and show every
member of the chain in order, and one request id must follow the request through all three.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Iterator
from typing import Any

import httpx
import pytest
import requests
from asgi_servers import serve
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import PlainTextResponse, Response
from starlette.routing import Route
from wsgi_servers import serve_wsgi

from gatewayerrors import GatewayErrorsMiddleware, GatewayErrorsWSGIMiddleware
from gatewayerrors.client import (
    httpx_async_hook,
    httpx_async_request_hook,
    parse_proxy_status,
    requests_forwarding_auth,
    requests_hook,
)
from gatewayerrors.testing import FaultyUpstreams

SEEN: dict[str, list[str | None]] = {"edge-api": [], "orders-api": [], "inventory-api": []}


def calling_service(name: str, next_url: str, **options: Any) -> Any:
    """A Starlette service whose endpoint calls ``next_url`` with httpx and the hooks."""

    async def endpoint(request: Request) -> Response:
        SEEN[name].append(request.headers.get("x-request-id"))
        hooks: dict[str, list[Callable[..., Any]]] = {
            "request": [httpx_async_request_hook],
            "response": [httpx_async_hook],
        }
        async with httpx.AsyncClient(event_hooks=hooks, timeout=5) as client:
            await client.get(next_url + request.url.path)
        return PlainTextResponse("ok")

    routes = [Route("/{path:path}", endpoint)]
    options.setdefault("forward_request_id", True)
    return GatewayErrorsMiddleware(Starlette(routes=routes), service=name, **options)


def orders_wsgi(next_url: str) -> Any:
    """A plain WSGI service calling the next one with requests and the hooks."""
    session = requests.Session()
    session.hooks["response"].append(requests_hook)
    session.auth = requests_forwarding_auth()

    def app(environ: dict[str, Any], start_response: Callable[..., Any]) -> Iterable[bytes]:
        SEEN["orders-api"].append(environ.get("HTTP_X_REQUEST_ID"))
        session.get(next_url + environ["PATH_INFO"], timeout=5)
        start_response("200 OK", [("content-type", "text/plain")])
        return [b"ok"]

    return GatewayErrorsWSGIMiddleware(app, service="orders-api", forward_request_id=True)


def raising_service(name: str, next_url: str) -> Any:
    """A service that calls with plain httpx and ``raise_for_status()``: no client hooks."""

    async def endpoint(request: Request) -> Response:
        async with httpx.AsyncClient(timeout=5) as client:
            (await client.get(next_url + request.url.path)).raise_for_status()
        return PlainTextResponse("ok")

    return GatewayErrorsMiddleware(
        Starlette(routes=[Route("/{path:path}", endpoint)]), service=name
    )


def envoy_app(proxy_status: str) -> Any:
    async def endpoint(request: Request) -> Response:
        return PlainTextResponse("no healthy upstream", 503, headers={"proxy-status": proxy_status})

    return Starlette(routes=[Route("/{path:path}", endpoint)])


@pytest.fixture(scope="module")
def edge(upstreams: FaultyUpstreams) -> Iterator[str]:
    with (
        serve(
            calling_service("inventory-api", upstreams.refused_url.rstrip("/")), "hypercorn"
        ) as inventory,
        serve_wsgi(orders_wsgi(inventory.url)) as orders,
        serve(calling_service("edge-api", orders)) as edge_server,
    ):
        yield edge_server.url


@pytest.fixture(autouse=True)
def _forget_seen() -> None:
    for seen in SEEN.values():
        seen.clear()


CHAIN = [
    ("inventory-api", "connection_refused", None),
    ("orders-api", None, 502),
    ("edge-api", None, 502),
]


def test_the_edge_names_the_root_cause_and_every_hop(edge: str) -> None:
    response = httpx.get(
        edge + "/stock", headers={"accept": "application/problem+json"}, timeout=10
    )
    assert response.status_code == 502
    assert response.headers["proxy-status"] == (
        "inventory-api; error=connection_refused, "
        "orders-api; received-status=502, "
        "edge-api; received-status=502"
    )
    chain = parse_proxy_status(response.headers["proxy-status"])
    assert [(e.proxy, e.error, e.received_status) for e in chain] == CHAIN
    body = response.json()
    assert body["code"] == "upstream_error"  # ours: the next hop answered 502
    assert body["upstream_status"] == 502
    assert body["upstream_code"] == "connection_refused"  # theirs: the root cause


def test_one_request_id_follows_the_request(edge: str) -> None:
    response = httpx.get(edge + "/stock", timeout=10)
    request_id = response.headers["x-request-id"]
    # The client sent none: the edge made one when it first called on, and kept it.
    assert {
        "edge-api": [None],
        "orders-api": [request_id],
        "inventory-api": [request_id],
    } == SEEN


def test_an_incoming_request_id_is_forwarded(edge: str) -> None:
    response = httpx.get(edge + "/stock", headers={"x-request-id": "trace-42"}, timeout=10)
    assert response.headers["x-request-id"] == "trace-42"
    assert SEEN == {
        "edge-api": ["trace-42"],
        "orders-api": ["trace-42"],
        "inventory-api": ["trace-42"],
    }
    assert response.json()["request_id"] == "trace-42"


def test_xml_carries_the_upstream_code(edge: str) -> None:
    response = httpx.get(edge + "/stock", headers={"accept": "application/problem+xml"}, timeout=10)
    assert "<upstream_code>connection_refused</upstream_code>" in response.text


# -- what is received is data: parsed, bounded, re-validated ----------------------------------


def _edge_over(proxy_status: str) -> httpx.Response:
    with (
        serve(envoy_app(proxy_status)) as envoy,
        serve(calling_service("edge-api", envoy.url)) as edge_server,
    ):
        return httpx.get(edge_server.url + "/x", timeout=10)


def test_envoy_style_upstream(upstreams: FaultyUpstreams) -> None:
    response = _edge_over(
        'envoy; error=destination_unavailable; details="no healthy upstream 10.0.0.7:8080"; '
        "next-hop=backend-7"
    )
    assert response.status_code == 503
    # details and next-hop can reveal topology (RFC 9209 §6): not passed on.
    assert response.headers["proxy-status"] == (
        "envoy; error=destination_unavailable, edge-api; received-status=503"
    )
    assert response.json()["upstream_code"] == "destination_unavailable"


@pytest.mark.parametrize(
    "received",
    [
        'a;;b, "x',  # not a Structured Field: nothing of it
        "(inner list); error=connection_refused",  # not an intermediary
        "a; error=not_a_catalog_code_but_a_token",
    ],
)
def test_invalid_or_unknown_members_are_not_reflected(received: str) -> None:
    response = _edge_over(received)
    proxy_status = response.headers["proxy-status"]
    assert proxy_status.endswith("edge-api; received-status=503")
    assert "inner" not in proxy_status
    assert ";;" not in proxy_status
    assert "upstream_code" not in response.json()  # only catalog codes are named


def test_a_long_chain_is_bounded() -> None:
    received = ", ".join(f"hop-{i}; error=connection_refused" for i in range(40))
    response = _edge_over(received)
    chain = parse_proxy_status(response.headers["proxy-status"])
    assert [e.proxy for e in chain[:2]] == ["hop-0", "hop-1"]  # nearest the origin kept
    assert len(chain) == 16  # the 15 nearest the origin, then ours: what a reader keeps
    assert chain[-1].proxy == "edge-api"


def test_raise_for_status_keeps_the_chain_too(upstreams: FaultyUpstreams) -> None:
    """httpx's HTTPStatusError keeps the read response: its Proxy-Status and body are used."""
    with (
        serve(calling_service("inventory-api", upstreams.refused_url.rstrip("/"))) as inventory,
        serve(raising_service("edge-api", inventory.url)) as edge_server,
    ):
        response = httpx.get(edge_server.url + "/stock", timeout=10)
    assert response.status_code == 502
    assert response.headers["proxy-status"] == (
        "inventory-api; error=connection_refused, edge-api; received-status=502"
    )
    assert response.json()["upstream_code"] == "connection_refused"


def test_an_untrusted_incoming_id_is_not_forwarded(upstreams: FaultyUpstreams) -> None:
    inner = calling_service("inventory-api", upstreams.refused_url.rstrip("/"))
    with serve(inner) as inventory:
        untrusting = calling_service("edge-api", inventory.url, trust_request_id=False)
        with serve(untrusting) as edge_server:
            response = httpx.get(
                edge_server.url + "/stock", headers={"x-request-id": "spoofed"}, timeout=10
            )
    request_id = response.headers["x-request-id"]
    assert request_id != "spoofed"
    assert SEEN["inventory-api"] == [request_id]  # the edge's own id went on, and came back


def test_flask_forwards_the_request_id_and_keeps_the_chain(upstreams: FaultyUpstreams) -> None:
    from flask import Flask

    from gatewayerrors.flask import GatewayErrors

    app = Flask("orders")
    session = requests.Session()
    session.hooks["response"].append(requests_hook)
    session.auth = requests_forwarding_auth()
    GatewayErrors(app, service="orders-api", forward_request_id=True)
    with serve(calling_service("inventory-api", upstreams.refused_url.rstrip("/"))) as inventory:

        @app.get("/stock")
        def stock() -> str:
            session.get(inventory.url + "/stock", timeout=5)
            return "ok"

        with serve_wsgi(app) as orders:
            response = httpx.get(orders + "/stock", timeout=10)
    assert response.status_code == 502
    assert SEEN["inventory-api"] == [response.headers["x-request-id"]]
    assert response.headers["proxy-status"] == (
        "inventory-api; error=connection_refused, orders-api; received-status=502"
    )

"""Letting the team in during maintenance: the bypass token and client networks, with
X-Forwarded-For believed only from trusted proxies; through real hypercorn, uvicorn and waitress
servers."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import httpx
import pytest
from asgi_servers import serve
from wsgi_servers import serve_wsgi

from gatewayerrors import GatewayErrorsMiddleware, GatewayErrorsWSGIMiddleware
from gatewayerrors._bypass import Bypass
from gatewayerrors._translate import RequestInfo

TOKEN = "team-only-7f3a9c2e51d04b86"


async def asgi_ok(scope: Any, receive: Any, send: Any) -> None:
    await send({"type": "http.response.start", "status": 200, "headers": []})
    await send({"type": "http.response.body", "body": b"ok"})


def wsgi_ok(environ: Any, start_response: Any) -> list[bytes]:
    start_response("200 OK", [("content-type", "text/plain")])
    return [b"ok"]


@pytest.fixture(params=["hypercorn", "waitress"])
def server(request: pytest.FixtureRequest) -> Any:
    """``start(**options)``: a replica in maintenance mode with these options, its base URL."""
    stack: list[Any] = []

    def start(**options: Any) -> str:
        if request.param == "hypercorn":
            app = GatewayErrorsMiddleware(asgi_ok, maintenance=True, **options)
            manager: Any = serve(app, "hypercorn")
            stack.append(manager)
            return str(manager.__enter__().url)
        # Headers passed on as sent, as gunicorn does (waitress drops X-Forwarded-For from
        # peers it does not trust by default: see the test below).
        manager = serve_wsgi(
            GatewayErrorsWSGIMiddleware(wsgi_ok, maintenance=True, **options),
            clear_untrusted_proxy_headers=False,
        )
        stack.append(manager)
        return str(manager.__enter__())

    yield start
    for manager in reversed(stack):
        manager.__exit__(None, None, None)


@pytest.fixture(scope="module")
def client() -> Iterator[httpx.Client]:
    with httpx.Client(timeout=5) as shared:
        yield shared


def test_the_bypass_token_lets_a_request_through(server: Any, client: httpx.Client) -> None:
    url = server(maintenance_bypass_token=TOKEN)
    assert client.get(url, headers={"x-maintenance-bypass": TOKEN}).text == "ok"
    assert client.get(url, headers={"x-maintenance-bypass": TOKEN[:-1]}).status_code == 503
    assert client.get(url, headers={"x-maintenance-bypass": ""}).status_code == 503
    assert client.get(url).status_code == 503


def test_a_bypass_network_lets_its_clients_through(server: Any, client: httpx.Client) -> None:
    assert client.get(server(maintenance_bypass_ips=("127.0.0.0/8",))).status_code == 200
    assert client.get(server(maintenance_bypass_ips=("10.0.0.0/8",))).status_code == 503


def test_forwarded_addresses_count_only_from_trusted_proxies(
    server: Any, client: httpx.Client
) -> None:
    office = {"x-forwarded-for": "10.1.2.3"}
    untrusted = server(maintenance_bypass_ips=("10.0.0.0/8",))
    assert client.get(untrusted, headers=office).status_code == 503  # anyone can send that header
    trusted = server(maintenance_bypass_ips=("10.0.0.0/8",), trusted_proxies=("127.0.0.1/32",))
    assert client.get(trusted, headers=office).status_code == 200
    assert client.get(trusted, headers={"x-forwarded-for": "203.0.113.9"}).status_code == 503


def test_uvicorn_resolves_forwarded_addresses_itself(client: httpx.Client) -> None:
    """uvicorn's --proxy-headers (on by default, trusting --forwarded-allow-ips=127.0.0.1)
    already puts the forwarded address in scope["client"]: trusted_proxies is then not needed
    (and must not list the proxy again, or the next hop to the left would be believed too)."""
    app = GatewayErrorsMiddleware(asgi_ok, maintenance=True, maintenance_bypass_ips=("10.0.0.0/8",))
    with serve(app) as running:
        assert client.get(running.url, headers={"x-forwarded-for": "10.1.2.3"}).text == "ok"
        assert client.get(running.url).status_code == 503


def test_waitress_drops_forwarded_headers_it_does_not_trust(client: httpx.Client) -> None:
    """waitress removes X-Forwarded-For unless its own trusted_proxy is set; with it, waitress
    puts the forwarded address in REMOTE_ADDR itself (trusted_proxies is then not needed)."""
    app = GatewayErrorsWSGIMiddleware(
        wsgi_ok,
        maintenance=True,
        maintenance_bypass_ips=("10.0.0.0/8",),
        trusted_proxies=("127.0.0.1/32",),
    )
    office = {"x-forwarded-for": "10.1.2.3"}
    with serve_wsgi(app) as url:
        assert client.get(url, headers=office).status_code == 503  # the header never arrived
    plain = GatewayErrorsWSGIMiddleware(
        wsgi_ok, maintenance=True, maintenance_bypass_ips=("10.0.0.0/8",)
    )
    with serve_wsgi(
        plain, trusted_proxy="127.0.0.1", trusted_proxy_headers="x-forwarded-for"
    ) as url:
        assert client.get(url, headers=office).text == "ok"


def request(client: str | None, forwarded: str | None = None) -> RequestInfo:
    return RequestInfo(client=client, forwarded_for=forwarded)


@pytest.mark.parametrize(
    ("peer", "forwarded", "passes"),
    [
        ("192.0.2.10", None, False),  # a proxy's own address is not the office
        ("192.0.2.10", "10.0.0.7", True),  # the proxy vouches for the office client
        ("192.0.2.10", "10.0.0.7, 192.0.2.11", True),  # two trusted hops, then the client
        ("192.0.2.10", "10.0.0.7, 203.0.113.5", False),  # an untrusted hop: it is the client
        ("192.0.2.10", "10.0.0.7, not-an-address", False),  # garbage: believe nothing
        ("203.0.113.5", "10.0.0.7", False),  # not a trusted proxy: its header is ignored
        ("::ffff:10.0.0.7", None, True),  # a dual-stack socket's IPv4-mapped address
        ("[2001:db8::1]:443", None, True),
        (None, "10.0.0.7", False),
    ],
)
def test_the_client_address(peer: str | None, forwarded: str | None, passes: bool) -> None:
    bypass = Bypass(None, ["10.0.0.0/8", "2001:db8::/32"], ["192.0.2.0/24"])
    assert bypass.allows(request(peer, forwarded)) is passes


def test_no_bypass_configured_is_none() -> None:
    assert not Bypass(None, [], ["192.0.2.0/24"]).enabled
    assert Bypass(TOKEN, [], []).enabled

"""upstream_names: a named upstream shows its name; an unnamed one never shows its host."""

from __future__ import annotations

import asyncio
import logging
from typing import Any
from urllib.parse import urlsplit

import aiohttp
import httpx
import pytest
import requests
import urllib3
from asgi_servers import serve
from starlette.applications import Starlette
from starlette.middleware import Middleware
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from gatewayerrors import GatewayErrorsMiddleware, ServiceUnavailable, Settings
from gatewayerrors._error import UpstreamFailure
from gatewayerrors._settings import SettingsError
from gatewayerrors._translate import Translator
from gatewayerrors._types import RequestInfo
from gatewayerrors._upstreams import UpstreamNames, normal_upstream_key
from gatewayerrors.testing import FaultyUpstreams

ACCEPTS = ("application/json", "application/xml", "text/html", "text/plain")


def port_of(url: str) -> int:
    port = urlsplit(url).port
    assert port is not None
    return port


def httpx_error(url: str) -> BaseException:
    try:
        httpx.get(url, timeout=2)
    except httpx.HTTPError as exc:
        return exc
    raise AssertionError(url)


def requests_error(url: str) -> BaseException:
    try:
        requests.get(url, timeout=2)
    except requests.RequestException as exc:
        return exc
    raise AssertionError(url)


def urllib3_error(url: str) -> BaseException:
    with urllib3.PoolManager(retries=False) as pool:
        try:
            pool.request("GET", url)
        except urllib3.exceptions.HTTPError as exc:
            return exc
    raise AssertionError(url)


def urllib3_retry_error(url: str) -> BaseException:
    with urllib3.PoolManager(retries=urllib3.Retry(total=1, backoff_factor=0)) as pool:
        try:
            pool.request("GET", url)
        except urllib3.exceptions.HTTPError as exc:
            return exc
    raise AssertionError(url)


def aiohttp_error(url: str) -> BaseException:
    async def run() -> BaseException:
        async with aiohttp.ClientSession() as session:
            try:
                await session.get(url)
            except aiohttp.ClientError as exc:
                return exc
        raise AssertionError(url)

    return asyncio.run(run())


def aiohttp_status_error(url: str) -> BaseException:
    async def run() -> BaseException:
        async with aiohttp.ClientSession(raise_for_status=True) as session:
            try:
                await session.get(url)
            except aiohttp.ClientError as exc:
                return exc
        raise AssertionError(url)

    return asyncio.run(run())


CLIENT_ERRORS = {
    "httpx": httpx_error,
    "requests": requests_error,
    "urllib3": urllib3_error,
    "urllib3 Retry": urllib3_retry_error,
    "aiohttp": aiohttp_error,
}


@pytest.mark.parametrize("client", CLIENT_ERRORS)
def test_each_client_names_its_upstream(upstreams: FaultyUpstreams, client: str) -> None:
    url = upstreams.refused_url
    exc = CLIENT_ERRORS[client](url)
    port = port_of(url)
    by_port = UpstreamNames(Settings(upstream_names={f"127.0.0.1:{port}": "orders"}).upstream_names)
    by_host = UpstreamNames(Settings(upstream_names={"127.0.0.1": "local"}).upstream_names)
    elsewhere = UpstreamNames(
        Settings(upstream_names={f"127.0.0.1:{port + 1}": "x"}).upstream_names
    )
    assert by_port.name_for(exc) == "orders"
    assert by_host.name_for(exc) == "local"
    assert elsewhere.name_for(exc) is None


@pytest.mark.parametrize(
    "make",
    [httpx_error, requests_error, aiohttp_status_error],
    ids=["httpx", "requests", "aiohttp"],
)
def test_an_upstream_status_is_named_too(upstreams: FaultyUpstreams, make: Any) -> None:
    url = upstreams.status_url(503, retry_after="7")
    if make is not aiohttp_status_error:
        # raise_for_status(): the response's request carries the URL
        def make(url: str, _client: Any = make) -> BaseException:
            try:
                if _client is httpx_error:
                    httpx.get(url, timeout=2).raise_for_status()
                else:
                    requests.get(url, timeout=2).raise_for_status()
            except Exception as exc:
                return exc
            raise AssertionError(url)

    exc = make(url)
    translator = Translator(upstream_names={f"127.0.0.1:{port_of(url)}": "orders"})
    response = translator.translate(exc, RequestInfo())
    assert response is not None
    assert response.error.upstream == "orders"
    assert response.error.retry_after == 7


def test_a_default_port_matches_host_port_keys(upstreams: FaultyUpstreams) -> None:
    names = UpstreamNames({"orders.internal:80": "orders", "billing.internal:443": "billing"})
    assert names.name("orders.internal", 80) == "orders"
    request = httpx.Request("GET", "http://orders.internal/x")
    assert names.name_for(httpx.ConnectError("refused", request=request)) == "orders"
    request = httpx.Request("GET", "https://billing.internal/x")
    assert names.name_for(httpx.ConnectError("refused", request=request)) == "billing"
    request = httpx.Request("GET", "https://orders.internal/x")
    assert names.name_for(httpx.ConnectError("refused", request=request)) is None


def test_the_apps_own_upstream_wins(upstreams: FaultyUpstreams) -> None:
    cause = httpx_error(upstreams.refused_url)
    try:
        raise ServiceUnavailable(upstream="payments") from cause
    except ServiceUnavailable as exc:
        own = exc
    names = {f"127.0.0.1:{port_of(upstreams.refused_url)}": "orders"}
    response = Translator(upstream_names=names).translate(own, RequestInfo())
    assert response is not None
    assert response.error.upstream == "payments"


def test_named_upstream_in_body_log_and_on_error(
    upstreams: FaultyUpstreams, caplog: pytest.LogCaptureFixture
) -> None:
    hooked: list[UpstreamFailure] = []

    async def orders(request: Request) -> Response:
        async with httpx.AsyncClient(timeout=2) as client:
            await client.get(upstreams.refused_url)
        return Response("unreachable")

    names = {f"127.0.0.1:{port_of(upstreams.refused_url)}": "orders"}
    app = Starlette(
        routes=[Route("/orders", orders)],
        middleware=[
            Middleware(
                GatewayErrorsMiddleware,
                upstream_names=names,
                on_error=lambda error, exc: hooked.append(error),
            )
        ],
    )
    with (
        caplog.at_level(logging.ERROR, "gatewayerrors"),
        serve(app) as server,
        httpx.Client(base_url=server.url, timeout=5) as client,
    ):
        response = client.get("/orders")
    assert response.status_code == 502
    assert response.json()["upstream"] == "orders"
    assert [error.upstream for error in hooked] == ["orders"]
    [record] = [r for r in caplog.records if r.name == "gatewayerrors"]
    assert record.gatewayerrors_upstream == "orders"  # type: ignore[attr-defined]
    assert "upstream=orders" in record.getMessage()


@pytest.mark.parametrize("fault", ["refused", "reset", "hang", "503"])
def test_an_unnamed_upstream_never_reaches_the_client(
    upstreams: FaultyUpstreams, fault: str
) -> None:
    url = (
        upstreams.status_url(503, retry_after="7")
        if fault == "503"
        else getattr(upstreams, f"{fault}_url")
    )
    port = str(port_of(url)).encode()

    async def orders(request: Request) -> Response:
        async with httpx.AsyncClient(timeout=0.3) as client:
            (await client.get(url)).raise_for_status()
        return Response("unreachable")

    app = Starlette(
        routes=[Route("/checkout", orders)],
        middleware=[
            Middleware(GatewayErrorsMiddleware, upstream_names={"orders.internal:8080": "orders"})
        ],
    )
    with serve(app) as server, httpx.Client(base_url=server.url, timeout=5) as client:
        for accept in ACCEPTS:
            response = client.get("/checkout", headers={"accept": accept, "x-request-id": "r-1"})
            assert response.status_code in (502, 503, 504)
            seen = response.content + b"".join(
                name + b": " + value for name, value in response.headers.raw
            )
            assert b"127.0.0.1" not in seen
            assert port not in seen
            assert b"orders" not in seen


class Hostile(Exception):
    """Every attribute a client would keep the URL in raises or lies."""

    @property
    def request(self) -> Any:
        raise RuntimeError("request")

    @property
    def request_info(self) -> Any:
        class Info:
            @property
            def url(self) -> Any:
                class Url:
                    @property
                    def host(self) -> str:
                        raise RuntimeError("host")

                return Url()

        return Info()

    @property
    def pool(self) -> Any:
        class Pool:
            host = 42
            port = "80"

        return Pool()

    @property
    def conn(self) -> Any:
        raise KeyError("conn")


def test_hostile_exceptions_name_nothing_and_raise_nothing() -> None:
    names = UpstreamNames({"127.0.0.1": "local"})
    assert names.name_for(Hostile()) is None
    try:
        raise ConnectionRefusedError(111, "refused") from Hostile()
    except ConnectionRefusedError as exc:
        response = Translator(upstream_names={"127.0.0.1": "local"}).translate(exc, RequestInfo())
    assert response is not None
    assert response.error.upstream is None
    assert response.error.code == "connection_refused"


@pytest.mark.parametrize(
    ("key", "normal"),
    [
        ("Orders.Internal:8080", "orders.internal:8080"),
        ("orders", "orders"),
        ("10.0.0.5", "10.0.0.5"),
        ("[::1]:8080", "[::1]:8080"),
        ("[::1]", "[::1]"),
        (" orders:080 ", "orders:80"),
    ],
)
def test_keys_are_normalised(key: str, normal: str) -> None:
    assert normal_upstream_key(key) == normal
    assert Settings(upstream_names={key: "orders"}).upstream_names == {normal: "orders"}


@pytest.mark.parametrize(
    "names",
    [
        {"http://orders/": "orders"},
        {"orders:0": "orders"},
        {"orders:65536": "orders"},
        {"orders:http": "orders"},
        {"": "orders"},
        {"::1": "orders"},
        {"orders": ""},
        {"orders": "line\nbreak"},
        {"orders": "x" * 65},
        {"orders": 5},
        {5: "orders"},
        ["orders"],
    ],
)
def test_bad_upstream_names_fail_at_startup(names: Any) -> None:
    with pytest.raises(SettingsError) as caught:
        Settings(upstream_names=names)
    assert caught.value.option.startswith("upstream_names")

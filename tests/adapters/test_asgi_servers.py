"""The middleware in real Starlette and FastAPI apps, served by uvicorn (and hypercorn).

Each endpoint really calls a failing loopback upstream (the shared ``upstreams`` fixture) with
httpx.AsyncClient or aiohttp; a real client checks the status, code, format, headers and body
that come back, and what happens to the connection afterwards.
"""

from __future__ import annotations

import asyncio
import http.client
import json
import logging
import re
import ssl
import threading
import time
import xml.etree.ElementTree as ET
from collections.abc import Iterator
from typing import Any

import aiohttp
import httpx
import pytest
from asgi_servers import RunningServer, serve
from fastapi import FastAPI
from fastapi.responses import JSONResponse
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import PlainTextResponse, Response, StreamingResponse
from starlette.routing import Route

from gatewayerrors import GatewayErrorsMiddleware
from gatewayerrors.starlette import install

pytestmark = pytest.mark.server

MAINTENANCE = threading.Event()
SETTINGS: dict[str, Any] = {
    "service": "shop-api",
    "suppress_response_codes": "suppress_response_codes",
    "maintenance": MAINTENANCE.is_set,
}
READ_TIMEOUT = 0.4


def connect_timeout(fault: str) -> float:
    # Short only where the connect is meant to time out: name lookups may be slow in CI.
    return 0.3 if fault == "connect_timeout" else 2.0


# One client TLS context for every upstream call: loading the CA bundle per call costs ~20 ms.
CLIENT_TLS = ssl.create_default_context()


class AppUpstreamError(ConnectionRefusedError):
    """A classified exception (a refused connection) the apps handle themselves."""


# -- the apps -------------------------------------------------------------------------------


def fault_urls(upstreams: Any) -> dict[str, str]:
    return {
        "refused": upstreams.refused_url,
        "hang": upstreams.hang_url,
        "reset": upstreams.reset_url,
        "close": upstreams.close_url,
        "garbage": upstreams.garbage_url,
        "truncated": upstreams.truncated_url,
        "connect_timeout": upstreams.connect_timeout_url,
        "tls": upstreams.tls_url,
        "dns": upstreams.dns_url,
        "unavailable": upstreams.status_url(503, retry_after="17"),
        "error": upstreams.status_url(500),
    }


async def call_with(client: str, url: str, connect: float = 2.0) -> bytes:
    """GET ``url`` with a real async client; raise its own exception on failure."""
    if client == "httpx":
        timeout = httpx.Timeout(connect, read=READ_TIMEOUT)
        async with httpx.AsyncClient(timeout=timeout, verify=CLIENT_TLS) as http_client:
            response = await http_client.get(url)
            response.raise_for_status()
            return response.content
    timeouts = aiohttp.ClientTimeout(total=None, sock_connect=connect, sock_read=READ_TIMEOUT)
    connector = aiohttp.TCPConnector(ssl=CLIENT_TLS)
    async with (
        aiohttp.ClientSession(
            connector=connector, timeout=timeouts, raise_for_status=True
        ) as session,
        session.get(url) as aio_response,
    ):
        return await aio_response.read()


def starlette_app(urls: dict[str, str]) -> Starlette:
    async def fault(request: Request) -> Response:
        name = request.path_params["name"]
        client = request.query_params.get("client", "httpx")
        return Response(await call_with(client, urls[name], connect_timeout(name)))

    async def ok(request: Request) -> Response:
        return PlainTextResponse("ok")

    async def boom(request: Request) -> Response:
        raise ValueError("a bug in the app, not an upstream failure")

    async def handled(request: Request) -> Response:
        raise AppUpstreamError("the app maps this one itself")

    async def stream_fail(request: Request) -> Response:
        async def chunks() -> Any:
            yield b"first chunk\n"
            await call_with("httpx", urls["reset"])
            yield b"never sent\n"

        return StreamingResponse(chunks(), media_type="text/plain")

    async def on_handled(request: Request, exc: Exception) -> Response:
        return PlainTextResponse("handled by the app", status_code=418)

    app = Starlette(
        routes=[
            Route("/fault/{name}", fault, methods=["GET", "HEAD"]),
            Route("/ok", ok),
            Route("/health", ok),
            Route("/boom", boom),
            Route("/handled", handled),
            Route("/stream-fail", stream_fail),
        ],
        exception_handlers={AppUpstreamError: on_handled},
    )
    install(app, **SETTINGS)
    return app


def fastapi_app(urls: dict[str, str]) -> FastAPI:
    app = FastAPI()

    @app.api_route("/fault/{name}", methods=["GET", "HEAD"])
    async def fault(name: str, client: str = "httpx") -> Response:
        return Response(await call_with(client, urls[name], connect_timeout(name)))

    @app.get("/sync-fault/{name}")
    def sync_fault(name: str) -> Response:  # runs in the threadpool
        with httpx.Client(timeout=httpx.Timeout(2.0, read=READ_TIMEOUT)) as client:
            return Response(client.get(urls[name]).raise_for_status().content)

    @app.get("/ok")
    @app.get("/health")
    async def ok() -> Response:
        return PlainTextResponse("ok")

    @app.get("/boom")
    async def boom() -> Response:
        raise ValueError("a bug in the app, not an upstream failure")

    @app.get("/handled")
    async def handled() -> Response:
        raise AppUpstreamError("the app maps this one itself")

    @app.get("/stream-fail")
    async def stream_fail() -> Response:
        async def chunks() -> Any:
            yield b"first chunk\n"
            await call_with("aiohttp", urls["reset"])
            yield b"never sent\n"

        return StreamingResponse(chunks(), media_type="text/plain")

    @app.exception_handler(AppUpstreamError)
    async def on_handled(request: Request, exc: Exception) -> Response:
        return PlainTextResponse("handled by the app", status_code=418)

    @app.exception_handler(Exception)
    async def on_any(request: Request, exc: Exception) -> Response:
        return JSONResponse({"detail": "the app's own 500"}, status_code=500)

    app.add_middleware(GatewayErrorsMiddleware, **SETTINGS)
    return app


def records_of(caplog: pytest.LogCaptureFixture, name: str) -> list[logging.LogRecord]:
    return [record for record in caplog.records if record.name == name]


def wait_for_server_log(caplog: pytest.LogCaptureFixture) -> None:
    """Wait (bounded) for uvicorn's record of an app exception: it logs after answering.

    Besides the record itself, this keeps the server thread from formatting its traceback
    while pytest formats a failing test's: on CPython 3.11 before 3.11.8 two threads parsing
    AST at once can raise "AST constructor recursion depth mismatch" (gh-106905), which
    pytest reports as an INTERNALERROR.
    """

    def formatted() -> bool:
        # Handlers append the record before formatting it; exc_text is set once formatted.
        return any(r.exc_text for r in records_of(caplog, "uvicorn.error"))

    deadline = time.monotonic() + 5
    while not formatted() and time.monotonic() < deadline:
        time.sleep(0.01)


def middleware_of(app: Starlette) -> GatewayErrorsMiddleware:
    node: Any = app.middleware_stack
    while not isinstance(node, GatewayErrorsMiddleware):
        node = node.app
    return node


@pytest.fixture(scope="module")
def apps(upstreams: Any) -> dict[str, Starlette]:
    urls = fault_urls(upstreams)
    return {"starlette": starlette_app(urls), "fastapi": fastapi_app(urls)}


@pytest.fixture(scope="module")
def servers(apps: dict[str, Starlette]) -> Iterator[dict[str, RunningServer]]:
    with (
        serve(apps["starlette"]) as starlette_server,
        serve(apps["fastapi"]) as fastapi_server,
    ):
        yield {"starlette": starlette_server, "fastapi": fastapi_server}


@pytest.fixture(scope="module")
def clients(servers: dict[str, RunningServer]) -> Iterator[dict[str, httpx.Client]]:
    made = {name: httpx.Client(base_url=s.url, timeout=10) for name, s in servers.items()}
    yield made
    for client in made.values():
        client.close()


# -- every fault, both frameworks, both clients, every format -------------------------------

FORMATS = {
    "json": ("application/json", "application/problem+json"),
    "xml": ("application/xml", "application/problem+xml"),
    "html": ("text/html,application/xhtml+xml;q=0.9,*/*;q=0.8", "text/html; charset=utf-8"),
    "text": ("text/plain", "text/plain; charset=utf-8"),
}
# fault -> (status, code, retry-after); every combination below must give exactly this.
FAULTS = {
    "refused": (502, "connection_refused", None),
    "hang": (504, "connection_read_timeout", None),
    "reset": (502, "connection_terminated", None),
    "close": (502, "connection_terminated", None),
    "garbage": (502, "http_protocol_error", None),
    "truncated": (502, "http_response_incomplete", None),
    "connect_timeout": (504, "connection_timeout", None),
    "tls": (502, "tls_certificate_error", None),
    "dns": (502, "dns_error", None),
    "unavailable": (503, "upstream_overloaded", "17"),
    "error": (502, "upstream_error", None),
}
COMBOS = [
    ("starlette", "httpx"),
    ("starlette", "aiohttp"),
    ("fastapi", "httpx"),
    ("fastapi", "aiohttp"),
]
# Each fault meets all four formats across the four combinations, and each combination
# meets every format across the faults: 36 requests instead of 144.
CASES = [
    pytest.param(
        fault,
        framework,
        client,
        fmt,
        id=f"{fault}-{framework}-{client}-{fmt}",
    )
    for i, fault in enumerate(FAULTS)
    for j, (framework, client) in enumerate(COMBOS)
    for fmt in [list(FORMATS)[(i + j) % len(FORMATS)]]
]


def check_body(fmt: str, body: bytes, status: int, code: str, request_id: str) -> None:
    if fmt == "json":
        problem = json.loads(body)
        assert problem["status"] == status
        assert problem["code"] == code
        assert problem["request_id"] == request_id
    elif fmt == "xml":
        root = ET.fromstring(body)
        ns = "{urn:ietf:rfc:7807}"
        assert root.tag == ns + "problem"
        assert root.findtext(ns + "status") == str(status)
        assert root.findtext(ns + "code") == code
        assert root.findtext(ns + "request_id") == request_id
    elif fmt == "html":
        text = body.decode("utf-8")
        assert text.lower().startswith("<!doctype html>")
        title = re.search(r"<title>([^<]*)</title>", text)
        assert title is not None
        assert str(status) in title.group(1)
        assert request_id in text
    else:
        text = body.decode("utf-8")
        assert text.startswith(f"{status} ")
        assert request_id in text


@pytest.mark.parametrize(("fault", "framework", "client", "fmt"), CASES)
def test_upstream_fault_becomes_a_complete_gateway_error(
    clients: dict[str, httpx.Client],
    caplog: pytest.LogCaptureFixture,
    fault: str,
    framework: str,
    client: str,
    fmt: str,
) -> None:
    status, code, retry_after = FAULTS[fault]
    request_id = f"req-{fault}-{framework}-{client}"
    accept, content_type = FORMATS[fmt]
    response = clients[framework].get(
        f"/fault/{fault}",
        params={"client": client},
        headers={"accept": accept, "x-request-id": request_id},
    )
    if response.status_code == 500:
        wait_for_server_log(caplog)
    assert response.status_code == status, response.text
    headers = response.headers
    assert headers["content-type"] == content_type
    assert headers["cache-control"] == "no-store"
    # Only a page's words follow Accept-Language (docs/languages.md).
    assert headers["vary"] == ("Accept, Accept-Language" if fmt == "html" else "Accept")
    assert headers["x-request-id"] == request_id
    assert headers.get("retry-after") == retry_after
    assert int(headers["content-length"]) == len(response.content)
    proxy_status = headers.get("proxy-status", "")
    assert proxy_status.startswith("shop-api")
    if code not in ("upstream_overloaded", "upstream_error"):  # not RFC 9209 types
        assert f"error={code}" in proxy_status
    check_body(fmt, response.content, status, code, request_id)


def test_sync_fastapi_endpoint_in_the_threadpool(clients: dict[str, httpx.Client]) -> None:
    response = clients["fastapi"].get("/sync-fault/refused")
    assert response.status_code == 502
    assert response.json()["code"] == "connection_refused"


@pytest.mark.parametrize("framework", ["starlette", "fastapi"])
def test_head_gets_the_error_headers_and_no_body(
    servers: dict[str, RunningServer], framework: str
) -> None:
    # http.client, not httpx: it reads a HEAD response's headers without expecting a body.
    connection = http.client.HTTPConnection("127.0.0.1", servers[framework].port, timeout=10)
    try:
        connection.request("HEAD", "/fault/refused", headers={"accept": "application/json"})
        response = connection.getresponse()
        assert response.status == 502
        assert response.read() == b""
        assert response.getheader("content-type") == "application/problem+json"
        assert int(response.getheader("content-length") or 0) > 0
        assert response.getheader("proxy-status") == "shop-api; error=connection_refused"
        # The connection is still usable after a HEAD error.
        connection.request("GET", "/ok")
        assert connection.getresponse().read() == b"ok"
    finally:
        connection.close()


# -- the connection survives a translated error ---------------------------------------------


def keep_alive_run(port: int, paths: list[str]) -> list[tuple[int, tuple[str, int]]]:
    """Send ``paths`` on one connection; each status with the client's local address."""
    connection = http.client.HTTPConnection("127.0.0.1", port, timeout=10)
    seen = []
    try:
        for path in paths:
            connection.request("GET", path)
            response = connection.getresponse()
            response.read()
            assert connection.sock is not None, f"server closed the connection after {path}"
            seen.append((response.status, connection.sock.getsockname()))
    finally:
        connection.close()
    return seen


@pytest.mark.parametrize("framework", ["starlette", "fastapi"])
def test_keep_alive_survives_translated_errors(
    servers: dict[str, RunningServer], framework: str
) -> None:
    paths = ["/fault/refused", "/ok"] * 10
    seen = keep_alive_run(servers[framework].port, paths)
    assert [status for status, _ in seen] == [502, 200] * 10
    assert len({address for _, address in seen}) == 1  # one TCP connection for all 20


def test_keep_alive_survives_translated_errors_on_hypercorn(upstreams: Any) -> None:
    with serve(starlette_app(fault_urls(upstreams)), "hypercorn") as server:
        seen = keep_alive_run(server.port, ["/fault/refused?client=aiohttp", "/ok"] * 10)
    assert [status for status, _ in seen] == [502, 200] * 10
    assert len({address for _, address in seen}) == 1


def test_for_contrast_a_plain_500_drops_the_connection(
    servers: dict[str, RunningServer],
) -> None:
    # Starlette's ServerErrorMiddleware sends its 500 and re-raises; uvicorn then closes the
    # connection (without Connection: close). This is what the middleware avoids for upstream
    # failures.
    connection = http.client.HTTPConnection("127.0.0.1", servers["starlette"].port, timeout=10)
    try:
        connection.request("GET", "/boom")
        response = connection.getresponse()
        assert response.status == 500
        response.read()
        connection.request("GET", "/ok")
        with pytest.raises((http.client.RemoteDisconnected, ConnectionError)):
            connection.getresponse()
    finally:
        connection.close()


# -- what the middleware leaves alone --------------------------------------------------------


def unclassified_500(server: RunningServer, path: str) -> httpx.Response:
    """GET ``path``, which ends in an exception re-raised to the server, on its own connection.

    Starlette re-raises after sending the 500 and uvicorn then drops the connection: on a
    shared keep-alive client the next test's request could be written to that dying
    connection and fail with a reset.
    """
    with httpx.Client(base_url=server.url, timeout=10) as client:
        return client.get(path)


def test_unclassified_exception_reaches_starlettes_500_and_the_server(
    servers: dict[str, RunningServer], caplog: pytest.LogCaptureFixture
) -> None:
    with caplog.at_level(logging.ERROR):
        response = unclassified_500(servers["starlette"], "/boom")
        assert response.status_code == 500
        assert response.text == "Internal Server Error"
        wait_for_server_log(caplog)
    assert not records_of(caplog, "gatewayerrors")
    server_records = records_of(caplog, "uvicorn.error")
    assert server_records
    assert server_records[-1].exc_info is not None
    assert isinstance(server_records[-1].exc_info[1], ValueError)


def test_unclassified_exception_reaches_the_apps_own_500_handler(
    servers: dict[str, RunningServer], caplog: pytest.LogCaptureFixture
) -> None:
    with caplog.at_level(logging.ERROR):
        response = unclassified_500(servers["fastapi"], "/boom")
        wait_for_server_log(caplog)  # ServerErrorMiddleware re-raises after the app's handler
    assert response.status_code == 500
    assert response.json() == {"detail": "the app's own 500"}
    assert not records_of(caplog, "gatewayerrors")


@pytest.mark.parametrize("framework", ["starlette", "fastapi"])
def test_an_apps_exception_handler_for_a_class_wins(
    clients: dict[str, httpx.Client], framework: str, caplog: pytest.LogCaptureFixture
) -> None:
    with caplog.at_level(logging.ERROR):
        response = clients[framework].get("/handled")
    assert response.status_code == 418
    assert response.text == "handled by the app"
    assert not records_of(caplog, "gatewayerrors")


# -- failures after the response started -----------------------------------------------------


def read_until_broken(response: httpx.Response) -> tuple[bytes, Exception | None]:
    received = b""
    try:
        for chunk in response.iter_raw():
            received += chunk
    except httpx.HTTPError as exc:
        return received, exc
    return received, None


@pytest.mark.parametrize("framework", ["starlette", "fastapi"])
def test_failure_mid_stream_is_a_broken_response_for_the_client(
    servers: dict[str, RunningServer],
    apps: dict[str, Starlette],
    framework: str,
    caplog: pytest.LogCaptureFixture,
) -> None:
    middleware = middleware_of(apps[framework])
    before = middleware.failures_after_start
    with (
        caplog.at_level(logging.ERROR, "gatewayerrors"),
        httpx.Client(timeout=10) as client,
        client.stream("GET", servers[framework].url + "/stream-fail") as response,
    ):
        assert response.status_code == 200
        received, error = read_until_broken(response)
    assert received == b"first chunk\n"  # never a body that looks complete
    assert isinstance(error, httpx.RemoteProtocolError)
    assert "incomplete" in str(error) or "without sending" in str(error)
    assert middleware.failures_after_start == before + 1
    records = records_of(caplog, "gatewayerrors")
    assert records
    assert records[-1].gatewayerrors_response_started is True  # type: ignore[attr-defined]
    assert records[-1].gatewayerrors_code == "connection_terminated"  # type: ignore[attr-defined]


# -- concurrency, request ids, settings -----------------------------------------------------


@pytest.mark.parametrize("framework", ["starlette", "fastapi"])
def test_concurrent_failing_requests_each_get_their_own_answer(
    servers: dict[str, RunningServer], framework: str
) -> None:
    async def run() -> list[httpx.Response]:
        async with httpx.AsyncClient(base_url=servers[framework].url, timeout=10) as client:
            return await asyncio.gather(
                *(
                    client.get(
                        "/fault/refused" if i % 2 else "/fault/unavailable",
                        params={"client": "aiohttp" if i % 3 else "httpx"},
                        headers={"x-request-id": f"concurrent-{i}"},
                    )
                    for i in range(24)
                )
            )

    responses = asyncio.run(run())
    for i, response in enumerate(responses):
        assert response.status_code == (502 if i % 2 else 503)
        assert response.headers["x-request-id"] == f"concurrent-{i}"
        assert response.json()["request_id"] == f"concurrent-{i}"


def test_an_unsafe_request_id_is_replaced(clients: dict[str, httpx.Client]) -> None:
    response = clients["starlette"].get(
        "/fault/refused", headers={"x-request-id": "bad id\twith <html>"}
    )
    generated = response.headers["x-request-id"]
    assert generated != "bad id\twith <html>"
    assert len(generated) == 32
    int(generated, 16)
    assert response.json()["request_id"] == generated


@pytest.mark.parametrize("framework", ["starlette", "fastapi"])
def test_suppress_response_codes_answers_200_with_the_error(
    clients: dict[str, httpx.Client], framework: str
) -> None:
    response = clients[framework].get("/fault/refused", params={"suppress_response_codes": "true"})
    assert response.status_code == 200
    assert response.json()["code"] == "connection_refused"
    assert response.json()["status"] == 502


@pytest.mark.parametrize("framework", ["starlette", "fastapi"])
def test_maintenance_mode_answers_503_and_spares_health(
    clients: dict[str, httpx.Client], framework: str
) -> None:
    client = clients[framework]
    MAINTENANCE.set()
    try:
        response = client.get("/ok", headers={"accept": "text/plain"})
        assert response.status_code == 503
        assert response.headers["retry-after"] == "300"
        assert response.text.startswith("503 ")
        assert "maintenance" in response.text.lower()
        assert client.get("/health").status_code == 200
    finally:
        MAINTENANCE.clear()
    assert client.get("/ok").status_code == 200

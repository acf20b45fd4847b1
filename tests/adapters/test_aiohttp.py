"""What only the aiohttp.web adapter does, on a real aiohttp server (AppRunner + TCPSite).

The contract suite (test_contract.py) runs the shared checks through aiohttp too; this module
covers aiohttp's own ground: its HTTPExceptions, the middleware list, startup and cleanup
signals, a StreamResponse or a WebSocket that fails after it was prepared, sub-applications.
"""

from __future__ import annotations

import asyncio
import json
import logging
import socket
import subprocess
import sys
import threading
import types
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from adapter_servers import BASE, REQUEST_ID, call_upstream, fault_urls
from aiohttp import web
from apps_aiohttp import build, serve_aiohttp
from websockets.exceptions import ConnectionClosedError, InvalidStatus
from websockets.sync.client import connect

from gatewayerrors import ServiceUnavailable, SettingsError
from gatewayerrors._request_context import forwarded_request_id
from gatewayerrors.aiohttp import GatewayErrors, install, middleware
from gatewayerrors.core import RequestInfo, Translator
from gatewayerrors.maintenance import FileStore, MaintenanceState

pytestmark = pytest.mark.server


@pytest.fixture(scope="module")
def urls(upstreams: Any) -> dict[str, str]:
    return fault_urls(upstreams)


def installed(app: web.Application) -> GatewayErrors:
    (found,) = (m for m in app.middlewares if isinstance(m, GatewayErrors))
    return found


def records_of(caplog: pytest.LogCaptureFixture) -> list[logging.LogRecord]:
    return [record for record in caplog.records if record.name == "gatewayerrors"]


# -- aiohttp's own answers pass through --------------------------------------------------------


def own_answers_app(urls: dict[str, str]) -> web.Application:
    async def redirect(request: web.Request) -> web.Response:
        raise web.HTTPFound("/ok")

    async def bad_gateway(request: web.Request) -> web.Response:
        # aiohttp's own 502, raised on purpose by the app: its answer, not a failure of ours.
        raise web.HTTPBadGateway(text="the app's own 502")

    app = build(urls, BASE)
    app.router.add_get("/redirect", redirect)
    app.router.add_get("/bad-gateway", bad_gateway)
    return app


@pytest.fixture(scope="module")
def own_answers(urls: dict[str, str]) -> Iterator[str]:
    with serve_aiohttp(own_answers_app(urls)) as url:
        yield url


def test_aiohttp_http_exceptions_pass_through_untouched(own_answers: str, hx: httpx.Client) -> None:
    missing = hx.get(own_answers + "/nowhere", headers={"Accept": "application/json"})
    redirect = hx.get(own_answers + "/redirect")
    bad_gateway = hx.get(own_answers + "/bad-gateway", headers={"Accept": "application/json"})

    assert (missing.status_code, missing.text) == (404, "404: Not Found")
    assert (redirect.status_code, redirect.headers["location"]) == (302, "/ok")
    assert (bad_gateway.status_code, bad_gateway.text) == (502, "the app's own 502")
    for response in (missing, redirect, bad_gateway):
        assert "proxy-status" not in response.headers
        assert "x-request-id" not in response.headers


def test_what_is_not_translated_gets_aiohttp_s_own_answer(
    own_answers: str, hx: httpx.Client, caplog: pytest.LogCaptureFixture
) -> None:
    with caplog.at_level(logging.ERROR):
        bug = hx.get(own_answers + "/fault/bug", headers={"Accept": "application/json"})

    assert bug.status_code == 500
    assert bug.text.startswith("500 Internal Server Error")
    assert "a bug, not an upstream failure" not in bug.text
    assert not bug.headers["content-type"].startswith("application/problem")
    assert "proxy-status" not in bug.headers
    assert records_of(caplog) == []  # nothing of ours was logged either
    assert any(record.name == "aiohttp.server" for record in caplog.records)


# -- the idiom: install(), middleware(), settings checked at the call --------------------------


def test_settings_are_checked_at_the_call() -> None:
    with pytest.raises(TypeError, match="did you mean service"):
        install(web.Application(), servce="typo")  # type: ignore[call-arg]
    with pytest.raises(SettingsError):
        middleware(max_retry_after=-1)
    with pytest.raises(TypeError, match="only one of them"):
        install(web.Application(), translator=Translator(), service="x")


def test_install_after_the_app_froze_fails_loudly() -> None:
    app = web.Application()
    app.freeze()
    with pytest.raises(RuntimeError, match="before the application starts serving"):
        install(app, service="shop")


def test_middleware_in_the_app_list_and_outer_middleware_see_the_answer(
    urls: dict[str, str], hx: httpx.Client
) -> None:
    @web.middleware
    async def security_headers(request: web.Request, handler: Any) -> web.StreamResponse:
        response: web.StreamResponse = await handler(request)
        response.headers["X-Frame-Options"] = "DENY"
        return response

    async def fault(request: web.Request) -> web.Response:
        await asyncio.to_thread(call_upstream, urls, "refused")
        raise AssertionError("unreachable")

    app = web.Application(middlewares=[security_headers, middleware(service="shop")])
    app.router.add_get("/fault", fault)
    core = Translator(service="shop")
    with serve_aiohttp(app) as url:
        response = hx.get(url + "/fault", headers={"Accept": "application/json"})

    assert response.status_code == 502
    assert response.headers["x-frame-options"] == "DENY"
    assert response.json()["code"] == "connection_refused"
    assert response.json()["instance"] == "/fault"
    want = core.response_for("connection_refused", RequestInfo(path="/fault"))
    assert response.headers["proxy-status"] == dict(want.headers)["proxy-status"]


def test_a_sub_application_s_failure_is_translated(urls: dict[str, str], hx: httpx.Client) -> None:
    async def busy(request: web.Request) -> web.Response:
        raise ServiceUnavailable(code="circuit_open", retry_after=12, upstream="quotes")

    sub = web.Application()
    sub.router.add_get("/busy", busy)
    app = build(urls, BASE)
    app.add_subapp("/api/", sub)
    with serve_aiohttp(app) as url:
        response = hx.get(url + "/api/busy", headers={"Accept": "application/json"})

    assert response.status_code == 503
    assert response.headers["retry-after"] == "12"
    problem = response.json()
    assert (problem["code"], problem["upstream"], problem["instance"]) == (
        "circuit_open",
        "quotes",
        "/api/busy",
    )


# -- describing the request ---------------------------------------------------------------


def test_an_absolute_form_target_gives_the_path_as_sent(
    urls: dict[str, str], hx: httpx.Client
) -> None:
    # What a client talking to a proxy sends (RFC 9112 §3.2.2): the whole URL as the target.
    with serve_aiohttp(build(urls, BASE)) as url:
        host, port = url.removeprefix("http://").split(":")
        with socket.create_connection((host, int(port)), timeout=5) as connection:
            connection.sendall(
                b"GET http://shop.example/fault/refused/a%2Fb?x=1 HTTP/1.1\r\n"
                b"Host: shop.example\r\nAccept: application/json\r\nConnection: close\r\n\r\n"
            )
            answer = b""
            while chunk := connection.recv(65536):
                answer += chunk

    head, _, body = answer.partition(b"\r\n\r\n")
    assert head.startswith(b"HTTP/1.1 502 Bad Gateway\r\n")
    assert json.loads(body)["instance"] == "/fault/refused/a%2Fb"


async def refused(request: web.Request) -> web.Response:
    raise ConnectionRefusedError(111, "Connection refused")


def test_a_request_that_cannot_be_described_still_gets_the_answer() -> None:
    class Odd:
        """Not what aiohttp hands a middleware: nothing to read but an untouched writer."""

        writer = types.SimpleNamespace(output_size=0)

    found = GatewayErrors(service="shop")
    response = asyncio.run(found(Odd(), refused))  # type: ignore[arg-type]

    assert isinstance(response, web.Response)
    assert response.status == 502
    assert isinstance(response.body, bytes)
    assert json.loads(response.body)["code"] == "connection_refused"


# -- request ids ---------------------------------------------------------------------------


def test_an_id_is_generated_when_none_came(urls: dict[str, str], hx: httpx.Client) -> None:
    with serve_aiohttp(build(urls, BASE)) as url:
        first = hx.get(url + "/fault/refused")
        second = hx.get(url + "/fault/refused")
        given = hx.get(url + "/fault/refused", headers={"X-Request-ID": REQUEST_ID})

    ids = [first.headers["x-request-id"], second.headers["x-request-id"]]
    assert all(len(value) == 32 and int(value, 16) >= 0 for value in ids)
    assert ids[0] != ids[1]
    assert [first.json()["request_id"], second.json()["request_id"]] == ids
    assert given.headers["x-request-id"] == REQUEST_ID


def test_forward_request_id_binds_the_id_while_the_handler_runs(
    urls: dict[str, str], hx: httpx.Client
) -> None:
    seen: list[tuple[str, str] | None] = []

    async def fault(request: web.Request) -> web.Response:
        seen.append(forwarded_request_id())  # what an outgoing call's hook sends on
        await asyncio.to_thread(call_upstream, urls, "refused")
        raise AssertionError("unreachable")

    app = web.Application()
    app.router.add_get("/fault", fault)
    install(app, service="shop", forward_request_id=True)
    with serve_aiohttp(app) as url:
        generated = hx.get(url + "/fault")
        given = hx.get(url + "/fault", headers={"X-Request-ID": REQUEST_ID})

    assert generated.status_code == given.status_code == 502
    # Generated by the first outgoing call when none came; the answer carries the same id.
    assert seen == [
        ("x-request-id", generated.headers["x-request-id"]),
        ("x-request-id", REQUEST_ID),
    ]


# -- maintenance ---------------------------------------------------------------------------


def test_maintenance_bypass_by_token_and_by_ip(urls: dict[str, str], hx: httpx.Client) -> None:
    token = BASE | {"maintenance": True, "maintenance_bypass_token": "let-me-in-0123456789"}
    by_ip = BASE | {"maintenance": True, "maintenance_bypass_ips": ("127.0.0.1",)}
    with serve_aiohttp(build(urls, token)) as url:
        closed = hx.get(url + "/ok")
        bypassed = hx.get(url + "/ok", headers={"X-Maintenance-Bypass": "let-me-in-0123456789"})
        wrong = hx.get(url + "/ok", headers={"X-Maintenance-Bypass": "guess"})
    with serve_aiohttp(build(urls, by_ip)) as url:
        from_loopback = hx.get(url + "/ok")

    assert (closed.status_code, wrong.status_code) == (503, 503)
    assert closed.json()["code"] == "maintenance"
    assert (bypassed.status_code, bypassed.text) == (200, "hello")
    assert (from_loopback.status_code, from_loopback.text) == (200, "hello")


def test_the_store_refresher_runs_from_startup_to_cleanup(
    urls: dict[str, str], hx: httpx.Client, tmp_path: Path
) -> None:
    store = FileStore(tmp_path / "maintenance.json")
    app = build(urls, BASE | {"maintenance_store": store, "maintenance_store_poll": 0.05})
    switch = installed(app).translator.maintenance_switch
    assert switch is not None
    switch.stop()  # as if built without starting: the app's startup starts it
    assert switch._thread is None

    with serve_aiohttp(app) as url:
        assert switch._thread is not None
        assert switch._thread.is_alive()
        assert hx.get(url + "/ok").status_code == 200
        store.write(MaintenanceState(on=True, message="Back at noon."))
        answer = wait_for_status(hx, url + "/ok", 503)
        assert answer.json()["detail"] == "Back at noon."
        assert hx.get(url + "/health").status_code == 200  # exempt
    assert switch._thread is None  # the app's cleanup stopped it
    assert switch._stop.is_set()


def wait_for_status(client: httpx.Client, url: str, status: int) -> httpx.Response:
    """The first answer with ``status`` (the refresher reads the store every 50 ms)."""
    done = threading.Event()
    for _ in range(200):
        response = client.get(url, headers={"Accept": "application/json"})
        if response.status_code == status:
            return response
        done.wait(0.02)
    raise AssertionError(f"{url} never answered {status}")


# -- after the response started ------------------------------------------------------------


def test_a_failure_mid_stream_aborts_the_connection(
    urls: dict[str, str], caplog: pytest.LogCaptureFixture
) -> None:
    app = build(urls, BASE)
    found = installed(app)
    with (
        serve_aiohttp(app) as url,
        caplog.at_level(logging.ERROR),
        httpx.Client(timeout=10) as client,
        client.stream("GET", url + "/stream/reset") as response,
    ):
        assert response.status_code == 200
        received, error = read_until_broken(response)

    assert received == b"first\n"  # never a body that looks complete
    assert isinstance(error, httpx.RemoteProtocolError)
    assert "incomplete" in str(error)
    assert found.failures_after_start == 1
    (record,) = records_of(caplog)
    assert record.gatewayerrors_response_started is True  # type: ignore[attr-defined]
    assert record.gatewayerrors_code == "connection_terminated"  # type: ignore[attr-defined]
    assert "connection aborted" in record.getMessage()


def read_until_broken(response: httpx.Response) -> tuple[bytes, Exception | None]:
    received = b""
    try:
        for chunk in response.iter_raw():
            received += chunk
    except httpx.HTTPError as exc:
        return received, exc
    return received, None


# -- WebSocket -------------------------------------------------------------------------------


def websocket_app(urls: dict[str, str], options: dict[str, Any] = BASE) -> web.Application:
    async def refused_before(request: web.Request) -> web.WebSocketResponse:
        await asyncio.to_thread(call_upstream, urls, "refused")
        raise AssertionError("unreachable")

    async def refused_after(request: web.Request) -> web.WebSocketResponse:
        ws = web.WebSocketResponse()
        await ws.prepare(request)
        await ws.receive_str()
        await asyncio.to_thread(call_upstream, urls, "refused")
        raise AssertionError("unreachable")

    app = build(urls, options)
    app.router.add_get("/ws/refused-before", refused_before)
    app.router.add_get("/ws/refused-after", refused_after)
    return app


def test_websocket_before_the_handshake_gets_the_http_error(urls: dict[str, str]) -> None:
    with (
        serve_aiohttp(websocket_app(urls)) as url,
        pytest.raises(InvalidStatus) as refused,
        connect(url.replace("http", "ws") + "/ws/refused-before", open_timeout=5),
    ):
        pass

    response = refused.value.response
    assert response.status_code == 502
    assert response.headers["content-type"] == "application/problem+json"
    assert json.loads(response.body)["code"] == "connection_refused"


def test_websocket_in_maintenance_gets_the_503_before_the_handler(urls: dict[str, str]) -> None:
    app = websocket_app(urls, BASE | {"maintenance": True, "maintenance_retry_after": 120})
    with (
        serve_aiohttp(app) as url,
        pytest.raises(InvalidStatus) as refused,
        connect(url.replace("http", "ws") + "/ws/refused-after", open_timeout=5),
    ):
        pass

    response = refused.value.response
    assert (response.status_code, response.headers["retry-after"]) == (503, "120")
    assert json.loads(response.body)["code"] == "maintenance"


def test_websocket_after_the_handshake_drops_the_connection(
    urls: dict[str, str], caplog: pytest.LogCaptureFixture
) -> None:
    app = websocket_app(urls)
    found = installed(app)
    with (
        serve_aiohttp(app) as url,
        caplog.at_level(logging.ERROR),
        connect(url.replace("http", "ws") + "/ws/refused-after", open_timeout=5) as ws,
    ):
        ws.send("go")
        with pytest.raises(ConnectionClosedError) as closed:
            ws.recv(timeout=5)

    # The middleware has no handle on the socket: no close frame (1006), where the ASGI
    # adapter sends 1014. The failure is logged and counted as one after the start.
    assert closed.value.rcvd is None
    assert found.failures_after_start == 1
    (record,) = records_of(caplog)
    assert record.gatewayerrors_response_started is True  # type: ignore[attr-defined]
    assert record.gatewayerrors_code == "connection_refused"  # type: ignore[attr-defined]


# -- an optional integration -----------------------------------------------------------------


def test_importing_gatewayerrors_does_not_import_aiohttp() -> None:
    program = "import sys, gatewayerrors, gatewayerrors.core; print('aiohttp' in sys.modules)"
    result = subprocess.run(
        [sys.executable, "-c", program], capture_output=True, text=True, timeout=60, check=True
    )
    assert result.stdout.strip() == "False"

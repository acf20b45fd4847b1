"""The adapter contract: what every adapter does, on every framework and server of the matrix.

Every framework of tests/helpers/support_matrix.py serves the same small app (the shared
interface of tests/helpers/adapter_servers.py) on every server of its kind: ``adapter`` is one
combination (ids like ``flask-waitress``). For each real upstream failure and each Accept
format, every adapter must send exactly what the core renders for that exception and request:
the same status, the same headers, the same bytes. A framework's primary combination is
unmarked; the others are marked ``matrix`` (``-m "not matrix"`` leaves them out). What only one
framework does stays in that adapter's own test module.
"""

from __future__ import annotations

import socket
from collections.abc import Iterator

import httpx
import pytest
from adapter_servers import (
    HTML,
    JSON,
    REQUEST_ID,
    RETRY_AFTER,
    STREAM_FIRST,
    TEXT,
    XML,
    Adapter,
    call_upstream,
    fetch,
)
from support_matrix import SERVERS, Combination, Server, combinations, host

from gatewayerrors.core import RequestInfo, Translator

pytestmark = pytest.mark.server

# fault name -> (status, code) for what requests raises against that upstream.
FAULTS = {
    "refused": (502, "connection_refused"),
    "timeout": (504, "connection_read_timeout"),
    "reset": (502, "connection_terminated"),
    "tls": (502, "tls_certificate_error"),
    "dns": (502, "dns_error"),
    "unavailable": (503, "upstream_overloaded"),
}
CONTENT_TYPES = {
    JSON: "application/problem+json",
    XML: "application/problem+xml",
    HTML: "text/html; charset=utf-8",
    TEXT: "text/plain; charset=utf-8",
}
MAINTENANCE = {"maintenance": True, "maintenance_retry_after": 120}
"""The options of the maintenance test (a server process of their own: matrix_servers.py)."""
# Headers the core decides; servers add their own (date, server) and framing.
CORE_HEADERS = ("content-type", "cache-control", "vary", "retry-after", "proxy-status")


def the_exception(urls: dict[str, str], name: str) -> Exception:
    """The exception the fault view meets, raised by the real client in this process."""
    try:
        call_upstream(urls, name)
    except Exception as exc:
        return exc
    raise AssertionError(f"{name} did not fail")


@pytest.fixture(
    scope="module",
    params=[
        pytest.param(found, id=found.id, marks=() if found.primary else pytest.mark.matrix)
        for found in combinations()
    ],
)
def combination(request: pytest.FixtureRequest) -> Combination:
    found: Combination = request.param
    return found


@pytest.fixture(scope="module")
def server(combination: Combination) -> Server:
    return SERVERS[combination.server]


@pytest.fixture(scope="module")
def adapter(combination: Combination, urls: dict[str, str]) -> Iterator[Adapter]:
    # Module scope: pytest runs one combination's tests together and stops its servers before
    # it starts the next.
    with host(combination, urls, expected=(MAINTENANCE,)) as found:
        yield found


@pytest.fixture(scope="module")
def exceptions(urls: dict[str, str]) -> dict[str, Exception]:
    return {name: the_exception(urls, name) for name in FAULTS}


@pytest.fixture(scope="module")
def core() -> Translator:
    return Translator(service="shop")


@pytest.mark.parametrize("accept", list(CONTENT_TYPES))
@pytest.mark.parametrize("fault", list(FAULTS))
def test_a_real_upstream_failure_gets_the_core_answer(
    adapter: Adapter,
    client: httpx.Client,
    core: Translator,
    exceptions: dict[str, Exception],
    fault: str,
    accept: str,
) -> None:
    path = f"/fault/{fault}"
    with adapter.configure():
        response = fetch(client, adapter, path, accept)
    status, code = FAULTS[fault]
    want = core.translate(exceptions[fault], RequestInfo("GET", path, "", accept, REQUEST_ID))
    assert want is not None
    assert response.status_code == want.status == status
    assert response.headers["content-type"] == CONTENT_TYPES[accept]
    assert response.content == want.body
    assert response.headers["content-length"] == str(len(want.body))
    assert response.headers["x-request-id"] == REQUEST_ID
    wanted = dict(want.headers)
    for name in CORE_HEADERS:
        assert response.headers.get(name) == wanted.get(name), name
    assert want.error.code == code
    if fault == "unavailable":
        assert response.headers["retry-after"] == RETRY_AFTER
    else:
        assert "retry-after" not in response.headers


def test_head_gets_the_headers_of_get_and_no_body(adapter: Adapter, client: httpx.Client) -> None:
    with adapter.configure():
        get = fetch(client, adapter, "/fault/unavailable")
        head = fetch(client, adapter, "/fault/unavailable", method="HEAD")
    assert (head.status_code, head.content) == (503, b"")
    assert head.headers["content-length"] == get.headers["content-length"] != "0"
    for name in (*CORE_HEADERS, "x-request-id"):
        assert head.headers.get(name) == get.headers.get(name), name


def test_the_connection_stays_open_after_an_error(adapter: Adapter, server: Server) -> None:
    # One client connection, errors and successes in turn: an error response is complete and
    # keeps HTTP/1.1 keep-alive, so the next request reuses the connection. A server that closes
    # every connection (gunicorn's sync worker) closes after an error as after a success.
    paths = ("/fault/refused", "/ok", "/fault/unavailable", "/ok")
    statuses = {"/fault/refused": 502, "/ok": 200, "/fault/unavailable": 503}
    if not server.keep_alive:
        with adapter.configure():
            for path in paths:
                with httpx.Client(timeout=5) as new_connection:
                    response = fetch(new_connection, adapter, path)
                assert response.status_code == statuses[path]
                assert response.headers["connection"].lower() == "close", path
                assert len(response.content) == int(response.headers["content-length"]), path
        return
    peers = set()
    with httpx.Client(timeout=5) as one_connection, adapter.configure():
        for path in paths:
            response = fetch(one_connection, adapter, path)
            assert response.status_code == statuses[path]
            assert response.headers.get("connection", "").lower() != "close", path
            stream = response.extensions["network_stream"]
            peers.add(stream.get_extra_info("client_addr"))
    assert len(peers) == 1


def test_an_unclassified_exception_is_left_to_the_framework(adapter: Adapter) -> None:
    # A connection of its own: what the server does with the connection after the framework's
    # 500 is not ours (Starlette's error middleware sends its 500, then re-raises to uvicorn,
    # which closes the connection without saying so: a reused one would be reset).
    with httpx.Client(timeout=5) as own_connection, adapter.configure():
        response = fetch(own_connection, adapter, "/fault/bug")
    assert response.status_code == 500
    # Not ours: none of the headers we add to an error, whatever the framework answers.
    assert not response.headers.get("content-type", "").startswith("application/problem")
    assert "proxy-status" not in response.headers
    assert "a bug, not an upstream failure" not in response.text


def test_success_passes_through_untouched(adapter: Adapter, client: httpx.Client) -> None:
    with adapter.configure():
        response = fetch(client, adapter, "/ok")
    assert (response.status_code, response.text) == (200, "hello")
    assert "proxy-status" not in response.headers


def test_maintenance_answers_503_before_the_app_runs(
    adapter: Adapter, client: httpx.Client
) -> None:
    with adapter.configure(**MAINTENANCE):
        for path in ("/ok", "/fault/refused"):
            response = fetch(client, adapter, path)
            assert response.status_code == 503, path
            assert response.json()["code"] == "maintenance"
            assert response.headers["retry-after"] == "120"
            assert "proxy-status" not in response.headers  # no upstream failed
    assert fetch(client, adapter, "/ok").status_code == 200


BROWSER = "text/html,application/xhtml+xml,application/xml;q=0.9,*/*;q=0.8"


@pytest.mark.parametrize(
    ("accept", "content_type"),
    [(BROWSER, "text/html; charset=utf-8"), (None, "application/problem+json")],
    ids=["browser", "no-accept"],
)
def test_a_browser_gets_the_page_and_no_accept_gets_json(
    adapter: Adapter, client: httpx.Client, accept: str | None, content_type: str
) -> None:
    with adapter.configure():
        request = client.build_request("GET", adapter.url + "/fault/refused")
        request.headers["x-request-id"] = REQUEST_ID
        if accept is None:
            del request.headers["accept"]
        else:
            request.headers["accept"] = accept
        response = client.send(request)
    assert response.status_code == 502
    assert response.headers["content-type"] == content_type
    # A page's words follow Accept-Language (docs/languages.md); problem details' never do.
    page = accept is not None
    assert response.headers["vary"] == ("Accept, Accept-Language" if page else "Accept")
    assert response.headers.get("content-language") == ("en" if page else None)


def read_until_closed(url: str, request: bytes, first: bytes, wait: float) -> tuple[bytes, bool]:
    """Send ``request`` on a new connection and read: up to 5 s until ``first`` came, then
    until ``wait`` seconds pass in silence. What came back, and whether the server closed the
    connection."""
    host_name, port = url.rsplit("/", 1)[-1].split(":")
    received = b""
    with socket.create_connection((host_name, int(port)), timeout=5) as sock:
        sock.sendall(request)
        while True:
            if first in received:
                sock.settimeout(wait)
            try:
                data = sock.recv(65536)
            except ConnectionResetError:
                return received, True
            except TimeoutError:
                return received, False
            if not data:
                return received, True
            received += data


@pytest.mark.parametrize("fault", ["refused", "unavailable"])
def test_a_failure_after_the_response_started_sends_no_second_response(
    request: pytest.FixtureRequest,
    combination: Combination,
    adapter: Adapter,
    server: Server,
    fault: str,
) -> None:
    # /stream/<fault> sends 200 and a first chunk, then its upstream call fails: too late for a
    # gateway error. The client must see a response it can tell is broken (a chunked body with
    # no last chunk), never an error document appended to it or a second status line.
    get = f"GET /stream/{fault} HTTP/1.1\r\nHost: t\r\nAccept: {JSON}\r\n\r\n".encode()
    with adapter.configure():
        raw, closed = read_until_closed(adapter.url, get, STREAM_FIRST, wait=1.0)
    with httpx.Client(timeout=5) as new_connection:
        assert fetch(new_connection, adapter, "/ok").status_code == 200  # the server survived
    if not raw and server.may_send_nothing_after_late_failure:
        assert closed  # nothing went out: no response at all, rather than a wrong one
        return
    head, _, body = raw.partition(b"\r\n\r\n")
    assert head.startswith(b"HTTP/1.1 200"), raw
    assert b"transfer-encoding: chunked" in head.lower()
    assert body == b"%x\r\n%s\r\n" % (len(STREAM_FIRST), STREAM_FIRST)  # and no last chunk
    # Most servers close the connection; daphne leaves it open (server.closes_after_late_failure).
    assert closed is server.closes_after_late_failure
    assert b"content-type: text/plain" in head.lower()  # the app's headers went out with it

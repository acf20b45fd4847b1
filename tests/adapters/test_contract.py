"""The adapter contract: what every adapter does, checked on a real server for each.

ASGI middleware (uvicorn), WSGI middleware, Flask extension and Django middleware (waitress), and
the aiohttp.web middleware (aiohttp's own server) serve the same small app
(tests/helpers/adapter_servers.py). For each real upstream failure and each Accept format, every
adapter must send exactly what the core renders for that exception and request: the same status, the
same headers, the same bytes. What only one framework does stays in that adapter's own test module.
"""

from __future__ import annotations

import httpx
import pytest
from adapter_servers import (
    HTML,
    JSON,
    REQUEST_ID,
    RETRY_AFTER,
    TEXT,
    XML,
    Adapter,
    call_upstream,
    fetch,
)

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
# Headers the core decides; servers add their own (date, server) and framing.
CORE_HEADERS = ("content-type", "cache-control", "vary", "retry-after", "proxy-status")


def the_exception(urls: dict[str, str], name: str) -> Exception:
    """The exception the fault view meets, raised by the real client in this process."""
    try:
        call_upstream(urls, name)
    except Exception as exc:
        return exc
    raise AssertionError(f"{name} did not fail")


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


def test_the_connection_stays_open_after_an_error(adapter: Adapter) -> None:
    # One client connection, errors and successes in turn: an error response is complete and
    # keeps HTTP/1.1 keep-alive, so the next request reuses the connection.
    peers = set()
    with httpx.Client(timeout=5) as one_connection, adapter.configure():
        for path in ("/fault/refused", "/ok", "/fault/unavailable", "/ok"):
            response = fetch(one_connection, adapter, path)
            assert response.status_code == (200 if path == "/ok" else 502 if "ref" in path else 503)
            assert response.headers.get("connection", "").lower() != "close", path
            stream = response.extensions["network_stream"]
            peers.add(stream.get_extra_info("client_addr"))
    assert len(peers) == 1


def test_an_unclassified_exception_is_left_to_the_framework(
    adapter: Adapter, client: httpx.Client
) -> None:
    with adapter.configure():
        response = fetch(client, adapter, "/fault/bug")
    assert response.status_code == 500
    # Not ours: none of the headers we add to an error, whatever the framework answers.
    assert not response.headers["content-type"].startswith("application/problem")
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
    with adapter.configure(maintenance=True, maintenance_retry_after=120):
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
    request = client.build_request("GET", adapter.url + "/fault/refused")
    request.headers["x-request-id"] = REQUEST_ID
    if accept is None:
        del request.headers["accept"]
    else:
        request.headers["accept"] = accept
    with adapter.configure():
        response = client.send(request)
    assert response.status_code == 502
    assert response.headers["content-type"] == content_type
    # A page's words follow Accept-Language (docs/languages.md); problem details' never do.
    page = accept is not None
    assert response.headers["vary"] == ("Accept, Accept-Language" if page else "Accept")
    assert response.headers.get("content-language") == ("en" if page else None)

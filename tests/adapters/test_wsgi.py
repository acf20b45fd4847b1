"""GatewayErrorsWSGIMiddleware under waitress: real upstream failures, real clients, PEP 3333."""

from __future__ import annotations

import io
import json
import logging
import threading
import time
from collections.abc import Callable, Iterable, Iterator
from typing import Any
from urllib.parse import parse_qs

import httpx
import pytest
import requests
from wsgi_servers import (
    CLIENTS,
    FAULTS,
    PROBLEM_JSON,
    call_upstream,
    raw_request,
    serve_wsgi,
    upstream_exception,
)

from gatewayerrors import GatewayErrorsWSGIMiddleware, ServiceUnavailable
from gatewayerrors.core import RequestInfo, Translator

pytestmark = pytest.mark.server


class TrackedBody:
    """An app body that records ``close()`` and may fail while iterated."""

    def __init__(self, chunks: Iterable[bytes | Exception], closed: list[str], name: str) -> None:
        self.chunks = chunks
        self.closed = closed
        self.name = name

    def __iter__(self) -> Iterator[bytes]:
        for chunk in self.chunks:
            if isinstance(chunk, Exception):
                raise chunk
            yield chunk

    def close(self) -> None:
        self.closed.append(self.name)


def no_write(data: bytes) -> object:
    """The ``write`` callable of a start_response that discards what it is given."""
    return None


def no_start_response(
    status: str, headers: list[tuple[str, str]], exc_info: Any = None, /
) -> Callable[[bytes], object]:
    """A start_response for calling a WSGI app by hand, answer unused."""
    return no_write


def generator_body(upstreams: Any, closed: list[str], path: str) -> Iterator[bytes]:
    """A generator body (the middleware guards these without a class instance)."""
    try:
        if path == "/gen/ok":
            yield b"hel"
            yield b"lo"
            return
        if path == "/gen/late":
            yield b"partial"
        call_upstream(upstreams, "refused")
        yield b"unreachable"
    finally:
        closed.append(path)


def make_app(upstreams: Any, closed: list[str]) -> Callable[..., Iterable[bytes]]:
    """A plain WSGI app whose routes fail in every way PEP 3333 allows."""

    def app(environ: dict[str, Any], start_response: Any) -> Iterable[bytes]:
        path = environ["PATH_INFO"]
        query = parse_qs(environ["QUERY_STRING"])
        ok = [("Content-Type", "text/plain")]
        if path in ("/ok", "/health"):
            start_response("200 OK", [*ok, ("Content-Length", "5")])
            return [b"hello"]
        if path.startswith("/fault/"):
            call_upstream(upstreams, path[len("/fault/") :], query.get("client", ["requests"])[0])
        if path == "/own":
            raise ServiceUnavailable(code="circuit_open", retry_after=30, upstream="payments")
        if path == "/unclassified":
            raise ValueError("a bug, not an upstream failure")
        if path == "/started-then-fault":
            start_response("200 OK", ok)
            call_upstream(upstreams, "refused")
        if path == "/write-then-fault":
            write = start_response("200 OK", ok)
            write(b"partial")
            call_upstream(upstreams, "refused")
        if path == "/file":
            start_response("200 OK", ok)
            return environ["wsgi.file_wrapper"](io.BytesIO(b"file body"))  # type: ignore[no-any-return]
        start_response("200 OK", ok)
        if path.startswith("/gen/"):
            return generator_body(upstreams, closed, path)
        refused = upstream_exception(upstreams, "refused")
        bodies: dict[str, list[bytes | Exception]] = {
            "/stream": [b"hel", b"lo"],
            "/stream-fault-first": [refused],
            "/stream-fault-after-empty": [b"", refused],
            "/stream-fault-late": [b"partial", refused],
            "/stream-unclassified": [ValueError("bug")],
            "/stream-unclassified-late": [b"partial", ValueError("bug")],
        }
        return TrackedBody(bodies[path], closed, path)

    return app


@pytest.fixture(scope="module")
def closed() -> list[str]:
    return []


@pytest.fixture(scope="module")
def translator() -> Translator:
    return Translator(service="catalog")


@pytest.fixture(scope="module")
def base_url(upstreams: Any, closed: list[str], translator: Translator) -> Iterator[str]:
    app = GatewayErrorsWSGIMiddleware(make_app(upstreams, closed), translator=translator)
    with serve_wsgi(app) as url:
        yield url


def wait_closed(closed: list[str], name: str) -> None:
    deadline = time.monotonic() + 2
    while name not in closed:
        assert time.monotonic() < deadline, f"{name}: the app's body was never closed"
        time.sleep(0.005)


def expected_body(
    translator: Translator, exc: BaseException, path: str, accept: str | None, rid: str
) -> bytes:
    response = translator.translate(exc, RequestInfo("GET", path, "", accept, rid))
    assert response is not None
    return response.body


# -- happy path ----------------------------------------------------------------------------


def test_happy_path_passes_through(base_url: str, hx: httpx.Client) -> None:
    with requests.Session() as session:
        response = session.get(f"{base_url}/ok", timeout=5)
        assert (response.status_code, response.text) == (200, "hello")
        response = session.get(f"{base_url}/stream", timeout=5)
        assert (response.status_code, response.text) == (200, "hello")
    assert hx.get(f"{base_url}/file", timeout=5).text == "file body"


def test_list_and_file_wrapper_bodies_are_returned_unchanged() -> None:
    body = [b"hello"]

    def app(environ: dict[str, Any], start_response: Any) -> list[bytes]:
        return body

    middleware = GatewayErrorsWSGIMiddleware(app)
    assert middleware({"PATH_INFO": "/"}, no_start_response) is body

    class FileWrapper:
        pass

    wrapped = FileWrapper()
    middleware = GatewayErrorsWSGIMiddleware(lambda environ, start_response: wrapped)  # type: ignore[arg-type, return-value, unused-ignore]
    answer: object = middleware({"wsgi.file_wrapper": FileWrapper}, no_start_response)
    assert answer is wrapped


def test_close_reaches_the_body_even_when_never_iterated() -> None:
    closed: list[str] = []
    middleware = GatewayErrorsWSGIMiddleware(
        lambda environ, start_response: TrackedBody([b"x"], closed, "never-iterated")
    )
    body = middleware({}, no_start_response)
    body.close()  # type: ignore[attr-defined, unused-ignore]
    assert closed == ["never-iterated"]


# -- upstream failures from the app call ---------------------------------------------------


@pytest.mark.parametrize("client", CLIENTS)
def test_real_upstream_failures(
    base_url: str, upstreams: Any, translator: Translator, client: str
) -> None:
    with requests.Session() as session:
        for fault in FAULTS:
            exc = upstream_exception(upstreams, fault, client)
            path = f"/fault/{fault}"
            response = session.get(
                f"{base_url}{path}?client={client}",
                headers={"Accept": PROBLEM_JSON, "X-Request-Id": f"rid-{fault}"},
                timeout=5,
            )
            want = translator.translate(
                exc, RequestInfo("GET", path, f"client={client}", PROBLEM_JSON, f"rid-{fault}")
            )
            assert want is not None
            assert response.status_code == want.status, fault
            assert response.content == want.body, fault
            problem = response.json()
            assert problem["status"] == want.status
            assert problem["code"] == want.error.code
            assert problem["request_id"] == f"rid-{fault}"
            assert response.headers["content-type"] == PROBLEM_JSON
            assert response.headers["cache-control"] == "no-store"
            assert response.headers["vary"] == "Accept"
            assert response.headers["x-request-id"] == f"rid-{fault}"
            if want.status == 503:
                assert response.headers["retry-after"] == "7"


def test_status_codes_by_failure_kind(base_url: str, hx: httpx.Client) -> None:
    expected = {"refused": 502, "hang": 504, "tls": 502, "dns": 502, "503": 503, "500": 502}
    for fault, status in expected.items():
        response = hx.get(f"{base_url}/fault/{fault}", timeout=5)
        assert response.status_code == status, fault
    assert response.headers["proxy-status"] == "catalog; received-status=500"


def test_own_exception(base_url: str) -> None:
    response = requests.get(f"{base_url}/own", timeout=5)
    assert response.status_code == 503
    assert response.headers["retry-after"] == "30"
    assert response.json()["code"] == "circuit_open"
    assert response.json()["upstream"] == "payments"


def test_error_after_start_response_replaces_the_headers(base_url: str) -> None:
    response = requests.get(f"{base_url}/started-then-fault", timeout=5)
    assert response.status_code == 502
    assert response.headers["content-type"] == PROBLEM_JSON
    assert response.json()["code"] == "connection_refused"


def test_unclassified_exception_reaches_the_server(base_url: str) -> None:
    response = requests.get(f"{base_url}/unclassified", timeout=5)
    assert response.status_code == 500
    assert "application/problem" not in response.headers.get("content-type", "")
    assert "Internal Server Error" in response.text  # waitress's own page


# -- failures while the body is iterated ---------------------------------------------------


@pytest.mark.parametrize("path", ["/stream-fault-first", "/stream-fault-after-empty"])
def test_streamed_body_failing_before_any_byte_gets_an_answer(
    base_url: str, closed: list[str], path: str
) -> None:
    response = requests.get(f"{base_url}{path}", headers={"Accept": "text/plain"}, timeout=5)
    assert response.status_code == 502
    assert response.headers["content-type"] == "text/plain; charset=utf-8"
    assert response.text.startswith("502")
    wait_closed(closed, path)


def test_streamed_body_failing_late_aborts_the_response(
    base_url: str, closed: list[str], hx: httpx.Client
) -> None:
    with pytest.raises(requests.exceptions.ChunkedEncodingError):
        requests.get(f"{base_url}/stream-fault-late", timeout=5)
    with pytest.raises(httpx.RemoteProtocolError):
        hx.get(f"{base_url}/stream-fault-late", timeout=5)
    raw = raw_request(base_url, b"GET /stream-fault-late HTTP/1.1\r\nHost: t\r\n\r\n")
    head, _, body = raw.partition(b"\r\n\r\n")
    assert head.startswith(b"HTTP/1.1 200")
    assert b"Transfer-Encoding: chunked" in head
    assert b"partial" in body
    assert not body.endswith(b"0\r\n\r\n")  # no last chunk: the client knows it is broken
    wait_closed(closed, "/stream-fault-late")


def test_write_callable_then_failure_aborts(base_url: str) -> None:
    raw = raw_request(base_url, b"GET /write-then-fault HTTP/1.1\r\nHost: t\r\n\r\n")
    assert raw.startswith(b"HTTP/1.1 200")
    assert b"partial" in raw
    assert b"problem" not in raw
    assert not raw.endswith(b"0\r\n\r\n")


def test_generator_bodies(base_url: str, closed: list[str]) -> None:
    ok = requests.get(f"{base_url}/gen/ok", timeout=5)
    assert (ok.status_code, ok.text) == (200, "hello")
    early = requests.get(f"{base_url}/gen/early", headers={"Accept": "text/plain"}, timeout=5)
    assert (early.status_code, early.text[:3]) == (502, "502")
    with pytest.raises(requests.exceptions.ChunkedEncodingError):
        requests.get(f"{base_url}/gen/late", timeout=5)
    for path in ("/gen/ok", "/gen/early", "/gen/late"):
        wait_closed(closed, path)


def test_closing_a_guarded_generator_closes_the_app_generator() -> None:
    closed: list[str] = []

    def app(environ: dict[str, Any], start_response: Any) -> Iterator[bytes]:
        return generator_body(None, closed, "/gen/ok")

    body = GatewayErrorsWSGIMiddleware(app)({}, no_start_response)
    assert next(iter(body)) == b"hel"
    body.close()  # type: ignore[attr-defined, unused-ignore]
    assert closed == ["/gen/ok"]


def test_streamed_unclassified_failure_propagates(base_url: str, closed: list[str]) -> None:
    response = requests.get(f"{base_url}/stream-unclassified", timeout=5)
    assert response.status_code == 500
    assert "Internal Server Error" in response.text
    wait_closed(closed, "/stream-unclassified")


# -- settings through the middleware -------------------------------------------------------


def test_maintenance_mode_and_exempt_paths(upstreams: Any) -> None:
    app = GatewayErrorsWSGIMiddleware(make_app(upstreams, []), maintenance=True)
    with serve_wsgi(app) as url:
        response = requests.get(f"{url}/ok", timeout=5)
        assert response.status_code == 503
        assert response.headers["retry-after"] == "300"
        assert response.json()["code"] == "maintenance"
        assert requests.get(f"{url}/health", timeout=5).status_code == 200
        head = requests.head(f"{url}/ok", timeout=5)
        assert (head.status_code, head.content) == (503, b"")


def test_maintenance_callable_is_checked_per_request(upstreams: Any) -> None:
    switch = threading.Event()
    app = GatewayErrorsWSGIMiddleware(make_app(upstreams, []), maintenance=switch.is_set)
    with serve_wsgi(app) as url:
        assert requests.get(f"{url}/ok", timeout=5).status_code == 200
        switch.set()
        assert requests.get(f"{url}/ok", timeout=5).status_code == 503


def test_suppress_response_codes(upstreams: Any) -> None:
    app = GatewayErrorsWSGIMiddleware(
        make_app(upstreams, []), suppress_response_codes="suppress_response_codes"
    )
    with serve_wsgi(app) as url:
        response = requests.get(f"{url}/fault/refused?suppress_response_codes=true", timeout=5)
        assert response.status_code == 200
        assert response.json()["status"] == 502
        assert requests.get(f"{url}/fault/refused", timeout=5).status_code == 502


def test_on_error_hook_and_log(upstreams: Any, caplog: pytest.LogCaptureFixture) -> None:
    seen: list[tuple[str, str]] = []
    app = GatewayErrorsWSGIMiddleware(
        make_app(upstreams, []),
        on_error=lambda error, exc: seen.append((error.code, type(exc).__name__)),
    )
    with caplog.at_level("ERROR", logger="gatewayerrors"), serve_wsgi(app) as url:
        requests.get(f"{url}/fault/refused", timeout=5)
        requests.get(f"{url}/stream-fault-first", timeout=5)
    assert seen == [("connection_refused", "ConnectionError")] * 2
    assert sum("connection_refused" in r.getMessage() for r in caplog.records) == 2


def test_instance_is_the_full_path_decoded_as_utf8(upstreams: Any, hx: httpx.Client) -> None:
    def app(environ: dict[str, Any], start_response: Any) -> list[bytes]:
        call_upstream(upstreams, "refused")
        return []

    with serve_wsgi(GatewayErrorsWSGIMiddleware(app)) as url:
        response = hx.get(f"{url}/caf%C3%A9", timeout=5)
    # Decoded as UTF-8 (as ASGI does), then rendered as a URI reference; a latin-1 reading
    # would give /caf%C3%83%C2%A9.
    assert response.json()["instance"] == "/caf%C3%A9"
    captured: list[str] = []

    def capture(
        status: str, headers: list[tuple[str, str]], exc_info: Any = None, /
    ) -> Callable[[bytes], object]:
        captured.append(status)
        return no_write

    body = GatewayErrorsWSGIMiddleware(app)(
        {"SCRIPT_NAME": "/api", "PATH_INFO": "/x"},
        capture,
    )
    assert captured == ["502 Bad Gateway"]
    assert json.loads(b"".join(body))["instance"] == "/api/x"


def test_passing_settings_and_translator_is_an_error() -> None:
    with pytest.raises(TypeError):
        GatewayErrorsWSGIMiddleware(lambda e, s: [], translator=Translator(), service="x")  # type: ignore[arg-type, misc, unused-ignore]


def test_failures_after_the_start_are_logged_counted_and_reported(
    upstreams: Any, caplog: pytest.LogCaptureFixture
) -> None:
    # Too late to answer, but not silent: the same report as the ASGI middleware's.
    hooked: list[tuple[Any, BaseException | None]] = []
    closed: list[str] = []
    app = GatewayErrorsWSGIMiddleware(
        make_app(upstreams, closed), on_error=lambda error, exc: hooked.append((error, exc))
    )
    late = ("/stream-fault-late", "/gen/late", "/write-then-fault")
    with caplog.at_level(logging.ERROR, "gatewayerrors"), serve_wsgi(app) as url:
        for path in late:
            raw = raw_request(url, f"GET {path} HTTP/1.1\r\nHost: t\r\n\r\n".encode())
            assert raw.startswith(b"HTTP/1.1 200"), path
            assert b"partial" in raw, path
            assert not raw.endswith(b"0\r\n\r\n"), path  # aborted, never complete-looking
        with pytest.raises(requests.exceptions.ChunkedEncodingError):
            requests.get(f"{url}/stream-unclassified-late", timeout=5)
    assert app.failures_after_start == len(late)
    assert [error.code for error, _ in hooked] == ["connection_refused"] * len(late)
    assert all(isinstance(exc, requests.ConnectionError) for _, exc in hooked)
    records = [r for r in caplog.records if r.name == "gatewayerrors"]
    assert len(records) == len(late)  # the unclassified ValueError is not ours to report
    for record in records:
        assert "after the response started" in record.getMessage()
        assert record.gatewayerrors_response_started is True  # type: ignore[attr-defined]
        assert record.exc_info is not None


def test_under_granian_the_status_goes_to_the_server_when_the_app_returns(upstreams: Any) -> None:
    # Granian ignores a start_response made while the body is iterated (the contract matrix runs
    # it for real; its WSGI threads are out of coverage's reach, hence this direct call). The
    # status goes over when the app returns, so a body failing before its first byte can no
    # longer be answered: it is a failure after the start, logged, counted and re-raised.
    def app(environ: dict[str, Any], start_response: Any) -> Iterator[bytes]:
        start_response("200 OK", [("Content-Type", "text/plain")])

        def body() -> Iterator[bytes]:
            requests.get(upstreams.refused_url, timeout=2)
            yield b"never"

        return body()

    middleware = GatewayErrorsWSGIMiddleware(app)
    statuses: list[str] = []

    def start_response(status: str, headers: Any, exc_info: Any = None) -> Any:
        statuses.append(status)
        return lambda data: None

    body = middleware({"SERVER_SOFTWARE": "Granian", "PATH_INFO": "/"}, start_response)
    assert statuses == ["200 OK"]  # before the server iterates the body
    with pytest.raises(requests.ConnectionError):
        list(body)
    getattr(body, "close", lambda: None)()
    assert statuses == ["200 OK"]
    assert middleware.failures_after_start == 1


# -- environs that break PEP 3333 ------------------------------------------------------------

MALFORMED_ENVIRONS = {
    "bytes PATH_INFO": {"PATH_INFO": b"/p"},
    "None values": {"PATH_INFO": None, "QUERY_STRING": None, "REQUEST_METHOD": None},
    "non-str SCRIPT_NAME": {"SCRIPT_NAME": 7, "PATH_INFO": "/p"},
    "bytes headers": {"HTTP_ACCEPT": b"text/html", "HTTP_X_REQUEST_ID": b"r1"},
    "missing keys": {},
}


def call_directly(app: Any, environ: dict[str, Any]) -> tuple[list[str], bytes]:
    """Call a WSGI app as a server would (no server can send such an environ)."""
    statuses: list[str] = []

    def start_response(status: str, headers: Any, exc_info: Any = None) -> Any:
        statuses.append(status)
        return lambda data: None

    body = app(environ, start_response)
    try:
        return statuses, b"".join(body)
    finally:
        getattr(body, "close", lambda: None)()


@pytest.mark.parametrize("environ", MALFORMED_ENVIRONS.values(), ids=list(MALFORMED_ENVIRONS))
def test_a_malformed_environ_still_gets_the_answer(upstreams: Any, environ: dict[str, Any]) -> None:
    exc = upstream_exception(upstreams, "refused")
    seen: list[RequestInfo] = []

    def style(error: Any, fmt: Any, request: RequestInfo) -> tuple[str, bytes]:
        seen.append(request)
        return "text/plain", error.code.encode()

    def failing(environ: Any, start_response: Any) -> Iterable[bytes]:
        raise exc

    app = GatewayErrorsWSGIMiddleware(failing, style=style)
    statuses, body = call_directly(app, dict(environ))
    assert (statuses, body) == (["502 Bad Gateway"], b"connection_refused")
    [request] = seen
    assert all(isinstance(field, str) and field for field in request[:2])
    assert isinstance(request.query, str)
    assert request.accept is None or isinstance(request.accept, str)
    assert request.request_id is None or isinstance(request.request_id, str)

    bug = ValueError("a bug, not an upstream failure")

    def buggy(environ: Any, start_response: Any) -> Iterable[bytes]:
        raise bug

    with pytest.raises(ValueError) as raised:
        call_directly(GatewayErrorsWSGIMiddleware(buggy), dict(environ))
    assert raised.value is bug


def test_a_malformed_environ_in_maintenance_mode_gets_the_503() -> None:
    app = GatewayErrorsWSGIMiddleware(make_app(None, []), maintenance=True)
    statuses, body = call_directly(app, {"PATH_INFO": b"/ok", "HTTP_ACCEPT": 1})
    assert statuses == ["503 Service Unavailable"]
    assert b"maintenance" in body

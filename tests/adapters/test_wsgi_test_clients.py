"""A WSGI failure before the body's first chunk gets its 502 under every caller of the app:
waitress, Werkzeug's test ``Client`` and Flask's ``test_client()`` (a streamed view).

PEP 3333 wants ``exc_info`` only when a status already went to the server; Werkzeug's test
client re-raises whenever it is given. The middleware holds the app's ``start_response`` until
the first chunk, so that until then its answer is a plain first ``start_response``. After the
first bytes, a failure still aborts: the client must see a broken response, never a complete one.
"""

from __future__ import annotations

import warnings
from collections.abc import Callable, Iterable, Iterator
from typing import Any
from wsgiref.validate import validator

import flask
import httpx
import pytest
import requests
from werkzeug.test import Client
from wsgi_servers import serve_wsgi

from gatewayerrors import GatewayErrorsWSGIMiddleware
from gatewayerrors.flask import GatewayErrors

pytestmark = pytest.mark.server

HEADERS = [("Content-Type", "text/plain")]
App = Callable[[dict[str, Any], Any], Iterable[bytes]]


def call_refused(url: str) -> None:
    requests.get(url, timeout=2)
    raise AssertionError("the refused port answered")


def wsgi_apps(url: str) -> dict[str, App]:
    """Apps that fail in each place PEP 3333 allows, each with a real refused connection."""

    def before_start_response(environ: Any, start_response: Any) -> list[bytes]:
        call_refused(url)
        return []

    def after_start_response(environ: Any, start_response: Any) -> list[bytes]:
        start_response("200 OK", HEADERS)
        call_refused(url)
        return []

    def generator_before_first_chunk(environ: Any, start_response: Any) -> Iterator[bytes]:
        start_response("200 OK", HEADERS)
        call_refused(url)
        yield b"never"

    def generator_calling_start_response_late(environ: Any, start_response: Any) -> Iterator[bytes]:
        call_refused(url)  # a generator app runs only when iterated, before start_response
        start_response("200 OK", HEADERS)
        yield b"never"

    class Rows:
        """An iterable that is not a generator (a ``close()`` of its own)."""

        def __iter__(self) -> Iterator[bytes]:
            call_refused(url)
            yield b"never"

        def close(self) -> None:
            pass

    def iterable_before_first_chunk(environ: Any, start_response: Any) -> Iterable[bytes]:
        start_response("200 OK", HEADERS)
        return Rows()

    return {
        "before start_response": before_start_response,
        "after start_response": after_start_response,
        "generator before its first chunk": generator_before_first_chunk,
        "generator calling start_response late": generator_calling_start_response_late,
        "iterable before its first chunk": iterable_before_first_chunk,
    }


def after_first_chunk(url: str) -> App:
    def app(environ: Any, start_response: Any) -> Iterator[bytes]:
        start_response("200 OK", HEADERS)
        yield b"first row\n"
        call_refused(url)

    return app


def after_write(url: str) -> App:
    def app(environ: Any, start_response: Any) -> list[bytes]:
        write = start_response("200 OK", HEADERS)
        write(b"first row\n")  # PEP 3333's write(): the status and these bytes went out
        call_refused(url)
        return []

    return app


CASES = sorted(wsgi_apps("http://unused/"))


def assert_answered(status: int, content_type: str, body: bytes) -> None:
    assert status == 502
    assert content_type == "application/problem+json"
    assert b'"code":"connection_refused"' in body


# -- Werkzeug's test Client ------------------------------------------------------------------


@pytest.mark.parametrize("case", CASES)
def test_werkzeug_client_gets_the_502(upstreams: Any, case: str) -> None:
    app = GatewayErrorsWSGIMiddleware(wsgi_apps(upstreams.refused_url)[case])
    response = Client(app).get("/orders", headers={"Accept": "application/json"})

    assert_answered(response.status_code, response.headers["content-type"], response.data)
    assert response.headers["proxy-status"] == "app; error=connection_refused"


@pytest.mark.parametrize("make", [after_first_chunk, after_write])
def test_werkzeug_client_still_sees_a_failure_after_the_start(
    upstreams: Any, make: Callable[[str], App]
) -> None:
    middleware = GatewayErrorsWSGIMiddleware(make(upstreams.refused_url))
    with pytest.raises(requests.ConnectionError):
        Client(middleware).get("/orders").get_data()
    assert middleware.failures_after_start == 1


# -- the stdlib's PEP 3333 validator ------------------------------------------------------------


def hello(environ: Any, start_response: Any) -> Iterator[bytes]:
    start_response("200 OK", HEADERS)
    yield b""
    yield b"hello"


def hello_list(environ: Any, start_response: Any) -> list[bytes]:
    start_response("200 OK", HEADERS)
    return [b"hello"]


@pytest.mark.parametrize("case", CASES)
def test_the_answer_passes_wsgiref_validation(upstreams: Any, case: str) -> None:
    app = validator(GatewayErrorsWSGIMiddleware(wsgi_apps(upstreams.refused_url)[case]))
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # the validator warns for what it finds
        with Client(app).get("/orders", headers={"Accept": "application/json"}) as response:
            data = response.data  # closed on leaving the block, as the validator requires
        assert_answered(response.status_code, response.headers["content-type"], data)


@pytest.mark.parametrize("inner", [hello, hello_list])
def test_the_happy_path_passes_wsgiref_validation(inner: App) -> None:
    app = validator(GatewayErrorsWSGIMiddleware(inner))
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        with Client(app).get("/") as response:
            data = response.data
        assert (response.status_code, data) == (200, b"hello")


# -- waitress ----------------------------------------------------------------------------------


@pytest.mark.parametrize("case", CASES)
def test_waitress_gets_the_502(upstreams: Any, hx: httpx.Client, case: str) -> None:
    app = GatewayErrorsWSGIMiddleware(wsgi_apps(upstreams.refused_url)[case])
    with serve_wsgi(app, threads=1) as url:
        response = hx.get(url + "/orders")

    assert_answered(response.status_code, response.headers["content-type"], response.content)


@pytest.mark.parametrize("make", [after_first_chunk, after_write])
def test_waitress_aborts_a_failure_after_the_start(
    upstreams: Any, hx: httpx.Client, make: Callable[[str], App]
) -> None:
    middleware = GatewayErrorsWSGIMiddleware(make(upstreams.refused_url))
    with serve_wsgi(middleware, threads=1) as url, pytest.raises(httpx.RemoteProtocolError):
        hx.get(url + "/orders")
    assert middleware.failures_after_start == 1


# -- Flask's test_client, streamed views -------------------------------------------------------


def flask_app(url: str) -> flask.Flask:
    app = flask.Flask(__name__)

    @app.get("/export")
    def export() -> flask.Response:
        def rows() -> Iterator[str]:
            call_refused(url)  # runs after the view returned, when the body is iterated
            yield "never\n"

        return flask.Response(rows(), mimetype="text/csv")

    @app.get("/export-with-context")
    def export_with_context() -> flask.Response:
        @flask.stream_with_context
        def rows() -> Iterator[str]:
            call_refused(url)
            yield "never\n"

        # Flask types the decorated generator as taking the wrapped one's arguments: none here.
        return flask.Response(rows(), mimetype="text/csv")  # type: ignore[call-arg]

    @app.get("/export-late")
    def export_late() -> flask.Response:
        def rows() -> Iterator[str]:
            yield "first row\n"
            call_refused(url)

        return flask.Response(rows(), mimetype="text/csv")

    @app.get("/view")
    def view() -> str:
        call_refused(url)
        return "never"

    GatewayErrors(app, service="shop")
    return app


@pytest.mark.parametrize("path", ["/export", "/export-with-context", "/view"])
def test_flask_test_client_gets_the_502(upstreams: Any, path: str) -> None:
    client = flask_app(upstreams.refused_url).test_client()
    response = client.get(path, headers={"Accept": "application/json"})

    assert_answered(response.status_code, response.headers["content-type"], response.data)
    assert response.headers["proxy-status"] == "shop; error=connection_refused"


def test_flask_test_client_still_sees_a_failure_after_the_first_row(upstreams: Any) -> None:
    client = flask_app(upstreams.refused_url).test_client()
    with pytest.raises(requests.ConnectionError):
        client.get("/export-late").get_data()

"""The Flask extension under waitress: real upstream failures, Flask's own handling untouched."""

from __future__ import annotations

import errno
import logging
from collections.abc import Iterator
from typing import Any

import flask
import httpx
import pytest
import requests
from flask import Flask, Response, abort, jsonify, stream_with_context
from werkzeug.exceptions import HTTPException
from wsgi_servers import (
    CLIENTS,
    FAULTS,
    PROBLEM_JSON,
    call_upstream,
    serve_wsgi,
    upstream_exception,
)

from gatewayerrors import Classifier, ServiceUnavailable
from gatewayerrors.core import RequestInfo, Translator
from gatewayerrors.flask import GatewayErrors

pytestmark = pytest.mark.server


class CatalogError(Exception):
    """An app's own exception that wraps the client's (its class is unknown to the classifier)."""


class LateError(Exception):
    """Registered with the classifier only after ``init_app``."""


def create_app(upstreams: Any, **options: Any) -> Flask:
    app = Flask(__name__)

    @app.get("/ok")
    def ok() -> str:
        return "hello"

    @app.get("/fault/<fault>")
    def fault(fault: str) -> str:
        call_upstream(upstreams, fault, flask.request.args.get("client", "requests"))
        return "unreachable"

    @app.get("/own")
    def own() -> str:
        raise ServiceUnavailable(code="circuit_open", retry_after=30, upstream="payments")

    @app.get("/chained")
    def chained() -> str:
        try:
            call_upstream(upstreams, "refused", "httpx")
        except httpx.HTTPError as exc:
            raise CatalogError("catalog unavailable") from exc
        return "unreachable"

    @app.get("/late")
    def late() -> str:
        raise LateError("registered after init_app")

    @app.get("/not-found-after-failure")
    def not_found_after_failure() -> str:
        try:
            call_upstream(upstreams, "refused")
        except requests.ConnectionError:
            abort(404)
        return "unreachable"

    @app.get("/unclassified")
    def unclassified() -> str:
        raise ValueError("a bug, not an upstream failure")

    @app.get("/local-file")
    def local_file() -> str:
        raise FileNotFoundError(2, "No such file", "/nope")  # an OSError, not an upstream one

    @app.get("/abort500")
    def abort500() -> str:
        abort(500)

    @app.get("/stream-fault-first")
    def stream_fault_first() -> Response:
        def body() -> Iterator[str]:
            call_upstream(upstreams, "refused")
            yield "unreachable"

        return Response(stream_with_context(body()), mimetype="text/plain")

    @app.get("/stream-fault-late")
    def stream_fault_late() -> Response:
        def body() -> Iterator[str]:
            yield "partial"
            call_upstream(upstreams, "refused")

        return Response(body(), mimetype="text/plain")

    @app.after_request
    def mark(response: Response) -> Response:
        response.headers["X-After-Request"] = "ran"
        return response

    GatewayErrors(app, **options)
    return app


@pytest.fixture(scope="module")
def app(upstreams: Any) -> Flask:
    return create_app(upstreams, service="catalog")


@pytest.fixture(scope="module")
def base_url(app: Flask) -> Iterator[str]:
    with serve_wsgi(app) as url:
        yield url


@pytest.fixture(scope="module")
def translator() -> Translator:
    return Translator(service="catalog")


@pytest.mark.parametrize("client", CLIENTS)
def test_real_upstream_failures_match_the_core(
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
            for name, value in want.headers:
                assert response.headers[name] == value, (fault, name)
            assert response.headers["x-after-request"] == "ran"  # Flask finalized it


def test_own_exception(base_url: str) -> None:
    response = requests.get(f"{base_url}/own", timeout=5)
    assert response.status_code == 503
    assert response.headers["retry-after"] == "30"
    assert response.json()["code"] == "circuit_open"


def test_exception_chained_from_a_client_error(base_url: str) -> None:
    # CatalogError has no handler: Flask's unhandled path is where it gets answered.
    response = requests.get(f"{base_url}/chained", timeout=5)
    assert response.status_code == 502
    assert response.json()["code"] == "connection_refused"
    assert response.headers["x-after-request"] == "ran"


def test_class_registered_after_init_app(upstreams: Any) -> None:
    classifier = Classifier()
    app = create_app(upstreams, classifier=classifier)
    classifier.register(LateError, "upstream_error")
    assert LateError not in app.error_handler_spec[None][None]
    response = app.test_client().get("/late")
    assert response.status_code == 502
    assert response.json is not None
    assert response.json["code"] == "upstream_error"


def test_flask_404_and_500_are_untouched(base_url: str, app: Flask) -> None:
    plain = Flask("plain")
    not_found = requests.get(f"{base_url}/nowhere", timeout=5)
    assert not_found.status_code == 404
    assert not_found.text == plain.test_client().get("/nowhere").text
    # abort(404) while handling an upstream failure is still the view's 404.
    after_failure = requests.get(f"{base_url}/not-found-after-failure", timeout=5)
    assert after_failure.status_code == 404
    assert after_failure.text == not_found.text
    for path in ("/unclassified", "/abort500", "/local-file"):
        response = requests.get(f"{base_url}{path}", timeout=5)
        assert response.status_code == 500, path
        assert response.headers["content-type"] == "text/html; charset=utf-8"
        assert "Internal Server Error" in response.text


def test_got_request_exception_still_sent_for_other_errors(app: Flask) -> None:
    seen: list[str] = []

    def receiver(sender: Any, exception: BaseException, **extra: Any) -> None:
        seen.append(type(exception).__name__)

    flask.got_request_exception.connect(receiver, app)
    try:
        client = app.test_client()
        assert client.get("/unclassified").status_code == 500
        assert client.get("/local-file").status_code == 500
        assert client.get("/fault/refused").status_code == 502
    finally:
        flask.got_request_exception.disconnect(receiver, app)
    assert seen == ["ValueError", "FileNotFoundError"]


def test_user_http_exception_handler_keeps_working(upstreams: Any) -> None:
    app = create_app(upstreams)

    @app.errorhandler(HTTPException)
    def as_json(error: HTTPException) -> tuple[Response, int]:
        return jsonify(error=error.name), error.code or 500

    with serve_wsgi(app) as url:
        assert requests.get(f"{url}/nowhere", timeout=5).json() == {"error": "Not Found"}
        unclassified = requests.get(f"{url}/unclassified", timeout=5)
        assert unclassified.json() == {"error": "Internal Server Error"}
        assert requests.get(f"{url}/fault/refused", timeout=5).status_code == 502


def test_user_handler_for_a_client_class_wins(upstreams: Any) -> None:
    app = create_app(upstreams)

    @app.errorhandler(requests.ConnectionError)
    def mine(error: Exception) -> tuple[str, int]:
        return "handled by the app", 599

    response = app.test_client().get("/fault/refused")
    assert (response.status_code, response.text) == (599, "handled by the app")
    assert app.test_client().get("/fault/refused?client=httpx").status_code == 502


def test_streamed_body_failures(base_url: str) -> None:
    response = requests.get(f"{base_url}/stream-fault-first", timeout=5)
    assert response.status_code == 502
    assert response.json()["code"] == "connection_refused"
    with pytest.raises(requests.exceptions.ChunkedEncodingError):
        requests.get(f"{base_url}/stream-fault-late", timeout=5)


def test_streamed_failure_after_the_start_is_reported(
    upstreams: Any, caplog: pytest.LogCaptureFixture
) -> None:
    hooked: list[tuple[str, bool]] = []
    app = create_app(
        upstreams,
        on_error=lambda error, exc: hooked.append(
            (error.code, isinstance(exc, requests.ConnectionError))
        ),
    )
    with (
        caplog.at_level(logging.ERROR, "gatewayerrors"),
        serve_wsgi(app) as url,
        pytest.raises(requests.exceptions.ChunkedEncodingError),
    ):
        requests.get(f"{url}/stream-fault-late", timeout=5)
    assert app.wsgi_app.failures_after_start == 1  # type: ignore[attr-defined]
    assert hooked == [("connection_refused", True)]
    [record] = [r for r in caplog.records if r.name == "gatewayerrors"]
    assert record.gatewayerrors_response_started is True  # type: ignore[attr-defined]


def test_debug_follows_the_app(upstreams: Any) -> None:
    app = create_app(upstreams)
    client = app.test_client()
    assert "exception" not in client.get("/fault/refused").json  # type: ignore[operator]
    app.debug = True  # as app.run(debug=True) does, after init_app
    detail = client.get("/fault/refused").json
    assert detail is not None
    assert detail["exception"].startswith("ConnectionError")
    fixed = create_app(upstreams, debug=False)
    fixed.debug = True
    assert "exception" not in fixed.test_client().get("/fault/refused").json  # type: ignore[operator]


def test_settings_from_config_and_keyword_arguments(upstreams: Any) -> None:
    app = Flask("configured")
    app.config["GATEWAYERRORS_SERVICE"] = "from-config"
    app.config["GATEWAYERRORS_DEFAULT_RETRY_AFTER"] = 12

    @app.get("/")
    def index() -> str:
        call_upstream(upstreams, "refused")
        return ""

    GatewayErrors(app)
    response = app.test_client().get("/")
    assert response.headers["proxy-status"] == "from-config; error=connection_refused"

    other = Flask("other")
    other.config["GATEWAYERRORS_SERVICE"] = "from-config"
    other.add_url_rule("/", view_func=index)
    GatewayErrors(other, service="from-kwargs")
    response = other.test_client().get("/")
    assert response.headers["proxy-status"] == "from-kwargs; error=connection_refused"

    typo = Flask("typo")
    typo.config["GATEWAYERRORS_SERVCE"] = "x"
    with pytest.raises(
        TypeError, match=r"GATEWAYERRORS_SERVCE \(did you mean GATEWAYERRORS_SERVICE\?\)"
    ):
        GatewayErrors(typo)


def test_one_extension_many_apps(upstreams: Any) -> None:
    ext = GatewayErrors()
    first, second = create_app(upstreams), create_app(upstreams)
    first.config["GATEWAYERRORS_SERVICE"] = "first"
    ext.init_app(first)
    assert first.test_client().get("/own").status_code == 503

    @second.get("/wrapped")
    def wrapped() -> str:
        raise CatalogError("x") from ServiceUnavailable()

    second.register_error_handler(CatalogError, ext.handle_error)
    ext.init_app(second)
    response = second.test_client().get("/wrapped")
    assert response.status_code == 503
    assert response.json is not None
    assert response.json["code"] == "destination_unavailable"


def test_maintenance_and_suppress_response_codes(upstreams: Any) -> None:
    app = create_app(upstreams, maintenance=True)
    with serve_wsgi(app) as url:
        response = requests.get(f"{url}/ok", timeout=5)
        assert (response.status_code, response.json()["code"]) == (503, "maintenance")
        assert response.headers["retry-after"] == "300"
    app = create_app(upstreams, suppress_response_codes="suppress_response_codes")
    with serve_wsgi(app) as url:
        response = requests.get(f"{url}/fault/refused?suppress_response_codes=1", timeout=5)
        assert (response.status_code, response.json()["status"]) == (200, 502)


def test_testing_mode_propagation_still_translates(upstreams: Any) -> None:
    app = create_app(upstreams)
    app.testing = True  # PROPAGATE_EXCEPTIONS: Flask re-raises unhandled exceptions
    client = app.test_client()
    assert client.get("/chained").status_code == 502
    with pytest.raises(ValueError, match="a bug"):
        client.get("/unclassified")


def _local_os_errors() -> dict[str, OSError]:
    return {
        "missing": FileNotFoundError(errno.ENOENT, "No such file", "/nope"),
        "denied": PermissionError(errno.EACCES, "Permission denied", "/etc/shadow"),
        "enoent": OSError(errno.ENOENT, "No such file"),
    }


@pytest.mark.parametrize("handled", [Exception, OSError])
@pytest.mark.parametrize("order", ["before", "after"])
def test_other_errors_reach_the_apps_own_handler_unchanged(
    upstreams: Any, handled: type[Exception], order: str
) -> None:
    # Only upstream failures are ours: a local OSError or an upstream's 404 reaches the app's
    # handler for a base class as it would without the extension, whichever was set up first.
    errors = _local_os_errors()
    app = Flask("own-handler")
    received: list[BaseException] = []

    @app.get("/local/<name>")
    def local(name: str) -> str:
        raise errors[name]

    @app.get("/fault/<fault>")
    def fault(fault: str) -> str:
        call_upstream(upstreams, fault, flask.request.args.get("client", "requests"))
        return "unreachable"

    def mine(error: Exception) -> tuple[str, int]:
        received.append(error)
        return f"mine: {type(error).__name__}", 418

    if order == "after":
        GatewayErrors(app)
    app.register_error_handler(handled, mine)
    if order == "before":
        GatewayErrors(app)

    with serve_wsgi(app) as url:
        for name, error in errors.items():
            # Its own connection: a 418 is an answer, but keep each request independent.
            response = requests.get(f"{url}/local/{name}", timeout=5)
            assert (response.status_code, response.text) == (418, f"mine: {type(error).__name__}")
            assert received.pop() is error
        if handled is Exception:
            response = requests.get(f"{url}/fault/404", timeout=5)
            assert response.status_code == 418
            assert isinstance(received.pop(), requests.HTTPError)
        for client in CLIENTS:
            response = requests.get(f"{url}/fault/refused?client={client}", timeout=5)
            assert response.status_code == 502, client
            assert response.json()["code"] == "connection_refused"
    assert received == []


def test_other_errors_without_a_handler_get_flasks_500(upstreams: Any) -> None:
    errors = _local_os_errors()
    app = Flask("no-handler")
    seen: list[BaseException] = []

    @app.get("/local/<name>")
    def local(name: str) -> str:
        raise errors[name]

    def receiver(sender: Any, exception: BaseException, **extra: Any) -> None:
        seen.append(exception)

    GatewayErrors(app)
    flask.got_request_exception.connect(receiver, app)
    try:
        client = app.test_client()
        for name, error in errors.items():
            response = client.get(f"/local/{name}")
            assert response.status_code == 500
            assert "Internal Server Error" in response.text
            assert seen.pop() is error
    finally:
        flask.got_request_exception.disconnect(receiver, app)

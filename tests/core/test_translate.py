"""The Translator: safety of the error path, "not mine", fallbacks, maintenance, reporting."""

from __future__ import annotations

import asyncio
import errno
import html
import logging
import re
import threading
import urllib.error
import urllib.request
import warnings
from collections.abc import Callable
from http import HTTPStatus
from typing import Any
from urllib.parse import urlsplit

import httpx
import orjson
import pytest
import requests

from gatewayerrors import (
    Classifier,
    GatewayTimeout,
    ServiceUnavailable,
    Settings,
    UpstreamFailure,
    catalog,
)
from gatewayerrors.core import (
    ErrorResponse,
    Evidence,
    RequestInfo,
    Translator,
    websocket_close_code,
)
from gatewayerrors.testing import FaultyUpstreams

ACCEPTS = {
    "json": "application/problem+json",
    "xml": "application/problem+xml",
    "html": "text/html",
    "text": "text/plain",
}
REQUEST_ID = "req-1"
SECRET_PATH = "/private/v1/accounts"
PASSWORD = "hunter2pw"
TOKEN = "s3cr3ttoken"


def capture(call: Callable[[], object]) -> BaseException:
    """The exception a real call raises."""
    try:
        call()
    except BaseException as exc:
        return exc
    raise AssertionError("the call did not fail")


def all_responses(translator: Translator, exc: BaseException) -> list[ErrorResponse]:
    """The response in every format, for GET and HEAD."""
    responses = []
    for accept in ACCEPTS.values():
        for method in ("GET", "HEAD"):
            request = RequestInfo(method, "/checkout", "", accept, REQUEST_ID)
            response = translator.translate(exc, request)
            assert response is not None, f"{exc!r} was not translated"
            responses.append(response)
    return responses


def exposed_text(response: ErrorResponse) -> str:
    """Everything a client sees: header values and the body."""
    values = "\n".join(value for _, value in response.headers)
    return values + "\n" + response.body.decode("utf-8")


def real_failures(upstreams: FaultyUpstreams) -> dict[str, BaseException]:
    """Real exceptions whose messages carry hosts, ports, URLs, credentials and paths."""
    refused = urlsplit(upstreams.refused_url)
    secret_url = (
        f"http://admin:{PASSWORD}@{refused.hostname}:{refused.port}{SECRET_PATH}?token={TOKEN}"
    )
    tls_url = upstreams.tls_url.rstrip("/") + SECRET_PATH
    status_url = upstreams.status_url(503, retry_after="120") + "&token=" + TOKEN

    def requests_status() -> None:
        requests.get(status_url, timeout=5).raise_for_status()

    def file_path_error() -> None:
        raise OSError(errno.ECONNREFUSED, "Connection refused", "/etc/app/secrets.yaml")

    return {
        "requests refused": capture(lambda: requests.get(secret_url, timeout=2)),
        "requests tls": capture(lambda: requests.get(tls_url, timeout=2)),
        "requests dns": capture(lambda: requests.get(upstreams.dns_url + "x", timeout=2)),
        "requests 503": capture(requests_status),
        "httpx refused": capture(lambda: httpx.get(secret_url, timeout=2)),
        "urllib refused": capture(lambda: urllib.request.urlopen(secret_url, timeout=2)),
        "socket refused": capture(
            lambda: __import__("socket").create_connection(
                (refused.hostname, refused.port), timeout=2
            )
        ),
        "oserror with a file path": capture(file_path_error),
    }


@pytest.fixture(scope="module")
def failures(upstreams: FaultyUpstreams) -> dict[str, BaseException]:
    return real_failures(upstreams)


def leaks(upstreams: FaultyUpstreams) -> list[str]:
    refused = urlsplit(upstreams.refused_url)
    tls = urlsplit(upstreams.tls_url)
    return [
        "127.0.0.1",
        str(refused.port),
        str(tls.port),
        str(urlsplit(upstreams.status_url(503)).port),
        "upstream.invalid",
        PASSWORD,
        "admin",
        TOKEN,
        SECRET_PATH,
        "/etc/app",
        "secrets.yaml",
        "Errno",
        "Traceback",
        'File "',
        ".py",
        "certificate verify",
        "HTTPConnectionPool",
        "Max retries",
        "Server Error",
    ]


def test_real_failures_carry_the_secrets_we_test_for(
    failures: dict[str, BaseException], upstreams: FaultyUpstreams
) -> None:
    # Guard: the leak test below means something only if the messages do contain them.
    messages = "\n".join(f"{type(exc).__name__}: {exc}" for exc in failures.values())
    for secret in (
        "127.0.0.1",
        str(urlsplit(upstreams.refused_url).port),
        SECRET_PATH,
        "upstream.invalid",
        "certificate verify",
        TOKEN,
        "/etc/app/secrets.yaml",
    ):
        assert secret in messages, secret
    assert all(exc.__traceback__ is not None for exc in failures.values())


@pytest.mark.parametrize(
    "name",
    [
        "requests refused",
        "requests tls",
        "requests dns",
        "requests 503",
        "httpx refused",
        "urllib refused",
        "socket refused",
        "oserror with a file path",
    ],
)
def test_production_responses_leak_nothing(
    name: str, failures: dict[str, BaseException], upstreams: FaultyUpstreams
) -> None:
    exc = failures[name]
    for response in all_responses(Translator(), exc):
        assert response.status in (502, 503, 504)
        text = exposed_text(response)
        for secret in leaks(upstreams):
            assert secret not in text, f"{name}: {secret!r} leaked:\n{text}"
        assert response.error.debug is None


@pytest.mark.parametrize("name", ["requests refused", "requests 503", "oserror with a file path"])
def test_debug_adds_the_exception_type_and_message(
    name: str, failures: dict[str, BaseException]
) -> None:
    exc = failures[name]
    message = f"{type(exc).__qualname__}: {exc}"[:1000]
    # Query values in quoted URLs are redacted, even in debug.
    message = re.sub(r"([?&][^=&\s]+=)[^&\s'\")]*", r"\1***", message)
    translator = Translator(debug=True)
    for response in all_responses(translator, exc):
        if not response.body:
            continue
        content_type = dict(response.headers)["content-type"]
        if content_type == "application/problem+json":
            assert orjson.loads(response.body)["exception"] == message
        elif content_type == "text/html; charset=utf-8":
            assert html.escape(message).encode() in response.body
        elif content_type == "text/plain; charset=utf-8":
            assert f"Exception: {message}" in response.body.decode()
        else:
            assert html.escape(message).encode() in response.body


def test_503_from_upstream_propagates_retry_after(failures: dict[str, BaseException]) -> None:
    [response, *_] = all_responses(Translator(), failures["requests 503"])
    assert response.status == 503
    assert response.error.code == "upstream_overloaded"
    assert dict(response.headers)["retry-after"] == "120"


# -- "not mine" --------------------------------------------------------------------------------


def _file_not_found() -> None:
    with open("/nonexistent/gatewayerrors/config.yaml"):
        pass


@pytest.mark.parametrize(
    "make",
    [
        lambda: ValueError("bad value"),
        lambda: KeyError("key"),
        lambda: RuntimeError("connection refused"),  # words are not evidence
        lambda: ZeroDivisionError(),
        lambda: capture(_file_not_found),
        lambda: PermissionError(errno.EACCES, "Permission denied", "/etc/shadow"),
        lambda: OSError(errno.ENOSPC, "No space left on device"),
        lambda: OSError("no errno"),
        lambda: asyncio.CancelledError(),
        lambda: KeyboardInterrupt(),
        lambda: SystemExit(1),
        lambda: GeneratorExit(),
        lambda: Exception(),
    ],
    ids=[
        "ValueError",
        "KeyError",
        "RuntimeError",
        "ZeroDivisionError",
        "FileNotFoundError",
        "PermissionError",
        "ENOSPC",
        "OSError",
        "CancelledError",
        "KeyboardInterrupt",
        "SystemExit",
        "GeneratorExit",
        "Exception",
    ],
)
def test_non_upstream_exceptions_are_not_mine(make: Callable[[], BaseException]) -> None:
    exc = make()
    assert Translator().translate(exc, RequestInfo()) is None


def test_upstream_4xx_is_not_mine(upstreams: FaultyUpstreams) -> None:
    exc = capture(lambda: requests.get(upstreams.status_url(404), timeout=5).raise_for_status())
    assert isinstance(exc, requests.HTTPError)
    assert Translator().translate(exc, RequestInfo()) is None


# -- never raises: fallbacks -------------------------------------------------------------------


def assert_minimal(response: ErrorResponse, status: int) -> None:
    headers = dict(response.headers)
    assert response.status == status
    assert headers["content-type"] == "text/plain; charset=utf-8"
    assert headers["cache-control"] == "no-store"
    assert response.body == f"{status} {HTTPStatus(status).phrase}\n".encode()
    assert headers["content-length"] == str(len(response.body))
    assert headers["vary"] == "Accept"
    # The request id survives the fallback, so the log line can still be found.
    assert headers["x-request-id"] == response.error.request_id


@pytest.mark.parametrize("accept", list(ACCEPTS.values()))
def test_style_that_raises_gives_a_minimal_response_and_logs(
    accept: str, caplog: pytest.LogCaptureFixture
) -> None:
    def broken(error: UpstreamFailure, fmt: object, request: object) -> None:
        raise RuntimeError("style failed at /srv/app/styles.py")

    translator = Translator(style=broken)
    with caplog.at_level(logging.ERROR, logger="gatewayerrors"):
        response = translator.translate(ServiceUnavailable(), RequestInfo(accept=accept))
    assert response is not None
    assert_minimal(response, 503)
    assert response.body == b"503 Service Unavailable\n"
    assert dict(response.headers)["retry-after"] == "30"
    assert b"/srv/app" not in response.body
    [record] = [r for r in caplog.records if "rendering failed" in r.getMessage()]
    assert record.levelno == logging.ERROR
    assert record.exc_info is not None


def test_style_returning_garbage_gives_a_minimal_response() -> None:
    # A body that is not bytes or str: the wrong type on purpose.
    translator = Translator(style=lambda error, fmt, request: ("text/plain", 42))  # type: ignore[arg-type, return-value]
    response = translator.translate(GatewayTimeout(), RequestInfo())
    assert response is not None
    assert_minimal(response, 504)


def test_style_content_type_is_cleaned() -> None:
    def style(error: UpstreamFailure, fmt: object, request: object) -> tuple[str, str]:
        return "text/plain\r\nSet-Cookie: session=evil", "custom"

    response = Translator(style=style).translate(GatewayTimeout(), RequestInfo())
    assert response is not None
    assert dict(response.headers)["content-type"] == "text/plainSet-Cookie: session=evil"
    assert response.body == b"custom"


def test_html_renderer_that_raises_gives_a_minimal_response(
    caplog: pytest.LogCaptureFixture,
) -> None:
    translator = Translator()

    def broken_page(error: UpstreamFailure, request: object, language: object = None) -> bytes:
        raise UnicodeError("template failed")

    translator._html = broken_page  # a broken user template renderer
    with caplog.at_level(logging.ERROR, logger="gatewayerrors"):
        html_response = translator.translate(TimeoutError(), RequestInfo(accept="text/html"))
        head_response = translator.translate(
            TimeoutError(), RequestInfo(method="HEAD", accept="text/html")
        )
    assert html_response is not None
    assert_minimal(html_response, 504)
    assert head_response is not None
    assert head_response.body == b""
    assert any("rendering failed" in r.getMessage() for r in caplog.records)
    json_response = translator.translate(TimeoutError(), RequestInfo(accept="application/json"))
    assert json_response is not None
    assert orjson.loads(json_response.body)["status"] == 504


class _BrokenClassifier(Classifier):
    def classify(self, exc: BaseException) -> Evidence | None:
        raise RuntimeError("classifier bug")


class _UnknownCodeClassifier(Classifier):
    def classify(self, exc: BaseException) -> Evidence | None:
        return Evidence("no_such_code")


def test_classifier_that_raises_means_not_mine_and_logs(
    caplog: pytest.LogCaptureFixture,
) -> None:
    translator = Translator(classifier=_BrokenClassifier())
    with caplog.at_level(logging.ERROR, logger="gatewayerrors"):
        assert translator.translate(ConnectionRefusedError(), RequestInfo()) is None
    assert any("classifier failed" in r.getMessage() for r in caplog.records)


def test_evidence_with_an_unknown_code_still_gets_a_full_response() -> None:
    translator = Translator(classifier=_UnknownCodeClassifier())
    response = translator.translate(ValueError(), RequestInfo(accept="application/json"))
    assert response is not None
    assert response.status == 500
    assert orjson.loads(response.body)["code"] == "proxy_internal_error"


def test_translate_is_thread_safe() -> None:
    translator = Translator()
    errors: list[BaseException] = []

    def work(n: int) -> None:
        try:
            for i in range(300):
                accept = list(ACCEPTS.values())[(n + i) % 4]
                response = translator.translate(
                    ConnectionResetError(), RequestInfo(accept=accept, request_id=f"t{n}-{i}")
                )
                assert response is not None
                assert response.error.request_id == f"t{n}-{i}"
                assert dict(response.headers)["content-length"] == str(len(response.body))
        except BaseException as exc:  # pragma: no cover - reported below
            errors.append(exc)

    threads = [threading.Thread(target=work, args=(n,)) for n in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=30)
    assert not errors


# -- response_for, suppress_response_codes, websocket close codes ------------------------------


def test_response_for_a_code() -> None:
    response = Translator().response_for(
        "circuit_open", RequestInfo(), retry_after=45, detail="Paused.", upstream="payments"
    )
    body = orjson.loads(response.body)
    assert response.status == 503
    assert (body["code"], body["detail"], body["upstream"], body["retry_after"]) == (
        "circuit_open",
        "Paused.",
        "payments",
        45,
    )
    assert dict(response.headers)["retry-after"] == "45"


def test_suppress_response_codes_is_off_by_default() -> None:
    request = RequestInfo(query="suppress_response_codes=true")
    response = Translator().translate(GatewayTimeout(), request)
    assert response is not None
    assert response.status == 504


@pytest.mark.parametrize(
    ("query", "status"),
    [
        ("suppress_response_codes=true", 200),
        ("suppress_response_codes", 200),
        ("a=b&suppress_response_codes=1", 200),
        ("suppress_response_codes=false", 504),
        ("suppress_response_codes=0", 504),
        ("other=1", 504),
    ],
)
def test_suppress_response_codes_when_enabled(query: str, status: int) -> None:
    translator = Translator(suppress_response_codes="suppress_response_codes")
    response = translator.translate(GatewayTimeout(), RequestInfo(query=query))
    assert response is not None
    assert response.status == status
    assert orjson.loads(response.body)["status"] == 504  # the body still tells the truth


@pytest.mark.parametrize(
    ("code", "close"),
    [
        ("circuit_open", 1013),
        ("maintenance", 1013),
        ("connection_refused", 1014),
        ("connection_timeout", 1014),
    ],
)
def test_websocket_close_code(code: str, close: int) -> None:
    response = Translator().response_for(code, RequestInfo())
    assert websocket_close_code(response.error) == close


# -- maintenance mode --------------------------------------------------------------------------


def test_maintenance_is_off_and_free_by_default(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("GATEWAYERRORS_MAINTENANCE", raising=False)
    translator = Translator()
    assert translator.maintenance_check is None
    assert translator.maintenance_response(RequestInfo()) is None


def test_maintenance_flag(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("GATEWAYERRORS_MAINTENANCE", raising=False)
    translator = Translator(maintenance=True)
    response = translator.maintenance_response(RequestInfo(path="/shop"))
    assert response is not None
    assert response.status == 503
    assert response.error.code == "maintenance"
    assert dict(response.headers)["retry-after"] == "300"
    for path in ("/health", "/healthz", "/livez", "/readyz"):
        assert translator.maintenance_response(RequestInfo(path=path)) is None
    assert translator.maintenance_response(RequestInfo(path="/healthz/deep")) is not None


def test_maintenance_exempt_prefixes_and_retry_clamp(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("GATEWAYERRORS_MAINTENANCE", raising=False)
    translator = Translator(
        maintenance=True,
        maintenance_exempt=("/internal/",),
        maintenance_retry_after=7200,
        max_retry_after=600,
    )
    assert translator.maintenance_response(RequestInfo(path="/internal/x")) is None
    response = translator.maintenance_response(RequestInfo(path="/"))
    assert response is not None
    assert dict(response.headers)["retry-after"] == "600"


def test_maintenance_callable_is_checked_per_request(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("GATEWAYERRORS_MAINTENANCE", raising=False)
    state = {"on": False}
    translator = Translator(maintenance=lambda: state["on"])
    assert translator.maintenance_response(RequestInfo()) is None
    state["on"] = True
    assert translator.maintenance_response(RequestInfo()) is not None


def test_maintenance_check_that_raises_means_off(
    monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    monkeypatch.delenv("GATEWAYERRORS_MAINTENANCE", raising=False)

    def broken() -> bool:
        raise OSError("flag file unreadable")

    translator = Translator(maintenance=broken)
    with caplog.at_level(logging.ERROR, logger="gatewayerrors"):
        assert translator.maintenance_response(RequestInfo()) is None
    assert any("maintenance check failed" in r.getMessage() for r in caplog.records)


@pytest.mark.parametrize(
    ("value", "on"),
    [
        ("1", True),
        ("true", True),
        (" ON ", True),
        ("0", False),
        ("false", False),
        ("", False),
        ("off", False),
        ("no", False),
    ],
)
def test_maintenance_environment_variable(
    monkeypatch: pytest.MonkeyPatch, value: str, on: bool
) -> None:
    monkeypatch.setenv("GATEWAYERRORS_MAINTENANCE", value)
    translator = Translator()
    assert (translator.maintenance_response(RequestInfo()) is not None) is on


# -- reporting ---------------------------------------------------------------------------------


def test_report_logs_one_record_and_calls_the_hook(caplog: pytest.LogCaptureFixture) -> None:
    calls: list[tuple[UpstreamFailure, BaseException | None]] = []
    translator = Translator(on_error=lambda error, exc: calls.append((error, exc)))
    exc = ServiceUnavailable(code="destination_unavailable", upstream="payments")
    response = translator.translate(exc, RequestInfo(request_id="abc"))
    assert response is not None
    with caplog.at_level(logging.ERROR, logger="gatewayerrors"):
        translator.report(response, exc)
    [record] = caplog.records
    assert record.levelno == logging.ERROR
    assert record.exc_info is not None
    assert record.exc_info[1] is exc
    extra: Any = record
    assert extra.gatewayerrors_code == "destination_unavailable"
    assert extra.gatewayerrors_status == 503
    assert extra.gatewayerrors_upstream == "payments"
    assert extra.gatewayerrors_request_id == "abc"
    assert "destination_unavailable" in record.getMessage()
    assert calls == [(response.error, exc)]


def test_report_with_an_async_hook_warns_and_closes_it(caplog: pytest.LogCaptureFixture) -> None:
    awaited: list[bool] = []

    async def hook(error: UpstreamFailure, exc: BaseException | None) -> None:
        awaited.append(True)

    translator = Translator(on_error=hook)
    response = translator.response_for("maintenance", RequestInfo())
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # "coroutine was never awaited" would be an error
        with caplog.at_level(logging.WARNING, logger="gatewayerrors"):
            translator.report(response, None)
    assert not awaited
    assert any("async on_error hook ignored" in r.getMessage() for r in caplog.records)


def test_areport_awaits_async_and_sync_hooks() -> None:
    seen: list[str] = []

    async def async_hook(error: UpstreamFailure, exc: BaseException | None) -> None:
        seen.append("async:" + error.code)

    for hook in (async_hook, lambda error, exc: seen.append("sync:" + error.code)):
        translator = Translator(on_error=hook)
        response = translator.response_for("dns_error", RequestInfo())
        asyncio.run(translator.areport(response, None))
    assert seen == ["async:dns_error", "sync:dns_error"]


@pytest.mark.parametrize("use_async", [False, True])
def test_failing_hook_is_logged_not_raised(
    use_async: bool, caplog: pytest.LogCaptureFixture
) -> None:
    def hook(error: UpstreamFailure, exc: BaseException | None) -> None:
        raise RuntimeError("hook bug")

    translator = Translator(on_error=hook)
    response = translator.response_for("dns_error", RequestInfo())
    with caplog.at_level(logging.ERROR, logger="gatewayerrors"):
        if use_async:
            asyncio.run(translator.areport(response, None))
        else:
            translator.report(response, None)
    assert any("on_error hook failed" in r.getMessage() for r in caplog.records)


# -- construction ------------------------------------------------------------------------------


def test_settings_or_keywords_not_both() -> None:
    assert Translator(Settings(service="x")).settings.service == "x"
    assert Translator(service="y").settings.service == "y"
    with pytest.raises(TypeError):
        Translator(Settings(), service="x")


def test_every_code_renders_in_every_format() -> None:
    translator = Translator()
    for code in catalog:
        for accept in ACCEPTS.values():
            response = translator.response_for(code, RequestInfo(accept=accept))
            assert response.status == catalog[code].status
            assert response.body
            assert response.error.code == code


def test_maintenance_active_asks_the_callable_and_never_raises(
    caplog: pytest.LogCaptureFixture,
) -> None:
    state = {"on": False}
    translator = Translator(maintenance=lambda: state["on"], maintenance_env=None)
    assert translator.maintenance_active() is False
    state["on"] = True
    assert translator.maintenance_active() is True
    # An adapter that already asked passes the answer on: the callable is not asked again.
    state["on"] = False
    response = translator.maintenance_response(RequestInfo(path="/orders"), active=True)
    assert response is not None
    assert response.error.code == "maintenance"

    def broken() -> bool:
        raise RuntimeError("flag store down")

    failing = Translator(maintenance=broken, maintenance_env=None)
    with caplog.at_level(logging.ERROR, logger="gatewayerrors"):
        assert failing.maintenance_active() is False
    assert any("maintenance check failed" in r.getMessage() for r in caplog.records)
    assert Translator(maintenance_env=None).maintenance_active() is False


@pytest.mark.parametrize(
    ("code", "close_code"),
    [
        ("connection_refused", 1014),
        ("upstream_timeout", 1014),
        ("upstream_overloaded", 1013),
        ("maintenance", 1013),
        ("proxy_internal_error", 1011),
        ("http_request_denied", 1011),
    ],
)
def test_websocket_close_codes_follow_the_status(code: str, close_code: int) -> None:
    from gatewayerrors.core import websocket_close_code

    response = Translator().response_for(code, RequestInfo())
    assert websocket_close_code(response.error) == close_code


def test_a_network_path_instance_cannot_point_at_another_host() -> None:
    response = Translator().translate(
        ConnectionRefusedError(), RequestInfo(path="//evil.example/x", accept="application/json")
    )
    assert response is not None
    assert orjson.loads(response.body)["instance"] == "/%2Fevil.example/x"


def test_log_messages_do_not_repeat_the_logger_name(caplog: pytest.LogCaptureFixture) -> None:
    """Handlers print the logger name themselves ("%(name)s: %(message)s")."""

    def broken_style(error: UpstreamFailure, fmt: object, request: object) -> None:
        raise RuntimeError("style bug")

    def broken_check() -> bool:
        raise RuntimeError("check bug")

    def broken_hook(error: UpstreamFailure, exc: BaseException | None) -> None:
        raise RuntimeError("hook bug")

    with caplog.at_level(logging.INFO, logger="gatewayerrors"):
        assert (
            Translator(classifier=_BrokenClassifier()).translate(TimeoutError(), RequestInfo())
            is None
        )
        translator = Translator(style=broken_style, maintenance=broken_check, on_error=broken_hook)
        assert translator.maintenance_active() is False
        response = translator.translate(TimeoutError(), RequestInfo())
        assert response is not None
        translator.report(response, TimeoutError())
    messages = [r.getMessage() for r in caplog.records if r.name == "gatewayerrors"]
    assert len(messages) == 5  # classifier, maintenance check, rendering, the error, the hook
    assert not [m for m in messages if m.startswith("gatewayerrors")]


def _credential_failures(upstreams: FaultyUpstreams) -> list[BaseException]:
    """Real client exceptions whose messages quote a URL with a password and API keys."""
    query = "api_key=k3y-123&token=t0ken"
    status = upstreams.status_url(503).replace("http://", "http://admin:s3cret@", 1)
    status += ("&" if "?" in status else "?") + query
    refused = upstreams.refused_url.replace("http://", "http://admin:s3cret@", 1) + "x?" + query
    found: list[BaseException] = []
    for call in (
        lambda: httpx.get(status, timeout=2).raise_for_status(),
        lambda: requests.get(status, timeout=2).raise_for_status(),
        lambda: requests.get(refused, timeout=2),
    ):
        try:
            call()
        except Exception as exc:
            found.append(exc)
    assert len(found) == 3
    return found


@pytest.mark.parametrize(
    "accept", ["application/json", "application/xml", "text/html", "text/plain"]
)
def test_debug_redacts_userinfo_and_query_values(upstreams: FaultyUpstreams, accept: str) -> None:
    translator = Translator(debug=True)
    for exc in _credential_failures(upstreams):
        response = translator.translate(exc, RequestInfo(accept=accept))
        assert response is not None
        body = response.body.decode()
        proxy_status = dict(response.headers)["proxy-status"]
        assert response.error.debug is not None
        for text in (response.error.debug, body, proxy_status):
            assert "s3cret" not in text
            assert "k3y-123" not in text
            assert "t0ken" not in text
        assert "api_key=***" in response.error.debug
    httpx_debug = translator.translate(_credential_failures(upstreams)[0], RequestInfo())
    assert httpx_debug is not None
    assert "http://***@127.0.0.1:" in str(httpx_debug.error.debug)  # the host stays, for debugging

"""GatewayErrorsMiddleware at the ASGI interface: the messages it passes, sends and raises.

Real servers and clients are in test_asgi_servers.py and test_asgi_websocket.py; this file
covers what a server cannot show directly (the exact messages, the counter, the log record).
"""

from __future__ import annotations

import asyncio
import dataclasses
import logging
import socket
from collections.abc import Awaitable, Callable, MutableMapping
from typing import Any, ForwardRef

import pytest

import gatewayerrors
import gatewayerrors.core
from gatewayerrors import GatewayErrorsMiddleware, ServiceUnavailable, Settings, SettingsOptions

Message = MutableMapping[str, Any]


def refused() -> ConnectionRefusedError:
    """A real refused connection to a closed port on 127.0.0.1."""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    try:
        socket.create_connection(("127.0.0.1", port), timeout=2).close()
    except ConnectionRefusedError as exc:
        return exc
    raise AssertionError("the closed port accepted a connection")


def http_scope(
    path: str = "/", headers: list[tuple[bytes, bytes]] | None = None, **extra: Any
) -> dict[str, Any]:
    scope: dict[str, Any] = {
        "type": "http",
        "asgi": {"version": "3.0"},
        "http_version": "1.1",
        "method": "GET",
        "path": path,
        "raw_path": path.encode(),
        "query_string": b"",
        "headers": headers or [],
    }
    scope.update(extra)
    return scope


def run(app: Callable[..., Awaitable[None]], scope: dict[str, Any]) -> list[Message]:
    """Call ``app`` once and return every message it sent."""
    sent: list[Message] = []

    async def receive() -> Message:
        if scope["type"] == "websocket":
            return {"type": "websocket.connect"}
        return {"type": "http.request", "body": b"", "more_body": False}

    async def send(message: Message) -> None:
        sent.append(message)

    async def main() -> None:
        await app(scope, receive, send)

    asyncio.run(main())
    return sent


def raising(
    exc: BaseException, *, before: list[Message] | None = None
) -> Callable[[Any, Any, Any], Awaitable[None]]:
    async def app(scope: Any, receive: Any, send: Any) -> None:
        for message in before or []:
            await send(message)
        raise exc

    return app


async def ok_app(scope: Any, receive: Any, send: Any) -> None:
    await send({"type": "http.response.start", "status": 200, "headers": []})
    await send({"type": "http.response.body", "body": b"ok"})


def headers_of(message: Message) -> dict[bytes, bytes]:
    return dict(message["headers"])


# -- construction ---------------------------------------------------------------------------


def test_settings_options_lists_every_setting_with_its_type() -> None:
    fields = {f.name: f.type for f in dataclasses.fields(Settings)}
    annotations = {
        name: value.__forward_arg__ if isinstance(value, ForwardRef) else value
        for name, value in SettingsOptions.__annotations__.items()
    }
    assert annotations == fields


def test_options_or_settings_object_but_not_both() -> None:
    by_options = GatewayErrorsMiddleware(ok_app, service="checkout")
    by_object = GatewayErrorsMiddleware(ok_app, Settings(service="checkout"))
    assert by_options.translator.settings == by_object.translator.settings
    with pytest.raises(TypeError):
        GatewayErrorsMiddleware(ok_app, Settings(), service="checkout")  # type: ignore[call-arg, unused-ignore]
    with pytest.raises(TypeError):
        GatewayErrorsMiddleware(ok_app, servce="typo")  # type: ignore[call-arg, unused-ignore]


def test_public_name_is_exported() -> None:
    assert gatewayerrors.GatewayErrorsMiddleware is GatewayErrorsMiddleware


# -- pass-through ---------------------------------------------------------------------------


@pytest.mark.parametrize("scope_type", ["lifespan", "something-new"])
def test_non_http_scopes_reach_the_app_untouched(scope_type: str) -> None:
    seen: list[tuple[Any, Any, Any]] = []

    async def app(scope: Any, receive: Any, send: Any) -> None:
        seen.append((scope, receive, send))

    async def receive() -> Message:
        return {}

    async def send(message: Message) -> None:
        pass

    scope = {"type": scope_type}
    asyncio.run(GatewayErrorsMiddleware(app)(scope, receive, send))
    assert seen == [(scope, receive, send)]


def test_lifespan_errors_are_not_translated() -> None:
    app = GatewayErrorsMiddleware(raising(refused()))
    with pytest.raises(ConnectionRefusedError):
        run(app, {"type": "lifespan"})


def test_happy_path_messages_pass_unchanged() -> None:
    sent = run(GatewayErrorsMiddleware(ok_app), http_scope())
    assert sent == [
        {"type": "http.response.start", "status": 200, "headers": []},
        {"type": "http.response.body", "body": b"ok"},
    ]


# -- HTTP errors ----------------------------------------------------------------------------


def test_upstream_failure_becomes_the_translated_response(
    caplog: pytest.LogCaptureFixture,
) -> None:
    exc = refused()
    scope = http_scope(
        "/orders",
        [(b"accept", b"text/plain;q=0.5"), (b"accept", b"application/xml"),
         (b"x-request-id", b"req-42")],
        query_string=b"page=2",
    )  # fmt: skip
    with caplog.at_level(logging.ERROR, "gatewayerrors"):
        sent = run(GatewayErrorsMiddleware(raising(exc), service="checkout"), scope)
    start, body = sent
    assert start["type"] == "http.response.start"
    assert start["status"] == 502
    headers = headers_of(start)
    # Two Accept headers are one list (RFC 9110 §5.3): XML wins over text at q=0.5.
    assert headers[b"content-type"] == b"application/problem+xml"
    assert headers[b"x-request-id"] == b"req-42"
    assert headers[b"proxy-status"] == b"checkout; error=connection_refused"
    assert headers[b"content-length"] == str(len(body["body"])).encode()
    assert all(isinstance(n, bytes) and isinstance(v, bytes) for n, v in start["headers"])
    assert body == {"type": "http.response.body", "body": body["body"]}
    assert b"<instance>/orders</instance>" in body["body"]
    [record] = caplog.records
    assert record.exc_info is not None
    assert record.exc_info[1] is exc
    assert record.gatewayerrors_request_id == "req-42"  # type: ignore[attr-defined]
    assert record.gatewayerrors_response_started is False  # type: ignore[attr-defined]


def test_request_info_is_built_from_the_scope() -> None:
    seen: list[Any] = []

    def style(error: Any, fmt: Any, request: Any) -> tuple[str, bytes]:
        seen.append(request)
        return "text/plain", b"styled"

    scope = http_scope(
        "/p", [(b"accept", b"text/html"), (b"x-request-id", b"abc")], query_string=b"a=1"
    )
    run(GatewayErrorsMiddleware(raising(refused()), style=style), scope)
    [request] = seen
    assert request == gatewayerrors.core.RequestInfo(
        "GET", "/p", "a=1", "text/html", "abc", scope, raw_path="/p"
    )


def test_a_custom_styles_non_latin1_header_does_not_break_the_answer() -> None:
    def style(error: Any, fmt: Any, request: Any) -> tuple[str, bytes]:
        return "text/plain; note=\u20ac", b"custom"

    sent = run(GatewayErrorsMiddleware(raising(refused()), style=style), http_scope())
    assert sent[0]["status"] == 502
    assert headers_of(sent[0])[b"content-type"] == b"text/plain; note=?"
    assert sent[1]["body"] == b"custom"


def test_request_ids_never_enter_the_header_cache() -> None:
    from gatewayerrors import asgi

    app = GatewayErrorsMiddleware(raising(refused()))
    for n in range(3):
        sent = run(app, http_scope(headers=[(b"x-request-id", f"cache-{n}".encode())]))
        assert headers_of(sent[0])[b"x-request-id"] == f"cache-{n}".encode()
    assert not [pair for pair in asgi._ENCODED if pair[0] == "x-request-id"]
    assert ("cache-control", "no-store") in asgi._ENCODED


def test_unclassified_exception_is_reraised_untouched() -> None:
    exc = ValueError("a bug, not an upstream failure")
    sent: list[Message] = []
    with pytest.raises(ValueError) as raised:
        sent = run(GatewayErrorsMiddleware(raising(exc)), http_scope())
    assert raised.value is exc
    assert sent == []


def test_failure_after_start_is_logged_counted_and_reraised(
    caplog: pytest.LogCaptureFixture,
) -> None:
    exc = refused()
    start = {"type": "http.response.start", "status": 200, "headers": []}
    chunk = {"type": "http.response.body", "body": b"partial", "more_body": True}
    hooked: list[Any] = []
    middleware = GatewayErrorsMiddleware(
        raising(exc, before=[start, chunk]), on_error=lambda e, x: hooked.append((e, x))
    )
    sent: list[Message] = []

    async def receive() -> Message:
        return {"type": "http.request"}

    async def send(message: Message) -> None:
        sent.append(message)

    with caplog.at_level(logging.ERROR, "gatewayerrors"), pytest.raises(ConnectionRefusedError):
        asyncio.run(middleware(http_scope(), receive, send))
    assert sent == [start, chunk]  # nothing added after the app's own messages
    assert middleware.failures_after_start == 1
    [record] = caplog.records
    assert "after the response started" in record.getMessage()
    assert record.gatewayerrors_response_started is True  # type: ignore[attr-defined]
    assert hooked[0][0].code == "connection_refused"
    assert hooked[0][1] is exc


def test_early_hints_do_not_count_as_a_started_response() -> None:
    hint = {"type": "http.response.early_hint", "links": [b"</style.css>; rel=preload"]}
    sent = run(GatewayErrorsMiddleware(raising(refused(), before=[hint])), http_scope())
    assert [m["type"] for m in sent] == [
        "http.response.early_hint",
        "http.response.start",
        "http.response.body",
    ]
    assert sent[1]["status"] == 502


def test_head_gets_headers_and_no_body() -> None:
    sent = run(GatewayErrorsMiddleware(raising(refused())), http_scope(method="HEAD"))
    assert sent[0]["status"] == 502
    assert int(headers_of(sent[0])[b"content-length"]) > 0
    assert sent[1]["body"] == b""


@pytest.mark.parametrize("hook_kind", ["sync", "async"])
def test_on_error_hook_gets_the_error_and_exception(hook_kind: str) -> None:
    calls: list[Any] = []

    def sync_hook(error: Any, exc: BaseException | None) -> None:
        calls.append((error.code, exc))

    async def async_hook(error: Any, exc: BaseException | None) -> None:
        await asyncio.sleep(0)
        calls.append((error.code, exc))

    exc = ServiceUnavailable(code="circuit_open", retry_after=7)
    hook = sync_hook if hook_kind == "sync" else async_hook
    sent = run(GatewayErrorsMiddleware(raising(exc), on_error=hook), http_scope())
    assert sent[0]["status"] == 503
    assert headers_of(sent[0])[b"retry-after"] == b"7"
    assert calls == [("circuit_open", exc)]


def test_a_failing_hook_does_not_change_the_response(caplog: pytest.LogCaptureFixture) -> None:
    def hook(error: Any, exc: BaseException | None) -> None:
        raise RuntimeError("hook bug")

    with caplog.at_level(logging.ERROR, "gatewayerrors"):
        sent = run(GatewayErrorsMiddleware(raising(refused()), on_error=hook), http_scope())
    assert sent[0]["status"] == 502
    assert any("on_error hook failed" in r.getMessage() for r in caplog.records)


def test_suppress_response_codes_answers_200_with_the_error_body() -> None:
    app = GatewayErrorsMiddleware(raising(refused()), suppress_response_codes="suppress")
    sent = run(app, http_scope(query_string=b"suppress=true"))
    assert sent[0]["status"] == 200
    assert b"connection_refused" in sent[1]["body"]


# -- maintenance ----------------------------------------------------------------------------


def test_maintenance_answers_503_except_exempt_paths() -> None:
    switch = {"on": True}
    app = GatewayErrorsMiddleware(ok_app, maintenance=lambda: switch["on"])
    sent = run(app, http_scope("/orders"))
    assert sent[0]["status"] == 503
    assert headers_of(sent[0])[b"retry-after"] == b"300"
    assert b"maintenance" in sent[1]["body"]
    assert run(app, http_scope("/healthz"))[0]["status"] == 200
    switch["on"] = False
    assert run(app, http_scope("/orders"))[0]["status"] == 200


def test_no_maintenance_check_when_maintenance_cannot_be_on(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.delenv("GATEWAYERRORS_MAINTENANCE", raising=False)
    assert GatewayErrorsMiddleware(ok_app).translator.maintenance_check is None


# -- WebSocket (messages; real servers in test_asgi_websocket.py) ---------------------------


def ws_scope(extensions: dict[str, Any] | None = None) -> dict[str, Any]:
    return {
        "type": "websocket",
        "asgi": {"version": "3.0"},
        "path": "/ws",
        "query_string": b"",
        "headers": [],
        "extensions": extensions,
    }


def test_websocket_before_accept_with_denial_extension_sends_http_error() -> None:
    exc = ServiceUnavailable(code="circuit_open", retry_after=9)
    sent = run(GatewayErrorsMiddleware(raising(exc)), ws_scope({"websocket.http.response": {}}))
    start, body = sent
    assert start["type"] == "websocket.http.response.start"
    assert start["status"] == 503
    assert headers_of(start)[b"retry-after"] == b"9"
    assert body["type"] == "websocket.http.response.body"
    assert b"circuit_open" in body["body"]


@pytest.mark.parametrize("extensions", [None, {}])
def test_websocket_before_accept_without_extension_closes(extensions: Any) -> None:
    sent = run(GatewayErrorsMiddleware(raising(refused())), ws_scope(extensions))
    assert sent == [{"type": "websocket.close", "code": 1014, "reason": "connection_refused"}]


@pytest.mark.parametrize(
    ("exc", "code", "reason"),
    [
        (ServiceUnavailable(code="circuit_open"), 1013, "circuit_open"),
        (gatewayerrors.GatewayTimeout(), 1014, "upstream_timeout"),
    ],
)
def test_websocket_after_accept_closes_with_gateway_code(
    exc: Exception, code: int, reason: str
) -> None:
    accept = {"type": "websocket.accept"}
    sent = run(GatewayErrorsMiddleware(raising(exc, before=[accept])), ws_scope())
    assert sent == [accept, {"type": "websocket.close", "code": code, "reason": reason}]


def test_websocket_already_closed_reraises() -> None:
    close = {"type": "websocket.close", "code": 1000}
    middleware = GatewayErrorsMiddleware(raising(refused(), before=[close]))
    with pytest.raises(ConnectionRefusedError):
        run(middleware, ws_scope())
    assert middleware.failures_after_start == 1


def test_websocket_unclassified_exception_is_reraised() -> None:
    with pytest.raises(KeyError):
        run(GatewayErrorsMiddleware(raising(KeyError("x"))), ws_scope())


def test_websocket_maintenance_denies_the_handshake() -> None:
    app = GatewayErrorsMiddleware(ok_app, maintenance=True)
    sent = run(app, ws_scope({"websocket.http.response": {}}))
    assert sent[0]["type"] == "websocket.http.response.start"
    assert sent[0]["status"] == 503


def test_websocket_client_gone_before_the_close_is_not_an_error(
    caplog: pytest.LogCaptureFixture,
) -> None:
    async def receive() -> Message:
        return {"type": "websocket.disconnect", "code": 1001}

    async def send(message: Message) -> None:
        if message["type"] == "websocket.close":
            raise ConnectionResetError("client gone")  # what uvicorn raises: an OSError

    accept = {"type": "websocket.accept"}
    middleware = GatewayErrorsMiddleware(raising(refused(), before=[accept]))
    with caplog.at_level(logging.ERROR, "gatewayerrors"):
        asyncio.run(middleware(ws_scope(), receive, send))
    assert [r.gatewayerrors_code for r in caplog.records] == ["connection_refused"]  # type: ignore[attr-defined]


# -- scopes that break the ASGI spec ---------------------------------------------------------

MALFORMED_SCOPES = {
    "str query_string": {"query_string": "a=1"},
    "None query_string": {"query_string": None},
    "headers not pairs": {"headers": [(b"accept",), b"x-request-id"]},
    "str header values": {"headers": [(b"accept", "text/plain"), (b"x-request-id", "r1")]},
    "headers not iterable": {"headers": 42},
    "bytes path and method": {"path": b"/p", "method": b"GET"},
    "missing keys": {"path": None, "method": None, "headers": None, "query_string": None},
}


def malformed(fields: dict[str, Any]) -> dict[str, Any]:
    scope = http_scope()
    scope.update(fields)
    return scope


@pytest.mark.parametrize("fields", MALFORMED_SCOPES.values(), ids=list(MALFORMED_SCOPES))
def test_a_malformed_scope_still_gets_the_answer(fields: dict[str, Any]) -> None:
    seen: list[gatewayerrors.core.RequestInfo] = []

    def style(error: Any, fmt: Any, request: Any) -> tuple[str, bytes]:
        seen.append(request)
        return "text/plain", error.code.encode()

    sent = run(GatewayErrorsMiddleware(raising(refused()), style=style), malformed(fields))
    assert sent[0]["status"] == 502
    assert sent[1]["body"] == b"connection_refused"
    [request] = seen
    assert all(isinstance(field, str) and field for field in request[:2])
    assert isinstance(request.query, str)
    assert request.accept is None or isinstance(request.accept, str)


@pytest.mark.parametrize("fields", MALFORMED_SCOPES.values(), ids=list(MALFORMED_SCOPES))
def test_a_malformed_scope_does_not_replace_an_unclassified_exception(
    fields: dict[str, Any],
) -> None:
    exc = ValueError("a bug, not an upstream failure")
    with pytest.raises(ValueError) as raised:
        run(GatewayErrorsMiddleware(raising(exc)), malformed(fields))
    assert raised.value is exc


def test_a_malformed_scope_in_maintenance_mode_gets_the_503() -> None:
    app = GatewayErrorsMiddleware(ok_app, maintenance=True)
    scope = http_scope(query_string="x")
    scope["headers"] = [(b"accept",)]  # a header without a value
    sent = run(app, scope)
    assert sent[0]["status"] == 503
    ws = ws_scope()
    ws["headers"] = [("accept", "text/plain")]
    assert run(app, ws)[0]["type"] == "websocket.close"


def test_a_malformed_websocket_scope_still_gets_the_close_code() -> None:
    ws = ws_scope()
    ws["query_string"] = "x=1"

    async def app(scope: Any, receive: Any, send: Any) -> None:
        await send({"type": "websocket.accept"})
        raise refused()

    sent = run(GatewayErrorsMiddleware(app), ws)
    assert sent[-1] == {"type": "websocket.close", "code": 1014, "reason": "connection_refused"}

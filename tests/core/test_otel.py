"""OpenTelemetry: the real SDK (in-memory exporter) and the real instrumentation packages around
Starlette/FastAPI (uvicorn), plain WSGI and Flask (waitress) apps calling a refused upstream."""

from __future__ import annotations

import time
from collections.abc import Iterator
from typing import Any

import flask
import httpx
import pytest
import requests
from fastapi import FastAPI
from opentelemetry.instrumentation.asgi import OpenTelemetryMiddleware
from opentelemetry.instrumentation.fastapi import FastAPIInstrumentor
from opentelemetry.instrumentation.flask import FlaskInstrumentor
from opentelemetry.instrumentation.wsgi import OpenTelemetryMiddleware as OpenTelemetryWSGI
from opentelemetry.sdk.trace import ReadableSpan, TracerProvider
from opentelemetry.sdk.trace.export import SimpleSpanProcessor
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter
from opentelemetry.trace import SpanKind, StatusCode, format_trace_id
from starlette.applications import Starlette
from starlette.routing import Route
from wsgi_servers import serve_asgi, serve_wsgi

from gatewayerrors import GatewayErrorsMiddleware, GatewayErrorsWSGIMiddleware
from gatewayerrors.flask import GatewayErrors
from gatewayerrors.otel import UPSTREAM_ATTRIBUTE, OpenTelemetry
from gatewayerrors.starlette import install

pytestmark = pytest.mark.server

TRACEPARENT = "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01"
INCOMING_TRACE_ID = "4bf92f3577b34da6a3ce929d0e0e4736"


@pytest.fixture
def exporter() -> InMemorySpanExporter:
    return InMemorySpanExporter()


@pytest.fixture
def provider(exporter: InMemorySpanExporter) -> Iterator[TracerProvider]:
    provider = TracerProvider()
    provider.add_span_processor(SimpleSpanProcessor(exporter))
    yield provider
    provider.shutdown()


def server_span(exporter: InMemorySpanExporter, count: int = 1) -> ReadableSpan:
    """The last server span, once ``count`` have ended (the server ends a span just after
    the response went out, so the client may see the answer first)."""
    deadline = time.monotonic() + 5
    while True:
        spans = [s for s in exporter.get_finished_spans() if s.kind is SpanKind.SERVER]
        if len(spans) >= count or time.monotonic() > deadline:
            break
        time.sleep(0.01)
    assert len(spans) == count, [s.name for s in exporter.get_finished_spans()]
    return spans[-1]


def assert_annotated(span: ReadableSpan, response: Any, *, upstream: str | None = None) -> None:
    attributes = dict(span.attributes or {})
    assert attributes["error.type"] == "connection_refused"
    assert attributes["http.response.status_code"] == 502
    assert span.status.status_code is StatusCode.ERROR
    exceptions = [event for event in span.events if event.name == "exception"]
    assert len(exceptions) == 1, "the exception is recorded exactly once"
    assert exceptions[0].attributes is not None
    assert str(exceptions[0].attributes["exception.type"]).endswith(
        ("ConnectError", "ConnectionError")
    )
    assert attributes.get(UPSTREAM_ATTRIBUTE) == upstream
    trace_id = format_trace_id(span.context.trace_id)
    assert response.headers["x-request-id"] == trace_id


def refused_starlette(refused_url: str) -> Starlette:
    async def orders(request: Any) -> Any:
        async with httpx.AsyncClient() as client:
            await client.get(refused_url)

    return Starlette(routes=[Route("/orders", orders)])


def test_asgi_instrumentation_outside_gets_the_code_and_the_trace_id_as_request_id(
    upstreams: Any, provider: TracerProvider, exporter: InMemorySpanExporter
) -> None:
    inner = GatewayErrorsMiddleware(
        refused_starlette(upstreams.refused_url), integrations=[OpenTelemetry()]
    )
    app = OpenTelemetryMiddleware(inner, tracer_provider=provider)
    with serve_asgi(app) as base:
        response = httpx.get(base + "/orders", headers={"accept": "application/problem+json"})
    assert response.status_code == 502
    span = server_span(exporter)
    assert_annotated(span, response)
    assert response.json()["request_id"] == format_trace_id(span.context.trace_id)


def test_an_incoming_traceparent_is_honoured_and_its_trace_id_is_on_the_page(
    upstreams: Any, provider: TracerProvider, exporter: InMemorySpanExporter
) -> None:
    app = FastAPI()

    @app.get("/orders")
    async def orders() -> None:
        async with httpx.AsyncClient() as client:
            await client.get(upstreams.refused_url)

    install(app, integrations=[OpenTelemetry()])
    FastAPIInstrumentor.instrument_app(app, tracer_provider=provider)
    with serve_asgi(app) as base:
        response = httpx.get(
            base + "/orders",
            headers={"accept": "text/html", "traceparent": TRACEPARENT, "x-request-id": "t-42"},
        )
    assert response.status_code == 502
    span = server_span(exporter)
    assert format_trace_id(span.context.trace_id) == INCOMING_TRACE_ID
    assert_annotated(span, response)
    assert INCOMING_TRACE_ID in response.text  # the page a user copies the id from
    assert "t-42" not in response.text  # the trace id takes the place of an incoming id


def test_without_a_trace_request_ids_stay_as_they_were(upstreams: Any) -> None:
    app = GatewayErrorsMiddleware(
        refused_starlette(upstreams.refused_url), integrations=[OpenTelemetry()]
    )
    with serve_asgi(app) as base:
        chosen = httpx.get(base + "/orders", headers={"x-request-id": "ticket-42"})
        generated = httpx.get(base + "/orders")
    assert chosen.status_code == generated.status_code == 502
    assert chosen.headers["x-request-id"] == "ticket-42"
    assert len(generated.headers["x-request-id"]) == 32


def test_trace_request_ids_can_be_turned_off(
    upstreams: Any, provider: TracerProvider, exporter: InMemorySpanExporter
) -> None:
    inner = GatewayErrorsMiddleware(
        refused_starlette(upstreams.refused_url),
        integrations=[OpenTelemetry(trace_request_ids=False)],
    )
    app = OpenTelemetryMiddleware(inner, tracer_provider=provider)
    with serve_asgi(app) as base:
        response = httpx.get(base + "/orders", headers={"traceparent": TRACEPARENT})
    span = server_span(exporter)
    assert dict(span.attributes or {})["error.type"] == "connection_refused"
    assert response.headers["x-request-id"] != INCOMING_TRACE_ID


def test_a_named_upstream_is_an_attribute(
    upstreams: Any, provider: TracerProvider, exporter: InMemorySpanExporter
) -> None:
    host = httpx.URL(upstreams.refused_url).netloc.decode()
    inner = GatewayErrorsMiddleware(
        refused_starlette(upstreams.refused_url),
        integrations=[OpenTelemetry()],
        upstream_names={host: "orders"},
    )
    app = OpenTelemetryMiddleware(inner, tracer_provider=provider)
    with serve_asgi(app) as base:
        response = httpx.get(base + "/orders")
    assert_annotated(server_span(exporter), response, upstream="orders")


def test_new_semantic_conventions_keep_the_code_over_the_status(
    upstreams: Any,
    provider: TracerProvider,
    exporter: InMemorySpanExporter,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    # With OTEL_SEMCONV_STABILITY_OPT_IN=http the instrumentation writes error.type="502" when
    # it sees the status; our annotation comes after the response start, so the code wins.
    from opentelemetry.instrumentation._semconv import _OpenTelemetrySemanticConventionStability

    monkeypatch.setenv("OTEL_SEMCONV_STABILITY_OPT_IN", "http")
    monkeypatch.setattr(_OpenTelemetrySemanticConventionStability, "_initialized", False)
    _OpenTelemetrySemanticConventionStability._initialize()  # type: ignore[no-untyped-call]
    try:
        inner = GatewayErrorsMiddleware(
            refused_starlette(upstreams.refused_url), integrations=[OpenTelemetry()]
        )
        app = OpenTelemetryMiddleware(inner, tracer_provider=provider)
        with serve_asgi(app) as base:
            response = httpx.get(base + "/orders")
        assert_annotated(server_span(exporter), response)
    finally:
        monkeypatch.delenv("OTEL_SEMCONV_STABILITY_OPT_IN")
        _OpenTelemetrySemanticConventionStability._initialized = False
        _OpenTelemetrySemanticConventionStability._initialize()  # type: ignore[no-untyped-call]


def test_fastapi_native_telemetry_ends_its_span_before_the_report(
    upstreams: Any, provider: TracerProvider, exporter: InMemorySpanExporter
) -> None:
    # Pins what docs/observability.md says of FastAPI's own telemetry: its server span ends with
    # the last body byte, before the middleware reports, and says error.type="502"; the request
    # id is still its trace id.
    pytest.importorskip("fastapi.telemetry", reason="this FastAPI has no telemetry of its own")
    app = FastAPI(telemetry={"tracer_provider": provider, "metrics": False, "logs": False})

    @app.get("/orders")
    async def orders() -> None:
        async with httpx.AsyncClient() as client:
            await client.get(upstreams.refused_url)

    install(app, integrations=[OpenTelemetry()])
    with serve_asgi(app) as base:
        response = httpx.get(base + "/orders")
    assert response.status_code == 502
    span = server_span(exporter)
    assert dict(span.attributes or {})["error.type"] == "502"
    assert response.headers["x-request-id"] == format_trace_id(span.context.trace_id)


def test_after_the_response_started_the_code_is_set_and_the_exception_recorded_once(
    upstreams: Any, provider: TracerProvider, exporter: InMemorySpanExporter
) -> None:
    async def stream(scope: Any, receive: Any, send: Any) -> None:
        await send({"type": "http.response.start", "status": 200, "headers": []})
        await send({"type": "http.response.body", "body": b"partial", "more_body": True})
        async with httpx.AsyncClient() as client:
            await client.get(upstreams.refused_url)

    inner = GatewayErrorsMiddleware(stream, integrations=[OpenTelemetry()])
    app = OpenTelemetryMiddleware(inner, tracer_provider=provider)
    with serve_asgi(app) as base, pytest.raises(httpx.RemoteProtocolError):
        httpx.get(base + "/")
    span = server_span(exporter)
    assert dict(span.attributes or {})["error.type"] == "connection_refused"
    assert span.status.status_code is StatusCode.ERROR
    # The exception propagates to the instrumentation, which records it: we do not, again.
    assert len([event for event in span.events if event.name == "exception"]) == 1


# -- WSGI and Flask --------------------------------------------------------------------------


def test_wsgi_instrumentation_outside(
    upstreams: Any, provider: TracerProvider, exporter: InMemorySpanExporter
) -> None:
    def view(environ: Any, start_response: Any) -> list[bytes]:
        requests.get(upstreams.refused_url, timeout=2)
        return []

    inner = GatewayErrorsWSGIMiddleware(view, integrations=[OpenTelemetry()])
    app = OpenTelemetryWSGI(inner, tracer_provider=provider)
    with serve_wsgi(app) as base:
        response = httpx.get(base + "/orders")
    assert response.status_code == 502
    span = server_span(exporter)
    attributes = dict(span.attributes or {})
    assert attributes["error.type"] == "connection_refused"
    assert span.status.status_code is StatusCode.ERROR
    exceptions = [event for event in span.events if event.name == "exception"]
    assert len(exceptions) == 1
    assert response.headers["x-request-id"] == format_trace_id(span.context.trace_id)


def flask_app(refused_url: str) -> flask.Flask:
    app = flask.Flask(__name__)

    @app.get("/orders")
    def orders() -> str:
        requests.get(refused_url, timeout=2)
        return "unreachable"

    return app


@pytest.mark.parametrize("order", ["instrumented first", "instrumented last"])
def test_flask_instrumentor_in_either_order(
    upstreams: Any, provider: TracerProvider, exporter: InMemorySpanExporter, order: str
) -> None:
    app = flask_app(upstreams.refused_url)
    if order == "instrumented first":
        FlaskInstrumentor.instrument_app(app, tracer_provider=provider)  # type: ignore[no-untyped-call]
        GatewayErrors(app, integrations=[OpenTelemetry()])
    else:
        GatewayErrors(app, integrations=[OpenTelemetry()])
        FlaskInstrumentor.instrument_app(app, tracer_provider=provider)  # type: ignore[no-untyped-call]
    try:
        with serve_wsgi(app) as base:
            response = httpx.get(base + "/orders", headers={"traceparent": TRACEPARENT})
        assert response.status_code == 502
        span = server_span(exporter)
        assert format_trace_id(span.context.trace_id) == INCOMING_TRACE_ID
        assert_annotated(span, response)
    finally:
        FlaskInstrumentor.uninstrument_app(app)  # type: ignore[no-untyped-call]


@pytest.mark.parametrize(("stacktraces", "expected"), [("first", 1), ("always", 3)])
def test_stack_traces_are_formatted_for_the_first_failure_in_a_window(
    upstreams: Any,
    provider: TracerProvider,
    exporter: InMemorySpanExporter,
    stacktraces: str,
    expected: int,
) -> None:
    inner = GatewayErrorsMiddleware(
        refused_starlette(upstreams.refused_url),
        integrations=[OpenTelemetry(stacktraces=stacktraces)],
    )
    app = OpenTelemetryMiddleware(inner, tracer_provider=provider)
    with serve_asgi(app) as base:
        for _ in range(3):
            assert httpx.get(base + "/orders").status_code == 502
    server_span(exporter, count=3)
    spans = [s for s in exporter.get_finished_spans() if s.kind is SpanKind.SERVER]
    events = [e for span in spans for e in span.events if e.name == "exception"]
    assert len(events) == 3  # every span has its exception event
    assert all(
        e.attributes and e.attributes["exception.type"] == "httpx.ConnectError" for e in events
    )
    with_stack = [e for e in events if e.attributes and "exception.stacktrace" in e.attributes]
    assert len(with_stack) == expected


def test_bad_options_fail_at_startup() -> None:
    with pytest.raises(ValueError, match="stacktraces"):
        OpenTelemetry(stacktraces="never")
    with pytest.raises(ValueError, match="window"):
        OpenTelemetry(window=0)

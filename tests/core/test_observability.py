"""Observability as a whole: nothing imported when unused, the issue's "done when" end to end,
and the ``integrations`` setting's contract.

Processes that load an SDK (``sentry_sdk.init`` patches the process) or must start clean run
in a fresh interpreter, printing what they saw as JSON.
"""

from __future__ import annotations

import json
import logging
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from gatewayerrors import GatewayError, Settings, SettingsError
from gatewayerrors.core import ErrorResponse, RequestInfo, Translator
from gatewayerrors.core import Integration as PublicIntegration

TESTS = Path(__file__).resolve().parents[1] / "helpers"  # the shared modules the programs import


def run(program: str, *args: str) -> Any:
    done = subprocess.run(
        [sys.executable, "-c", program, str(TESTS), *args],
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert done.returncode == 0, done.stderr[-3000:]
    return json.loads(done.stdout.strip().splitlines()[-1])


NOTHING_IMPORTED = r"""
import asyncio, json, sys
sys.path.insert(0, sys.argv[1])
refused_url = sys.argv[2]
import httpx, requests
import gatewayerrors
from gatewayerrors import GatewayErrorsMiddleware, GatewayErrorsWSGIMiddleware
from wsgi_servers import serve_asgi, serve_wsgi

async def asgi_app(scope, receive, send):
    async with httpx.AsyncClient() as client:
        await client.get(refused_url)

def wsgi_app(environ, start_response):
    requests.get(refused_url, timeout=2)

with serve_asgi(GatewayErrorsMiddleware(asgi_app)) as base:
    assert httpx.get(base + "/").status_code == 502
with serve_wsgi(GatewayErrorsWSGIMiddleware(wsgi_app)) as base:
    assert httpx.get(base + "/").status_code == 502
libraries = ("opentelemetry", "prometheus_client", "sentry_sdk", "structlog")
print(json.dumps(sorted(
    name for name in sys.modules if name.partition(".")[0] in libraries
)))
"""


def test_translated_errors_import_no_observability_library(upstreams: Any) -> None:
    assert run(NOTHING_IMPORTED, upstreams.refused_url) == []


DONE_WHEN = r"""
import json, sys, time
sys.path.insert(0, sys.argv[1])
refused_url = sys.argv[2]
import httpx, sentry_sdk
from fastapi import FastAPI
from opentelemetry.instrumentation.fastapi import FastAPIInstrumentor
from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.sdk.trace.export import SimpleSpanProcessor
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter
from opentelemetry.trace import SpanKind, format_trace_id
from prometheus_client import CollectorRegistry, start_http_server
from prometheus_client.parser import text_string_to_metric_families
from sentry_sdk.transport import Transport
from wsgi_servers import serve_asgi

from gatewayerrors.otel import OpenTelemetry
from gatewayerrors.prometheus import PrometheusMetrics
from gatewayerrors.sentry import SentryEvents
from gatewayerrors.starlette import install

class Captured(Transport):
    def __init__(self, options=None):
        super().__init__(options)
        self.events = []
    def capture_envelope(self, envelope):
        self.events += [i.get_event() for i in envelope.items if i.type == "event"]

transport = Captured()
sentry_sdk.init(dsn="http://key@127.0.0.1:9/1", transport=transport)
exporter = InMemorySpanExporter()
provider = TracerProvider()
provider.add_span_processor(SimpleSpanProcessor(exporter))
registry = CollectorRegistry()

app = FastAPI()

@app.get("/orders")
async def orders():
    async with httpx.AsyncClient() as client:
        await client.get(refused_url)

install(app, integrations=[OpenTelemetry(), PrometheusMetrics(registry=registry), SentryEvents()])
FastAPIInstrumentor.instrument_app(app, tracer_provider=provider)
STORM = 20
pages = []
with serve_asgi(app) as base, httpx.Client() as client:
    for _ in range(STORM):
        response = client.get(base + "/orders", headers={"accept": "text/html"})
        pages.append((response.status_code, response.headers["x-request-id"], response.text))
deadline = time.monotonic() + 5
while len([s for s in exporter.get_finished_spans() if s.kind is SpanKind.SERVER]) < STORM:
    assert time.monotonic() < deadline
    time.sleep(0.01)
spans = [s for s in exporter.get_finished_spans() if s.kind is SpanKind.SERVER]
server, thread = start_http_server(0, addr="127.0.0.1", registry=registry)
scraped = httpx.get(f"http://127.0.0.1:{server.server_port}/metrics").text
server.shutdown()
server.server_close()
samples = {
    (s.name, tuple(sorted(s.labels.items()))): s.value
    for family in text_string_to_metric_families(scraped)
    for s in family.samples
}
sentry_sdk.flush()
trace_ids = {format_trace_id(s.context.trace_id) for s in spans}
print(json.dumps({
    "statuses": sorted({status for status, _, _ in pages}),
    "error_types": sorted({s.attributes.get("error.type") for s in spans}),
    "ids_are_trace_ids": all(rid in trace_ids for _, rid, _ in pages),
    "ids_on_pages": all(rid in text for _, rid, text in pages),
    "refused_count": samples.get(("gatewayerrors_errors_total", (
        ("code", "connection_refused"), ("status", "502"), ("upstream", "unnamed")))),
    "sentry_events": [
        (e.get("tags", {}).get("gatewayerrors.code"), e.get("fingerprint"))
        for e in transport.events
    ],
}))
"""


def test_done_when_a_refused_upstream_behind_an_instrumented_fastapi_app(upstreams: Any) -> None:
    seen = run(DONE_WHEN, upstreams.refused_url)
    assert seen["statuses"] == [502]
    assert seen["error_types"] == ["connection_refused"]
    assert seen["ids_are_trace_ids"]
    assert seen["ids_on_pages"]
    assert seen["refused_count"] == 20
    assert seen["sentry_events"] == [
        ["connection_refused", ["gatewayerrors", "connection_refused", "unnamed"]]
    ]


@pytest.mark.parametrize(
    ("module", "library", "extra", "project"),
    [
        ("gatewayerrors.otel", "opentelemetry", "otel", "opentelemetry-api"),
        ("gatewayerrors.prometheus", "prometheus_client", "prometheus", "prometheus_client"),
        ("gatewayerrors.sentry", "sentry_sdk", "sentry", "sentry-sdk"),
    ],
)
def test_a_missing_library_names_the_extra_to_install(
    module: str, library: str, extra: str, project: str
) -> None:
    program = f"import sys; sys.modules[{library!r}] = None; import {module}"
    result = subprocess.run(
        [sys.executable, "-c", program], capture_output=True, text=True, timeout=60, check=False
    )
    assert result.returncode == 1
    assert result.stderr.strip().splitlines()[-1] == (
        f"ModuleNotFoundError: {module} needs {project}, which is not installed: "
        f"pip install 'gatewayerrors[{extra}]'"
    )


# -- the integrations setting -------------------------------------------------------------


class Recorder(PublicIntegration):
    """An integration of one's own: records what it was told."""

    def __init__(self) -> None:
        self.seen: list[tuple[str, int, bool]] = []

    def observe(
        self, response: ErrorResponse, exc: BaseException | None, response_started: bool
    ) -> None:
        self.seen.append((response.error.code, response.status, response_started))


class Failing(PublicIntegration):
    def request_id(self) -> str | None:
        raise RuntimeError("broken integration")

    def observe(
        self, response: ErrorResponse, exc: BaseException | None, response_started: bool
    ) -> None:
        raise RuntimeError("broken integration")


class Bad(PublicIntegration):
    def request_id(self) -> str | None:
        return "not a safe id\r\nx-injected: 1"


def test_an_integration_is_told_once_per_error_and_before_on_error() -> None:
    recorder = Recorder()
    order: list[str] = []
    translator = Translator(
        integrations=[recorder],
        on_error=lambda error, exc: order.append(f"on_error saw {len(recorder.seen)}"),
    )
    exc = GatewayError(code="upstream_timeout")
    response = translator.translate(exc, RequestInfo())
    assert response is not None
    translator.report(response, exc)
    translator.report(response, exc, response_started=True)
    translator.report(response, exc, observed=True)
    assert recorder.seen == [("upstream_timeout", 504, False), ("upstream_timeout", 504, True)]
    assert order == ["on_error saw 1", "on_error saw 2", "on_error saw 2"]


def test_a_failing_integration_is_logged_and_changes_nothing(
    caplog: pytest.LogCaptureFixture,
) -> None:
    translator = Translator(integrations=[Failing(), Bad()])
    exc = GatewayError()
    with caplog.at_level(logging.ERROR, logger="gatewayerrors"):
        response = translator.translate(exc, RequestInfo(request_id="ticket-1"))
        assert response is not None
        translator.report(response, exc)
    assert response.status == 502
    assert response.error.request_id == "ticket-1"  # neither the broken nor the unsafe id
    messages = [record.getMessage() for record in caplog.records]
    assert any("integration request_id failed" in message for message in messages)
    assert any("integration" in message and "failed" in message for message in messages)


def test_the_setting_is_checked_at_startup() -> None:
    with pytest.raises(SettingsError, match="integrations"):
        Settings(integrations=["opentelemetry"])  # type: ignore[list-item]
    with pytest.raises(SettingsError, match="integrations"):
        Settings(integrations=object())  # type: ignore[arg-type]
    assert Settings(integrations=[Recorder()]).integrations[0].__class__ is Recorder


def test_an_integration_that_overrides_nothing_costs_nothing() -> None:
    translator = Translator(integrations=[PublicIntegration()])
    assert translator._observers == ()
    assert translator._request_id_sources == ()

"""OpenTelemetry's Django instrumentor around the Django middleware, under waitress.

Django is configured once per process (tests/helpers/django_setup.py does it in the suite), so
each case runs a fresh interpreter: the instrumentor edits ``settings.MIDDLEWARE`` and patches
Django globally.
"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

pytestmark = pytest.mark.server

TESTS = Path(__file__).resolve().parents[1] / "helpers"  # the shared modules the programs import

PROGRAM = r"""
import json, sys, time, types
sys.path.insert(0, sys.argv[1])
refused_url, order = sys.argv[2], sys.argv[3]

import django, httpx, requests
from django.conf import settings
from django.urls import path
from opentelemetry.instrumentation.django import DjangoInstrumentor
from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.sdk.trace.export import SimpleSpanProcessor
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter
from opentelemetry.trace import SpanKind, format_trace_id
from wsgi_servers import serve_wsgi

from gatewayerrors.otel import OpenTelemetry

def orders(request):
    requests.get(refused_url, timeout=2)

urls = types.ModuleType("otel_django_urls")
urls.urlpatterns = [path("orders", orders)]
sys.modules["otel_django_urls"] = urls
settings.configure(
    DEBUG=False, ALLOWED_HOSTS=["*"], SECRET_KEY="x" * 50, ROOT_URLCONF="otel_django_urls",
    MIDDLEWARE=["gatewayerrors.django.GatewayErrorsMiddleware"],
    GATEWAYERRORS={"integrations": [OpenTelemetry()]},
    LOGGING_CONFIG=None,
)
exporter = InMemorySpanExporter()
provider = TracerProvider()
provider.add_span_processor(SimpleSpanProcessor(exporter))
if order == "instrumented first":
    DjangoInstrumentor().instrument(tracer_provider=provider)
    django.setup()
else:
    django.setup()
    DjangoInstrumentor().instrument(tracer_provider=provider)
from django.core.wsgi import get_wsgi_application

with serve_wsgi(get_wsgi_application()) as base:
    response = httpx.get(
        base + "/orders",
        headers={"traceparent": "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01"},
    )
deadline = time.monotonic() + 5
while not [s for s in exporter.get_finished_spans() if s.kind is SpanKind.SERVER]:
    assert time.monotonic() < deadline
    time.sleep(0.01)
span = [s for s in exporter.get_finished_spans() if s.kind is SpanKind.SERVER][-1]
print(json.dumps({
    "status": response.status_code,
    "request_id": response.headers.get("x-request-id"),
    "trace_id": format_trace_id(span.context.trace_id),
    "attributes": dict(span.attributes),
    "span_status": span.status.status_code.name,
    "exceptions": [e.attributes["exception.type"] for e in span.events if e.name == "exception"],
}))
"""


def run(refused_url: str, order: str) -> dict[str, Any]:
    done = subprocess.run(
        [sys.executable, "-c", PROGRAM, str(TESTS), refused_url, order],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert done.returncode == 0, done.stderr[-3000:]
    result: dict[str, Any] = json.loads(done.stdout.strip().splitlines()[-1])
    return result


@pytest.mark.parametrize("order", ["instrumented first", "instrumented last"])
def test_django_instrumentor_in_either_order(upstreams: Any, order: str) -> None:
    result = run(upstreams.refused_url, order)
    assert result["status"] == 502
    assert result["trace_id"] == "4bf92f3577b34da6a3ce929d0e0e4736"  # traceparent honoured
    assert result["request_id"] == result["trace_id"]
    assert result["attributes"]["error.type"] == "connection_refused"
    assert result["attributes"]["http.response.status_code"] == 502
    assert result["span_status"] == "ERROR"
    assert result["exceptions"] == ["requests.exceptions.ConnectionError"]

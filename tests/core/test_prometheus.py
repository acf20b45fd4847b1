"""Prometheus: the real prometheus_client registry, scraped over HTTP, while real apps fail."""

from __future__ import annotations

import contextlib
from collections.abc import Iterator
from typing import Any

import httpx
import pytest
from prometheus_client import CollectorRegistry, start_http_server
from prometheus_client.parser import text_string_to_metric_families
from starlette.applications import Starlette
from starlette.routing import Route
from wsgi_servers import serve_asgi

from gatewayerrors import GatewayError, GatewayErrorsMiddleware
from gatewayerrors.prometheus import PrometheusMetrics

pytestmark = pytest.mark.server


@contextlib.contextmanager
def metrics_server(registry: CollectorRegistry) -> Iterator[str]:
    server, thread = start_http_server(0, addr="127.0.0.1", registry=registry)
    try:
        yield f"http://127.0.0.1:{server.server_port}/metrics"
    finally:
        server.shutdown()
        server.server_close()
        thread.join(5)


def scrape(url: str) -> dict[tuple[str, tuple[tuple[str, str], ...]], float]:
    """Every sample scraped from ``url``: (name, sorted labels) → value."""
    text = httpx.get(url).text
    return {
        (sample.name, tuple(sorted(sample.labels.items()))): sample.value
        for family in text_string_to_metric_families(text)
        for sample in family.samples
    }


def app(refused_url: str, **options: Any) -> Any:
    async def refused(request: Any) -> Any:
        async with httpx.AsyncClient() as client:
            await client.get(refused_url)

    async def named(request: Any) -> Any:
        raise GatewayError(code="upstream_timeout", upstream=request.path_params["name"])

    class Started:  # a plain ASGI app (Starlette treats a function as a request endpoint)
        async def __call__(self, scope: Any, receive: Any, send: Any) -> None:
            await send({"type": "http.response.start", "status": 200, "headers": []})
            await send({"type": "http.response.body", "body": b"part", "more_body": True})
            await refused(None)

    routes = [
        Route("/refused", refused),
        Route("/named/{name}", named),
        Route("/started", Started()),
    ]
    return GatewayErrorsMiddleware(Starlette(routes=routes), **options)


def test_counters_by_code_status_and_upstream_scraped_over_http(upstreams: Any) -> None:
    registry = CollectorRegistry()
    metrics = PrometheusMetrics(registry=registry)
    with serve_asgi(app(upstreams.refused_url, integrations=[metrics])) as base:
        for _ in range(3):
            assert httpx.get(base + "/refused").status_code == 502
        assert httpx.get(base + "/named/orders").status_code == 504
        with pytest.raises(httpx.RemoteProtocolError):
            httpx.get(base + "/started")
        with metrics_server(registry) as url:
            samples = scrape(url)
    refused = (("code", "connection_refused"), ("status", "502"), ("upstream", "unnamed"))
    assert samples["gatewayerrors_errors_total", refused] == 4  # the after-start one included
    timeout = (("code", "upstream_timeout"), ("status", "504"), ("upstream", "orders"))
    assert samples["gatewayerrors_errors_total", timeout] == 1
    after = (("code", "connection_refused"), ("upstream", "unnamed"))
    assert samples["gatewayerrors_failures_after_start_total", after] == 1


def test_upstream_labels_are_bounded() -> None:
    registry = CollectorRegistry()
    metrics = PrometheusMetrics(registry=registry, max_upstreams=2)
    with serve_asgi(app("http://127.0.0.1:1/", integrations=[metrics])) as base:
        for name in ("a", "b", "c", "d", "a"):
            httpx.get(base + f"/named/{name}")
        with metrics_server(registry) as url:
            samples = scrape(url)
    upstreams = {
        dict(labels)["upstream"]: value
        for (name, labels), value in samples.items()
        if name == "gatewayerrors_errors_total"
    }
    assert upstreams == {"a": 2, "b": 1, "other": 2}


def test_the_default_registry_and_a_second_registration_fails_at_startup() -> None:
    from prometheus_client import REGISTRY

    metrics = PrometheusMetrics(namespace="gatewayerrors_default_registry_test")
    try:
        assert REGISTRY.get_sample_value(
            "gatewayerrors_default_registry_test_errors_total",
            {"code": "x", "status": "502", "upstream": "unnamed"},
        ) in (None, 0.0)
        with pytest.raises(ValueError, match="Duplicated"):
            PrometheusMetrics(namespace="gatewayerrors_default_registry_test")
    finally:
        REGISTRY.unregister(metrics.errors)
        REGISTRY.unregister(metrics.failures_after_start)


def test_a_bad_bound_fails_at_startup() -> None:
    with pytest.raises(ValueError, match="max_upstreams"):
        PrometheusMetrics(registry=None, max_upstreams=0)

"""Prometheus: counters of translated errors by code, status and upstream.

    from gatewayerrors.prometheus import PrometheusMetrics
    app = GatewayErrorsMiddleware(app, integrations=[PrometheusMetrics()])

Two counters, in ``prometheus_client``'s conventions (``_total``, registered once, at startup):

- ``gatewayerrors_errors_total{code, status, upstream}``: every translated upstream failure.
  ``status`` is the gateway status of the error (502, 503, 504, ...), also when
  ``suppress_response_codes`` sent 200 or the response had already started.
- ``gatewayerrors_failures_after_start_total{code, upstream}``: those that came after the app
  had started its own response (the connection was aborted; also counted above).

Labels stay bounded: ``code`` comes from the catalog, ``upstream`` is a *named* upstream
(``upstream_names``, ``GatewayError(upstream=...)``), ``"unnamed"`` for every other one — a
host, path or request id is never a label — and past ``max_upstreams`` distinct names, further
ones count as ``"other"``.

The metrics go to ``prometheus_client``'s default registry, or the ``registry`` you pass; serve
them as you serve your others (``prometheus_client.make_asgi_app()``, ``start_http_server``).
Build one ``PrometheusMetrics`` per registry and share it between adapters: registering the
same names twice fails (at startup).
"""

from __future__ import annotations

from ._optional import require

require("prometheus_client", extra="prometheus", needed_by="gatewayerrors.prometheus")

import threading
from typing import TYPE_CHECKING

from prometheus_client import REGISTRY, CollectorRegistry, Counter

from ._integrations import Integration
from ._types import ErrorResponse

if TYPE_CHECKING:
    from prometheus_client.metrics import Counter as CounterChild

__all__ = ["OTHER", "UNNAMED", "PrometheusMetrics"]

UNNAMED = "unnamed"
"""The ``upstream`` label value of every upstream without a name."""
OTHER = "other"
"""The ``upstream`` label value past ``max_upstreams`` distinct names."""


class PrometheusMetrics(Integration):
    """Counts translated errors (see the module's documentation for the metrics)."""

    def __init__(
        self,
        *,
        registry: CollectorRegistry | None = REGISTRY,
        namespace: str = "gatewayerrors",
        max_upstreams: int = 50,
    ) -> None:
        if not isinstance(max_upstreams, int) or max_upstreams < 1:
            raise ValueError(f"max_upstreams must be a positive integer, not {max_upstreams!r}")
        self.errors = Counter(
            "errors",
            "Upstream failures translated into gateway error responses.",
            ("code", "status", "upstream"),
            namespace=namespace,
            registry=registry,
        )
        self.failures_after_start = Counter(
            "failures_after_start",
            "Upstream failures after the response had started (connection aborted).",
            ("code", "upstream"),
            namespace=namespace,
            registry=registry,
        )
        self.max_upstreams = max_upstreams
        self._upstreams: set[str] = set()
        self._children: dict[tuple[str, int, str], CounterChild] = {}
        self._lock = threading.Lock()

    def _upstream_label(self, upstream: str | None) -> str:
        if upstream is None:
            return UNNAMED
        if upstream in self._upstreams:
            return upstream
        with self._lock:
            if len(self._upstreams) >= self.max_upstreams:
                return OTHER
            self._upstreams.add(upstream)
        return upstream

    def observe(
        self, response: ErrorResponse, exc: BaseException | None, response_started: bool
    ) -> None:
        """Count the error (and the failure after the start)."""
        error = response.error
        code = error.kind.code
        upstream = self._upstream_label(error.upstream)
        key = (code, error.status, upstream)
        child = self._children.get(key)
        if child is None:
            # labels() formats and locks on every call: keep the child, it is the same object.
            child = self._children[key] = self.errors.labels(code, str(error.status), upstream)
        child.inc()
        if response_started:
            self.failures_after_start.labels(code, upstream).inc()

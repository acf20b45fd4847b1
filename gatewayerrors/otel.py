"""OpenTelemetry: the error code on the request's span, and the trace id as the request id.

    from gatewayerrors.otel import OpenTelemetry
    app = GatewayErrorsMiddleware(app, integrations=[OpenTelemetry()])

When the current span is recording (the server span of the standard ASGI/WSGI instrumentation
placed *outside* the middleware, or of the Flask, Django or FastAPI instrumentor), a translated
error sets on it:

- ``error.type`` = the catalog code (``connection_refused``): the semantic conventions' low-
  cardinality error identifier, where the instrumentation alone would only say ``"502"``;
- ``http.response.status_code`` = the status sent (not when the response had already started);
- ``gatewayerrors.upstream`` = the upstream's name, when it has one;
- the exception, recorded once as a span event (not when the response had already started: the
  exception then propagates to the instrumentation, which records it). Its stack trace is
  formatted for the first failure of a code and upstream in each ``window`` (60 s), like the log's
  traceback: formatting it is ~90% of the integration's cost per error (benchmarks/
  bench_observability.py). Repeats get the event with ``exception.type`` and
  ``exception.message`` only; ``stacktraces="always"`` formats it every time;
- the span status ERROR, with the code as its description.

While a trace is active (a valid span context, an incoming ``traceparent`` included), the
request id the user sees in the header, body and page is the W3C trace id (32 hex digits), so
the id on a support ticket finds the trace. Without a trace, request ids stay as they were.
``OpenTelemetry(trace_request_ids=False)`` keeps them as they were in any case.

Only the OpenTelemetry *API* is used (``opentelemetry-api``, the ``otel`` extra): the SDK, the
exporters and the instrumentation are the app's choice.
"""

from __future__ import annotations

from ._optional import require

require(
    "opentelemetry.trace", extra="otel", needed_by="gatewayerrors.otel", project="opentelemetry-api"
)

from opentelemetry import trace
from opentelemetry.trace import Status, StatusCode

from ._integrations import Integration
from ._logstorm import LogStorm
from ._types import ErrorResponse

__all__ = ["UPSTREAM_ATTRIBUTE", "OpenTelemetry"]

UPSTREAM_ATTRIBUTE = "gatewayerrors.upstream"
"""The span attribute that names the upstream (only a named one: a host is never shown)."""

_get_current_span = trace.get_current_span


class OpenTelemetry(Integration):
    """Annotates the current span with the translated error; trace ids become request ids."""

    def __init__(
        self, *, trace_request_ids: bool = True, stacktraces: str = "first", window: float = 60.0
    ) -> None:
        if stacktraces not in ("first", "always"):
            raise ValueError(f"stacktraces must be 'first' or 'always', not {stacktraces!r}")
        if (
            not isinstance(window, (int, float))
            or isinstance(window, bool)
            or not 0 < window < float("inf")
        ):
            raise ValueError(f"window must be a positive number of seconds, not {window!r}")
        self.trace_request_ids = trace_request_ids
        self.stacktraces = stacktraces
        self.window = window
        self._storm = LogStorm("first", window)
        if not trace_request_ids:
            self.request_id = super().request_id  # type: ignore[method-assign]

    def request_id(self) -> str | None:
        """The current trace id as 32 lower-case hex digits, or None without a trace."""
        context = _get_current_span().get_span_context()
        if not context.is_valid:
            return None
        return trace.format_trace_id(context.trace_id)

    def observe(
        self, response: ErrorResponse, exc: BaseException | None, response_started: bool
    ) -> None:
        """Set ``error.type``, the status code, the upstream, the exception and the status."""
        span = _get_current_span()
        if not span.is_recording():
            return
        error = response.error
        code = error.kind.code
        attributes: dict[str, str | int] = {"error.type": code}
        if not response_started:
            attributes["http.response.status_code"] = response.status
        if error.upstream is not None:
            attributes[UPSTREAM_ATTRIBUTE] = error.upstream
        span.set_attributes(attributes)  # one call: the SDK locks and checks per call
        if exc is not None and not response_started:
            self._record(span, exc, code, error.upstream, error.status)
        span.set_status(Status(StatusCode.ERROR, code))

    def _record(
        self, span: trace.Span, exc: BaseException, code: str, upstream: str | None, status: int
    ) -> None:
        if self.stacktraces == "first":
            decision = self._storm.decide((code, upstream), code, status, upstream, 0)
            if decision.repeats:
                cls = type(exc)
                module = cls.__module__
                name = cls.__qualname__ if module == "builtins" else f"{module}.{cls.__qualname__}"
                try:
                    message = str(exc)
                except Exception:
                    message = "<unprintable>"
                span.add_event("exception", {"exception.type": name, "exception.message": message})
                return
        span.record_exception(exc)

"""Sentry: one event per kind of failure and window, not one per request.

    import sentry_sdk
    from gatewayerrors.sentry import SentryEvents

    sentry_sdk.init(dsn=...)
    app = GatewayErrorsMiddleware(app, integrations=[SentryEvents()])

In an outage every request fails the same way; Sentry would get one event per request from the
logging integration (every record of ours at ERROR) and, under Django, from
``got_request_exception``. With ``SentryEvents``:

- the first failure of a ``(code, upstream)`` pair in each ``window`` (default: 60 s, like
  ``log_window``) becomes one event with its exception and stack trace, tagged
  ``gatewayerrors.code``, ``gatewayerrors.status`` and ``gatewayerrors.upstream`` (``unnamed``
  without a name), fingerprinted ``["gatewayerrors", code, upstream]`` so that Sentry groups
  it by what failed, not by the message or the stack; its level follows the log level of the
  kind (``warning`` for timeouts, overload and open circuits, ``error`` otherwise);
- its ``gatewayerrors`` context carries the request id and how many failures the pair had in
  its previous window (the counts the log's summary lines give);
- repeats in the window send nothing; other events that Sentry would make of a translated
  failure (our log records, Django's ``got_request_exception``) are dropped by an event
  processor, so nothing is reported twice. Everything else reaches Sentry as before,
  including our own ``gatewayerrors: ... failed`` records.

Needs ``sentry-sdk`` 2 (the ``sentry`` extra); ``sentry_sdk.init`` is the app's.
"""

from __future__ import annotations

from ._optional import require

require("sentry_sdk", extra="sentry", needed_by="gatewayerrors.sentry", project="sentry-sdk")

import contextlib
import logging
from typing import TYPE_CHECKING, Any

import sentry_sdk
from sentry_sdk.scope import add_global_event_processor
from sentry_sdk.utils import event_from_exception

from ._integrations import Integration
from ._logstorm import LogStorm, log_level
from ._types import ErrorResponse

if TYPE_CHECKING:
    from sentry_sdk._types import Event, Hint

__all__ = ["FINGERPRINT_PREFIX", "SentryEvents"]

FINGERPRINT_PREFIX = "gatewayerrors"
"""The first part of every event's fingerprint: ``["gatewayerrors", code, upstream]``."""

_OURS = "gatewayerrors_event"
_LEVELS = {logging.ERROR: "error", logging.WARNING: "warning", logging.INFO: "info"}

# Set on an exception a SentryEvents integration has reported (or chose not to, in its window):
# another event made of it is a duplicate. An attribute, not a set: OSError cannot be weakly
# referenced, and a strong reference would keep every failure's frames alive.
_CLAIMED = "_gatewayerrors_reported"
_processor_added = False


def _drop_duplicates(event: Event, hint: Hint) -> Event | None:
    """A global event processor: our own events pass, other events of our failures do not."""
    if not hint or hint.get(_OURS):
        return event
    record = hint.get("log_record")
    if record is not None and hasattr(record, "gatewayerrors_code"):
        return None  # a translated error's log record (first, repeat or summary line)
    exc_info = hint.get("exc_info")
    if exc_info and getattr(exc_info[1], _CLAIMED, False):
        return None
    return event


class SentryEvents(Integration):
    """Reports translated errors to Sentry, one event per ``(code, upstream)`` and window."""

    def __init__(self, *, window: float = 60.0) -> None:
        global _processor_added
        if (
            not isinstance(window, (int, float))
            or isinstance(window, bool)
            or not 0 < window < float("inf")
        ):
            raise ValueError(f"window must be a positive number of seconds, not {window!r}")
        self.window = window
        self._storm = LogStorm("first", window)
        if not _processor_added:
            add_global_event_processor(_drop_duplicates)
            _processor_added = True

    def observe(
        self, response: ErrorResponse, exc: BaseException | None, response_started: bool
    ) -> None:
        """Send the first failure of its pair in the window; count the others."""
        error = response.error
        code = error.kind.code
        upstream = error.upstream
        if exc is not None:
            with contextlib.suppress(Exception):  # an exception class with __slots__
                setattr(exc, _CLAIMED, True)
        level = log_level(error.kind)
        decision = self._storm.decide((code, upstream), code, error.status, upstream, level)
        if decision.repeats:
            return
        previous = decision.summaries[0].failures if decision.summaries else None
        self._capture(response, exc, response_started, level, previous)

    def _capture(
        self,
        response: ErrorResponse,
        exc: BaseException | None,
        response_started: bool,
        level: int,
        previous: int | None,
    ) -> None:
        error = response.error
        code = error.kind.code
        upstream = error.upstream or "unnamed"
        event: dict[str, Any]
        if exc is not None:
            client = sentry_sdk.get_client()
            event, hint = event_from_exception(  # type: ignore[assignment]
                exc,
                client_options=client.options,
                mechanism={"type": "gatewayerrors", "handled": not response_started},
            )
        else:
            event = {"message": f"upstream failure: {error.status} {code}"}
            hint = {}
        hint[_OURS] = True
        event["level"] = _LEVELS.get(level, "error")
        event["fingerprint"] = [FINGERPRINT_PREFIX, code, upstream]
        event["tags"] = {
            "gatewayerrors.code": code,
            "gatewayerrors.status": str(error.status),
            "gatewayerrors.upstream": upstream,
        }
        context: dict[str, Any] = {
            "request_id": error.request_id,
            "response_started": response_started,
            "window_seconds": self.window,
        }
        if previous is not None:
            context["failures_in_previous_window"] = previous
        event["contexts"] = {"gatewayerrors": context}
        sentry_sdk.capture_event(event, hint=hint)  # type: ignore[arg-type]

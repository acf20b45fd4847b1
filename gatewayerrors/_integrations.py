"""The core's hook for observability integrations (OpenTelemetry, Prometheus, Sentry, your own).

An integration is an object in the ``integrations=`` setting. The translator asks it for two
things, and only if its class overrides them:

- :meth:`Integration.request_id` when it builds an error value: a non-empty string becomes the
  request id the user sees (header, body, page). The OpenTelemetry integration answers with the
  current trace id, so the id a user quotes finds the trace.
- :meth:`Integration.observe` for each translated error, before it is logged and before
  ``on_error``: the response as sent (or, with ``response_started``, as it could not be sent)
  and the exception. (Before the log, so that an error tracker hears of it from the
  integration first and can tell the log record's copy for what it is.)

Explicit rather than detected: the core never looks for ``opentelemetry``, ``prometheus_client``
or ``sentry_sdk``, so an app that does not list an integration imports and pays nothing for it,
and an app that imports OpenTelemetry for something else sees no request id change that it did
not ask for. Each integration module imports its library when it is constructed, at startup, so
a missing extra fails there and never per request.

This module is a leaf: it imports nothing of the package at run time.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from ._types import ErrorResponse

__all__ = ["Integration", "overrides"]


class Integration:
    """Base class of an observability integration (``integrations=[...]``).

    Override :meth:`observe`, :meth:`request_id`, or both; what is not overridden is never
    called. Both run on the error path only and must be cheap; an exception they raise is
    logged and does not change the response.
    """

    def request_id(self) -> str | None:
        """The request id to show for an error in this request, or None (the usual id)."""
        return None

    def observe(
        self, response: ErrorResponse, exc: BaseException | None, response_started: bool
    ) -> None:
        """Called once per translated error, before it is logged.

        ``response.status`` is the status sent (200 under ``suppress_response_codes``);
        ``response.error`` the error value. ``response_started``: the app had already started
        its own response, so this one was not sent and the connection is aborted.
        """


def overrides(integration: Integration, name: str) -> bool:
    """Whether ``integration`` (its class, or the instance itself) overrides method ``name``."""
    method = getattr(integration, name)
    return getattr(method, "__func__", method) is not getattr(Integration, name)

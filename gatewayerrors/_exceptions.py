"""Exceptions an application raises when it detects an upstream failure itself.

    Exception
     └── GatewayError               (status from its code; default code: upstream_error)
          ├── BadGateway             502, default code: upstream_error
          ├── ServiceUnavailable     503, default code: destination_unavailable
          └── GatewayTimeout         504, default code: upstream_timeout

Raise one anywhere below the middleware; it is translated like any recognised client error::

    raise ServiceUnavailable(
        f"breaker open after {failures} failures",   # for your logs only
        code="circuit_open", retry_after=30, upstream="payments",
        detail="Payments are paused for a moment.",  # shown to the client (optional)
    )
"""

from __future__ import annotations

from datetime import datetime

from ._catalog import catalog

__all__ = ["BadGateway", "GatewayError", "GatewayTimeout", "ServiceUnavailable"]


class GatewayError(Exception):
    """An upstream failure detected by the application.

    ``message`` is for your logs and error tracker only, like any exception's message: it is
    never sent to the client (write what helps you debug, hosts included). ``detail`` is the
    safe, client-facing sentence shown instead of the catalog's description. ``code`` is a
    catalog code; ``retry_after`` seconds or a :class:`~datetime.datetime`; ``upstream`` a
    logical name such as ``"payments"`` (never a host).
    """

    default_code = "upstream_error"

    def __init__(
        self,
        message: str | None = None,
        *,
        code: str | None = None,
        detail: str | None = None,
        retry_after: float | datetime | None = None,
        upstream: str | None = None,
    ) -> None:
        self.code = code if code is not None else self.default_code
        if self.code not in catalog:
            raise ValueError(f"unknown gatewayerrors code: {self.code!r}")
        # Empty text would render as an empty "detail" or "upstream" member: treat it as unset.
        self.detail = detail or None
        self.retry_after = retry_after
        self.upstream = upstream or None
        super().__init__(message or detail or catalog[self.code].title)

    @property
    def status(self) -> int:
        """The HTTP status of this error's code."""
        return catalog[self.code].status


class BadGateway(GatewayError):
    """502: the upstream answered with something unusable."""

    default_code = "upstream_error"


class ServiceUnavailable(GatewayError):
    """503: the upstream is unavailable for now (overloaded, paused, in maintenance)."""

    default_code = "destination_unavailable"


class GatewayTimeout(GatewayError):
    """504: the upstream did not answer in time."""

    default_code = "upstream_timeout"

"""The one error value that flows from classification to rendering."""

from __future__ import annotations

from typing import NamedTuple

from ._catalog import ErrorKind

__all__ = ["Evidence", "UpstreamFailure"]


class Evidence(NamedTuple):
    """What the classifier concluded from an exception (no request data, no exception kept).

    ``specificity`` ranks competing evidence found along one exception chain: the highest wins.
    """

    code: str
    specificity: int = 0
    retry_after: int | None = None
    received_status: int | None = None
    detail: str | None = None
    upstream: str | None = None
    upstream_code: str | None = None
    """The failed upstream's own root cause (a catalog code), when its answer named one."""
    chain: tuple[str, ...] = ()
    """The failed upstream's ``Proxy-Status`` members, validated, nearest the origin first."""


class UpstreamFailure(NamedTuple):
    """One translated gateway error, immutable once built.

    Carries only what the response needs: no exception, traceback or frame is kept, so
    building millions of these retains nothing.
    """

    kind: ErrorKind
    status: int
    title: str
    detail: str
    hint: str
    retry_after: int | None
    upstream: str | None
    request_id: str | None
    received_status: int | None
    instance: str | None
    debug: str | None
    upstream_code: str | None = None
    """The failed upstream's root cause (a catalog code), sent as the ``upstream_code`` member."""
    chain: tuple[str, ...] = ()
    """The upstream's ``Proxy-Status`` members, sent before ours."""

    @property
    def code(self) -> str:
        """The catalog code (stable, machine-parseable)."""
        return self.kind.code

    @property
    def number(self) -> int:
        """The catalog's stable number for the code."""
        return self.kind.number

"""A maintenance state shared by every replica, and the interface of the stores that hold it.

A leaf: it imports nothing of the package, so every store (in-process, file, Redis, Django
cache) depends on it and nothing here depends on a store.

The state travels as a small JSON object (one key in Redis, one file on a shared volume)::

    {"v": 1, "on": true, "start": "2026-12-24T02:00:00Z", "end": "2026-12-24T03:00:00Z",
     "retry_after": null, "message": null}

Anything else read back (not JSON, another version, a wrong type) is garbage: a store raises
:class:`StoreError`, and the replicas keep what they knew (see ``maintenance_store_grace``).
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from datetime import datetime, timezone
from typing import Any, Protocol, runtime_checkable

import orjson

__all__ = ["MESSAGE_LIMIT", "MaintenanceState", "MaintenanceStore", "StoreError", "parse_time"]

MESSAGE_LIMIT = 500
"""The longest operator message accepted (it becomes the problem's ``detail``)."""
_VERSION = 1


class StoreError(Exception):
    """A store could not be read or written, or held something that is not a state."""


def parse_time(text: str) -> datetime:
    """An ISO 8601 time with an offset (``2026-12-24T03:00:00Z``) as an aware UTC datetime.

    A time without an offset is refused: replicas in other time zones would read it apart.
    """
    # fromisoformat accepts "Z" only from Python 3.11 on.
    value = datetime.fromisoformat(text[:-1] + "+00:00" if text.endswith(("Z", "z")) else text)
    if value.tzinfo is None:
        raise ValueError(f"{text!r} has no UTC offset (end it with Z or +00:00)")
    return value.astimezone(timezone.utc)


def _format_time(value: datetime) -> str:
    return value.astimezone(timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")


@dataclass(frozen=True)
class MaintenanceState:
    """Maintenance mode as an operator set it: on or off, with an optional window.

    ``start`` and ``end`` are aware datetimes (UTC once built); a window whose ``start`` is
    ahead is scheduled, one whose ``end`` has passed is over: both answer normally.
    ``retry_after`` (seconds) overrides the seconds until ``end`` in ``Retry-After``;
    ``message`` replaces the page's and the problem's ``detail``.
    """

    on: bool = True
    start: datetime | None = None
    end: datetime | None = None
    retry_after: int | None = None
    message: str | None = None

    def __post_init__(self) -> None:
        if not isinstance(self.on, bool):
            raise ValueError(f"on must be True or False, not {self.on!r}")
        for name in ("start", "end"):
            value = getattr(self, name)
            if value is None:
                continue
            if not isinstance(value, datetime) or value.tzinfo is None:
                raise ValueError(f"{name} must be an aware datetime (with a UTC offset)")
            object.__setattr__(self, name, value.astimezone(timezone.utc))
        if self.start is not None and self.end is not None and self.end <= self.start:
            raise ValueError("end must be after start")
        retry = self.retry_after
        if retry is not None and (type(retry) is not int or retry < 0):
            raise ValueError(f"retry_after must be a non-negative int, not {retry!r}")
        message = self.message
        if message is not None:
            if not isinstance(message, str) or len(message) > MESSAGE_LIMIT:
                raise ValueError(f"message must be text of at most {MESSAGE_LIMIT} characters")
            message.encode("utf-8")  # a lone surrogate fails here, not in a renderer later

    def active_at(self, now: float) -> bool:
        """Whether maintenance is on at ``now`` (a POSIX timestamp, as ``time.time()``)."""
        if not self.on:
            return False
        if self.start is not None and now < self.start.timestamp():
            return False
        return self.end is None or now < self.end.timestamp()

    def seconds_left(self, now: float) -> int | None:
        """Whole seconds until the window ends (rounded up, at least 1), or None: no end."""
        if self.end is None:
            return None
        return max(1, math.ceil(self.end.timestamp() - now))

    def to_json(self) -> bytes:
        """The state as the JSON the stores hold."""
        return orjson.dumps(
            {
                "v": _VERSION,
                "on": self.on,
                "start": None if self.start is None else _format_time(self.start),
                "end": None if self.end is None else _format_time(self.end),
                "retry_after": self.retry_after,
                "message": self.message,
            }
        )

    @classmethod
    def from_json(cls, data: bytes | str) -> MaintenanceState:
        """The state in ``data``; :class:`StoreError` for anything that is not one."""
        try:
            raw: Any = orjson.loads(data)
            if not isinstance(raw, dict) or raw.get("v") != _VERSION:
                raise ValueError("not a gatewayerrors maintenance state (version 1)")
            start, end = raw.get("start"), raw.get("end")
            return cls(
                on=raw.get("on", False),
                start=None if start is None else parse_time(start),
                end=None if end is None else parse_time(end),
                retry_after=raw.get("retry_after"),
                message=raw.get("message"),
            )
        except (ValueError, TypeError, AttributeError) as exc:  # orjson's error is a ValueError
            raise StoreError(f"the store holds no valid maintenance state ({exc})") from None


@runtime_checkable
class MaintenanceStore(Protocol):
    """Where replicas share the maintenance state. Methods may block (briefly: bounded
    timeouts); only the background refresher and the operator's command call them, never a
    request.
    """

    def read(self) -> MaintenanceState | None:
        """The stored state, None when none was ever set; raise on an unreachable store or
        garbage (:class:`StoreError` preferred)."""
        ...

    def write(self, state: MaintenanceState) -> None:
        """Store ``state`` for every replica; raise when it could not be stored."""
        ...

"""Log-storm control: during an outage, one traceback per kind of failure, not one per request.

When an upstream is down every request fails the same way, and a formatted traceback is ~88% of
what a translated error costs (measured with pyinstrument: 580-730 µs per error through a real
formatting handler, 6.4 KB of log each). So failures are grouped by a *signature* — the code,
the upstream, whether the response had started, and the exception chain's types and traceback
frames — and within a window of ``log_window`` seconds:

- the first failure of a signature is logged with its full traceback (``log_tracebacks="first"``);
- each repeat is one compact line with its request id and its repeat number, no traceback;
- when the signature comes back after its window, a summary line first tells how many there
  were (``connection_refused x 1,234 in the last 60 s``), then a new window starts with a new
  traceback. A signature evicted from the bounded table gets its summary line then.

Counts are exact: every failure still gets its own line (so a request id a user quotes can be
found), only the traceback is not repeated. ``"always"`` keeps a traceback on every line,
``"never"`` drops them all. Deliberate fast failures (``circuit_open``, ``maintenance``) never
carry a traceback: nothing broke, a breaker or an operator said no.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable, Hashable
from typing import NamedTuple

from ._catalog import ErrorKind

__all__ = [
    "LOG_TRACEBACKS",
    "NO_TRACEBACK_CODES",
    "Decision",
    "LogStorm",
    "Summary",
    "failure_signature",
    "log_level",
]

LOG_TRACEBACKS = ("first", "always", "never")
"""The values of the ``log_tracebacks`` setting."""

NO_TRACEBACK_CODES = frozenset({"circuit_open", "maintenance"})
"""Deliberate fast failures: a breaker or an operator said no, so no traceback is formatted."""

# Bounds that keep the signature cheap for pathological chains (purgatory re-raises one
# exception object, so its traceback grows with every open-circuit call).
_MAX_LINKS = 8
_MAX_FRAMES = 32
_TABLE_LIMIT = 1024


def log_level(kind: ErrorKind) -> int:
    """The level of a translated error's record, by kind.

    WARNING for what is expected in an outage and says "later" rather than "broken": timeouts
    (504, the upstream is slow), an upstream that sheds load (503/429 ``upstream_overloaded``)
    and an open circuit (the breaker doing its job; the failures that opened it were logged).
    INFO for maintenance (an operator's decision). ERROR for everything else: refused, reset,
    DNS, TLS, protocol errors and upstream 5xx mean something is broken.
    """
    if kind.code == "maintenance":
        return logging.INFO
    if kind.status == 504 or kind.code in ("upstream_overloaded", "circuit_open"):
        return logging.WARNING
    return logging.ERROR


def failure_signature(
    code: str, upstream: str | None, response_started: bool, exc: BaseException | None
) -> Hashable:
    """What makes two failures "the same": code, upstream and the chain's types and frames.

    Walks the chain a traceback print shows (``__cause__``, else ``__context__`` unless
    suppressed) and each link's traceback entries as (code object id, line). Bounded, and
    nothing is kept but ints and types.
    """
    parts: list[object] = [code, upstream, response_started]
    link = exc
    links = 0
    while link is not None and links < _MAX_LINKS:
        links += 1
        parts.append(type(link))
        tb = link.__traceback__
        frames = 0
        while tb is not None and frames < _MAX_FRAMES:
            frames += 1
            parts.append(id(tb.tb_frame.f_code))
            parts.append(tb.tb_lineno)
            tb = tb.tb_next
        cause = link.__cause__
        if cause is None and not link.__suppress_context__:
            cause = link.__context__
        link = cause
    return tuple(parts)


class Summary(NamedTuple):
    """A closed window of one signature: how many failures it had (the first included) within
    ``seconds`` (the window) of its first."""

    code: str
    status: int
    upstream: str | None
    level: int
    failures: int
    seconds: float


class Decision(NamedTuple):
    """What to log for one failure."""

    traceback: bool
    """Attach the exception (its traceback gets formatted by the handler)."""
    repeats: int
    """0 for the first failure of its signature in the window, else its repeat number."""
    summaries: tuple[Summary, ...]
    """Closed windows to report before this failure's own line."""


class _Entry:
    __slots__ = ("code", "level", "repeats", "started", "status", "upstream")

    def __init__(
        self, started: float, code: str, status: int, upstream: str | None, level: int
    ) -> None:
        self.started = started
        self.repeats = 0
        self.code = code
        self.status = status
        self.upstream = upstream
        self.level = level

    def summary(self, window: float) -> Summary:
        return Summary(self.code, self.status, self.upstream, self.level, self.repeats + 1, window)


class LogStorm:
    """Counts failures per signature in windows and decides which get a traceback.

    Thread-safe (WSGI servers call it from worker threads) and bounded: at most ``limit``
    signatures are tracked; the oldest is dropped (with its summary) to make room.
    """

    def __init__(
        self,
        tracebacks: str = "first",
        window: float = 60.0,
        *,
        limit: int = _TABLE_LIMIT,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        if tracebacks not in LOG_TRACEBACKS:
            raise ValueError(f"tracebacks must be one of {LOG_TRACEBACKS}, not {tracebacks!r}")
        self.tracebacks = tracebacks
        self.window = window
        self._limit = limit
        self._clock = clock
        self._entries: dict[Hashable, _Entry] = {}
        self._lock = threading.Lock()

    def decide(
        self,
        signature: Hashable,
        code: str,
        status: int,
        upstream: str | None,
        level: int,
    ) -> Decision:
        """Count this failure and say whether it gets a traceback and which summaries are due."""
        summaries: tuple[Summary, ...] = ()
        with self._lock:
            now = self._clock()
            entries = self._entries
            entry = entries.get(signature)
            if entry is not None and now - entry.started < self.window:
                entry.repeats += 1
                repeats = entry.repeats
            else:
                if entry is not None:
                    if entry.repeats:
                        summaries = (entry.summary(self.window),)
                    entry.started = now
                    entry.repeats = 0
                else:
                    if len(entries) >= self._limit:
                        oldest = entries.pop(next(iter(entries)))
                        if oldest.repeats:
                            summaries = (oldest.summary(self.window),)
                    entries[signature] = _Entry(now, code, status, upstream, level)
                repeats = 0
        mode = self.tracebacks
        if code in NO_TRACEBACK_CODES or mode == "never":
            traceback = False
        else:
            traceback = mode == "always" or repeats == 0
        return Decision(traceback, repeats, summaries)

    def __len__(self) -> int:
        return len(self._entries)

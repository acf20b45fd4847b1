"""``python -m gatewayerrors maintenance on|off|status``: the operator's switch for every replica.

Writes (or reads) the state in the store the replicas share (``maintenance_store``); each
replica's background refresher picks it up within its poll interval (0.5 s by default).
``manage.py gatewayerrors_maintenance`` runs this same command from a Django project.
"""

from __future__ import annotations

import argparse
import os
import re
import sys
from collections.abc import Callable
from datetime import datetime, timedelta, timezone

from .._maintenance_state import MESSAGE_LIMIT, MaintenanceState, MaintenanceStore, parse_time
from .._stores import _safe_url, check_store, open_store

__all__ = [
    "DESCRIPTION",
    "STORE_ENV",
    "SUMMARY",
    "add_arguments",
    "describe",
    "parse_duration",
    "run",
]

STORE_ENV = "GATEWAYERRORS_MAINTENANCE_STORE"
"""The environment variable ``--store`` defaults to (e.g. set in the pod's spec)."""

SUMMARY = "switch maintenance mode on or off for every replica, or show it"
DESCRIPTION = (
    "Set or read the maintenance state that every replica reads from the shared store "
    "(the maintenance_store setting). 'on' starts maintenance now or at --start, for a "
    "duration (--for 15m) or until a time (--until 2026-12-24T03:00:00Z); Retry-After is "
    "then the seconds until the end. 'off' ends it; 'status' shows it. Replicas follow "
    "within their poll interval (0.5 s by default)."
)

_DURATION = re.compile(r"(?:(\d+)d)?(?:(\d+)h)?(?:(\d+)m)?(?:(\d+)s)?")


def parse_duration(text: str) -> timedelta:
    """``90``, ``90s``, ``15m``, ``2h``, ``1h30m``, ``1d`` as a positive duration."""
    text = text.strip().lower()
    if text.isdigit():
        seconds = int(text)
    else:
        match = _DURATION.fullmatch(text)
        if not text or match is None:
            raise argparse.ArgumentTypeError(f"{text!r} is not a duration (15m, 2h, 1h30m, 90s)")
        days, hours, minutes, secs = (int(part or 0) for part in match.groups())
        seconds = ((days * 24 + hours) * 60 + minutes) * 60 + secs
    if seconds <= 0:
        raise argparse.ArgumentTypeError("a duration must be longer than 0 seconds")
    return timedelta(seconds=seconds)


def _time(text: str) -> datetime:
    try:
        return parse_time(text)
    except ValueError as exc:
        raise argparse.ArgumentTypeError(
            f"{text!r} is not a time with a UTC offset, like 2026-12-24T03:00:00Z ({exc})"
        ) from None


def _seconds(text: str) -> int:
    if not text.isdigit():
        raise argparse.ArgumentTypeError(f"{text!r} is not a whole number of seconds")
    return int(text)


def _message(text: str) -> str:
    if len(text) > MESSAGE_LIMIT:
        raise argparse.ArgumentTypeError(f"a message has at most {MESSAGE_LIMIT} characters")
    return text


def add_arguments(parser: argparse.ArgumentParser) -> None:
    """The ``maintenance`` command's arguments."""
    parser.add_argument("action", choices=("on", "off", "status"), help="what to do")
    parser.add_argument(
        "--store",
        metavar="URL",
        help=f"the shared store: redis://host:6379/0, file:///path.json (default: ${STORE_ENV})",
    )
    until = parser.add_mutually_exclusive_group()
    until.add_argument(
        "--for", dest="duration", type=parse_duration, metavar="DURATION",
        help="how long maintenance lasts: 15m, 2h, 1h30m (from --start, else from now)",
    )  # fmt: skip
    until.add_argument(
        "--until", type=_time, metavar="TIME", help="when it ends: 2026-12-24T03:00:00Z"
    )
    parser.add_argument(
        "--start", type=_time, metavar="TIME",
        help="schedule it ahead: when it begins (default: now)",
    )  # fmt: skip
    parser.add_argument(
        "--retry-after", type=_seconds, metavar="N",
        help="Retry-After seconds to send (default: the seconds until the end)",
    )  # fmt: skip
    parser.add_argument(
        "--message", type=_message, metavar="TEXT", help="the text people and clients see"
    )


def describe(state: MaintenanceState | None, now: datetime) -> str:
    """One line for an operator: on, off, scheduled or over, with the window."""
    if state is None:
        return "maintenance: off (no state stored)"
    if not state.on:
        return "maintenance: off"
    stamp = now.timestamp()
    window = ""
    if state.start is not None:
        window += f" from {state.start:%Y-%m-%dT%H:%M:%SZ}"
    if state.end is not None:
        window += f" until {state.end:%Y-%m-%dT%H:%M:%SZ}"
    if state.active_at(stamp):
        left = state.seconds_left(stamp)
        line = "maintenance: ON" + window + ("" if left is None else f" ({left} s left)")
    elif state.start is not None and stamp < state.start.timestamp():
        line = "maintenance: scheduled" + window
    else:
        line = "maintenance: off (the window is over)" + window
    if state.retry_after is not None:
        line += f"; Retry-After {state.retry_after}"
    if state.message is not None:
        line += f"; message: {state.message}"
    return line


def run(
    args: argparse.Namespace,
    *,
    default_store: str | MaintenanceStore | None = None,
    out: Callable[[str], object] = print,
    err: Callable[[str], object] | None = None,
) -> int:
    """Do ``args.action`` on the store; 0 when done, 1 when the store failed, 2 for bad input."""
    say_error = err or (lambda text: print(text, file=sys.stderr))
    target: str | MaintenanceStore | None = args.store or os.environ.get(STORE_ENV) or default_store
    if target is None:
        say_error(f"error: no store: pass --store URL or set {STORE_ENV}")
        return 2
    problem = check_store(target)
    if problem is not None:
        say_error(f"error: --store {problem}")
        return 2
    now = datetime.now(timezone.utc)
    try:
        state = _state_for(args, now)
    except ValueError as exc:
        say_error(f"error: {exc}")
        return 2
    where = _safe_url(target) if isinstance(target, str) else repr(target)
    try:
        store = open_store(target)
        try:
            if state is not None:
                store.write(state)
            out(describe(store.read(), now))
        finally:
            close = getattr(store, "close", None)
            if close is not None and isinstance(target, str):  # ours to close, not the caller's
                close()
    except Exception as exc:
        # The class only: a client's message may carry the host, a port or a password.
        say_error(f"error: the store {where} failed: {type(exc).__name__}")
        return 1
    return 0


def _state_for(args: argparse.Namespace, now: datetime) -> MaintenanceState | None:
    """The state ``on`` or ``off`` writes (None: ``status`` writes nothing)."""
    given = [args.duration, args.until, args.start, args.retry_after, args.message]
    if args.action != "on" and any(value is not None for value in given):
        raise ValueError(f"{args.action!r} takes only --store; the window options are for 'on'")
    if args.action == "status":
        return None
    if args.action == "off":
        return MaintenanceState(on=False)
    start = args.start
    end = args.until
    if args.duration is not None:
        end = (start or now) + args.duration
    if end is not None and end <= now:
        raise ValueError(f"the end {end:%Y-%m-%dT%H:%M:%SZ} is not in the future")
    if start is not None and end is not None and end <= start:
        raise ValueError("the end must come after --start")
    return MaintenanceState(
        on=True, start=start, end=end, retry_after=args.retry_after, message=args.message
    )

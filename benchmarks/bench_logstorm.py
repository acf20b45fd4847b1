"""A storm of identical upstream failures, logged through a real formatting handler.

    python benchmarks/bench_logstorm.py            # print the table
    python benchmarks/bench_logstorm.py --write    # also record it in docs/performance.md

Every contender answers the same real failure (an httpx ConnectError from a refused loopback
port, with its whole chain and traceback, re-raised with that traceback each time) through the
raw ASGI interface, and every contender's records go through the same handler: a
``StreamHandler`` with a server-like ``Formatter`` (time, level, logger, pid, message,
traceback) writing to a byte-counting sink.

- Starlette's ``ServerErrorMiddleware``: its plain 500, and the server's log record for the
  re-raised exception (uvicorn logs ``"Exception in ASGI application"`` with ``exc_info``).
- ``GatewayErrorsMiddleware`` with ``log_tracebacks="first"`` (the default), ``"always"``
  (what every error cost before log-storm control) and ``"never"``.

Figures: CPU (process time) per error, median and best of alternating rounds; log bytes per
error over a storm of 10,000 errors. Goals: CPU ≤ 0.15x Starlette's logged 500; ≤ 300 bytes
per error with the first occurrence's traceback complete.
"""

from __future__ import annotations

import argparse
import asyncio
import logging
import statistics
import sys
import time
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))

import httpx
from _report import environment, write_section
from starlette.middleware.errors import ServerErrorMiddleware

from gatewayerrors import GatewayErrorsMiddleware

App = Callable[[Any, Any, Any], Awaitable[None]]
FORMAT = "%(asctime)s %(levelname)s %(name)s [%(process)d] %(message)s"
STORM = 10_000

SCOPE: dict[str, Any] = {
    "type": "http",
    "asgi": {"version": "3.0", "spec_version": "2.4"},
    "http_version": "1.1",
    "method": "GET",
    "scheme": "http",
    "path": "/orders/42",
    "raw_path": b"/orders/42",
    "root_path": "",
    "query_string": b"",
    "headers": [(b"host", b"api.example.com"), (b"accept", b"application/json")],
    "client": ("127.0.0.1", 50000),
    "server": ("127.0.0.1", 8000),
    "state": {},
}


class CountingSink:
    """A text stream that keeps only the number of bytes written (and, optionally, the text)."""

    def __init__(self) -> None:
        self.bytes = 0
        self.keep: list[str] | None = None

    def write(self, text: str) -> int:
        self.bytes += len(text.encode("utf-8"))
        if self.keep is not None:
            self.keep.append(text)
        return len(text)

    def flush(self) -> None:
        pass


def refused_httpx_error() -> httpx.ConnectError:
    """A real httpx ConnectError from a port where nothing listens."""
    import socket

    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    try:
        httpx.get(f"http://127.0.0.1:{port}/", timeout=2)
    except httpx.ConnectError as exc:
        return exc
    raise RuntimeError("the closed port answered")


def failing_endpoint(exc: BaseException) -> App:
    original = exc.__traceback__

    async def app(scope: Any, receive: Any, send: Any) -> None:
        # Re-raise with the original traceback each time: raising one object again would
        # otherwise prepend frames forever.
        raise exc.with_traceback(original)

    return app


async def receive() -> dict[str, Any]:
    return {"type": "http.request", "body": b"", "more_body": False}


async def send(message: Any) -> None:
    pass


def logger_to(sink: CountingSink, name: str) -> logging.Logger:
    handler = logging.StreamHandler(sink)  # type: ignore[arg-type]
    handler.setFormatter(logging.Formatter(FORMAT))
    logger = logging.getLogger(name)
    logger.handlers[:] = [handler]
    logger.setLevel(logging.INFO)
    logger.propagate = False
    return logger


class Server:
    """What the server does with an exception the app re-raises: uvicorn's log record."""

    def __init__(self, app: App, logger: logging.Logger) -> None:
        self.app = app
        self.logger = logger

    async def __call__(self, scope: Any, receive: Any, send: Any) -> None:
        try:
            await self.app(scope, receive, send)
        except Exception as exc:
            self.logger.error("Exception in ASGI application\n", exc_info=exc)


STARLETTE = "Starlette ServerErrorMiddleware: plain 500, server logs the traceback"
FIRST = 'GatewayErrorsMiddleware, log_tracebacks="first" (default)'
ALWAYS = 'GatewayErrorsMiddleware, log_tracebacks="always" (before this change)'
NEVER = 'GatewayErrorsMiddleware, log_tracebacks="never"'


def build(exc: BaseException, sink: CountingSink) -> dict[str, App]:
    endpoint = failing_endpoint(exc)
    cases: dict[str, App] = {
        STARLETTE: Server(ServerErrorMiddleware(endpoint), logger_to(sink, "bench.server")),
    }
    for name, mode in ((FIRST, "first"), (ALWAYS, "always"), (NEVER, "never")):
        logger_to(sink, f"bench.{mode}")
        cases[name] = Server(
            GatewayErrorsMiddleware(
                endpoint, service="checkout-api", logger_name=f"bench.{mode}", log_tracebacks=mode
            ),
            logger_to(sink, "bench.server"),
        )
    return cases


async def cpu(cases: dict[str, App], rounds: int, number: int) -> dict[str, tuple[float, float]]:
    samples: dict[str, list[float]] = {name: [] for name in cases}
    for app in cases.values():
        await app(SCOPE, receive, send)  # the first of each signature is out of the way
    for _ in range(rounds):
        for name, app in cases.items():
            start = time.process_time()
            for _ in range(number):
                await app(SCOPE, receive, send)
            samples[name].append((time.process_time() - start) / number)
    return {name: (statistics.median(s), min(s)) for name, s in samples.items()}


async def storm_bytes(exc: BaseException) -> dict[str, tuple[float, str]]:
    """Bytes per error over a storm of STORM errors, each contender fresh; and the first
    record's text."""
    found = {}
    for name in (STARLETTE, FIRST, ALWAYS, NEVER):
        sink = CountingSink()
        sink.keep = []
        app = build(exc, sink)[name]
        await app(SCOPE, receive, send)
        first = "".join(sink.keep)
        sink.keep = None
        for _ in range(STORM - 1):
            await app(SCOPE, receive, send)
        found[name] = (sink.bytes / STORM, first)
    return found


async def check(cases: dict[str, App]) -> None:
    sent: list[Any] = []

    async def record(message: Any) -> None:
        sent.append(message)

    await cases[FIRST](SCOPE, receive, record)
    assert sent[0]["status"] == 502, sent
    sent.clear()
    await cases[STARLETTE](SCOPE, receive, record)
    assert sent[0]["status"] == 500, sent


def report(
    results: dict[str, tuple[float, float]],
    storm: dict[str, tuple[float, str]],
    rounds: int,
    number: int,
) -> str:
    base = results[STARLETTE][1]
    lines = [
        "## Log storm",
        "",
        f"`python benchmarks/bench_logstorm.py` — {environment()}. One real failure (httpx "
        "`ConnectError` from a refused loopback port, its chain and traceback) answered over and "
        "over through the raw ASGI interface; every contender logs through the same "
        "`StreamHandler` with a server-like `Formatter` (time, level, logger, pid, message, "
        f"traceback). CPU (process time) per error: median and best of {rounds} alternating "
        f"rounds of {number:,}; log bytes per error over a storm of {STORM:,}.",
        "",
        "| contender | median µs | best µs | CPU vs Starlette (best) | log bytes per error |",
        "|---|---:|---:|---:|---:|",
    ]
    for name, (median, best) in results.items():
        lines.append(
            f"| {name} | {median * 1e6:.1f} | {best * 1e6:.1f} | {best / base:.3f} | "
            f"{storm[name][0]:,.0f} |"
        )
    ratio = results[FIRST][1] / base
    size = storm[FIRST][0]
    first_text = storm[FIRST][1]
    complete = "Traceback (most recent call last)" in first_text and (
        "ConnectionRefusedError" in first_text or "ConnectError" in first_text
    )
    lines += [
        "",
        f"- CPU per translated error in a storm: **{ratio:.3f}x** Starlette's logged plain 500 "
        f"(goal ≤ 0.15x): {'met' if ratio <= 0.15 else 'NOT met'}.",
        f"- Log bytes per error over {STORM:,} errors: **{size:,.0f} bytes** (goal ≤ 300; "
        f"Starlette {storm[STARLETTE][0]:,.0f}, every traceback {storm[ALWAYS][0]:,.0f}): "
        f"{'met' if size <= 300 else 'NOT met'}; the first occurrence's traceback is "
        f"{'complete' if complete else 'MISSING'} ({len(first_text.encode()):,} bytes).",
        "",
        "Repeats cost a compact line each (code, status, upstream, request id, repeat number): "
        "the traceback, which is most of a logged error's cost, is formatted once per "
        "signature and `log_window` (60 s). A repeat line still goes through the handler, so "
        "every failure is counted and its request id can be found.",
    ]
    return "\n".join(lines)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--write", action="store_true", help="record in docs/performance.md")
    parser.add_argument("--rounds", type=int, default=15)
    parser.add_argument("--number", type=int, default=500, help="errors per case per round")
    args = parser.parse_args()
    exc = refused_httpx_error()

    async def run() -> tuple[dict[str, tuple[float, float]], dict[str, tuple[float, str]]]:
        cases = build(exc, CountingSink())
        await check(cases)
        results = await cpu(cases, args.rounds, args.number)
        return results, await storm_bytes(exc)

    results, storm = asyncio.run(run())
    text = report(results, storm, args.rounds, args.number)
    print(text)
    if args.write:
        write_section("logstorm", text)


if __name__ == "__main__":
    main()

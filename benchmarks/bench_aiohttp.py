"""The aiohttp middleware's cost per request, called as aiohttp calls a middleware (no server).

    python benchmarks/bench_aiohttp.py            # print the table
    python benchmarks/bench_aiohttp.py --write    # also record it in docs/performance.md

Cases: a bare handler returning a ``web.Response``; the same handler behind the gatewayerrors
middleware (happy path) and behind a try/except-only middleware (the floor for any middleware
that catches); then the error paths: a refused connection translated to a 502 problem+json,
and the same exception re-raised by the try/except-only middleware (what aiohttp would then
turn into its 500, outside this measurement). The request is aiohttp's own ``web.Request``
(``aiohttp.test_utils.make_mocked_request``), so header and path reads cost what they cost.
Goals: happy-path overhead within noise of try/except only; the error path like the ASGI
adapter's.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import logging
import statistics
import sys
import time
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))

from _report import environment, refused_connection, write_section
from aiohttp import web
from aiohttp.test_utils import make_mocked_request

from gatewayerrors.aiohttp import GatewayErrors

Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]
Case = Callable[[web.Request], Awaitable[Any]]


class _Writer:
    """What the middleware reads of aiohttp's payload writer: nothing was sent yet."""

    output_size = 0


def make_request() -> web.Request:
    headers = {
        "Host": "api.example.com",
        "User-Agent": "bench/1.0",
        "Accept": "application/json",
        "X-Request-ID": "bench-request-0001",
    }
    return make_mocked_request("GET", "/orders/42", headers=headers, writer=_Writer())


async def handler(request: web.Request) -> web.Response:
    return web.Response(text="ok")


def failing_handler(exc: BaseException) -> Handler:
    async def handler(request: web.Request) -> web.Response:
        exc.__traceback__ = None  # re-raising one object would otherwise grow its traceback
        raise exc

    return handler


async def try_except_only(request: web.Request, handler: Handler) -> web.StreamResponse:
    """The floor: a middleware that only catches (and re-raises)."""
    try:
        return await handler(request)
    except Exception:
        raise


def through(middleware: Any, inner: Handler) -> Case:
    async def case(request: web.Request) -> Any:
        return await middleware(request, inner)

    return case


async def measure(
    cases: dict[str, Case], request: web.Request, rounds: int, number: int
) -> dict[str, tuple[float, float]]:
    samples: dict[str, list[float]] = {name: [] for name in cases}
    for _ in range(rounds):
        for name, case in cases.items():
            start = time.perf_counter()
            for _ in range(number):
                with contextlib.suppress(Exception):  # the floor re-raises, as aiohttp sees it
                    await case(request)
            samples[name].append((time.perf_counter() - start) / number)
    return {name: (statistics.median(s), min(s)) for name, s in samples.items()}


BARE = "bare handler (web.Response)"
OURS = "gatewayerrors middleware, happy path"
TRY_ONLY = "try/except-only middleware, happy path"
OURS_ERROR = "gatewayerrors middleware, refused → 502 problem+json"
OURS_ERROR_LOGGED = "… same, logging to a NullHandler"
RAISE_ONLY = "try/except-only middleware, exception re-raised (floor)"


def build_cases() -> dict[str, Case]:
    exc = refused_connection()
    quiet = logging.getLogger("bench.quiet")
    quiet.disabled = True  # logging cost depends on the app's handlers: measured apart
    logged = logging.getLogger("bench.logged")
    logged.addHandler(logging.NullHandler())
    logged.propagate = False
    failing = failing_handler(exc)
    return {
        BARE: handler,
        OURS: through(GatewayErrors(service="checkout-api"), handler),
        TRY_ONLY: through(try_except_only, handler),
        OURS_ERROR: through(
            GatewayErrors(service="checkout-api", logger_name="bench.quiet"), failing
        ),
        OURS_ERROR_LOGGED: through(
            GatewayErrors(service="checkout-api", logger_name="bench.logged"), failing
        ),
        RAISE_ONLY: through(try_except_only, failing),
    }


async def check(cases: dict[str, Case], request: web.Request) -> None:
    """Each case does what its name says (a wrong benchmark is worse than none)."""
    error = await cases[OURS_ERROR](request)
    assert error.status == 502, error
    assert error.headers["content-type"] == "application/problem+json"
    ok = await cases[OURS](request)
    assert (ok.status, ok.text) == (200, "ok")
    with contextlib.suppress(ConnectionRefusedError):
        await cases[RAISE_ONLY](request)
        raise AssertionError("the floor did not re-raise")


def report(results: dict[str, tuple[float, float]], rounds: int, number: int) -> str:
    bare = results[BARE][0]

    def us(name: str) -> float:  # verdicts from the best rounds, as bench_asgi.py
        return results[name][1] * 1e6

    lines = [
        "## aiohttp middleware",
        "",
        f"`python benchmarks/bench_aiohttp.py` — {environment()}; per request, the middleware "
        f"called as aiohttp calls it (no server, no socket, no routing), median and best of "
        f"{rounds} alternating rounds of {number:,} requests.",
        "",
        "| case | median µs | best µs | vs bare |",
        "|---|---:|---:|---:|",
    ]
    for name, (median, best) in results.items():
        lines.append(f"| {name} | {median * 1e6:.2f} | {best * 1e6:.2f} | {median / bare:.2f} |")
    spread = results[BARE][0] / results[BARE][1]
    if spread > 1.25:
        lines += [
            "",
            f"> Busy machine: medians run {spread:.1f} times the best rounds. Ratios within a run "
            "stay meaningful; re-run on a quiet machine for absolute figures.",
        ]
    lines += [
        "",
        f"- Happy-path overhead: **{us(OURS) - us(BARE):+.2f} µs** per request (try/except "
        f"only {us(TRY_ONLY) - us(BARE):+.2f} µs): two attribute tests (maintenance, "
        "forward_request_id), then the handler in try/except/finally.",
        f"- A translated 502 problem+json: **{us(OURS_ERROR):.2f} µs** (raising and catching "
        f"alone: {us(RAISE_ONLY):.2f} µs); with the log record emitted (to a NullHandler) "
        f"{us(OURS_ERROR_LOGGED):.2f} µs.",
    ]
    return "\n".join(lines)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--write", action="store_true", help="record in docs/performance.md")
    parser.add_argument("--rounds", type=int, default=15)
    parser.add_argument("--number", type=int, default=5000, help="requests per case per round")
    args = parser.parse_args()

    async def run() -> dict[str, tuple[float, float]]:
        request = make_request()
        cases = build_cases()
        await check(cases, request)
        return await measure(cases, request, args.rounds, args.number)

    text = report(asyncio.run(run()), args.rounds, args.number)
    print(text)
    if args.write:
        write_section("aiohttp", text)


if __name__ == "__main__":
    main()

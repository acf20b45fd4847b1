"""The WSGI middleware's cost per request: in-process (no socket) and through waitress.

    python benchmarks/bench_wsgi.py            # print the tables
    python benchmarks/bench_wsgi.py --write    # also record them in docs/performance.md

In-process, each request does what a server does around the app: copy the environ, call the
app with a ``start_response``, iterate the body, ``close()`` it. Cases: a bare hello-world
callable (a list body, and a streamed body that the middleware must guard); the same behind
GatewayErrorsWSGIMiddleware and behind a try/except-only middleware (the floor for anything
that catches); a Flask app without and with the GatewayErrors extension. Error paths: a
refused connection answered as a 502 problem+json by the middleware, against a bare app that
catches it and returns a fixed 502 by hand, and Flask with the extension against Flask's 500.
Interleaved call by call (robust to a busy machine): the Flask pair, and the hello-world app
bare and behind the middleware through waitress (keep-alive, loopback).
Goal: happy-path overhead within 5% of the bare WSGI callable.
"""

from __future__ import annotations

import argparse
import http.client
import logging
import statistics
import sys
import threading
import time
from collections.abc import Callable, Iterable, Iterator
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))

from _report import environment, measure, refused_connection, write_section
from flask import Flask
from waitress import wasyncore
from waitress.server import create_server

from gatewayerrors import GatewayErrorsWSGIMiddleware
from gatewayerrors.flask import GatewayErrors

App = Callable[[dict[str, Any], Any], Iterable[bytes]]

ENVIRON: dict[str, Any] = {
    "REQUEST_METHOD": "GET",
    "SCRIPT_NAME": "",
    "PATH_INFO": "/orders/42",
    "QUERY_STRING": "",
    "SERVER_NAME": "127.0.0.1",
    "SERVER_PORT": "8000",
    "SERVER_PROTOCOL": "HTTP/1.1",
    "REMOTE_ADDR": "127.0.0.1",
    "HTTP_HOST": "api.example.com",
    "HTTP_USER_AGENT": "bench/1.0",
    "HTTP_ACCEPT": "application/json",
    "HTTP_X_REQUEST_ID": "bench-request-0001",
    "wsgi.version": (1, 0),
    "wsgi.url_scheme": "http",
    "wsgi.input": None,
    "wsgi.errors": sys.stderr,
    "wsgi.multithread": True,
    "wsgi.multiprocess": False,
    "wsgi.run_once": False,
}
HEADERS = [("Content-Type", "text/plain"), ("Content-Length", "5")]


def hello(environ: dict[str, Any], start_response: Any) -> list[bytes]:
    start_response("200 OK", HEADERS)
    return [b"hello"]


def hello_streamed(environ: dict[str, Any], start_response: Any) -> Iterator[bytes]:
    start_response("200 OK", HEADERS)
    yield b"hel"
    yield b"lo"


def failing(exc: BaseException) -> App:
    def app(environ: dict[str, Any], start_response: Any) -> list[bytes]:
        exc.__traceback__ = None  # re-raising one object would otherwise grow its traceback
        raise exc

    return app


def hand_written_502(exc: BaseException) -> App:
    """The bare error floor: an app that catches the failure and returns a fixed 502."""
    inner = failing(exc)
    body = b'{"status":502,"title":"Bad Gateway"}'
    headers = [("Content-Type", "application/problem+json"), ("Content-Length", str(len(body)))]

    def app(environ: dict[str, Any], start_response: Any) -> list[bytes]:
        try:
            return list(inner(environ, start_response))
        except ConnectionRefusedError:
            start_response("502 Bad Gateway", headers, sys.exc_info())
            return [body]

    return app


class TryExceptOnly:
    """The floor: a middleware that only catches (and re-raises)."""

    def __init__(self, app: App) -> None:
        self.app = app

    def __call__(self, environ: dict[str, Any], start_response: Any) -> Iterable[bytes]:
        try:
            return self.app(environ, start_response)
        except Exception:
            raise


def flask_app(exc: BaseException, *, extension: bool) -> Flask:
    app = Flask("bench")
    app.logger.disabled = True  # Flask's 500 logs; the figure is the response, not the handler

    @app.get("/orders/42")
    def order() -> str:
        return "hello"

    @app.get("/fail")
    def fail() -> str:
        exc.__traceback__ = None
        raise exc

    if extension:
        GatewayErrors(app, service="checkout-api", logger_name="bench.quiet")
    return app


def serve(app: App) -> tuple[int, bytes]:
    """One request as a server makes it: status and body."""
    environ = dict(ENVIRON)
    status: list[str] = []

    def start_response(line: str, headers: list[tuple[str, str]], exc_info: Any = None) -> Any:
        status.append(line)
        return None

    body = app(environ, start_response)
    try:
        data = b"".join(body)
    finally:
        close = getattr(body, "close", None)
        if close is not None:
            close()
    return int(status[-1][:3]), data


def with_path(app: App, path: str) -> App:
    def call(environ: dict[str, Any], start_response: Any) -> Iterable[bytes]:
        environ["PATH_INFO"] = path
        return app(environ, start_response)

    return call


BARE = "bare callable, list body"
OURS = "GatewayErrorsWSGIMiddleware, list body"
TRY_ONLY = "try/except-only middleware, list body"
BARE_STREAM = "bare callable, streamed body (2 chunks)"
OURS_STREAM = "GatewayErrorsWSGIMiddleware, streamed body"
FLASK = "Flask app"
FLASK_OURS = "Flask app + GatewayErrors"
HAND_502 = "bare callable catching it, fixed 502 by hand"
OURS_502 = "GatewayErrorsWSGIMiddleware, refused → 502 problem+json"
FLASK_500 = "Flask app, refused → Flask's 500"
FLASK_502 = "Flask app + GatewayErrors, refused → 502 problem+json"
SERVED_BARE = "waitress, bare callable"
SERVED_OURS = "waitress, GatewayErrorsWSGIMiddleware"


def build_cases() -> dict[str, App]:
    exc = refused_connection()
    logging.getLogger("bench.quiet").disabled = True
    quiet = {"service": "checkout-api", "logger_name": "bench.quiet"}
    return {
        BARE: hello,
        OURS: GatewayErrorsWSGIMiddleware(hello, **quiet),
        TRY_ONLY: TryExceptOnly(hello),
        BARE_STREAM: hello_streamed,
        OURS_STREAM: GatewayErrorsWSGIMiddleware(hello_streamed, **quiet),
        FLASK: flask_app(exc, extension=False),
        FLASK_OURS: flask_app(exc, extension=True),
        HAND_502: hand_written_502(exc),
        OURS_502: GatewayErrorsWSGIMiddleware(failing(exc), **quiet),
        FLASK_500: with_path(flask_app(exc, extension=False), "/fail"),
        FLASK_502: with_path(flask_app(exc, extension=True), "/fail"),
    }


def check(cases: dict[str, App]) -> None:
    """Each case does what its name says (a wrong benchmark is worse than none)."""
    for name in (BARE, OURS, TRY_ONLY, BARE_STREAM, OURS_STREAM, FLASK, FLASK_OURS):
        assert serve(cases[name]) == (200, b"hello"), name
    for name in (HAND_502, OURS_502, FLASK_502):
        status, body = serve(cases[name])
        assert status == 502, name
        assert body.startswith(b'{"'), name
    assert serve(cases[FLASK_500])[0] == 500


# -- through waitress ----------------------------------------------------------------------


class Waitress:
    """``app`` served by waitress on 127.0.0.1 in a thread, one keep-alive client connection."""

    def __init__(self, app: App) -> None:
        self.server: Any = create_server(app, host="127.0.0.1", port=0, threads=1)
        self.stopping = threading.Event()
        self.thread = threading.Thread(target=self._loop, daemon=True)
        self.thread.start()
        port = self.server.getsockname()[1]
        self.connection = http.client.HTTPConnection("127.0.0.1", port, timeout=5)

    def _loop(self) -> None:
        while not self.stopping.is_set():
            wasyncore.loop(timeout=0.05, map=self.server._map, count=1)
        wasyncore.close_all(self.server._map)

    def request(self) -> None:
        self.connection.request("GET", "/orders/42")
        response = self.connection.getresponse()
        if response.read() != b"hello":
            raise RuntimeError("unexpected response")

    def close(self) -> None:
        self.connection.close()
        self.stopping.set()
        self.thread.join(timeout=5)
        self.server.task_dispatcher.shutdown()


def interleaved(
    calls: dict[str, Callable[[], object]], count: int
) -> dict[str, tuple[float, float]]:
    """Per-call (median, best) seconds, alternating the cases call by call.

    For calls long enough that a timer read per call is negligible: a loaded machine then
    slows every case alike, which keeps a few-percent difference measurable.
    """
    samples: dict[str, list[float]] = {name: [] for name in calls}
    for _ in range(count):
        for name, call in calls.items():
            start = time.perf_counter()
            call()
            samples[name].append(time.perf_counter() - start)
    return {name: (statistics.median(s), min(s)) for name, s in samples.items()}


def measure_served(cases: dict[str, App], count: int) -> dict[str, tuple[float, float]]:
    """The Flask pair in-process and the hello-world pair through waitress, interleaved."""
    logging.getLogger("waitress").setLevel(logging.ERROR)  # "Task queue depth" warnings
    servers = {
        SERVED_BARE: Waitress(hello),
        SERVED_OURS: Waitress(GatewayErrorsWSGIMiddleware(hello, service="checkout-api")),
    }
    try:
        flask = interleaved(
            {name: (lambda app=cases[name]: serve(app)) for name in (FLASK, FLASK_OURS)}, count
        )
        served = interleaved({name: server.request for name, server in servers.items()}, count)
    finally:
        for server in servers.values():
            server.close()
    return {**flask, **served}


def report(
    results: dict[str, tuple[float, float]],
    paired: dict[str, tuple[float, float]],
    rounds: int,
    number: int,
    count: int,
) -> str:
    baselines = {
        OURS: BARE,
        TRY_ONLY: BARE,
        OURS_STREAM: BARE_STREAM,
        FLASK_OURS: FLASK,
        OURS_502: HAND_502,
        FLASK_502: FLASK_500,
        SERVED_OURS: SERVED_BARE,
    }

    def us(name: str) -> float:
        return results[name][0] * 1e6

    def rows(table: dict[str, tuple[float, float]], digits: int) -> list[str]:
        lines = []
        for name, (median, best) in table.items():
            base = baselines.get(name)
            ratio = f"{median / table[base][0]:.3f}" if base else "1"
            lines.append(
                f"| {name} | {median * 1e6:.{digits}f} | {best * 1e6:.{digits}f} | {ratio} |"
            )
        return lines

    served_ratio = paired[SERVED_OURS][0] / paired[SERVED_BARE][0]
    flask_ratio = paired[FLASK_OURS][0] / paired[FLASK][0]
    header = ["| case | median µs | best µs | ratio to baseline |", "|---|---:|---:|---:|"]
    lines = [
        "## WSGI middleware",
        "",
        f"`python benchmarks/bench_wsgi.py` — {environment()}. Goal: happy-path overhead "
        "within 5% of the bare WSGI callable.",
        "",
        f"Per request in-process (environ copy, `start_response`, body iterated and closed; no "
        f"socket), median and best of {rounds} alternating rounds of {number:,} requests:",
        "",
        *header,
        *rows(results, 2),
        "",
        f"Interleaved request by request, {count:,} requests each (median and best single "
        "request): the Flask pair in-process, and the hello-world callable through waitress on "
        "loopback (keep-alive, one connection per server):",
        "",
        *header,
        *rows(paired, 1),
        "",
        f"- Happy path, absolute: **{us(OURS) - us(BARE):+.2f} µs** per request with a list "
        f"body (try/except only: {us(TRY_ONLY) - us(BARE):+.2f} µs), "
        f"**{us(OURS_STREAM) - us(BARE_STREAM):+.2f} µs** with a streamed body (guarded so a "
        "failure before the first byte still gets an answer).",
        f"- Goal (within 5%): through waitress {served_ratio:.3f} "
        f"({'met' if served_ratio <= 1.05 else 'NOT met'}); a Flask app with the extension "
        f"{flask_ratio:.3f} ({'met' if flask_ratio <= 1.05 else 'NOT met'}). Against a no-op "
        f"callable without a server, one Python call layer is what shows: "
        f"{us(OURS) / us(BARE):.2f} (a middleware that only catches: "
        f"{us(TRY_ONLY) / us(BARE):.2f}).",
        f"- Error path: a complete 502 problem+json in **{us(OURS_502):.2f} µs** "
        f"({us(HAND_502):.2f} µs for a fixed hand-written 502); in Flask "
        f"{us(FLASK_502):.2f} µs against {us(FLASK_500):.2f} µs for Flask's own 500.",
    ]
    return "\n".join(lines)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--write", action="store_true", help="record in docs/performance.md")
    parser.add_argument("--rounds", type=int, default=15)
    parser.add_argument("--number", type=int, default=5000, help="requests per case per round")
    parser.add_argument("--paired", type=int, default=5000, help="interleaved requests per case")
    args = parser.parse_args()

    cases = build_cases()
    check(cases)
    calls = {name: (lambda app=app: serve(app)) for name, app in cases.items()}
    results = measure(calls, rounds=args.rounds, number=args.number)
    paired = measure_served(cases, args.paired)
    text = report(results, paired, args.rounds, args.number, args.paired)
    print(text)
    if args.write:
        write_section("wsgi", text)


if __name__ == "__main__":
    main()

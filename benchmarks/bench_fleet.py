"""What a shared maintenance store costs per request: memory reads only (docs/fleet.md).

    python benchmarks/bench_fleet.py            # print the table
    python benchmarks/bench_fleet.py --write    # also record it in docs/performance.md

Through the WSGI middleware (called directly, no server): a bare WSGI app; the middleware with
no store; with a store whose state is off, scheduled ahead, and on (the 503 maintenance answer).
The store is read in the background, so which store it is does not matter here: the Redis
server's own statistics show that requests send it nothing (tests/e2e/test_fleet_replicas.py).
Goal: a store that is off costs no more per request than the cheapest maintenance callable
(``maintenance=lambda: False``): the adapter's maintenance flow, plus one attribute read.
"""

from __future__ import annotations

import argparse
import sys
from datetime import datetime, timedelta, timezone
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))

from _report import environment, measure, write_section

from gatewayerrors import GatewayErrorsWSGIMiddleware
from gatewayerrors.maintenance import MaintenanceState, MemoryStore

ENVIRON = {
    "REQUEST_METHOD": "GET",
    "PATH_INFO": "/orders/42",
    "QUERY_STRING": "",
    "HTTP_ACCEPT": "application/json",
    "REMOTE_ADDR": "127.0.0.1",
}


def app(environ: Any, start_response: Any) -> list[bytes]:
    start_response("200 OK", [("content-type", "text/plain")])
    return [b"ok"]


def start_response(status: str, headers: Any, exc_info: Any = None) -> None:
    pass


def with_store(state: MaintenanceState | None) -> GatewayErrorsWSGIMiddleware:
    middleware = GatewayErrorsWSGIMiddleware(app, maintenance_store=MemoryStore(state))
    switch = middleware.translator.maintenance_switch
    assert switch is not None
    switch.stop()
    switch.refresh()  # the state in memory, and no thread running while we measure
    return middleware


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n", 1)[0])
    parser.add_argument("--write", action="store_true", help="record in docs/performance.md")
    args = parser.parse_args()
    ahead = datetime.now(timezone.utc) + timedelta(days=1)
    apps = {
        "bare WSGI app": app,
        "middleware, no store": GatewayErrorsWSGIMiddleware(app),
        "middleware, maintenance=lambda: False": GatewayErrorsWSGIMiddleware(
            app, maintenance=lambda: False
        ),
        "middleware, store: off": with_store(MaintenanceState(on=False)),
        "middleware, store: window scheduled ahead": with_store(
            MaintenanceState(start=ahead, end=ahead + timedelta(hours=1))
        ),
        "middleware, store: on (503 maintenance, JSON)": with_store(MaintenanceState()),
    }
    cases = {name: (lambda a=a: a(dict(ENVIRON), start_response)) for name, a in apps.items()}
    results = measure(cases, rounds=21, number=5000)
    base = results["middleware, no store"][0]
    lines = [
        f"`python benchmarks/bench_fleet.py` — {environment()}; per request through the WSGI "
        "middleware called directly, median and best of 21 alternating rounds of 5,000 "
        "requests. Goal: a store that is off costs no more than `maintenance=lambda: False` "
        "(the maintenance flow itself, plus one attribute read).",
        "",
        "| case | median µs | best µs | vs no store |",
        "|---|---:|---:|---:|",
    ]
    for name, (median, best) in results.items():
        lines.append(
            f"| {name} | {median * 1e6:.2f} | {best * 1e6:.2f} | {(median - base) * 1e6:+.2f} |"
        )
    table = "\n".join(lines)
    print(table)
    if args.write:
        write_section("fleet", "## Maintenance store: cost per request\n\n" + table)


if __name__ == "__main__":
    main()

"""The core's cost per translated error: classify, negotiate, render — and its memory.

    python benchmarks/bench_core.py            # print the table
    python benchmarks/bench_core.py --write    # also record it in docs/performance.md

Errors are real: a refused loopback connection via the stdlib, httpx and requests.
Goal: a full translated JSON error in under 3 µs on Python 3.11 here.
"""

from __future__ import annotations

import argparse
import gc
import socket
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

import httpx
import requests
from _report import environment, measure, refused_connection, write_section

from gatewayerrors._render import render_problem_xml, render_text
from gatewayerrors.core import Evidence, RequestInfo, Translator, negotiate

BROWSER_ACCEPT = "text/html,application/xhtml+xml,application/xml;q=0.9,*/*;q=0.8"


def _closed_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def real_exceptions() -> dict[str, BaseException]:
    """A refused connection as the stdlib, httpx and requests report it."""
    url = f"http://127.0.0.1:{_closed_port()}/"
    found: dict[str, BaseException] = {}
    found["stdlib ConnectionRefusedError"] = refused_connection()
    try:
        httpx.get(url, timeout=1)
    except httpx.HTTPError as exc:
        found["httpx ConnectError (3 links)"] = exc
    try:
        requests.get(url, timeout=1)
    except requests.RequestException as exc:
        found["requests ConnectionError (5 links)"] = exc
    return found


def rss_growth(translator: Translator, exc: BaseException, count: int) -> float:
    """Resident memory growth in MB over ``count`` translated errors (after a warm-up)."""

    def rss() -> int:
        with open("/proc/self/statm") as statm:
            return int(statm.read().split()[1]) * 4096

    request = RequestInfo("GET", "/orders", "", "application/json", None)
    for _ in range(10_000):
        translator.translate(exc, request)
    gc.collect()
    before = rss()
    for _ in range(count):
        translator.translate(exc, request)
    gc.collect()
    return (rss() - before) / 1e6


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--write", action="store_true", help="record in docs/performance.md")
    parser.add_argument("--rounds", type=int, default=15)
    args = parser.parse_args()

    translator = Translator(service="checkout-api")
    exceptions = real_exceptions()
    stdlib_exc = exceptions["stdlib ConnectionRefusedError"]
    json_request = RequestInfo("GET", "/orders/42", "", "application/json", None)
    error = translator.failure(translator.classifier.classify(stdlib_exc), json_request)  # type: ignore[arg-type]

    cases = {}
    for label, exc in exceptions.items():
        cases[f"translate → JSON, {label}"] = lambda e=exc: translator.translate(e, json_request)
    for label, exc in exceptions.items():
        cases[f"classify only, {label}"] = lambda e=exc: translator.classify(e)
    evidence = translator.classify(stdlib_exc)
    assert evidence is not None
    cases["build the error value only (failure())"] = lambda: translator.failure(
        evidence, json_request
    )
    cases["negotiate + render + headers only (respond()), JSON"] = lambda: translator.respond(
        error, json_request
    )
    cases["negotiate (browser Accept, cached)"] = lambda: negotiate(BROWSER_ACCEPT)
    for accept in ("application/problem+xml", BROWSER_ACCEPT, "text/plain"):
        request = json_request._replace(accept=accept)
        cases[f"translate → {accept.split(',')[0]}, stdlib"] = lambda r=request: (
            translator.translate(stdlib_exc, r)
        )
    cases["render XML only"] = lambda: render_problem_xml(error, "urn:gatewayerrors:")
    # The built-in HTML page alone (no negotiation, no headers): a 502, then the richest page,
    # a 503 with its countdown, an upstream name and a request id.
    html_request = json_request._replace(accept="text/html")
    cases["render HTML page only, 502"] = lambda: translator._html(error, html_request)
    busy = translator.failure(
        Evidence("circuit_open", retry_after=30, upstream="payments"),
        html_request._replace(request_id="req-42"),
    )
    cases["render HTML page only, 503 countdown + upstream"] = lambda: translator._html(
        busy, html_request
    )
    cases["render text only"] = lambda: render_text(error)

    results = measure(cases, rounds=args.rounds)
    growth = rss_growth(translator, exceptions["httpx ConnectError (3 links)"], 200_000)

    lines = [
        "## Core: cost per translated error",
        "",
        f"`python benchmarks/bench_core.py` — {environment()}; median and best of "
        f"{args.rounds} alternating rounds of 2,000 calls. Goal: a full translated JSON error "
        "under 3 µs.",
        "",
        "| case | median µs | best µs |",
        "|---|---:|---:|",
    ]
    for name, (median, best) in results.items():
        lines.append(f"| {name} | {median * 1e6:.2f} | {best * 1e6:.2f} |")
    full = results["translate → JSON, stdlib ConnectionRefusedError"][1] * 1e6
    chain = results["translate → JSON, httpx ConnectError (3 links)"][1] * 1e6
    verdict = "met" if full < 3 else "NOT met"
    lines += [
        "",
        f"Goal (a full translated JSON error under 3 µs, best rounds): **{verdict}** — "
        f"{full:.2f} µs for a one-link error, {chain:.2f} µs for httpx's three-link chain. "
        "The rows above split it: classification, building the error value (request id, "
        "clamped Retry-After, escaping), and negotiate + render + headers. For scale, a Python "
        "function call costs about 37 ns on this machine and `orjson.dumps` of the seven "
        "members alone about 0.3 µs; each step is a few dozen bytecode operations, with every "
        "constant precomputed.",
        "",
        f"Memory: 200,000 translated errors (httpx chain, JSON) grew RSS by {growth:.2f} MB "
        "(goal: < 5 MB).",
    ]
    report = "\n".join(lines)
    print(report)
    if args.write:
        write_section("core", report)


if __name__ == "__main__":
    main()

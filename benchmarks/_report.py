"""Shared pieces of the benchmark scripts: timing in alternating rounds and the docs report."""

from __future__ import annotations

import platform
import socket
import statistics
import sys
import time
from collections.abc import Callable
from pathlib import Path

PERFORMANCE_MD = Path(__file__).resolve().parent.parent / "docs" / "performance.md"


def measure(
    cases: dict[str, Callable[[], object]], *, rounds: int = 15, number: int = 2000
) -> dict[str, tuple[float, float]]:
    """Per-call (median, best) seconds for each case, timed in alternating rounds.

    Alternating the cases inside each round spreads machine noise evenly over them, so their
    ratios stay meaningful on a busy machine.
    """
    samples: dict[str, list[float]] = {name: [] for name in cases}
    for _ in range(rounds):
        for name, call in cases.items():
            start = time.perf_counter()
            for _ in range(number):
                call()
            samples[name].append((time.perf_counter() - start) / number)
    return {name: (statistics.median(s), min(s)) for name, s in samples.items()}


def environment() -> str:
    """One line naming the interpreter and machine the figures come from."""
    return (
        f"Python {platform.python_version()} ({sys.implementation.name}) on "
        f"{platform.machine()} {platform.system()}, {time.strftime('%Y-%m-%d')}"
    )


def write_section(name: str, markdown: str) -> None:
    """Replace (or append) the section between ``<!-- bench:NAME -->`` markers in the docs."""
    start, end = f"<!-- bench:{name} -->", f"<!-- /bench:{name} -->"
    block = f"{start}\n{markdown.strip()}\n{end}"
    text = PERFORMANCE_MD.read_text() if PERFORMANCE_MD.exists() else "# Performance\n"
    if start in text and end in text:
        before, rest = text.split(start, 1)
        text = before + block + rest.split(end, 1)[1]
    else:
        text = text.rstrip() + "\n\n" + block + "\n"
    PERFORMANCE_MD.write_text(text)


def refused_connection() -> ConnectionRefusedError:
    """A real ConnectionRefusedError: a connect to a loopback port that was just closed."""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    try:
        socket.create_connection(("127.0.0.1", port), timeout=1).close()
    except ConnectionRefusedError as exc:
        return exc
    raise RuntimeError("the closed port accepted a connection")

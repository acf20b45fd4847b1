"""What importing the middleware costs: ``python -X importtime -c "import <module>"``.

Each run is a fresh interpreter (imports are cached per process, so only a new process measures
them); the figure is the cumulative time of the imported module's own line, in microseconds,
which includes every module it pulls in (werkzeug, orjson, the adapter's framework). One warm-up
run first fills the bytecode caches, so compiling is not measured.

    python benchmarks/bench_import.py [--runs 15] [--write]
"""

from __future__ import annotations

import argparse
import statistics
import subprocess
import sys

from _report import environment, write_section

MODULES = ("gatewayerrors", "gatewayerrors.asgi", "gatewayerrors.wsgi")


def cumulative_us(module: str) -> int:
    """One fresh interpreter's cumulative import time of ``module``, in microseconds."""
    result = subprocess.run(
        [sys.executable, "-X", "importtime", "-c", f"import {module}"],
        capture_output=True,
        text=True,
        check=True,
    )
    # Lines read "import time: <self> | <cumulative> | <indent><name>"; the module asked for is
    # the outermost line with its name (its parent package is nested inside it).
    for line in reversed(result.stderr.splitlines()):
        fields = line.split("|")
        if len(fields) == 3 and fields[2].strip() == module:
            return int(fields[1])
    raise RuntimeError(f"no import time line for {module}:\n{result.stderr}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--runs", type=int, default=15, help="fresh interpreters per module")
    parser.add_argument("--write", action="store_true", help="update docs/performance.md")
    args = parser.parse_args()
    rows = []
    for module in MODULES:
        cumulative_us(module)  # warm-up: bytecode caches
        samples = []
        for _ in range(args.runs):
            samples.append(cumulative_us(module))
        rows.append((module, statistics.median(samples), min(samples)))
    lines = [
        "## Import time",
        "",
        f'`python benchmarks/bench_import.py` — {environment()}; `python -X importtime -c "import'
        f' <module>"`, cumulative µs, median and best of {args.runs} fresh interpreters.',
        "",
        "| module | median µs | best µs |",
        "|---|---:|---:|",
    ]
    lines += [f"| `{module}` | {median:,.0f} | {best:,} |" for module, median, best in rows]
    report = "\n".join(lines)
    print(report)
    if args.write:
        write_section("import", report)


if __name__ == "__main__":
    main()

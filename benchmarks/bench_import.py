"""What importing the middleware costs: ``python -X importtime -c "import <module>"``.

Each run is a fresh interpreter (imports are cached per process, so only a new process measures
them); the figure is the cumulative time of the imported module's own line, in microseconds,
which includes every module it pulls in (werkzeug, orjson, the adapter's framework). One warm-up
run per source first fills the bytecode caches, so compiling is not measured.

    python benchmarks/bench_import.py [--runs 21] [--baseline DIR] [--write]

``--baseline DIR`` also measures the package in DIR (e.g. an older commit exported with
``git archive <commit> gatewayerrors | tar -x -C DIR``), alternating runs of the two sources so
that the machine's load falls on both alike.
"""

from __future__ import annotations

import argparse
import os
import statistics
import subprocess
import sys
from pathlib import Path

from _report import environment, write_section

ROOT = Path(__file__).resolve().parent.parent
MODULES = ("gatewayerrors", "gatewayerrors.asgi", "gatewayerrors.wsgi")


def cumulative_us(module: str, source: Path) -> int:
    """One fresh interpreter's cumulative import time of ``module`` from ``source``, in µs."""
    result = subprocess.run(
        [sys.executable, "-X", "importtime", "-c", f"import {module}"],
        capture_output=True,
        text=True,
        check=True,
        cwd=source,  # the script's directory comes first on sys.path: this source wins
        env={**os.environ, "PYTHONPATH": str(source)},
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
    parser.add_argument("--runs", type=int, default=21, help="fresh interpreters per figure")
    parser.add_argument("--baseline", type=Path, help="also measure the package in this folder")
    parser.add_argument("--label", default="baseline", help="the baseline's name in the table")
    parser.add_argument("--write", action="store_true", help="update docs/performance.md")
    args = parser.parse_args()
    sources = {"this tree": ROOT}
    if args.baseline is not None:
        sources = {args.label: args.baseline.resolve(), **sources}
    rows = []
    for module in MODULES:
        samples: dict[str, list[int]] = {name: [] for name in sources}
        for source in sources.values():
            cumulative_us(module, source)  # warm-up: bytecode caches
        for _ in range(args.runs):
            for name, source in sources.items():
                samples[name].append(cumulative_us(module, source))
        for name, values in samples.items():
            rows.append((module, name, statistics.median(values), min(values)))
    lines = [
        "## Import time",
        "",
        f'`python benchmarks/bench_import.py` — {environment()}; `python -X importtime -c "import'
        f' <module>"`, cumulative µs, median and best of {args.runs} fresh interpreters'
        + (", the two sources alternating." if len(sources) > 1 else "."),
        "",
        "| module | source | median µs | best µs |",
        "|---|---|---:|---:|",
    ]
    lines += [
        f"| `{module}` | {name} | {median:,.0f} | {best:,} |" for module, name, median, best in rows
    ]
    report = "\n".join(lines)
    print(report)
    if args.write:
        write_section("import", report)


if __name__ == "__main__":
    main()

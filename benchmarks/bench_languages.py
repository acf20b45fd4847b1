"""The cost of pages in the visitor's language: the error path in English and in German.

    python benchmarks/bench_languages.py            # print the table
    python benchmarks/bench_languages.py --write    # also record it in docs/performance.md

A real refused loopback connection, translated as HTML and as JSON, for a browser that sends
no Accept-Language, an English one, a German one (``de-AT,de;q=0.9,en;q=0.5``) and a Japanese
one; and the same with localization off (``languages=()``). The language choice is cached per
header value, like the Accept negotiation: the rows "choose" show the cached lookup and the
first parse of a header. The success path does no language work at all (Accept-Language is
read only when an error is answered), so it is not measured here: see bench_asgi/bench_wsgi.
Goal: a German page costs no more than an English one, within noise.
"""

from __future__ import annotations

import argparse
import subprocess
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from _report import environment, measure, refused_connection, write_section

from gatewayerrors._languages import BUNDLED_LANGUAGES, LanguageChooser
from gatewayerrors.core import RequestInfo, Translator

BROWSER_ACCEPT = "text/html,application/xhtml+xml,application/xml;q=0.9,*/*;q=0.8"
HEADERS = {
    "no Accept-Language": None,
    "English (en-US,en;q=0.9)": "en-US,en;q=0.9",
    "German (de-AT,de;q=0.9,en;q=0.5)": "de-AT,de;q=0.9,en;q=0.5",
    "Japanese (ja,en-US;q=0.9)": "ja,en-US;q=0.9",
}
GERMAN = HEADERS["German (de-AT,de;q=0.9,en;q=0.5)"]


def startup_ms(options: str, count: int = 5) -> float:
    """Milliseconds to build the first Translator in a fresh interpreter (catalogs read, every
    page prebuilt), best of ``count`` processes."""
    program = (
        "import time\n"
        "from gatewayerrors.core import Translator\n"
        "start = time.perf_counter()\n"
        f"Translator({options})\n"
        "print(time.perf_counter() - start)\n"
    )
    runs = [
        float(subprocess.run([sys.executable, "-c", program], capture_output=True, text=True,
                             check=True).stdout)
        for _ in range(count)
    ]  # fmt: skip
    return min(runs) * 1e3


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--write", action="store_true", help="record in docs/performance.md")
    parser.add_argument("--rounds", type=int, default=15)
    args = parser.parse_args()

    localized = Translator(service="checkout-api")
    english_only = Translator(service="checkout-api", languages=())
    exc = refused_connection()
    base = RequestInfo("GET", "/orders/42", "", BROWSER_ACCEPT, None)

    cases = {}
    for label, header in HEADERS.items():
        request = base._replace(accept_language=header)
        cases[f"translate → HTML, {label}"] = lambda r=request: localized.translate(exc, r)
    german_html = base._replace(accept_language=GERMAN)
    cases["translate → HTML, German, languages=() (off)"] = lambda: english_only.translate(
        exc, german_html
    )
    json_request = base._replace(accept="application/json")
    cases["translate → JSON, no Accept-Language"] = lambda: localized.translate(exc, json_request)
    german_json = json_request._replace(accept_language=GERMAN)
    cases["translate → JSON, German"] = lambda: localized.translate(exc, german_json)
    chooser = LanguageChooser(BUNDLED_LANGUAGES, "en")
    cases["choose the language (German header, cached)"] = lambda: chooser.choose(GERMAN)
    cases["choose the language (German header, first time: parse + lookup)"] = lambda: (
        chooser._lookup(GERMAN)
    )

    results = measure(cases, rounds=args.rounds)
    sizes = {}
    for label, header in HEADERS.items():
        response = localized.translate(exc, base._replace(accept_language=header))
        assert response is not None
        sizes[label] = len(response.body)
    all_languages = startup_ms("")
    one_language = startup_ms("languages=()")

    lines = [
        "## Pages in the visitor's language",
        "",
        f"`python benchmarks/bench_languages.py` — {environment()}; median and best of "
        f"{args.rounds} alternating rounds of 2,000 calls; a real refused connection, "
        "translated whole (classify, error value, negotiate, render, headers). Goal: a German "
        "page costs no more than an English one, within noise.",
        "",
        "| case | median µs | best µs |",
        "|---|---:|---:|",
    ]
    for name, (median, best) in results.items():
        lines.append(f"| {name} | {median * 1e6:.2f} | {best * 1e6:.2f} |")
    english = results["translate → HTML, no Accept-Language"][1] * 1e6
    german = results["translate → HTML, German (de-AT,de;q=0.9,en;q=0.5)"][1] * 1e6
    off = results["translate → HTML, German, languages=() (off)"][1] * 1e6
    page_sizes = ", ".join(f"{label.split(' (')[0]} {size:,} B" for label, size in sizes.items())
    lines += [
        "",
        f"A German page: {german:.2f} µs against {english:.2f} µs for the English one and "
        f"{off:.2f} µs with localization off (best rounds). Each language's page is prebuilt "
        "when the Translator is built, like the English one, so a render fills in the same "
        "few variable parts whatever the language; the per-request cost is one cached "
        "dictionary lookup of the header. JSON does not look at Accept-Language at all. "
        f"Page sizes: {page_sizes}.",
        "",
        f"Startup: the first Translator of a process takes {all_languages:.1f} ms with every "
        f"bundled language ({len(BUNDLED_LANGUAGES) - 1} catalogs read, "
        f"{len(BUNDLED_LANGUAGES)} pages prebuilt) and {one_language:.1f} ms with "
        "`languages=()` (best of 5 fresh processes).",
    ]
    report = "\n".join(lines)
    print(report)
    if args.write:
        write_section("languages", report)


if __name__ == "__main__":
    main()

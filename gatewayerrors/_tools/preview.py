"""``python -m gatewayerrors preview``: write every error page and format to a folder.

    python -m gatewayerrors preview --out preview/ [--templates DIR] [--style twitter]
        [--overrides overrides.json] [--type-base URI] [--service NAME] [--language TAG]
        [--debug]

For each catalog code it writes ``<code>.html``, ``.json``, ``.xml`` and ``.txt`` (and, with the
default style, the Twitter-style ``twitter/<code>.json`` and ``.xml``), rendered by a real
:class:`~gatewayerrors.core.Translator` with your settings, plus ``index.html``: a gallery with a
thumbnail of each page, links to every format and the response headers. The request id is fixed,
so two previews can be compared with ``diff -r``. Nothing is served and no app is imported
except the callables you name (``--style pkg.module:function``).
"""

from __future__ import annotations

import argparse
import dataclasses
import html
import importlib
import json
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

from .._catalog import catalog
from .._error import Evidence
from .._negotiate import Format
from .._settings import Settings
from .._translate import ErrorResponse, RequestInfo, Translator

__all__ = ["DESCRIPTION", "SUMMARY", "add_arguments", "run", "write_preview"]

PREVIEW_REQUEST_ID = "preview-0123456789abcdef"
_FORMATS = {
    Format.HTML: ("html", "text/html"),
    Format.JSON: ("json", "application/problem+json"),
    Format.XML: ("xml", "application/problem+xml"),
    Format.TEXT: ("txt", "text/plain"),
}


class _SampleUpstreamError(ConnectionError):
    """Stands in for the exception a real failure would carry, for ``--debug`` previews."""


def _load_callable(spec: str) -> Callable[..., Any]:
    module_name, _, attribute = spec.partition(":")
    if not module_name or not attribute:
        raise ValueError(f"expected module:callable, got {spec!r}")
    found = importlib.import_module(module_name)
    for part in attribute.split("."):
        found = getattr(found, part)
    if not callable(found):
        raise ValueError(f"{spec} is not callable")
    return found


def _settings_from(args: argparse.Namespace) -> Settings:
    options: dict[str, Any] = {"debug": args.debug, "service": args.service}
    if args.templates:
        path = Path(args.templates)
        is_callable = ":" in args.templates and not path.exists()
        options["templates"] = _load_callable(args.templates) if is_callable else path
    options["style"] = args.style if args.style in BUILT_IN_STYLES else _load_callable(args.style)
    if args.type_base:
        options["type_base"] = args.type_base
    if args.language:
        # Every page in that one language, as a browser asking for it gets it.
        options["languages"] = ()
        options["default_language"] = args.language
    if args.overrides:
        source = args.overrides
        text = source if source.lstrip().startswith("{") else Path(source).read_text("utf-8")
        options["overrides"] = json.loads(text)
    return Settings(**options)


def _response(translator: Translator, code: str, fmt: Format, method: str = "GET") -> ErrorResponse:
    settings = translator.settings
    retry_after = settings.maintenance_retry_after if code == "maintenance" else None
    accept = _FORMATS[fmt][1]
    request = RequestInfo(method, "/preview", "", accept, PREVIEW_REQUEST_ID)
    exc = _SampleUpstreamError(f"sample exception for {code} <shown only with debug=True>")
    error = translator.failure(Evidence(code, 0, retry_after), request, exc)
    return translator.respond(error, request)


def _head(response: ErrorResponse) -> str:
    lines = [f"HTTP/1.1 {response.status}"]
    lines += [f"{name}: {value}" for name, value in response.headers]
    return "\n".join(lines)


_INDEX_CSS = """\
:root{color-scheme:light dark;--bg:#f4f5f7;--card:#fff;--fg:#16191d;--muted:#545b66;\
--line:#dfe2e7}
@media (prefers-color-scheme:dark){:root{--bg:#0e1013;--card:#171a1f;--fg:#e9ebee;\
--muted:#a4abb6;--line:#2b3039}}
body{margin:0;padding:2rem;background:var(--bg);color:var(--fg);\
font:15px/1.5 system-ui,-apple-system,"Segoe UI",Roboto,sans-serif}
h1{margin:0 0 .25rem;font-size:1.5rem}header p{margin:0 0 1.5rem;color:var(--muted)}
ul{display:grid;grid-template-columns:repeat(auto-fill,minmax(330px,1fr));gap:1rem;\
margin:0;padding:0;list-style:none}
li{background:var(--card);border:1px solid var(--line);border-radius:12px;padding:.75rem}
.thumb{width:304px;height:190px;overflow:hidden;border:1px solid var(--line);border-radius:8px}
iframe{width:1216px;height:760px;border:0;transform:scale(.25);transform-origin:0 0}
h2{margin:.6rem 0 .1rem;font-size:1rem}small{color:var(--muted)}
code{font:.8125rem ui-monospace,Menlo,Consolas,monospace}
pre{white-space:pre-wrap;word-break:break-all;font-size:.75rem}
nav a{margin-right:.6rem}"""


def _index(settings: Settings, rows: list[dict[str, Any]], files: int) -> str:
    e = html.escape
    described = [f"style={settings.style if isinstance(settings.style, str) else 'callable'}"]
    if settings.templates is not None:
        described.append(f"templates={settings.templates}")
    if settings.overrides:
        described.append(f"overrides for {len(settings.overrides)} codes")
    if settings.default_language != "en":
        described.append(f"language={settings.default_language}")
    if settings.debug:
        described.append("debug=True")
    items = []
    for row in rows:
        code = row["code"]
        links = " ".join(
            f'<a href="{e(href)}">{e(label)}</a>' for label, href in row["links"].items()
        )
        items.append(
            f'<li id="{code}"><div class="thumb"><iframe src="{code}.html" loading="lazy" '
            f'title="{code} page" tabindex="-1"></iframe></div>'
            f"<h2>{row['status']} {e(row['title'])}</h2>"
            f"<small><code>{code}</code> &middot; {row['number']}</small>"
            f"<nav>{links}</nav>"
            f"<details><summary>Response headers (HTML)</summary><pre>{e(row['head'])}</pre>"
            "</details></li>"
        )
    return (
        '<!doctype html>\n<html lang="en"><head><meta charset="utf-8">'
        '<meta name="viewport" content="width=device-width,initial-scale=1">'
        f"<title>gatewayerrors preview</title><style>{_INDEX_CSS}</style></head><body>"
        f"<header><h1>gatewayerrors preview</h1><p>{len(rows)} codes, {files} files; "
        f"{e(', '.join(described))}</p></header>"
        f"<main><ul>{''.join(items)}</ul></main></body></html>\n"
    )


def write_preview(settings: Settings, out: Path) -> list[Path]:
    """Render every code in every format with ``settings`` into ``out``; returns the files."""
    translator = Translator(settings)
    out.mkdir(parents=True, exist_ok=True)
    twitter = None
    if settings.style == "problem":
        twitter = Translator(dataclasses.replace(settings, style="twitter"))
    if twitter is not None:
        (out / "twitter").mkdir(exist_ok=True)
    written: list[Path] = []
    rows = []

    def write(path: Path, body: bytes) -> None:
        path.write_bytes(body)
        written.append(path)

    for code, kind in catalog.items():
        links = {}
        head = ""
        for fmt, (suffix, _) in _FORMATS.items():
            response = _response(translator, code, fmt)
            write(out / f"{code}.{suffix}", response.body)
            links[suffix] = f"{code}.{suffix}"
            if fmt is Format.HTML:
                head = _head(response)
        if twitter is not None:
            for fmt in (Format.JSON, Format.XML):
                suffix = _FORMATS[fmt][0]
                write(out / "twitter" / f"{code}.{suffix}", _response(twitter, code, fmt).body)
                links[f"twitter {suffix}"] = f"twitter/{code}.{suffix}"
        write(out / f"{code}.post.html", _response(translator, code, Format.HTML, "POST").body)
        links["html (POST)"] = f"{code}.post.html"
        error_title = translator.failure(Evidence(code), RequestInfo()).title
        rows.append(
            {
                "code": code,
                "number": kind.number,
                "status": kind.status,
                "title": error_title,
                "links": links,
                "head": head,
            }
        )
    index = out / "index.html"
    index.write_text(_index(settings, rows, len(written) + 1), "utf-8")
    written.append(index)
    return written


SUMMARY = "write every error page and format to a folder"
DESCRIPTION = (
    "Render every catalog code in every format (HTML, JSON, XML, text) with your settings into "
    "a folder, with an index.html gallery of the pages and their response headers. Nothing is "
    "served; no app is imported except the callables you name."
)
BUILT_IN_STYLES = ("problem", "twitter")


def _style(value: str) -> str:
    if value in BUILT_IN_STYLES or ":" in value:
        return value
    choices = ", ".join(repr(style) for style in BUILT_IN_STYLES)
    raise argparse.ArgumentTypeError(
        f"invalid choice: {value!r} (choose from {choices}, or MODULE:FUNC for your own)"
    )


def add_arguments(parser: argparse.ArgumentParser) -> None:
    """The ``preview`` command's options."""
    parser.add_argument(
        "--out",
        metavar="DIR",
        default="gatewayerrors-preview",
        help="folder to write into (default: %(default)s)",
    )
    parser.add_argument(
        "--templates",
        metavar="DIR|MODULE:FUNC",
        help="a templates directory, or a callable (error, request) -> str",
    )
    parser.add_argument(
        "--style",
        metavar="STYLE",
        type=_style,
        default="problem",
        help="problem, twitter, or MODULE:FUNC for your own (default: %(default)s)",
    )
    parser.add_argument(
        "--overrides",
        metavar="JSON",
        help="per-code title/detail/hint/heading: a JSON file or JSON text",
    )
    parser.add_argument("--type-base", metavar="URI", help="prefix of the problem type URI")
    parser.add_argument(
        "--language",
        metavar="TAG",
        help="the pages' language, a bundled one: en, de, fr, es, pt, ja, zh-Hans (default: en)",
    )
    parser.add_argument(
        "--service",
        metavar="NAME",
        default="app",
        help="service name in Proxy-Status (default: %(default)s)",
    )
    parser.add_argument("--debug", action="store_true", help="show a sample exception")


def run(args: argparse.Namespace) -> int:
    """Write the preview; 0 on success, 2 on bad settings."""
    try:
        settings = _settings_from(args)
        files = write_preview(settings, Path(args.out))
    except (ValueError, TypeError, OSError, ImportError, AttributeError) as exc:
        print(f"preview: {exc}", file=sys.stderr)
        return 2
    index = Path(args.out) / "index.html"
    print(f"wrote {len(files)} files to {args.out}; open {index}")
    return 0

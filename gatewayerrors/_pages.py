"""HTML error pages: the built-in page, or the user's templates.

The built-in page is one self-contained document (inline CSS and a tiny optional script, no
external fonts, scripts or images) that tells a person what happened, what they can do, and the
request id to quote; it embeds the problem details as ``<script type="application/problem+json">``
(RFC 9457 Appendix C) so tools can read it too.

Its markup, style and script are package data files in ``gatewayerrors/page/``: ``page.html``
(the document), ``parts.html`` (the parts shown only when they apply: countdown, retry button,
request id...), ``page.css`` and ``page.js``. Both HTML files use the ``{{ name }}`` placeholders
of the template engine users' templates get without Jinja2 (:class:`PlaceholderTemplate`), so
the built-in page needs no optional dependency. The files are read once, when the first renderer
is built; the CSS is served minified, the script without its comments and indentation.
Everything that does not depend on the error is filled in then too; a render only fills in the
variable parts.
"""

from __future__ import annotations

import functools
import html
import logging
import re
from collections.abc import Callable, Mapping
from typing import TYPE_CHECKING, NamedTuple
from urllib.parse import unquote

import orjson

from ._catalog import ErrorKind, catalog
from ._error import UpstreamFailure
from ._render import clean_text, problem_members, reason_phrase
from ._types import PageContext, RequestInfo

if TYPE_CHECKING:
    from ._settings import Settings
    from ._templates import PlaceholderTemplate

__all__ = [
    "AUTO_RETRY_MAX",
    "AUTO_RETRY_MIN",
    "HtmlRenderer",
    "PageAssets",
    "PageContext",
    "auto_retry_delay",
    "build_builtin_page",
    "build_html_renderer",
    "page_assets",
    "page_context",
    "page_heading",
    "page_headings",
    "script_json",
]

HtmlRenderer = Callable[[UpstreamFailure, RequestInfo], bytes]

AUTO_RETRY_MIN = 5
"""Never reload sooner than this many seconds, even when Retry-After says 0 (no reload storms)."""
AUTO_RETRY_MAX = 900
"""No automatic reload when Retry-After is longer than this: the person has likely moved on."""
_SAFE_METHODS = frozenset({"GET", "HEAD"})

# The values the renderer gives page.html, in the order it gives them (see render() below); the
# page may use each, in any order, any number of times. css and script are filled at load.
_PAGE_VALUES = (
    "heading", "refresh", "problem_json", "detail", "hint", "countdown", "action", "service",
    "code", "number", "request_id", "request_id_note", "debug",
)  # fmt: skip
_PAGE_SLOTS = frozenset({*_PAGE_VALUES, "css", "script", "status", "reason"})
_PART_NAMES = frozenset(
    {
        "refresh", "countdown", "unsafe_note", "retry_button", "service", "request_id",
        "request_id_note", "debug",
    }
)  # fmt: skip
_PART_SLOTS = frozenset({"seconds", "who", "auto", "duration", "upstream", "request_id", "debug"})
_CODE_SLOTS = frozenset({"css", "script"})
_PART_MARKER = re.compile(r"^<!-- part: ([a-z_]+) -->\n", re.M)

# CSS minification, in two passes: comments go (a string is matched as a whole, so that a
# "/*" inside one is kept), then outside strings whitespace around "{", "}", ";", "," and after
# ":" goes, and a space stays where it separates words ("light dark", ".do p", "0 auto"). Not a
# general minifier: it relies on page.css never putting a space before a pseudo-class (".a :x").
_CSS_STRING = re.compile(r"(\"(?:[^\"\\]|\\.)*\"|'(?:[^'\\]|\\.)*')")
_CSS_COMMENT_OR_STRING = re.compile(r"/\*.*?\*/|" + _CSS_STRING.pattern, re.S)
_CSS_SPACE = re.compile(r"\s*([{};,])\s*|(:)\s+|(\s)\s*")


class PageAssets(NamedTuple):
    """The built-in page's files (``gatewayerrors/page/``), loaded and checked."""

    page: PlaceholderTemplate
    """``page.html``."""
    parts: dict[str, PlaceholderTemplate]
    """The conditional parts in ``parts.html``, by name."""
    css: str
    """``page.css``, minified."""
    script: str
    """``page.js`` without its comment lines and indentation."""


def minify_css(css: str) -> str:
    """``css`` without comments and without the whitespace CSS does not need."""
    css = _CSS_COMMENT_OR_STRING.sub(lambda m: m.group(1) or "", css)
    pieces = _CSS_STRING.split(css)
    for index in range(0, len(pieces), 2):  # outside strings
        squeezed = _CSS_SPACE.sub(lambda m: m.group(1) or m.group(2) or " ", pieces[index])
        pieces[index] = squeezed.replace(";}", "}")
    return "".join(pieces).strip()


def strip_script(script: str) -> str:
    """``script`` without its ``//`` comment lines, blank lines and indentation.

    Line breaks stay where they are, so automatic semicolon insertion reads the script exactly
    as written; only whitespace at the start of a line (never meaningful in JavaScript outside
    template literals, which page.js does not use) is dropped.
    """
    lines = (line.strip() for line in script.splitlines())
    return "\n".join(line for line in lines if line and not line.startswith("//"))


@functools.lru_cache(maxsize=1)
def page_assets() -> PageAssets:
    """Read and check ``gatewayerrors/page/*`` once (the first time a renderer is built)."""
    # Imported here, not at the top: `import gatewayerrors` need not pay for them (~3 ms).
    from importlib import resources

    from ._templates import PlaceholderTemplate

    folder = resources.files(__package__) / "page"

    def read(name: str) -> str:
        return (folder / name).read_text("utf-8")

    page = PlaceholderTemplate("page.html", read("page.html"), _PAGE_SLOTS)
    source = read("parts.html")
    pieces = _PART_MARKER.split(source)[1:]  # the header before the first marker is a comment
    parts = {
        name: PlaceholderTemplate(f"parts.html#{name}", text, _PART_SLOTS)
        for name, text in zip(pieces[0::2], pieces[1::2], strict=True)
    }
    if set(parts) != _PART_NAMES:
        raise RuntimeError(f"parts.html: expected parts {sorted(_PART_NAMES)}, got {sorted(parts)}")
    css = minify_css(read("page.css"))
    script = strip_script(read("page.js"))
    # Both are inlined: neither may end its element early (HTML §4.12.1.3).
    if "</style" in css.lower() or "</script" in script.lower() or "<!--" in script:
        raise RuntimeError("page.css or page.js contains text that would end its element")
    return PageAssets(page, parts, css, script)


# The page's heading speaks to the person in the browser, who is rarely an engineer: what it
# means for them, calmly and truthfully. The problem's title ("Upstream refused the
# connection") stays as it is for machines and operators (JSON, XML, text, the log).
_HEADINGS_BY_STATUS = {
    400: "This request could not be completed",
    403: "This request is not allowed",
    500: "Something went wrong on our side",
    502: "Something went wrong on our side",
    503: "This service is taking a short break",
    504: "This took too long",
}
_HEADINGS_BY_CODE = {
    "maintenance": "We'll be back soon",
    "upstream_overloaded": "This service is very busy right now",
    "connection_limit_reached": "This service is very busy right now",
}
_DEFAULT_HEADING = "Something went wrong"


def page_heading(kind: ErrorKind) -> str:
    """The built-in page's heading for ``kind``: words for a person, not for an operator."""
    found = _HEADINGS_BY_CODE.get(kind.code) or _HEADINGS_BY_STATUS.get(kind.status)
    return found or _DEFAULT_HEADING


def page_headings(overrides: Mapping[str, Mapping[str, str]]) -> dict[str, str]:
    """The heading per catalog code: ``overrides`` ``heading``, else its ``title``, else ours.

    An overridden ``title`` was written by the app for its users (the pages showed it as the
    heading before there was a ``heading``), so it stays the heading unless one is given.
    """
    headings = {}
    for code, kind in catalog.items():
        override = overrides.get(code, {})
        heading = override.get("heading") or override.get("title") or page_heading(kind)
        headings[code] = clean_text(heading)
    return headings


def auto_retry_delay(error: UpstreamFailure, method: str) -> int | None:
    """Seconds until the page reloads itself, or None when it must not.

    Only for safe methods (a reload repeats the request; RFC 9110 §9.2.1), only when the server
    said when to come back (Retry-After), and bounded by :data:`AUTO_RETRY_MIN` and
    :data:`AUTO_RETRY_MAX`.
    """
    retry_after = error.retry_after
    if retry_after is None or retry_after > AUTO_RETRY_MAX or method not in _SAFE_METHODS:
        return None
    return max(retry_after, AUTO_RETRY_MIN)


def _script_safe(data: bytes) -> bytes:
    if b"<" in data or b">" in data or b"&" in data or b"\xe2\x80" in data:
        data = (
            data.replace(b"<", b"\\u003c")
            .replace(b">", b"\\u003e")
            .replace(b"&", b"\\u0026")
            .replace("\u2028".encode(), b"\\u2028")
            .replace("\u2029".encode(), b"\\u2029")
        )
    return data


def script_json(data: bytes) -> str:
    """JSON text that is safe inside ``<script>``: ``<``, ``>``, ``&``, U+2028 and U+2029 escaped.

    They can only occur inside JSON strings, where ``\\u`` escapes mean the same characters, so
    the data still parses to the same value, and ``</script>`` or ``<!--`` in it cannot end or
    confuse the script element (HTML §4.12.1.3).
    """
    return _script_safe(data).decode("utf-8")


def page_context(
    error: UpstreamFailure,
    request: RequestInfo,
    *,
    type_base: str = "urn:gatewayerrors:",
    heading: str | None = None,
) -> PageContext:
    """The template context for ``error`` answering ``request`` (see :class:`PageContext`).

    ``heading`` is the page's heading; None gives the built-in one for the code (or the
    error's title, when ``overrides`` changed it).
    """
    delay = auto_retry_delay(error, request.method)
    problem = script_json(orjson.dumps(problem_members(error, type_base)))
    if heading is None:
        kind = error.kind
        heading = error.title if error.title != kind.title else page_heading(kind)
    return PageContext(
        status=error.status,
        reason=reason_phrase(error.status),
        heading=heading,
        title=error.title,
        detail=error.detail,
        hint=error.hint,
        code=error.kind.code,
        number=error.kind.number,
        request_id=error.request_id,
        retry_after=error.retry_after,
        auto_retry=delay is not None,
        refresh_seconds=delay,
        method=request.method,
        upstream=error.upstream,
        upstream_status=error.received_status,
        # For people: the path decoded (the error holds the URI reference the bodies send).
        instance=None if error.instance is None else unquote(error.instance, errors="replace"),
        debug=error.debug,
        problem_json=problem,
        problem_script=f'<script type="application/problem+json">{problem}</script>',
        refresh_meta=""
        if delay is None
        else f'<noscript><meta http-equiv="refresh" content="{delay}"></noscript>',
    )


def duration_text(seconds: int) -> str:
    """``"1 second"``, ``"45 seconds"``, ``"5 min"``, ``"2 min 30 s"`` (as the page's script)."""
    if seconds < 60:
        return f"{seconds} second" if seconds == 1 else f"{seconds} seconds"
    minutes, rest = divmod(seconds, 60)
    return f"{minutes} min {rest} s" if rest else f"{minutes} min"


def _escaped_bytes_cache(limit: int = 256) -> Callable[[str], bytes]:
    # Titles, details and hints are the catalog's (or the overrides') few strings: escape and
    # encode each once. Per-error text (a GatewayError's detail) is cached too until the cache
    # is full, then escaped on the fly.
    cache: dict[str, bytes] = {}

    def escape(text: str) -> bytes:
        found = cache.get(text)
        if found is None:
            found = html.escape(text).encode("utf-8", "replace")
            if len(cache) < limit:
                cache[text] = found
        return found

    return escape


def _escape(text: str) -> bytes:
    return html.escape(text).encode("utf-8", "replace")


def build_builtin_page(
    type_base: str, overrides: Mapping[str, Mapping[str, str]] | None = None
) -> Callable[[UpstreamFailure, str], bytes]:
    """The built-in page as ``render(error, method) -> bytes``, static parts prebuilt.

    ``page/page.html`` is bound once per status (CSS, script, status, reason) and kept as one
    ``bytes`` %-format (:meth:`PlaceholderTemplate.bytes_renderer`); a render escapes and
    encodes only the short variable strings and fills the format in one call (encoding the
    whole 6 KB page as text would cost ~7 µs as soon as one character is not ASCII).
    """
    # Per code, encoded once: (heading, code, number).
    by_code = {
        code: (html.escape(heading).encode(), code.encode(), b"%d" % catalog[code].number)
        for code, heading in page_headings(overrides or {}).items()
    }
    assets = page_assets()
    page = assets.page.bind({"css": assets.css, "script": assets.script}, markup=_CODE_SLOTS)
    parts = assets.parts
    refresh = parts["refresh"].bytes_renderer(("seconds",))
    countdown = parts["countdown"].bytes_renderer(("who", "seconds", "auto", "duration"))
    service = parts["service"].bytes_renderer(("upstream",))
    request_id_row = parts["request_id"].bytes_renderer(("request_id",))
    debug_details = parts["debug"].bytes_renderer(("debug",))
    unsafe_note = parts["unsafe_note"].bytes_renderer(())(())
    retry_button = parts["retry_button"].bytes_renderer(())(())
    request_id_note = parts["request_id_note"].bytes_renderer(())(())
    escape = _escaped_bytes_cache()
    by_status: dict[int, Callable[[tuple[bytes, ...]], bytes]] = {}

    def page_for_status(status: int) -> Callable[[tuple[bytes, ...]], bytes]:
        found = by_status.get(status)
        if found is None:
            bound = page.bind({"status": status, "reason": reason_phrase(status)})
            found = by_status[status] = bound.bytes_renderer(_PAGE_VALUES)
        return found

    # The countdown and no-script reload depend only on (Retry-After, delay): a few values per
    # app (the default, maintenance's, an upstream's), so each is rendered once, up to a bound.
    timing_cache: dict[tuple[int, int | None], tuple[bytes, bytes]] = {}

    def timing(retry_after: int, delay: int | None) -> tuple[bytes, bytes]:
        found = timing_cache.get((retry_after, delay))
        if found is not None:
            return found
        seconds = retry_after if delay is None else delay
        wait = countdown(
            (
                b"You can" if delay is None else b"This page will",
                b"%d" % seconds,
                b"" if delay is None else b" data-auto",
                duration_text(seconds).encode(),
            )
        )
        found = (b"" if delay is None else refresh((b"%d" % delay,)), wait)
        if len(timing_cache) < 256:
            timing_cache[retry_after, delay] = found
        return found

    def render(error: UpstreamFailure, method: str) -> bytes:
        if error.retry_after is None:
            reload = wait = b""
        else:
            reload, wait = timing(error.retry_after, auto_retry_delay(error, method))
        kind = error.kind
        found = by_code.get(kind.code)
        heading, code, number = found or (
            escape(page_heading(kind)),
            kind.code.encode(),
            b"%d" % kind.number,
        )
        if method not in _SAFE_METHODS:
            action = unsafe_note
        else:
            action = retry_button if kind.retryable else b""
        upstream, rid, debug = error.upstream, error.request_id, error.debug
        # In the order of _PAGE_VALUES (a tuple: building a dict here cost more than the rest).
        return page_for_status(error.status)(
            (
                heading,
                reload,  # refresh
                _script_safe(orjson.dumps(problem_members(error, type_base))),  # problem_json
                escape(error.detail),  # detail
                escape(error.hint),  # hint
                wait,  # countdown
                action,  # action
                b"" if upstream is None else service((_escape(upstream),)),  # service
                code,
                number,
                b"" if rid is None else request_id_row((_escape(rid),)),  # request_id
                b"" if rid is None else request_id_note,  # request_id_note
                b"" if debug is None else debug_details((_escape(debug),)),  # debug
            )
        )

    return render


def build_html_renderer(settings: Settings) -> HtmlRenderer:
    """The HTML renderer for these settings, resolved once at construction.

    ``settings.templates`` may be None (the built-in page), a callable ``(error, request) ->
    str``, or a directory searched for ``<code>.html``, ``<status>.html``, then ``error.html``.
    Whatever a user template does, a failure is logged and the built-in page is sent instead.
    """
    builtin = build_builtin_page(settings.type_base, settings.overrides)
    headings = page_headings(settings.overrides)
    templates = settings.templates
    logger = logging.getLogger(settings.logger_name)

    if templates is None:

        def render_builtin(error: UpstreamFailure, request: RequestInfo) -> bytes:
            return builtin(error, request.method)

        return render_builtin

    if callable(templates):
        user = templates

        def render_callable(error: UpstreamFailure, request: RequestInfo) -> bytes:
            try:
                page = user(error, request)
                if isinstance(page, str):
                    return page.encode("utf-8", "replace")
                if isinstance(page, bytes):
                    return page
                raise TypeError(f"a template callable must return str, not {type(page).__name__}")
            except Exception:
                logger.exception("template callable failed; using the built-in page")
            return builtin(error, request.method)

        return render_callable

    from ._templates import TemplateDirectory  # only apps with a templates directory need it

    directory = TemplateDirectory(templates, logger)

    def render_template(error: UpstreamFailure, request: RequestInfo) -> bytes:
        template = directory.find(error.kind.code, error.status)
        if template is not None:
            try:
                context = page_context(
                    error,
                    request,
                    type_base=settings.type_base,
                    heading=headings.get(error.kind.code),
                )
                return template.render(context).encode("utf-8", "replace")
            except Exception:
                logger.exception("template %s failed; using the built-in page", template.name)
        return builtin(error, request.method)

    return render_template

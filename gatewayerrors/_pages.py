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
import inspect
import json
import logging
import re
from collections.abc import Callable, Mapping
from typing import TYPE_CHECKING, Any, NamedTuple, Protocol, cast
from urllib.parse import unquote

import orjson

from ._catalog import ErrorKind, catalog
from ._error import UpstreamFailure
from ._languages import BUNDLED_LANGUAGES, DEFAULT_LANGUAGE, LanguageChooser, canonical_language
from ._locale import (
    LABELS,
    code_overrides,
    duration_formats,
    localized_detail,
    page_heading_message,
    page_texts,
    translations,
)
from ._render import clean_text, problem_members, reason_phrase
from ._types import ContextTemplateFunction, PageContext, RequestInfo

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
_PAGE_SLOTS = frozenset(
    {*_PAGE_VALUES, "css", "script", "status", "reason", "language", "text_what_you_can_do",
     "text_error_code"}
)  # fmt: skip
_PART_NAMES = frozenset(
    {
        "refresh", "countdown", "unsafe_note", "retry_button", "service", "request_id",
        "request_id_note", "debug",
    }
)  # fmt: skip
_PART_SLOTS = frozenset(
    {"seconds", "before", "after", "auto", "duration", "upstream", "request_id", "debug",
     *(name for name in LABELS if name not in ("text_what_you_can_do", "text_error_code"))}
)  # fmt: skip
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


def page_heading(kind: ErrorKind, language: str = DEFAULT_LANGUAGE) -> str:
    """The built-in page's heading for ``kind``: words for a person, not for an operator."""
    return translations(language).gettext(page_heading_message(kind.status, kind.code))


def page_headings(
    overrides: Mapping[str, Mapping[str, Any]], language: str = DEFAULT_LANGUAGE
) -> dict[str, str]:
    """The heading per catalog code: ``overrides`` ``heading``, else its ``title``, else ours.

    An overridden ``title`` was written by the app for its users (the pages showed it as the
    heading before there was a ``heading``), so it stays the heading unless one is given. A
    ``language`` entry of the code's overrides comes before the plain ones.
    """
    return page_texts(language, overrides).headings


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


_ANY_BUNDLED = LanguageChooser(BUNDLED_LANGUAGES, DEFAULT_LANGUAGE)


def page_context(
    error: UpstreamFailure,
    request: RequestInfo,
    *,
    type_base: str = "urn:gatewayerrors:",
    heading: str | None = None,
    language: str | None = None,
) -> PageContext:
    """The template context for ``error`` answering ``request`` (see :class:`PageContext`).

    ``language`` is the page's language, a bundled one; None chooses it from the request's
    ``Accept-Language`` among every bundled language (English when nothing matches; an app
    that restricts ``languages`` gets its choice as a template callable's ``context``). The
    heading, and the code's detail and hint unless the error carries its own, are in that
    language. ``heading`` is the page's heading; None gives the built-in one for the code (or
    the error's title, when ``overrides`` changed it).
    """
    if language is None:
        language = _ANY_BUNDLED.choose(request.accept_language)
    else:
        found = canonical_language(language)
        if found is None:
            raise ValueError(
                f"language must be a bundled one ({', '.join(BUNDLED_LANGUAGES)}), not {language!r}"
            )
        language = found
    texts = page_texts(language, {})
    kind = error.kind
    if heading is None:
        heading = error.title if error.title != kind.title else texts.headings[kind.code]
    detail = texts.details[kind.code] if error.detail == kind.description else error.detail
    hint = texts.hints[kind.code] if error.hint == kind.hint else error.hint
    return _page_context(error, request, type_base, language, heading, detail, hint)


def _page_context(
    error: UpstreamFailure,
    request: RequestInfo,
    type_base: str,
    language: str,
    heading: str,
    detail: str,
    hint: str,
) -> PageContext:
    delay = auto_retry_delay(error, request.method)
    problem = script_json(orjson.dumps(problem_members(error, type_base)))
    return PageContext(
        status=error.status,
        reason=reason_phrase(error.status),
        heading=heading,
        title=error.title,
        detail=detail,
        hint=hint,
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
        language=language,
    )


def duration_text(seconds: int, language: str = DEFAULT_LANGUAGE) -> str:
    """``"1 second"``, ``"45 seconds"``, ``"5 min"``, ``"2 min 30 s"`` (as the page's script)."""
    return page_texts(language, {}).duration(seconds)


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


# The page's own words keep the one character reference the English page always had (U+2019).
_WORD_REFERENCES = str.maketrans({"\u2019": "&#8217;"})


def _words(text: str) -> str:
    """Page words as markup: escaped, U+2019 as ``&#8217;`` (the English page stays ASCII)."""
    return html.escape(text).translate(_WORD_REFERENCES)


def _js_string(text: str) -> str:
    """``text`` as a JavaScript string literal that is safe inside ``<script>``."""
    return script_json(json.dumps(text, ensure_ascii=False).encode())


# page.js's duration function as served (comment lines and indentation stripped); for another
# language it is replaced by one that fills the language's duration texts.
_SCRIPT_DURATION = (
    "function f(n){\n"
    'if (n < 60) return n + (n == 1 ? " second" : " seconds");\n'
    "var s = n % 60;\n"
    'return Math.floor(n / 60) + " min" + (s ? " " + s + " s" : "")\n'
    "}"
)
_SCRIPT_DURATION_LOCALIZED = (
    "function f(n){\n"
    "var s = n % 60, m = Math.floor(n / 60);\n"
    "return (n < 60 ? (n == 1 ? ONE : MANY) : s ? MINUTES_SECONDS : MINUTES)"
    '.replace("{s}", n < 60 ? n : s).replace("{m}", m)\n'
    "}"
)


def localized_script(script: str, language: str) -> str:
    """page.js (as served) speaking ``language``: its messages and its duration words.

    English is served as written. Raises RuntimeError when page.js no longer holds a text
    this replaces (a test renders every language, so an edit of page.js cannot slip by).
    """
    if language == DEFAULT_LANGUAGE:
        return script
    texts = page_texts(language, {})
    for literal, message in texts.script_messages.items():
        if literal not in script:
            raise RuntimeError(f"page.js: no {literal} to translate")
        script = script.replace(literal, _js_string(message))
    if _SCRIPT_DURATION not in script:
        raise RuntimeError("page.js: its duration function f(n) changed; update _pages.py")
    one, many, minutes, minutes_seconds = duration_formats(language)
    marks = {"seconds": "{s}", "minutes": "{m}"}
    function = _SCRIPT_DURATION_LOCALIZED
    for name, text in (
        ("MINUTES_SECONDS", minutes_seconds),  # before MINUTES, which it contains
        ("MINUTES", minutes),
        ("MANY", many),
        ("ONE", one),
    ):
        function = function.replace(name, _js_string(text % marks))
    return script.replace(_SCRIPT_DURATION, function)


def _around(sentence: str) -> tuple[bytes, bytes]:
    """A countdown sentence as the markup before and after its ``%(duration)s``."""
    before, _, after = sentence.partition("%(duration)s")
    return _words(before).encode(), _words(after).encode()


def _reference_texts(
    overrides: Mapping[str, Mapping[str, Any]],
) -> dict[str, tuple[str, str]]:
    """Per code, the detail and hint an error value carries unless it was given its own: the
    catalog's English or the plain (not per-language) override. An error carrying exactly these
    is shown in the page's language instead."""
    reference = {}
    for code, kind in catalog.items():
        plain = code_overrides(overrides, code)
        reference[code] = (
            clean_text(plain["detail"]) if "detail" in plain else kind.description,
            clean_text(plain["hint"]) if "hint" in plain else kind.hint,
        )
    return reference


def build_builtin_page(
    type_base: str,
    overrides: Mapping[str, Mapping[str, Any]] | None = None,
    language: str = DEFAULT_LANGUAGE,
) -> Callable[[UpstreamFailure, str], bytes]:
    """The built-in page in ``language`` as ``render(error, method) -> bytes``, static parts
    prebuilt.

    ``page/page.html`` is bound once per status (CSS, script, status, reason, the page's own
    words) and kept as one ``bytes`` %-format (:meth:`PlaceholderTemplate.bytes_renderer`); a
    render escapes and encodes only the short variable strings and fills the format in one
    call (encoding the whole 6 KB page as text would cost ~7 µs as soon as one character is
    not ASCII).
    """
    overrides = overrides or {}
    texts = page_texts(language, overrides)
    # Per code, encoded once: (heading, code, number).
    by_code = {
        code: (html.escape(heading).encode(), code.encode(), b"%d" % catalog[code].number)
        for code, heading in texts.headings.items()
    }
    # The code's detail and hint as the error value carries them (the catalog's English, or
    # the plain overrides): such an error shows them in this language instead.
    reference = _reference_texts(overrides)
    labels = {name: _words(text) for name, text in texts.labels.items()}
    assets = page_assets()
    page = assets.page.bind(
        {
            "css": assets.css,
            "script": localized_script(assets.script, language),
            "language": language,
            **labels,
        },
        markup=_CODE_SLOTS | frozenset(labels),
    )
    parts = {
        name: part.bind(labels, markup=frozenset(labels)) for name, part in assets.parts.items()
    }
    refresh = parts["refresh"].bytes_renderer(("seconds",))
    countdown = parts["countdown"].bytes_renderer(
        ("before", "seconds", "auto", "duration", "after")
    )
    service = parts["service"].bytes_renderer(("upstream",))
    request_id_row = parts["request_id"].bytes_renderer(("request_id",))
    debug_details = parts["debug"].bytes_renderer(("debug",))
    unsafe_note = parts["unsafe_note"].bytes_renderer(())(())
    retry_button = parts["retry_button"].bytes_renderer(())(())
    request_id_note = parts["request_id_note"].bytes_renderer(())(())
    auto_before, auto_after = _around(texts.countdown_auto)
    manual_before, manual_after = _around(texts.countdown_manual)
    duration = texts.duration
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
                manual_before if delay is None else auto_before,
                b"%d" % seconds,
                b"" if delay is None else b" data-auto",
                html.escape(duration(seconds)).encode(),
                manual_after if delay is None else auto_after,
            )
        )
        found = (b"" if delay is None else refresh((b"%d" % delay,)), wait)
        if len(timing_cache) < 256:
            timing_cache[retry_after, delay] = found
        return found

    localized = {code: (texts.details[code], texts.hints[code]) for code in catalog}

    def render(error: UpstreamFailure, method: str) -> bytes:
        if error.retry_after is None:
            reload = wait = b""
        else:
            reload, wait = timing(error.retry_after, auto_retry_delay(error, method))
        kind = error.kind
        found = by_code.get(kind.code)
        heading, code, number = found or (
            escape(page_heading(kind, language)),
            kind.code.encode(),
            b"%d" % kind.number,
        )
        detail, hint = error.detail, error.hint
        known = reference.get(kind.code)
        if known is not None:
            # The code's own text (not a detail given for this one error): in this language.
            detail = localized_detail(detail, known[0], texts, kind.code)
            if hint == known[1]:
                hint = localized[kind.code][1]
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
                escape(detail),  # detail
                escape(hint),  # hint
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


class HtmlRenderer(Protocol):
    """``render(error, request, language=None) -> bytes``: the page for an error, in
    ``language`` (one of the settings' ``languages``; None: ``default_language``)."""

    def __call__(
        self, error: UpstreamFailure, request: RequestInfo, language: str | None = None
    ) -> bytes:
        """The page's bytes."""
        ...


def _wants_context(function: Callable[..., object]) -> bool:
    """Whether a template callable takes the page's context: a parameter named ``context``."""
    try:
        parameters = inspect.signature(function).parameters
    except (TypeError, ValueError):  # a builtin without a signature
        return False
    found = parameters.get("context")
    return found is not None and found.kind in (
        inspect.Parameter.POSITIONAL_OR_KEYWORD,
        inspect.Parameter.KEYWORD_ONLY,
    )


def build_html_renderer(settings: Settings) -> HtmlRenderer:
    """The HTML renderer for these settings, resolved once at construction.

    ``settings.templates`` may be None (the built-in page), a callable ``(error, request) ->
    str`` (given ``context=`` too when it has a ``context`` parameter), or a directory
    searched for ``<code>.html``, ``<status>.html``, then ``error.html``. Whatever a user
    template does, a failure is logged and the built-in page is sent instead.
    """
    type_base, overrides = settings.type_base, settings.overrides
    default = settings.default_language
    builtins = {
        language: build_builtin_page(type_base, overrides, language)
        for language in settings.page_languages
    }
    default_builtin = builtins[default]
    templates = settings.templates
    logger = logging.getLogger(settings.logger_name)

    def builtin(error: UpstreamFailure, method: str, language: str | None) -> bytes:
        return builtins.get(language or default, default_builtin)(error, method)

    if templates is None:

        def render_builtin(
            error: UpstreamFailure, request: RequestInfo, language: str | None = None
        ) -> bytes:
            return builtins.get(language or default, default_builtin)(error, request.method)

        return render_builtin

    texts = {language: page_texts(language, overrides) for language in settings.page_languages}
    reference = _reference_texts(overrides)

    def context_for(error: UpstreamFailure, request: RequestInfo, language: str) -> PageContext:
        found = texts[language]
        code = error.kind.code
        detail, hint = error.detail, error.hint
        detail = localized_detail(detail, reference[code][0], found, code)
        if hint == reference[code][1]:
            hint = found.hints[code]
        return _page_context(
            error, request, type_base, language, found.headings[code], detail, hint
        )

    if callable(templates):
        user = templates
        with_context = _wants_context(user)

        def render_callable(
            error: UpstreamFailure, request: RequestInfo, language: str | None = None
        ) -> bytes:
            try:
                page: object
                if with_context:
                    context = context_for(error, request, language or default)
                    page = cast("ContextTemplateFunction", user)(error, request, context=context)
                else:
                    page = cast("Callable[[UpstreamFailure, RequestInfo], object]", user)(
                        error, request
                    )
                if isinstance(page, str):
                    return page.encode("utf-8", "replace")
                if isinstance(page, bytes):
                    return page
                raise TypeError(f"a template callable must return str, not {type(page).__name__}")
            except Exception:
                logger.exception("template callable failed; using the built-in page")
            return builtin(error, request.method, language)

        return render_callable

    from ._templates import TemplateDirectory  # only apps with a templates directory need it

    directory = TemplateDirectory(templates, logger)

    def render_template(
        error: UpstreamFailure, request: RequestInfo, language: str | None = None
    ) -> bytes:
        template = directory.find(error.kind.code, error.status)
        if template is not None:
            try:
                context = context_for(error, request, language or default)
                return template.render(context).encode("utf-8", "replace")
            except Exception:
                logger.exception("template %s failed; using the built-in page", template.name)
        return builtin(error, request.method, language)

    return render_template

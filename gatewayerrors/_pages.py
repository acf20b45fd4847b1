"""HTML error pages: the built-in page, or the user's templates.

The built-in page is one self-contained document (inline CSS and a tiny optional script, no
external fonts, scripts or images) that tells a person what happened, what they can do, and the
request id to quote; it embeds the problem details as ``<script type="application/problem+json">``
(RFC 9457 Appendix C) so tools can read it too. Everything that does not depend on the error is
built once, when the renderer is built; a render only fills in the variable parts.
"""

from __future__ import annotations

import html
import logging
from collections.abc import Callable
from typing import TYPE_CHECKING
from urllib.parse import unquote

import orjson

from ._error import UpstreamFailure
from ._render import problem_members, reason_phrase
from ._types import PageContext, RequestInfo

if TYPE_CHECKING:
    from ._settings import Settings

__all__ = [
    "AUTO_RETRY_MAX",
    "AUTO_RETRY_MIN",
    "HtmlRenderer",
    "PageContext",
    "auto_retry_delay",
    "build_html_renderer",
    "page_context",
    "script_json",
]

HtmlRenderer = Callable[[UpstreamFailure, RequestInfo], bytes]

AUTO_RETRY_MIN = 5
"""Never reload sooner than this many seconds, even when Retry-After says 0 (no reload storms)."""
AUTO_RETRY_MAX = 900
"""No automatic reload when Retry-After is longer than this: the person has likely moved on."""
_SAFE_METHODS = frozenset({"GET", "HEAD"})

_CSS = """\
:root{color-scheme:light dark;--bg:#f4f5f7;--card:#fff;--fg:#16191d;--muted:#545b66;\
--line:#dfe2e7;--soft:#f1f3f5;--accent:#b42318;--accent-soft:#fdecea;--on-accent:#fff}
@media (prefers-color-scheme:dark){:root{--bg:#0e1013;--card:#171a1f;--fg:#e9ebee;\
--muted:#a4abb6;--line:#2b3039;--soft:#1f232a;--accent:#ff8a7a;--accent-soft:#3a1d1a;\
--on-accent:#16191d}}
.s503{--accent:#1d4ed8;--accent-soft:#e8eefc}.s504{--accent:#9a4b00;--accent-soft:#fdf0e1}
@media (prefers-color-scheme:dark){.s503{--accent:#8fb3ff;--accent-soft:#18233b}\
.s504{--accent:#f5b25c;--accent-soft:#33230f}}
*{box-sizing:border-box}
html{background:var(--bg);color:var(--fg);\
font:16px/1.55 system-ui,-apple-system,"Segoe UI",Roboto,"Helvetica Neue",Arial,sans-serif;\
-webkit-text-size-adjust:100%}
body{margin:0;padding:9vh 1rem 2rem}
main{max-width:36rem;margin:0 auto;padding:2.5rem 2.5rem 2rem;background:var(--card);\
border:1px solid var(--line);border-top:4px solid var(--accent);border-radius:16px;\
box-shadow:0 1px 2px rgba(0,0,0,.04),0 8px 24px rgba(0,0,0,.05)}
.eyebrow{margin:0;display:flex;align-items:center;gap:.6rem;color:var(--muted);\
font-size:.9375rem;font-weight:500}
.badge{padding:.15rem .6rem;border-radius:999px;background:var(--accent-soft);\
color:var(--accent);font-weight:700;font-variant-numeric:tabular-nums;letter-spacing:.02em}
h1{margin:.9rem 0 .5rem;font-size:1.75rem;line-height:1.25;letter-spacing:-.01em}
.lead{margin:0;color:var(--muted);font-size:1.0625rem}
.do{margin:1.75rem 0;padding:1.1rem 1.25rem;background:var(--soft);border-radius:12px}
h2{margin:0 0 .3rem;font-size:.75rem;text-transform:uppercase;letter-spacing:.08em;\
color:var(--muted)}
.do p{margin:0}.do p+p,.bar+p{margin-top:.6rem}
.bar{height:4px;margin:.85rem 0 .25rem;border-radius:2px;background:var(--line);overflow:hidden}
.bar i{display:block;height:100%;background:var(--accent);transform-origin:left;\
animation:drain linear forwards}
@keyframes drain{from{transform:scaleX(1)}to{transform:scaleX(0)}}
.btn{display:inline-block;margin-top:1rem;padding:.55rem 1.1rem;border-radius:8px;\
background:var(--accent);color:var(--on-accent);font-weight:600;text-decoration:none}
.btn:hover{filter:brightness(1.08)}
a:focus-visible,button:focus-visible{outline:3px solid var(--accent);outline-offset:2px}
dl{display:grid;grid-template-columns:max-content 1fr;gap:.45rem 1rem;margin:0;\
padding-top:1.25rem;border-top:1px solid var(--line);font-size:.875rem;align-items:baseline}
dt{color:var(--muted)}dd{margin:0;min-width:0}
code,pre{font-family:ui-monospace,SFMono-Regular,Menlo,Consolas,monospace;font-size:.8125rem}
code{padding:.1rem .35rem;border-radius:4px;background:var(--soft);word-break:break-all}
#rid{user-select:all;-webkit-user-select:all}
button{margin-left:.4rem;padding:.1rem .55rem;border:1px solid var(--line);border-radius:6px;\
background:var(--card);color:var(--fg);font:inherit;font-size:.8125rem;cursor:pointer}
.note{margin:.9rem 0 0;color:var(--muted);font-size:.8125rem}
details{margin-top:1.25rem;font-size:.875rem}
pre{margin:.5rem 0 0;padding:.75rem;border-radius:8px;background:var(--soft);\
white-space:pre-wrap;word-break:break-word}
@media (max-width:600px){body{padding:0}main{min-height:100vh;padding:2.5rem 1.25rem 2rem;\
border-width:4px 0 0;border-radius:0;box-shadow:none}h1{font-size:1.5rem}\
dl{grid-template-columns:1fr;gap:0}dd{margin-bottom:.6rem}}
@media (prefers-reduced-motion:reduce){.bar i{animation:none}}"""

# Shows the copy button (the id is also select-all on click without it) and runs the countdown;
# at zero it reloads, only when the page says it may (GET/HEAD), at most 10 times in a row per
# tab and URL. Without JavaScript, a <noscript> meta refresh does the reload.
_SCRIPT = """\
(function(){var d=document,b=d.getElementById("copy"),r=d.getElementById("rid");
if(b&&r){b.hidden=false;b.onclick=function(){var t=r.textContent,ok=function(){b.textContent=\
"Copied"};if(navigator.clipboard&&window.isSecureContext){navigator.clipboard.writeText(t).then(ok)\
;return}var g=d.createRange(),s=getSelection();g.selectNodeContents(r);s.removeAllRanges();\
s.addRange(g);try{d.execCommand("copy");ok()}catch(e){}}}
var c=d.getElementById("count");if(!c)return;var n=+c.getAttribute("data-seconds"),\
auto=c.hasAttribute("data-auto"),m=d.getElementById("retry"),k="gatewayerrors:"+location.href,\
v=[0,0];try{v=JSON.parse(sessionStorage.getItem(k))||v}catch(e){}
if(Date.now()-v[1]>(n+120)*1e3)v=[0,0];
function f(n){if(n<60)return n+(n==1?" second":" seconds");var s=n%60;\
return Math.floor(n/60)+" min"+(s?" "+s+" s":"")}
var i=setInterval(function(){if(--n>0){c.textContent=f(n);return}clearInterval(i);\
if(auto&&v[0]<10){try{sessionStorage.setItem(k,JSON.stringify([v[0]+1,Date.now()]))}catch(e){}\
m.textContent="Trying again\\u2026";location.reload()}else m.textContent=auto?\
"Still not working. Please try again later.":"You can try again now."},1e3)})();"""

_UNSAFE_NOTE = (
    "<p>This page won&#8217;t resend your request by itself. If you submitted a form, check "
    "whether it went through before you send it again.</p>"
)


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
    error: UpstreamFailure, request: RequestInfo, *, type_base: str = "urn:gatewayerrors:"
) -> PageContext:
    """The template context for ``error`` answering ``request`` (see :class:`PageContext`)."""
    delay = auto_retry_delay(error, request.method)
    problem = script_json(orjson.dumps(problem_members(error, type_base)))
    return PageContext(
        status=error.status,
        reason=reason_phrase(error.status),
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


def build_builtin_page(type_base: str) -> Callable[[UpstreamFailure, str], bytes]:
    """The built-in page as ``render(error, method) -> bytes``, static parts prebuilt.

    The page is assembled from bytes: the static parts (ASCII) are encoded once here, so a render
    encodes only the short variable strings (encoding the whole 6 KB page costs ~7 µs as soon as
    one character is not ASCII).
    """
    escape = _escaped_bytes_cache()
    head = (
        b'<!doctype html>\n<html lang="en">\n<head>\n<meta charset="utf-8">\n'
        b'<meta name="viewport" content="width=device-width,initial-scale=1">\n'
        b'<meta name="color-scheme" content="light dark">\n<meta name="robots" content="noindex">\n'
        b"<title>"
    )
    style = f'<style>\n{_CSS}\n</style>\n<script type="application/problem+json">'.encode()
    lead = b'</h1>\n<p class="lead">'
    section = (
        b'</p>\n<section class="do" aria-labelledby="do-h">\n'
        b'<h2 id="do-h">What you can do</h2>\n<p>'
    )
    tail = f"</main>\n<script>\n{_SCRIPT}\n</script>\n</body>\n</html>\n".encode()
    unsafe_note = _UNSAFE_NOTE.encode() + b"\n"
    retry_button = b'<a class="btn" href="">Try again now</a>\n'
    by_status: dict[int, tuple[bytes, bytes]] = {}

    def status_parts(status: int) -> tuple[bytes, bytes]:
        found = by_status.get(status)
        if found is None:
            reason = html.escape(reason_phrase(status))
            found = (
                f" &#8211; {status} {reason}</title>\n".encode(),
                (
                    f'</script>\n</head>\n<body class="s{status}">\n<main>\n'
                    f'<p class="eyebrow"><span class="badge">{status}</span>{reason}</p>\n<h1>'
                ).encode(),
            )
            by_status[status] = found
        return found

    def render(error: UpstreamFailure, method: str) -> bytes:
        title_end, body_start = status_parts(error.status)
        title = escape(error.title)
        parts = [head, title, title_end]
        delay = auto_retry_delay(error, method)
        if delay is not None:
            parts.append(b'<noscript><meta http-equiv="refresh" content="%d"></noscript>\n' % delay)
        parts += [
            style,
            _script_safe(orjson.dumps(problem_members(error, type_base))),
            body_start,
            title,
            lead,
            escape(error.detail),
            section,
            escape(error.hint),
            b"</p>\n",
        ]
        retry_after = error.retry_after
        if retry_after is not None:
            wait = retry_after if delay is None else delay
            parts.append(
                (
                    f'<p id="retry">{"This page will" if delay is not None else "You can"} try '
                    f'again in <strong id="count" data-seconds="{wait}"'
                    f"{'' if delay is None else ' data-auto'}>{duration_text(wait)}</strong>.</p>\n"
                    f'<div class="bar"><i style="animation-duration:{wait}s"></i></div>\n'
                ).encode()
            )
        if method not in _SAFE_METHODS:
            parts.append(unsafe_note)
        elif error.kind.retryable:
            parts.append(retry_button)
        parts.append(b"</section>\n<dl>\n")
        if error.upstream is not None:
            parts += [b"<dt>Service</dt><dd>", _escape(error.upstream), b"</dd>\n"]
        parts.append(
            b"<dt>Error code</dt><dd><code>%s</code> (%d)</dd>\n"
            % (error.kind.code.encode(), error.kind.number)
        )
        if error.request_id is not None:
            parts += [
                b'<dt>Request ID</dt><dd><code id="rid">',
                _escape(error.request_id),
                b'</code><button type="button" id="copy" hidden>Copy</button></dd>\n</dl>\n'
                b'<p class="note">If you contact support, include the request ID: it lets them '
                b"find exactly what happened.</p>\n",
            ]
        else:
            parts.append(b"</dl>\n")
        if error.debug is not None:
            parts += [
                b"<details open><summary>Exception (debug mode)</summary><pre>",
                _escape(error.debug),
                b"</pre></details>\n",
            ]
        parts.append(tail)
        return b"".join(parts)

    return render


def build_html_renderer(settings: Settings) -> HtmlRenderer:
    """The HTML renderer for these settings, resolved once at construction.

    ``settings.templates`` may be None (the built-in page), a callable ``(error, request) ->
    str``, or a directory searched for ``<code>.html``, ``<status>.html``, then ``error.html``.
    Whatever a user template does, a failure is logged and the built-in page is sent instead.
    """
    builtin = build_builtin_page(settings.type_base)
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
                context = page_context(error, request, type_base=settings.type_base)
                return template.render(context).encode("utf-8", "replace")
            except Exception:
                logger.exception("template %s failed; using the built-in page", template.name)
        return builtin(error, request.method)

    return render_template

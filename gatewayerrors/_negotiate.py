"""Choose the response format for an error from the request's ``Accept`` header.

Never answers "not acceptable": an error always gets the best available format, and
``application/problem+json`` when nothing matches (RFC 9110 §12.5.1 allows ignoring Accept).
"""

from __future__ import annotations

from werkzeug.datastructures import MIMEAccept
from werkzeug.http import parse_accept_header

from ._types import Format

__all__ = ["Format", "negotiate"]


# Media types each format can honestly serve; the first is the one it is sent as.
_SERVES: dict[Format, tuple[str, ...]] = {
    Format.JSON: ("application/problem+json", "application/json"),
    Format.XML: ("application/problem+xml", "application/xml", "text/xml"),
    Format.HTML: ("text/html", "application/xhtml+xml"),
    Format.TEXT: ("text/plain",),
}
# On equal quality the server's preference decides (e.g. ``*/*`` gets JSON).
_PREFERENCE = (Format.JSON, Format.XML, Format.HTML, Format.TEXT)
_SUFFIXES = {"+json": Format.JSON, "+xml": Format.XML}

_MAX_HEADER = 4096
_CACHE_LIMIT = 512
_cache: dict[str, Format] = {}


def _choose(header: str) -> Format:
    entries = [
        (value.partition(";")[0].strip().lower(), quality)
        for value, quality in parse_accept_header(header, MIMEAccept)
    ]
    best, best_quality = Format.JSON, 0.0
    for fmt in _PREFERENCE:
        quality = _quality(entries, fmt)
        if quality > best_quality:
            best, best_quality = fmt, quality
    if best is Format.HTML and _text_range_decides(entries, best_quality):
        return Format.TEXT
    return best


def _text_range_decides(entries: list[tuple[str, float]], quality: float) -> bool:
    """Whether ``text/*`` alone gave HTML and text their (equal) quality.

    A client that asks for ``text/*`` and names no text type is text-only (curl scripts, CLI
    tools): plain text serves it better than a page. An explicit ``text/html`` or ``*/*``
    keeps the usual preference.
    """
    patterns = [pattern for pattern, _ in entries]
    if "text/plain" in patterns or "text/html" in patterns or "application/xhtml+xml" in patterns:
        return False
    # werkzeug orders entries most specific first: text/* comes before */*, and decides.
    return any(pattern == "text/*" and q == quality for pattern, q in entries)


def _is_alias(pattern: str, fmt: Format) -> bool:
    """A media type other than the one sent that ``fmt`` honestly serves (``text/xml``)."""
    if pattern in _SERVES[fmt]:
        return True
    suffix = pattern[pattern.rfind("+") :] if "+" in pattern else ""
    return (
        _SUFFIXES.get(suffix) is fmt
        and pattern.startswith("application/")
        and pattern != "application/xhtml+xml"
    )


def _quality(entries: list[tuple[str, float]], fmt: Format) -> float:
    """How much the client wants ``fmt``: the most specific mention decides (RFC 9110 §12.5.1).

    An exact mention of the type sent decides alone (so ``q=0`` on it excludes the format);
    then the best explicit alias (``application/json``, ``+json`` types); then the most specific
    range (``text/*``, ``*/*``) matching the type sent. A range never matches through an alias:
    ``text/*`` must not get ``application/problem+xml`` because ``text/xml`` is an alias.
    """
    sent = _SERVES[fmt][0]
    alias: float | None = None
    wildcard: float | None = None
    # werkzeug orders entries most specific first, so the first range found is the best one.
    for pattern, quality in entries:
        if pattern == sent:
            return quality
        if _is_alias(pattern, fmt):
            alias = quality if alias is None else max(alias, quality)
        elif wildcard is None and (
            pattern == "*/*" or (pattern.endswith("/*") and sent.startswith(pattern[:-1]))
        ):
            wildcard = quality
    if alias is not None:
        return alias
    return wildcard or 0.0


def negotiate(accept: str | None) -> Format:
    """The format to answer an error in, for this ``Accept`` header value (or None)."""
    if not accept:
        return Format.JSON
    if len(accept) > _MAX_HEADER:
        # A huge header is hostile or broken: judge it by its first entries only, and never
        # keep it as a cache key (512 keys of 1 MB each would be 512 MB).
        accept = accept[:_MAX_HEADER].rpartition(",")[0]
    found = _cache.get(accept)
    if found is None:
        try:
            found = _choose(accept)
        except Exception:  # malformed beyond werkzeug's tolerance: fall back, never fail
            found = Format.JSON
        if len(_cache) >= _CACHE_LIMIT:
            _cache.clear()
        _cache[accept] = found
    return found

"""Render one :class:`UpstreamFailure` as RFC 9457 problem details (JSON, XML), text or HTML.

Renderers are pure functions of the error value and the type URI base: no request, no
exception, no framework.
"""

from __future__ import annotations

import html
import re
from http import HTTPStatus
from typing import Any
from urllib.parse import quote

import orjson

from ._error import UpstreamFailure

__all__ = [
    "problem_members",
    "reason_phrase",
    "render_problem_json",
    "render_problem_xml",
    "render_text",
    "uri_path",
    "xml_text",
]

PROBLEM_XML_NAMESPACE = "urn:ietf:rfc:7807"

# Characters XML 1.0 forbids anywhere (§2.2); they are dropped, not escaped.
_XML_FORBIDDEN = re.compile("[^\t\n\r\x20-\ud7ff\ue000-\ufffd\U00010000-\U0010ffff]")
# RFC 3986 §3.3: a path is pchars and "/"; a "%" counts only as the start of a %XX escape.
# The first pattern is the fast path (a plain path needs no work); "%" goes the slow way.
_URI_PATH = re.compile(r"[A-Za-z0-9\-._~!$&'()*+,;=:@/]*")
_NOT_URI_PATH = re.compile(r"%(?![0-9A-Fa-f]{2})|[^A-Za-z0-9\-._~!$&'()*+,;=:@/%]+")


def _percent_encode(match: re.Match[str]) -> str:
    return quote(match.group(), safe="", errors="replace")


def uri_path(path: str) -> str:
    """``path`` as a URI reference (RFC 9457 ``instance``): other characters percent-encoded.

    Existing ``%XX`` escapes are kept; spaces, quotes, non-ASCII text and lone surrogates
    (which no encoder accepts) are escaped, so the value is valid in every format.
    """
    if path.startswith("//"):
        # "//host/x" would read as a network-path reference to another host (RFC 3986 §4.2).
        path = "/%2F" + path[2:]
    if _URI_PATH.fullmatch(path):
        return path
    return _NOT_URI_PATH.sub(_percent_encode, path)


def reason_phrase(status: int) -> str:
    """The standard reason phrase for a status ("Bad Gateway"), or "Error"."""
    try:
        return HTTPStatus(status).phrase
    except ValueError:
        return "Error"


def problem_members(failure: UpstreamFailure, type_base: str) -> dict[str, Any]:
    """The RFC 9457 members for ``failure``: standard ones first, then our extensions."""
    members: dict[str, Any] = {
        "type": type_base + failure.kind.code,
        "title": failure.title,
        "status": failure.status,
        "detail": failure.detail,
    }
    if failure.instance is not None:
        members["instance"] = uri_path(failure.instance)
    members["code"] = failure.kind.code
    if failure.retry_after is not None:
        members["retry_after"] = failure.retry_after
    if failure.upstream is not None:
        members["upstream"] = failure.upstream
    if failure.received_status is not None:
        members["upstream_status"] = failure.received_status
    if failure.upstream_code is not None:
        members["upstream_code"] = failure.upstream_code
    if failure.request_id is not None:
        members["request_id"] = failure.request_id
    if failure.debug is not None:
        members["exception"] = failure.debug
    return members


def render_problem_json(failure: UpstreamFailure, type_base: str) -> bytes:
    """``application/problem+json`` body."""
    return orjson.dumps(problem_members(failure, type_base))


def xml_text(value: object) -> str:
    """``value`` as XML character data: escaped, with XML 1.0's forbidden characters dropped."""
    text = value if isinstance(value, str) else str(value)
    if not text.isascii() or not text.isprintable():
        text = _XML_FORBIDDEN.sub("", text)
        # Parsers turn CR and CRLF into LF (XML 1.0 §2.11); a character reference keeps it.
        return html.escape(text, quote=True).replace("\r", "&#13;")
    return html.escape(text, quote=True)


def render_problem_xml(failure: UpstreamFailure, type_base: str) -> bytes:
    """``application/problem+xml`` body (RFC 9457 Appendix B)."""
    parts = [f'<?xml version="1.0" encoding="UTF-8"?>\n<problem xmlns="{PROBLEM_XML_NAMESPACE}">']
    for name, value in problem_members(failure, type_base).items():
        parts.append(f"<{name}>{xml_text(value)}</{name}>")
    parts.append("</problem>\n")
    return "".join(parts).encode("utf-8")


def render_text(failure: UpstreamFailure) -> bytes:
    """``text/plain`` body: status, title, what happened, what to do, and the request id."""
    lines = [
        f"{failure.status} {reason_phrase(failure.status)}: {failure.title}",
        "",
        failure.detail,
        failure.hint,
    ]
    if failure.retry_after is not None:
        lines.append(f"Retry after: {failure.retry_after} seconds")
    lines.append(f"Error code: {failure.kind.code}")
    if failure.request_id is not None:
        lines.append(f"Request ID: {failure.request_id}")
    if failure.debug is not None:
        lines += ["", f"Exception: {failure.debug}"]
    return ("\n".join(lines) + "\n").encode("utf-8", "replace")

"""Render one :class:`UpstreamFailure` as RFC 9457 problem details (JSON, XML), text or HTML.

Renderers are pure functions of the error value and the type URI base: no request, no
exception, no framework.
"""

from __future__ import annotations

import html
import ipaddress
import re
from http import HTTPStatus
from typing import Any
from urllib.parse import quote, unquote

import orjson

from ._error import UpstreamFailure

__all__ = [
    "clean_text",
    "instance_path",
    "problem_members",
    "reason_phrase",
    "render_problem_json",
    "render_problem_xml",
    "render_text",
    "uri_path",
    "uri_reference",
    "xml_text",
]

PROBLEM_XML_NAMESPACE = "urn:ietf:rfc:7807"

# C0 controls but tab and newline, DEL, and the C1 controls: HTML's parser reports each as an
# error (WHATWG HTML §13.2.3.5, "control-character-in-input-stream"; the Nu checker rejects the
# page), a terminal runs them as escapes (ESC, BEL, CSI U+009B), and XML 1.0 forbids most of them.
_CONTROL = re.compile(r"[\x00-\x08\x0b-\x1f\x7f-\x9f]")
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


def instance_path(path: str, raw_path: str | None = None) -> str:
    """The request path as the URI reference RFC 9457 ``instance`` is: the same path in, the
    same ``instance`` out, whatever the server.

    ``path`` is the decoded path a server hands over; ``raw_path`` the path as the client sent
    it (ASGI ``raw_path``, WSGI ``REQUEST_URI``), when the server gives it. The raw form is
    the exact one: decoding loses the difference between ``%2F`` and ``/``, ``%25`` and ``%``,
    and an invalid UTF-8 byte. It is trusted only when it decodes to ``path`` (a server or a
    proxy fix may have changed the path since, e.g. by adding a prefix); otherwise ``path`` is
    encoded, every ``%`` of it included.
    """
    if raw_path is not None:
        decoded = unquote(raw_path, errors="replace")  # as ASGI servers decode it
        if decoded == path:
            return uri_path(raw_path)
        if decoded and path.endswith(decoded):  # a root_path / SCRIPT_NAME prefix
            return uri_path(path[: -len(decoded)].replace("%", "%25")) + uri_path(raw_path)
    return uri_path(path.replace("%", "%25"))


# RFC 3986 §2: unreserved, reserved and "%"; anything else in a URI reference is escaped.
_URI_REFERENCE = re.compile(r"[A-Za-z0-9\-._~:/?#\[\]@!$&'()*+,;=]*")
_NOT_URI_REFERENCE = re.compile(r"%(?![0-9A-Fa-f]{2})|[^A-Za-z0-9\-._~:/?#\[\]@!$&'()*+,;=%]+")
# RFC 3986 Appendix B: scheme, authority, then the rest.
_URI_PARTS = re.compile(r"(?:([^:/?#]+):)?(?://([^/?#]*))?(.*)", re.DOTALL)
_SCHEME = re.compile(r"[A-Za-z][A-Za-z0-9+.\-]*")
# §3.2: [userinfo "@"] host [":" port]; an IP-literal host is "[" IPv6 or IPvFuture "]".
_AUTHORITY = re.compile(r"(?:[^@\[\]]*@)?(?:\[([^\[\]]*)\]|[^@:\[\]]*)(?::[0-9]*)?")


def _percent_encode_strict(match: re.Match[str]) -> str:
    return quote(match.group(), safe="")


def uri_reference(text: str) -> str:
    """``text`` as a URI reference (RFC 3986 §4.1), for a setting such as ``type_base``.

    Characters a URI cannot hold (non-ASCII text, spaces, a ``%`` that starts no escape) are
    percent-encoded as UTF-8 (RFC 3987 §3.1); existing ``%XX`` escapes are kept. Raises
    ValueError for what encoding cannot mend: an invalid scheme (``1a:``), brackets outside
    an IP-literal host, lone surrogates.
    """
    if not _URI_REFERENCE.fullmatch(text):
        try:
            text = _NOT_URI_REFERENCE.sub(_percent_encode_strict, text)
        except UnicodeEncodeError:
            raise ValueError(
                f"not a URI reference (it cannot be UTF-8 encoded): {text!r}"
            ) from None
    before, hash_, fragment = text.partition("#")
    if "#" in fragment:  # §3.5: a fragment holds no "#"
        text = before + hash_ + fragment.replace("#", "%23")
    parts = _URI_PARTS.fullmatch(text)
    scheme, authority, rest = parts.groups() if parts else ("", None, "")
    if scheme is not None and not _SCHEME.fullmatch(scheme):
        raise ValueError(f"not a URI reference (invalid scheme {scheme!r}): {text!r}")
    if scheme is None and authority is None and ":" in re.split("[/?#]", rest, maxsplit=1)[0]:
        # §4.2: a relative reference's first segment cannot hold ":" (it would read as a scheme).
        raise ValueError(f"not a URI reference (a ':' before any '/'): {text!r}")
    if "[" in rest or "]" in rest:
        raise ValueError(f"not a URI reference ('[' and ']' only enclose an IP host): {text!r}")
    if authority is not None:
        found = _AUTHORITY.fullmatch(authority)
        if found is None or (found.group(1) is not None and not _ipv6(found.group(1))):
            raise ValueError(f"not a URI reference (invalid host or port): {text!r}")
    return text


_IP_FUTURE = re.compile(r"[vV][0-9A-Fa-f]+\.[A-Za-z0-9\-._~!$&'()*+,;=:]+")


def _ipv6(text: str) -> bool:
    if _IP_FUTURE.fullmatch(text):
        return True
    if "%" in text:  # ipaddress accepts a zone id ("fe80::1%eth0"); RFC 3986 does not
        return False
    try:
        ipaddress.IPv6Address(text)
    except ValueError:
        return False
    return True


def clean_text(value: str) -> str:
    """Words for a body: control characters dropped, lone surrogates replaced.

    The app's own text (``GatewayError(detail=..., upstream=...)``, ``overrides``, debug text)
    reaches HTML, plain text, JSON and XML alike, so the translator cleans it once, in the one
    error value, rather than each renderer: every format, style, template and ``on_error`` hook
    sees the same words. CR and CRLF become LF (a lone CR would let text overwrite a line in a
    terminal).
    """
    if not value.isprintable():  # the common case (plain text) skips the regex
        value = _CONTROL.sub("", value.replace("\r\n", "\n").replace("\r", "\n"))
    # Lone surrogates cannot be encoded by any renderer.
    return value.encode("utf-8", "replace").decode("utf-8")


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

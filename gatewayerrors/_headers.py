"""Header values that are always safe: Structured Fields (RFC 8941) and control-free text."""

from __future__ import annotations

import re

__all__ = [
    "SF_TOKEN",
    "clean_header_value",
    "proxy_status",
    "sf_item",
    "sf_string",
    "valid_request_id",
]

SF_TOKEN = _SF_TOKEN = re.compile(r"[A-Za-z*][A-Za-z0-9!#$%&'*+\-.^_`|~:/]*", re.ASCII)
_NOT_PRINTABLE_ASCII = re.compile(r"[^\x20-\x7e]")
_CONTROL = re.compile(r"[\x00-\x1f\x7f]")
_REQUEST_ID = re.compile(r"[A-Za-z0-9._:/+=@-]{1,128}", re.ASCII)
_MAX_SF_STRING = 256


def sf_string(text: str) -> str:
    """An RFC 8941 sf-string: printable ASCII only (others become ``?``), quoted and escaped."""
    text = _NOT_PRINTABLE_ASCII.sub("?", text[:_MAX_SF_STRING])
    return '"' + text.replace("\\", "\\\\").replace('"', '\\"') + '"'


def sf_item(text: str) -> str:
    """``text`` as an sf-token when it is one, otherwise as an sf-string."""
    return text if _SF_TOKEN.fullmatch(text) else sf_string(text)


def proxy_status(
    service: str,
    error_type: str | None,
    received_status: int | None = None,
    details: str | None = None,
) -> str:
    """One ``Proxy-Status`` member (RFC 9209 §2): the service, then its parameters."""
    value = sf_item(service)
    if error_type is not None:
        value += f"; error={error_type}"
    if received_status is not None:
        value += f"; received-status={int(received_status)}"
    if details is not None:
        value += f"; details={sf_string(details)}"
    return value


def clean_header_value(value: str) -> str:
    """``value`` as printable ASCII: control characters (CR, LF: header injection) dropped,
    anything else outside ASCII (which WSGI servers refuse) replaced by ``?``."""
    if value.isascii() and value.isprintable():
        return value
    return _NOT_PRINTABLE_ASCII.sub("?", _CONTROL.sub("", value))


def valid_request_id(value: str | None) -> str | None:
    """An incoming request id when it is safe to echo (bounded, safe characters), else None."""
    if value and _REQUEST_ID.fullmatch(value):
        return value
    return None

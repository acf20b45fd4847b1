"""Reading a received ``Proxy-Status`` header (RFC 9209) with a real Structured Fields parser.

A received Proxy-Status is data from another system. It is parsed as an RFC 8941 List by
``http-sf`` (Mark Nottingham's parser, which tracks the RFC and its successor RFC 9651 and
passes the official test suite): hand-written splitting on commas breaks on a quoted
``details="a, b"``, and a lenient parser would let through what a strict one rejects. Members
that are not an intermediary (a token or string) with parameters are dropped; each value is
re-validated before it is used or re-serialised, so nothing unparsed is ever reflected.
"""

from __future__ import annotations

from collections import UserString
from collections.abc import Iterable, Mapping
from types import MappingProxyType
from typing import NamedTuple

from ._headers import SF_TOKEN, sf_item, sf_string

__all__ = ["MAX_MEMBERS", "ProxyStatusEntry", "parse_proxy_status", "serialize_entries"]

MAX_FIELD = 8192  # bytes of one received field: beyond this it is dropped whole
MAX_MEMBERS = 16  # intermediaries kept from a received chain (the ones nearest the origin)
_MAX_TEXT = 256  # characters of a name or details kept
_EMPTY: Mapping[str, object] = MappingProxyType({})


class ProxyStatusEntry(NamedTuple):
    """One intermediary's member of a ``Proxy-Status`` list (RFC 9209 §2)."""

    proxy: str
    """The intermediary's name (an sf-token or sf-string)."""
    error: str | None = None
    """The ``error`` parameter: an RFC 9209 error type (a token), or None."""
    received_status: int | None = None
    """The ``received-status`` parameter: the status it received from the next hop."""
    details: str | None = None
    """The ``details`` parameter (free text for operators)."""
    next_hop: str | None = None
    """The ``next-hop`` parameter."""
    params: Mapping[str, object] = _EMPTY
    """Every parameter as parsed (tokens as ``str``), including the ones above."""

    def serialize(self) -> str:
        """This member as a Structured Field, from the validated values only."""
        value = sf_item(self.proxy)
        if isinstance(self.error, str) and SF_TOKEN.fullmatch(self.error):
            value += f"; error={self.error}"
        status = self.received_status
        if isinstance(status, int) and not isinstance(status, bool) and 100 <= status <= 599:
            value += f"; received-status={status}"
        if self.next_hop is not None:
            value += f"; next-hop={sf_item(self.next_hop)}"
        if self.details is not None:
            value += f"; details={sf_string(self.details)}"
        return value


def _text(value: object) -> str | None:
    # http-sf gives a str for an sf-string and a Token (a UserString) for an sf-token.
    if isinstance(value, (str, UserString)) and value:
        return str(value)[:_MAX_TEXT]
    return None


def _token(value: object) -> str | None:
    if isinstance(value, UserString) and type(value).__name__ == "Token" and value:
        return str(value)[:_MAX_TEXT]
    return None


def _entry(member: object) -> ProxyStatusEntry | None:
    if not isinstance(member, tuple) or len(member) != 2:
        return None
    item, params = member
    proxy = _text(item)
    if proxy is None or not isinstance(params, dict):
        return None  # an inner list, a number, a byte sequence: not an intermediary
    status = params.get("received-status")
    if not isinstance(status, int) or isinstance(status, bool) or not 100 <= status <= 599:
        status = None
    plain = {
        key: (str(value) if isinstance(value, str) else value) for key, value in params.items()
    }
    return ProxyStatusEntry(
        proxy,
        _token(params.get("error")),
        status,
        _text(params.get("details")),
        _text(params.get("next-hop")),
        MappingProxyType(plain),
    )


def parse_proxy_status(
    values: str | bytes | Iterable[str | bytes] | None,
) -> tuple[ProxyStatusEntry, ...]:
    """The members of one or more received ``Proxy-Status`` field lines, nearest the origin first.

    Several lines are one list (RFC 9110 §5.3). A field that does not parse as an RFC 8941 List,
    or is larger than 8 KiB, gives no members at all; members that are not an intermediary are
    dropped. At most :data:`MAX_MEMBERS` are kept. Never raises.
    """
    if values is None:
        return ()
    lines = [values] if isinstance(values, (str, bytes)) else list(values)
    try:
        raw = b", ".join(
            line if isinstance(line, bytes) else line.encode("ascii") for line in lines
        )
    except (UnicodeError, TypeError):
        return ()  # a header of non-ASCII text cannot be a Structured Field
    if not raw.strip() or len(raw) > MAX_FIELD:
        return ()
    import http_sf  # a dependency; imported when a Proxy-Status is first received

    try:
        members: object = http_sf.parse(raw, tltype="list")
    except Exception:  # StructuredFieldError, or anything a hostile value provokes
        return ()
    if not isinstance(members, list):
        return ()
    entries = [entry for entry in map(_entry, members) if entry is not None]
    return tuple(entries[:MAX_MEMBERS])


def serialize_entries(entries: Iterable[ProxyStatusEntry]) -> str:
    """Members as one ``Proxy-Status`` field value."""
    return ", ".join(entry.serialize() for entry in entries)

"""What an upstream that failed told us about its own failure, kept for our answer.

When the failing upstream answered with a ``Proxy-Status`` (this library, Envoy, any RFC 9209
proxy) or a problem body naming a code, our answer keeps it: their members first, in their
order, then ours (RFC 9209 §2: the member nearest the origin comes first), and the body's
``upstream_code`` names the root cause. Everything received is re-validated: members are
parsed as Structured Fields and re-serialised from the validated values only, ``details`` and
``next-hop`` are dropped (they can reveal the upstream's topology, RFC 9209 §6), codes must be
catalog codes, and the kept chain is bounded.
"""

from __future__ import annotations

from typing import NamedTuple

from ._catalog import catalog
from ._problem_body import parse_body
from ._proxy_status import MAX_MEMBERS, ProxyStatusEntry, parse_proxy_status

__all__ = ["MAX_CHAIN", "ReceivedChain", "received_chain"]

MAX_CHAIN = 2048  # characters of received members kept in our Proxy-Status


class ReceivedChain(NamedTuple):
    """The received members (serialised, validated) and the root cause's catalog code."""

    members: tuple[str, ...]
    upstream_code: str | None


_NOTHING = ReceivedChain((), None)


def _catalog_code(value: object) -> str | None:
    return value if isinstance(value, str) and value in catalog else None


def chain_of(
    entries: tuple[ProxyStatusEntry, ...], code: object, upstream_code: object
) -> ReceivedChain:
    """The chain from parsed entries and the upstream's own ``code`` / ``upstream_code``."""
    members: list[str] = []
    size = 0
    # Room for our own member within what a reader keeps (MAX_MEMBERS).
    for entry in entries[: MAX_MEMBERS - 1]:
        member = ProxyStatusEntry(entry.proxy, entry.error, entry.received_status).serialize()
        size += len(member) + 2
        if size > MAX_CHAIN:
            break  # the members nearest the origin are the ones worth keeping
        members.append(member)
    # The deepest cause known: theirs for their upstream, else the first member with an
    # error (nearest the origin), else their own code.
    root = _catalog_code(upstream_code)
    if root is None:
        root = next((e.error for e in entries if _catalog_code(e.error) is not None), None)
    if root is None:
        root = _catalog_code(code)
    return ReceivedChain(tuple(members), root)


def _header_lines(headers: object, name: str) -> list[str]:
    for method in ("get_list", "getall", "getlist", "get_all"):
        getter = getattr(headers, method, None)
        if getter is not None:
            try:
                values = getter(name)
            except Exception:
                return []
            return [value for value in values or () if isinstance(value, str)]
    try:
        value = headers.get(name)  # type: ignore[attr-defined]
    except Exception:
        return []
    return [value] if isinstance(value, str) else []


def received_chain(headers: object, body: object = None) -> ReceivedChain:
    """The chain in a received response's headers (and problem body, when already read)."""
    if headers is None:
        return _NOTHING
    lines = _header_lines(headers, "proxy-status")
    members = None
    if isinstance(body, bytes) and body:
        content_type = _header_lines(headers, "content-type")
        members = parse_body(content_type[0] if content_type else None, body)
    if not lines and not members:
        return _NOTHING
    entries = parse_proxy_status(lines) if lines else ()
    members = members or {}
    return chain_of(entries, members.get("code"), members.get("upstream_code"))

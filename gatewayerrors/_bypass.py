"""Letting the team in during maintenance: a secret header, or a client network.

- ``maintenance_bypass_token``: a request whose ``X-Maintenance-Bypass`` header equals it
  (compared in constant time, ``hmac.compare_digest``) is served normally.
- ``maintenance_bypass_ips``: a request from one of these networks (CIDRs) is served normally.
  The client is the connection's peer; ``X-Forwarded-For`` is believed only when the peer is
  one of ``trusted_proxies``, and then only up to the first address that is not a trusted proxy
  itself (read from the right: every proxy appends the address it saw).

Only asked while maintenance is on, after the request was described: it costs nothing else.
"""

from __future__ import annotations

import hmac
import ipaddress
from collections.abc import Iterable

from ._types import RequestInfo

__all__ = ["BYPASS_HEADER", "Bypass", "parse_networks"]

BYPASS_HEADER = "x-maintenance-bypass"
"""The request header that carries the bypass token."""

Network = ipaddress.IPv4Network | ipaddress.IPv6Network
_Address = ipaddress.IPv4Address | ipaddress.IPv6Address


def parse_networks(values: Iterable[str]) -> tuple[Network, ...]:
    """CIDRs (or single addresses) as networks; ``ValueError`` names the first bad one."""
    return tuple(ipaddress.ip_network(value.strip(), strict=False) for value in values)


def _address(text: str | None) -> _Address | None:
    if not text:
        return None
    text = text.strip()
    if text.startswith("[") and "]" in text:  # [2001:db8::1]:443
        text = text[1 : text.index("]")]
    elif text.count(":") == 1:  # 192.0.2.1:443
        text = text.partition(":")[0]
    try:
        address = ipaddress.ip_address(text)
    except ValueError:
        return None
    mapped = getattr(address, "ipv4_mapped", None)  # ::ffff:192.0.2.1 from a dual-stack socket
    return mapped if mapped is not None else address


def _within(address: _Address, networks: tuple[Network, ...]) -> bool:
    return any(address.version == net.version and address in net for net in networks)


class Bypass:
    """Whether a request may pass during maintenance (built once, from the settings)."""

    def __init__(
        self, token: str | None, networks: Iterable[str], trusted_proxies: Iterable[str]
    ) -> None:
        self._token = None if token is None else token.encode("utf-8")
        self._networks = parse_networks(networks)
        self._proxies = parse_networks(trusted_proxies)

    @property
    def enabled(self) -> bool:
        """Whether any bypass is configured."""
        return self._token is not None or bool(self._networks)

    def allows(self, request: RequestInfo) -> bool:
        """True when ``request`` carries the token or comes from a bypass network."""
        token = self._token
        if token is not None and request.bypass_token is not None:
            given = request.bypass_token.encode("utf-8", "replace")
            if hmac.compare_digest(given, token):
                return True
        if not self._networks:
            return False
        client = self.client_address(request)
        return client is not None and _within(client, self._networks)

    def client_address(self, request: RequestInfo) -> _Address | None:
        """The client's address: the peer, or the forwarded one a trusted proxy vouches for."""
        address = _address(request.client)
        if address is None or not request.forwarded_for or not _within(address, self._proxies):
            return address
        for hop in reversed(request.forwarded_for.split(",")):
            forwarded = _address(hop)
            if forwarded is None:
                return None  # garbage from a client: believe nothing further left
            address = forwarded
            if not _within(address, self._proxies):
                return address
        return address

"""Naming the upstream a failure came from, without ever showing its host to a client.

Clients keep the request's URL on their exceptions: httpx ``exc.request.url``, requests
``exc.request.url``, aiohttp ``exc.request_info.url`` (and ``host``/``port`` on connector
errors), urllib3 ``exc.pool.host``/``port`` or a connection's ``host``/``port``. The
``upstream_names`` setting maps ``host`` or ``host:port`` to a logical name
(``{"orders.internal:8080": "orders"}``); only that name is used. A host with no name is never
used at all, so it cannot reach a body, a header or a log field.

Every attribute is read defensively: an exception object is data from a library (or an
attacker-controlled message), and a property that raises must not break the error path.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from urllib.parse import urlsplit

__all__ = ["UpstreamNames", "normal_upstream_key"]

_HOST = re.compile(r"[a-z0-9_](?:[a-z0-9_.-]{0,251}[a-z0-9_.])?|\[[0-9a-f:.]+\]")
_DEFAULT_PORTS = {"http": 80, "https": 443, "ws": 80, "wss": 443}
_MAX_LINKS = 16


def normal_upstream_key(key: object) -> str | None:
    """``host`` or ``host:port`` lower-cased (IPv6 in brackets), or None if it is neither."""
    if not isinstance(key, str):
        return None
    text = key.strip().lower()
    host, port = text, None
    if text.startswith("["):
        end = text.find("]")
        if end != -1 and text[end + 1 : end + 2] == ":":
            host, port = text[: end + 1], text[end + 2 :]
    elif text.count(":") == 1:
        host, _, port = text.partition(":")
    if not _HOST.fullmatch(host):
        return None
    if port is None:
        return host
    if not (port.isdigit() and port.isascii() and 0 < int(port) < 65536):
        return None
    return f"{host}:{int(port)}"


def _host_text(host: object) -> str | None:
    if not isinstance(host, str) or not host:
        return None
    host = host.lower()
    if ":" in host and not host.startswith("["):
        host = f"[{host}]"  # an IPv6 literal, as the keys spell it
    return host


def _port_number(port: object) -> int | None:
    if isinstance(port, int) and not isinstance(port, bool) and 0 < port < 65536:
        return port
    return None


def _from_url(url: object) -> tuple[str, int | None] | None:
    """Host and port of a URL string or URL object (httpx.URL, yarl.URL)."""
    port: object
    scheme: object
    if isinstance(url, (str, bytes)):
        text = url.decode("latin-1") if isinstance(url, bytes) else url
        try:
            parts = urlsplit(text)
            port = parts.port
        except ValueError:
            return None
        host = _host_text(parts.hostname)
        scheme = parts.scheme
    else:
        try:
            host = _host_text(getattr(url, "host", None))
            # yarl's ``port`` fills in the scheme's default; ``explicit_port`` does not.
            port = getattr(url, "explicit_port", None)
            if port is None:
                port = getattr(url, "port", None)
            scheme = getattr(url, "scheme", None)
        except Exception:
            return None
    if host is None:
        return None
    number = _port_number(port)
    if number is None and isinstance(scheme, str):
        number = _DEFAULT_PORTS.get(scheme.lower())
    return host, number


def _from_host_port(owner: object) -> tuple[str, int | None] | None:
    try:
        host = _host_text(getattr(owner, "host", None))
        port = _port_number(getattr(owner, "port", None))
    except Exception:
        return None
    return None if host is None else (host, port)


def _address(link: BaseException) -> tuple[str, int | None] | None:
    """Where ``link``'s client was connecting to, if it says."""
    for name in ("request", "request_info"):
        try:
            request = getattr(link, name, None)  # httpx raises RuntimeError when unset
            url = getattr(request, "url", None) if request is not None else None
        except Exception:
            continue
        if url is not None:
            found = _from_url(url)
            if found is not None:
                return found
    # urllib3: MaxRetryError keeps ``pool`` on the instance; NewConnectionError keeps ``conn``
    # (its class-level ``pool`` is a deprecated alias that warns).
    for name in ("pool", "conn"):
        try:
            owner = link.__dict__.get(name) if name == "pool" else getattr(link, name, None)
        except Exception:
            continue
        if owner is not None:
            found = _from_host_port(owner)
            if found is not None:
                return found
    if type(link).__module__.partition(".")[0] == "aiohttp":
        return _from_host_port(link)  # ClientConnectorError.host / .port
    return None


class UpstreamNames:
    """Looks up the configured name of the upstream an exception chain was talking to."""

    def __init__(self, names: Mapping[str, str]) -> None:
        self._names = dict(names)

    def __bool__(self) -> bool:
        return bool(self._names)

    def name(self, host: str, port: int | None) -> str | None:
        """The name for ``host:port``, else for ``host``, else None."""
        names = self._names
        if port is not None:
            found = names.get(f"{host}:{port}")
            if found is not None:
                return found
        return names.get(host)

    def name_for(self, exc: BaseException) -> str | None:
        """The name of the first upstream along the chain that has one, else None. Never raises."""
        chain: list[BaseException] = [exc]
        seen = {id(exc)}
        index = 0
        while index < len(chain) and index < _MAX_LINKS:
            link = chain[index]
            index += 1
            try:
                address = _address(link)
            except Exception:
                address = None
            if address is not None:
                found = self.name(*address)
                if found is not None:
                    return found
            try:
                linked = [link.__cause__, link.__context__, getattr(link, "reason", None)]
                linked += list(link.args)
            except Exception:
                continue
            for candidate in linked:
                if isinstance(candidate, BaseException) and id(candidate) not in seen:
                    seen.add(id(candidate))
                    chain.append(candidate)
        return None

"""Real, local failing upstreams for the demo: each fails the way production upstreams do.

All listen on 127.0.0.1 (ports chosen by the OS) inside the demo's event loop:

    refused     a bound port that does not listen: the kernel answers SYN with RST
    hang        accepts and reads the request, never answers (the client times out)
    reset       reads the request, then resets the connection (SO_LINGER 0)
    tls         HTTPS with a certificate from a private CA no client trusts (needs trustme)
    dns         a name under .invalid, which never resolves (RFC 6761 §6.4)
    overloaded  a real HTTP server answering 503 with Retry-After
"""

from __future__ import annotations

import asyncio
import contextlib
import socket
import ssl
import struct
from collections.abc import Awaitable, Callable

__all__ = ["FaultServers"]

_Handler = Callable[[asyncio.StreamReader, asyncio.StreamWriter], Awaitable[None]]
_OVERLOADED = (
    b"HTTP/1.1 503 Service Unavailable\r\n"
    b"Retry-After: 120\r\n"
    b"Content-Type: text/plain\r\n"
    b"Content-Length: 12\r\n"
    b"Connection: close\r\n"
    b"\r\n"
    b"overloaded\r\n"
)


async def _read_request(reader: asyncio.StreamReader) -> None:
    with contextlib.suppress(asyncio.IncompleteReadError, asyncio.LimitOverrunError, OSError):
        await reader.readuntil(b"\r\n\r\n")


class FaultServers:
    """The demo's upstreams; ``async with FaultServers() as upstreams: upstreams.urls[...]``."""

    def __init__(self) -> None:
        self.urls: dict[str, str] = {}
        self._servers: list[asyncio.Server] = []
        self._writers: set[asyncio.StreamWriter] = set()
        self._refused = socket.socket()

    async def __aenter__(self) -> FaultServers:
        self._refused.bind(("127.0.0.1", 0))
        self.urls["refused"] = f"http://127.0.0.1:{self._refused.getsockname()[1]}/"
        self.urls["hang"] = await self._serve("http", self._hang)
        self.urls["reset"] = await self._serve("http", self._reset)
        self.urls["overloaded"] = await self._serve("http", self._overloaded)
        context = _untrusted_tls_context()
        if context is not None:
            self.urls["tls"] = await self._serve("https", self._overloaded, context)
        self.urls["dns"] = "http://upstream.invalid/"
        return self

    async def __aexit__(self, *exc_info: object) -> None:
        for server in self._servers:
            server.close()
        for writer in list(self._writers):
            writer.transport.abort()
        self._refused.close()

    async def _serve(
        self, scheme: str, handler: _Handler, context: ssl.SSLContext | None = None
    ) -> str:
        async def tracked(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
            self._writers.add(writer)
            try:
                await handler(reader, writer)
            finally:
                self._writers.discard(writer)
                writer.transport.abort()

        server = await asyncio.start_server(tracked, "127.0.0.1", 0, ssl=context)
        self._servers.append(server)
        port = server.sockets[0].getsockname()[1]
        return f"{scheme}://127.0.0.1:{port}/"

    @staticmethod
    async def _hang(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        await _read_request(reader)
        with contextlib.suppress(OSError):
            await reader.read()  # until the client gives up and closes

    @staticmethod
    async def _reset(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        await _read_request(reader)
        sock = writer.get_extra_info("socket")
        if sock is not None:
            # Linger on, timeout 0: close() sends RST instead of FIN.
            sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))

    @staticmethod
    async def _overloaded(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        await _read_request(reader)
        writer.write(_OVERLOADED)
        with contextlib.suppress(OSError):
            await writer.drain()


def _untrusted_tls_context() -> ssl.SSLContext | None:
    """A server context with a certificate from a throwaway CA (None without trustme)."""
    try:
        import trustme
    except ImportError:
        return None
    authority = trustme.CA()
    context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    authority.issue_cert("127.0.0.1", "localhost").configure_cert(context)
    return context

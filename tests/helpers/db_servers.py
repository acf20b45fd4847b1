"""Loopback fakes for database and cache faults that need a server to speak first or to answer.

The fault servers of :mod:`gatewayerrors.testing` wait for an HTTP request (a blank line)
before acting; database and cache clients speak their own protocols, so these act on the first
bytes received (or on accept, as a real Redis does when it refuses a client):

    reset     reads the client's first bytes, then resets (RST)
    close     reads the client's first bytes, then closes (FIN) without answering
    garbage   reads the client's first bytes, answers bytes of no protocol, then closes
    postgres_error(sqlstate, message)
              a PostgreSQL server that refuses the session: ``N`` to SSLRequest/GSSENCRequest,
              then an ErrorResponse (severity FATAL) to the startup message, then closes —
              what a real server sends for ``53300 too_many_connections``
    postgres_session(then)
              a PostgreSQL server that accepts the session (trust authentication, then ready
              for queries) and meets the first query with ``"close"`` (the connection drops) or
              ``"admin_shutdown"`` (ErrorResponse FATAL 57P01, then closes), as a server does
              when it crashes or is shut down under a client
    mongo(other)
              a MongoDB server that answers the handshake (``hello``, OP_QUERY or OP_MSG) as a
              standalone primary, then meets any other command with ``"hang"`` (never answers)
              or ``"close"`` (closes the connection)
    answer_each(reply)
              sends ``reply`` for every chunk the client sends (a Redis answering ``+OK``), until
              the client closes
    on_accept(data)
              sends ``data`` as soon as a client connects, then closes — what Redis does when
              ``maxclients`` is reached (``-ERR max number of clients reached``)

Each server is one listener on 127.0.0.1 port 0 with one daemon thread per connection, stopped
(and every socket closed) by :meth:`FakeServer.close`.
"""

from __future__ import annotations

import contextlib
import socket
import struct
import threading
from collections.abc import Callable

from gatewayerrors.testing import GARBAGE

__all__ = [
    "FakeServer",
    "answer_each",
    "close",
    "garbage",
    "mongo",
    "on_accept",
    "postgres_error",
    "postgres_session",
    "reset",
]

HOST = "127.0.0.1"
Script = Callable[[socket.socket], None]
_SSL_REQUEST = 80877103
_GSSENC_REQUEST = 80877104


def _reset(sock: socket.socket) -> None:
    with contextlib.suppress(OSError):
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
    sock.close()


def _close(sock: socket.socket) -> None:
    # Unread bytes would turn close() into a RST: drain what the client sent, then FIN.
    with contextlib.suppress(OSError):
        sock.shutdown(socket.SHUT_WR)
        sock.settimeout(0.5)
        while sock.recv(65536):
            pass
    sock.close()


def reset(sock: socket.socket) -> None:
    """Read the client's first bytes, then reset the connection."""
    sock.recv(65536)
    _reset(sock)


def close(sock: socket.socket) -> None:
    """Read the client's first bytes, then close without answering."""
    sock.recv(65536)
    _close(sock)


def garbage(sock: socket.socket) -> None:
    """Read the client's first bytes, answer bytes of no protocol, then close."""
    sock.recv(65536)
    with contextlib.suppress(OSError):
        sock.sendall(GARBAGE)
    _close(sock)


def on_accept(data: bytes) -> Script:
    """Send ``data`` as soon as the client connects, then close."""

    def script(sock: socket.socket) -> None:
        with contextlib.suppress(OSError):
            sock.sendall(data)
        _close(sock)

    return script


def answer_each(reply: bytes) -> Script:
    """Send ``reply`` for every chunk the client sends, until it closes."""

    def script(sock: socket.socket) -> None:
        sock.settimeout(30)
        while sock.recv(65536):
            sock.sendall(reply)

    return script


def _recv_exactly(sock: socket.socket, size: int) -> bytes:
    data = b""
    while len(data) < size:
        chunk = sock.recv(size - len(data))
        if not chunk:
            raise ConnectionError("client went away")
        data += chunk
    return data


def _pg_message(tag: bytes, body: bytes) -> bytes:
    return tag + struct.pack("!i", 4 + len(body)) + body


def _pg_error(sqlstate: str, message: str) -> bytes:
    fields = b"".join(
        tag + value.encode() + b"\0"
        for tag, value in ((b"S", "FATAL"), (b"V", "FATAL"), (b"C", sqlstate), (b"M", message))
    )
    return _pg_message(b"E", fields + b"\0")


def _pg_startup(sock: socket.socket) -> None:
    """Read the startup message, answering ``N`` to SSLRequest/GSSENCRequest before it."""
    while True:
        (length,) = struct.unpack("!i", _recv_exactly(sock, 4))
        body = _recv_exactly(sock, length - 4)
        (code,) = struct.unpack("!i", body[:4])
        if code not in (_SSL_REQUEST, _GSSENC_REQUEST):
            return
        sock.sendall(b"N")  # no TLS, no GSSAPI: the client goes on in clear text


def postgres_session(then: str) -> Script:
    """A PostgreSQL server that accepts the session, then fails the first query (``then``)."""
    parameters = b"".join(
        _pg_message(b"S", name + b"\0" + value + b"\0")
        for name, value in (
            (b"server_version", b"16.0"),
            (b"server_encoding", b"UTF8"),
            (b"client_encoding", b"UTF8"),
            (b"DateStyle", b"ISO, MDY"),
            (b"integer_datetimes", b"on"),
            (b"standard_conforming_strings", b"on"),
        )
    )
    welcome = (
        _pg_message(b"R", struct.pack("!i", 0))  # AuthenticationOk
        + parameters
        + _pg_message(b"K", struct.pack("!ii", 1, 2))  # BackendKeyData
        + _pg_message(b"Z", b"I")  # ReadyForQuery, idle
    )

    def script(sock: socket.socket) -> None:
        sock.settimeout(5)
        _pg_startup(sock)
        sock.sendall(welcome)
        sock.recv(65536)  # the first query (simple or extended protocol)
        if then == "admin_shutdown":
            sock.sendall(_pg_error("57P01", "terminating connection due to administrator command"))
        _close(sock)

    return script


def postgres_error(sqlstate: str, message: str) -> Script:
    """A PostgreSQL server refusing the session with an ErrorResponse (protocol 3.0, §55.7)."""
    error = _pg_error(sqlstate, message)

    def script(sock: socket.socket) -> None:
        sock.settimeout(5)
        _pg_startup(sock)
        sock.sendall(error)
        _close(sock)

    return script


_OP_REPLY, _OP_QUERY, _OP_MSG = 1, 2004, 2013
_HELLO_REPLY = {
    "ok": 1.0,
    "isWritablePrimary": True,
    "ismaster": True,
    "helloOk": True,
    "minWireVersion": 0,
    "maxWireVersion": 21,
    "maxBsonObjectSize": 16 * 1024 * 1024,
    "maxMessageSizeBytes": 48_000_000,
    "maxWriteBatchSize": 100_000,
    "connectionId": 1,
}
_HANDSHAKES = ("hello", "ismaster", "isMaster")


def mongo(other: str, held: threading.Event | None = None) -> Script:
    """A standalone MongoDB primary for the handshake; other commands ``hang`` or ``close``.

    ``held`` is set when a command starts hanging (a test then knows the connection is busy).
    """
    import bson  # pymongo's own BSON codec: this fake runs only beside the real driver

    def script(sock: socket.socket) -> None:
        sock.settimeout(30)
        while True:
            length, request_id, _, opcode = struct.unpack("<iiii", _recv_exactly(sock, 16))
            body = _recv_exactly(sock, length - 16)
            if opcode == _OP_QUERY:  # flags, "admin.$cmd\0", skip, limit, then the document
                name_end = body.index(b"\0", 4)
                command = bson.decode(body[name_end + 9 :])
            elif opcode == _OP_MSG:  # flags, then section kind 0 and its document
                command = bson.decode(body[5:])
            else:
                return
            if not any(name in command for name in _HANDSHAKES):
                if other == "hang":
                    if held is not None:
                        held.set()
                    while sock.recv(65536):
                        pass
                return  # "close" (and a client that gave up on "hang")
            document = bson.encode(_HELLO_REPLY)
            if opcode == _OP_QUERY:
                payload = struct.pack("<iqii", 0, 0, 0, 1) + document
                reply_opcode = _OP_REPLY
            else:
                payload = struct.pack("<I", 0) + b"\0" + document
                reply_opcode = _OP_MSG
            size = 16 + len(payload)
            header = struct.pack("<iiii", size, request_id + 1, request_id, reply_opcode)
            sock.sendall(header + payload)

    return script


class FakeServer:
    """One loopback listener running ``script`` on every connection it accepts."""

    def __init__(self, script: Script) -> None:
        self._script = script
        self._listener = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        self._listener.bind((HOST, 0))
        self._listener.listen(16)
        self.host, self.port = HOST, int(self._listener.getsockname()[1])
        self._stopping = threading.Event()
        self._threads: list[threading.Thread] = []
        self._open: set[socket.socket] = set()
        self._accepting = threading.Thread(target=self._accept, name="fake-db", daemon=True)
        self._accepting.start()

    def _accept(self) -> None:
        self._listener.settimeout(0.05)
        while not self._stopping.is_set():
            try:
                sock, _ = self._listener.accept()
            except (TimeoutError, OSError):
                continue
            thread = threading.Thread(target=self._serve, args=(sock,), daemon=True)
            self._threads.append(thread)
            thread.start()

    def _serve(self, sock: socket.socket) -> None:
        sock.settimeout(5)
        self._open.add(sock)
        try:
            self._script(sock)
        except OSError:
            pass
        finally:
            self._open.discard(sock)
            sock.close()

    def close(self) -> None:
        """Stop accepting and wait for the connections in progress."""
        self._stopping.set()
        self._accepting.join(timeout=5)
        self._listener.close()
        for sock in list(self._open):  # wake scripts parked on a connection ("hang")
            with contextlib.suppress(OSError):
                sock.shutdown(socket.SHUT_RDWR)
        for thread in self._threads:
            thread.join(timeout=5)

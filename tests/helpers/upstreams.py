"""Loopback upstreams that fail for real, for tests that need a genuine client exception.

    refused_url   http://127.0.0.1:<port>/   bound but never listening: connect() is refused
    hang_url      accepts, reads the request, never answers
    reset_url     accepts, reads the request, then resets (RST via SO_LINGER 0)
    close_url     accepts, reads the request, closes without answering (FIN)
    garbage_url   answers bytes that are not HTTP, then closes
    truncated_url answers 200 with Content-Length: 100 but only 10 bytes of body, then closes
    connect_timeout_url
                  a listener whose accept queue is full: the kernel drops new SYNs, so
                  connect() times out (Linux; see :func:`_full_listener`)
    tls_url       https://127.0.0.1:<port>/ with a certificate from a CA clients do not trust
                  (a client trusting ``tls_ca`` gets ``200 OK``)
    dns_url       http://upstream.invalid/ (unresolvable, RFC 6761 section 6.4)
    status_url(status, retry_after=None, body=b"")
                  a real HTTP/1.1 server (keep-alive) answering that status to any method

The fault servers share one selector thread; the status server is a ``ThreadingHTTPServer``.
Everything binds 127.0.0.1 port 0 and stops in :meth:`Upstreams.close`.
"""

from __future__ import annotations

import base64
import collections
import contextlib
import selectors
import socket
import ssl
import struct
import threading
import time
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qs, quote, urlsplit

import trustme

__all__ = ["Upstreams", "start_upstreams"]

HOST = "127.0.0.1"
TRUNCATED = b"HTTP/1.1 200 OK\r\nContent-Length: 100\r\nContent-Type: text/plain\r\n\r\n0123456789"
GARBAGE = b"SSH-2.0-OpenSSH_9.6 not-http\r\n\x00\xff\xfe garbage\r\n\r\n"
_MAX_HELD = 128  # hang server: older held connections are dropped beyond this
_MAX_REQUEST = 64 * 1024
_REQUEST_GRACE = 2.0  # act on a connection even if its request never completes


def _listener() -> socket.socket:
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    sock.bind((HOST, 0))
    sock.listen(64)
    sock.setblocking(False)
    return sock


def _reset(sock: socket.socket) -> None:
    # l_onoff=1, l_linger=0: close() sends RST instead of FIN.
    with contextlib.suppress(OSError):
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
    sock.close()


def _full_listener() -> tuple[socket.socket, list[socket.socket]]:
    """A listener that never accepts, with its accept queue filled.

    Linux drops a SYN when the accept queue is full (tcp_conn_request), so the next client's
    connect() hangs until its own timeout: a real connect timeout without leaving loopback.
    """
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    sock.bind((HOST, 0))
    sock.listen(0)
    fillers: list[socket.socket] = []
    for _ in range(16):
        filler = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        filler.settimeout(0.2)
        try:
            filler.connect(sock.getsockname())
        except OSError:  # timed out: the queue is full
            filler.close()
            break
        fillers.append(filler)
    return sock, fillers


@dataclass(eq=False)
class _Conn:
    sock: socket.socket
    behaviour: str
    started: float = field(default_factory=time.monotonic)
    buffer: bytearray = field(default_factory=bytearray)
    handshaken: bool = False
    held: bool = False


class _FaultLoop(threading.Thread):
    """One selector thread serving every fault listener (hang, reset, close, garbage,
    truncated, tls)."""

    def __init__(self, tls_context: ssl.SSLContext) -> None:
        super().__init__(name="upstreams-faults", daemon=True)
        self._selector = selectors.DefaultSelector()
        self._tls_context = tls_context
        self._stopping = threading.Event()
        self._listeners: list[socket.socket] = []
        self._held: collections.deque[_Conn] = collections.deque()
        self._conns: set[_Conn] = set()

    def listen(self, behaviour: str) -> int:
        sock = _listener()
        self._listeners.append(sock)
        self._selector.register(sock, selectors.EVENT_READ, behaviour)
        return int(sock.getsockname()[1])

    def run(self) -> None:
        while not self._stopping.is_set():
            for key, _ in self._selector.select(timeout=0.05):
                if isinstance(key.data, str):
                    self._accept(key.fileobj, key.data)  # type: ignore[arg-type]
                else:
                    self._readable(key.data)
            now = time.monotonic()
            late = [c for c in self._conns if not c.held and now - c.started > _REQUEST_GRACE]
            for conn in late:
                self._act(conn)

    def stop(self) -> None:
        self._stopping.set()
        self.join(timeout=5)
        for conn in list(self._conns):
            self._drop(conn)
        self._held.clear()
        for sock in self._listeners:
            self._selector.unregister(sock)
            sock.close()
        self._selector.close()

    def _accept(self, listener: socket.socket, behaviour: str) -> None:
        try:
            sock, _ = listener.accept()
        except (BlockingIOError, InterruptedError):
            return
        sock.setblocking(False)
        if behaviour == "tls":
            sock = self._tls_context.wrap_socket(
                sock, server_side=True, do_handshake_on_connect=False
            )
        conn = _Conn(sock, behaviour)
        self._conns.add(conn)
        self._selector.register(sock, selectors.EVENT_READ, conn)
        if behaviour == "tls":
            self._handshake(conn)

    def _handshake(self, conn: _Conn) -> None:
        try:
            conn.sock.do_handshake()  # type: ignore[attr-defined]
        except (ssl.SSLWantReadError, ssl.SSLWantWriteError):
            return
        except (ssl.SSLError, OSError):  # the client refused our certificate: expected
            self._drop(conn)
            return
        conn.handshaken = True
        self._readable(conn)  # the request may already sit in the TLS buffer

    def _readable(self, conn: _Conn) -> None:
        if conn.behaviour == "tls" and not conn.handshaken:
            self._handshake(conn)
            return
        try:
            data = conn.sock.recv(65536)
        except (BlockingIOError, InterruptedError, ssl.SSLWantReadError):
            return
        except OSError:
            self._drop(conn)
            return
        if not data:
            if conn.held:
                self._drop(conn)
            else:
                self._act(conn)
            return
        if conn.held:
            return  # hang: discard whatever else the client sends
        conn.buffer += data
        if b"\r\n\r\n" in conn.buffer or len(conn.buffer) > _MAX_REQUEST:
            self._act(conn)

    def _act(self, conn: _Conn) -> None:
        """The request is in (or never came): do what this server is for."""
        behaviour = conn.behaviour
        if behaviour == "hang":
            # Stay registered only to notice the client giving up (EOF), then let go.
            conn.held = True
            conn.buffer.clear()
            self._held.append(conn)
            while len(self._held) > _MAX_HELD:
                self._drop(self._held.popleft())
            return
        self._forget(conn)
        sock = conn.sock
        if behaviour == "reset":
            _reset(sock)
            return
        with contextlib.suppress(OSError):
            if behaviour in ("garbage", "truncated"):
                sock.setblocking(True)
                sock.sendall(GARBAGE if behaviour == "garbage" else TRUNCATED)
            elif behaviour == "tls":
                sock.setblocking(True)
                sock.sendall(b"HTTP/1.1 200 OK\r\nContent-Length: 2\r\nConnection: close\r\n\r\nok")
            self._drain(sock)
        with contextlib.suppress(OSError):
            sock.close()

    @staticmethod
    def _drain(sock: socket.socket) -> None:
        # Unread bytes in the receive buffer turn close() into a RST; "close" must be a FIN.
        sock.setblocking(False)
        with contextlib.suppress(OSError, ssl.SSLError):
            while sock.recv(65536):
                pass

    def _forget(self, conn: _Conn) -> None:
        self._conns.discard(conn)
        with contextlib.suppress(KeyError, ValueError):
            self._selector.unregister(conn.sock)

    def _drop(self, conn: _Conn) -> None:
        self._forget(conn)
        if conn.held:
            with contextlib.suppress(ValueError):
                self._held.remove(conn)
        with contextlib.suppress(OSError):
            conn.sock.close()


class _StatusHandler(BaseHTTPRequestHandler):
    """Answers ``/<status>?retry_after=..&body=<base64url>`` to any method, keeping alive."""

    protocol_version = "HTTP/1.1"
    timeout = 10  # a keep-alive connection nobody uses does not pin a thread forever

    def __getattr__(self, name: str) -> Any:
        if name.startswith("do_"):
            return self._answer
        raise AttributeError(name)

    def _answer(self) -> None:
        length = int(self.headers.get("Content-Length") or 0)
        if length:
            self.rfile.read(length)
        url = urlsplit(self.path)
        query = parse_qs(url.query)
        try:
            status = int(url.path.strip("/"))
        except ValueError:
            status = 200
        body = base64.urlsafe_b64decode(query["body"][0]) if "body" in query else b""
        self.send_response(status)
        if "retry_after" in query:
            self.send_header("Retry-After", query["retry_after"][0])
        if status in (204, 304):  # no content, by definition (RFC 9110 sections 15.3.5, 15.4.5)
            self.end_headers()
            return
        self.send_header("Content-Type", "text/plain")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        if self.command != "HEAD":
            self.wfile.write(body)

    def log_message(self, format: str, *args: Any) -> None:
        pass


class _StatusServer(ThreadingHTTPServer):
    daemon_threads = True

    def __init__(self) -> None:
        super().__init__((HOST, 0), _StatusHandler)
        self.open: set[socket.socket] = set()
        self._lock = threading.Lock()

    def process_request(self, request: Any, client_address: Any) -> None:
        with self._lock:
            self.open.add(request)
        super().process_request(request, client_address)

    def shutdown_request(self, request: Any) -> None:
        with self._lock:
            self.open.discard(request)
        super().shutdown_request(request)

    def stop(self) -> None:
        self.shutdown()
        with self._lock:
            idle = list(self.open)
        for sock in idle:  # wake handler threads parked on idle keep-alive connections
            with contextlib.suppress(OSError):
                sock.shutdown(socket.SHUT_RDWR)
        self.server_close()  # joins the handler threads


class Upstreams:
    """The URLs of the loopback fault servers; see the module docstring."""

    dns_url = "http://upstream.invalid/"

    def __init__(self) -> None:
        self.tls_ca = trustme.CA()
        server_context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
        self.tls_ca.issue_cert(HOST).configure_cert(server_context)

        # Bound but not listening: the kernel refuses connections, and no one else can take
        # the port while the session runs.
        self._refused = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        self._refused.bind((HOST, 0))
        self.refused_url = f"http://{HOST}:{self._refused.getsockname()[1]}/"

        self._full, self._fillers = _full_listener()
        self.connect_timeout_url = f"http://{HOST}:{self._full.getsockname()[1]}/"

        self._faults = _FaultLoop(server_context)
        self.hang_url = f"http://{HOST}:{self._faults.listen('hang')}/"
        self.reset_url = f"http://{HOST}:{self._faults.listen('reset')}/"
        self.close_url = f"http://{HOST}:{self._faults.listen('close')}/"
        self.garbage_url = f"http://{HOST}:{self._faults.listen('garbage')}/"
        self.truncated_url = f"http://{HOST}:{self._faults.listen('truncated')}/"
        self.tls_url = f"https://{HOST}:{self._faults.listen('tls')}/"
        self._faults.start()

        self._status = _StatusServer()
        self._status_base = f"http://{HOST}:{self._status.server_address[1]}"
        self._status_thread = threading.Thread(
            target=self._status.serve_forever,
            kwargs={"poll_interval": 0.05},
            name="upstreams-status",
            daemon=True,
        )
        self._status_thread.start()

    def status_url(self, status: int, retry_after: str | None = None, body: bytes = b"") -> str:
        """A URL whose server answers ``status`` (with ``Retry-After`` and ``body``) to any
        request."""
        if not 200 <= status <= 599:
            raise ValueError(f"status must be 200-599, not {status}")
        params = []
        if retry_after is not None:
            params.append("retry_after=" + quote(retry_after, safe=""))
        if body:
            params.append("body=" + base64.urlsafe_b64encode(body).decode("ascii"))
        query = "?" + "&".join(params) if params else ""
        return f"{self._status_base}/{status}{query}"

    def trusting_context(self) -> ssl.SSLContext:
        """A client SSL context that trusts ``tls_url``'s certificate."""
        context = ssl.create_default_context()
        self.tls_ca.configure_trust(context)
        return context

    def close(self) -> None:
        """Stop every server and release every socket."""
        self._status.stop()
        self._status_thread.join(timeout=5)
        self._faults.stop()
        self._refused.close()
        for sock in self._fillers:
            sock.close()
        self._full.close()


def start_upstreams() -> Upstreams:
    """Start the fault servers (stop them with :meth:`Upstreams.close`)."""
    return Upstreams()

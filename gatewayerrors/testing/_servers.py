"""The fault servers behind :mod:`gatewayerrors.testing`: real sockets on 127.0.0.1 that fail.

The fault listeners (hang, reset, close, garbage, truncated, TLS) share one selector thread; the
status server is a ``ThreadingHTTPServer`` whose handler threads are tracked and joined on close.
Everything binds 127.0.0.1 port 0 (ports chosen by the kernel) and stops in
:meth:`FaultyUpstreams.close`.
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
from types import TracebackType
from typing import TYPE_CHECKING, Any
from urllib.parse import parse_qs, quote, urlsplit

if TYPE_CHECKING:
    import trustme

__all__ = ["GARBAGE", "TRUNCATED", "FaultyUpstreams"]

HOST = "127.0.0.1"
#: What ``truncated_url`` answers: a 200 announcing 100 bytes of body and sending 10.
TRUNCATED = b"HTTP/1.1 200 OK\r\nContent-Length: 100\r\nContent-Type: text/plain\r\n\r\n0123456789"
#: What ``garbage_url`` answers: bytes that are not HTTP.
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

    def __init__(self, tls_context: ssl.SSLContext | None) -> None:
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
        if self.ident is not None:  # started
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
            assert self._tls_context is not None  # a "tls" listener exists only with a context
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
    # socketserver joins only non-daemon handler threads, without a time bound; stop() joins
    # ours itself, bounded, and daemon threads never keep a test process from exiting.
    daemon_threads = True
    block_on_close = False

    def __init__(self) -> None:
        super().__init__((HOST, 0), _StatusHandler)
        self.open: set[socket.socket] = set()
        self._handlers: set[threading.Thread] = set()
        self._lock = threading.Lock()

    def process_request(self, request: Any, client_address: Any) -> None:
        thread = threading.Thread(
            target=self._handle,
            args=(request, client_address),
            name="upstreams-status-request",
            daemon=True,
        )
        with self._lock:
            self.open.add(request)
            self._handlers.add(thread)
        thread.start()

    def _handle(self, request: Any, client_address: Any) -> None:
        try:
            self.process_request_thread(request, client_address)
        finally:
            with self._lock:
                self._handlers.discard(threading.current_thread())

    def shutdown_request(self, request: Any) -> None:
        with self._lock:
            self.open.discard(request)
        super().shutdown_request(request)

    def handle_error(self, request: Any, client_address: Any) -> None:
        pass  # a client that gives up mid-answer is what these servers exist for

    def stop(self, timeout: float = 5.0) -> None:
        self.shutdown()
        with self._lock:
            idle = list(self.open)
        for sock in idle:  # wake handler threads parked on idle keep-alive connections
            with contextlib.suppress(OSError):
                sock.shutdown(socket.SHUT_RDWR)
        self.server_close()
        deadline = time.monotonic() + timeout
        with self._lock:
            handlers = list(self._handlers)
        for thread in handlers:
            thread.join(max(0.0, deadline - time.monotonic()))


_MISSING_TRUSTME = (
    "the TLS upstream needs trustme: pip install 'gatewayerrors[testing]' "
    "(or FaultyUpstreams(tls=False))"
)


class FaultyUpstreams:
    """Upstreams on 127.0.0.1 that fail for real, one URL per way of failing.

    Each URL makes a real client (httpx, requests, aiohttp, urllib3, grpc...) raise the exception
    it raises in production:

    ======================= ==================================================================
    ``refused_url``         a bound port that does not listen: ``connect()`` is refused
    ``hang_url``            accepts and reads the request, never answers (a read timeout)
    ``reset_url``           reads the request, then resets the connection (RST)
    ``close_url``           reads the request, then closes without answering (FIN)
    ``garbage_url``         answers bytes that are not HTTP (:data:`GARBAGE`), then closes
    ``truncated_url``       answers 200 with ``Content-Length: 100`` and 10 bytes of body
    ``connect_timeout_url`` a listener whose accept queue is full: the kernel drops the SYN,
                            so ``connect()`` times out (on Linux)
    ``tls_url``             HTTPS with a certificate from a private CA no client trusts
                            (a client trusting :attr:`tls_ca` gets ``200 OK``)
    ``dns_url``             a name under ``.invalid``, which never resolves (RFC 6761 §6.4)
    :meth:`status_url`      a real HTTP/1.1 server answering a chosen status (and
                            ``Retry-After``, body) to any method, with keep-alive
    ======================= ==================================================================

    The servers start in the constructor and stop in :meth:`close` (or at the end of a
    ``with`` block): threads joined, every socket closed. One instance serves any number of
    tests; the pytest fixture ``faulty_upstreams`` shares one per session.

    :param tls: start the TLS upstream (needs ``trustme``, in the ``testing`` extra).
    """

    dns_url = "http://upstream.invalid/"

    def __init__(self, *, tls: bool = True) -> None:
        self._tls_ca: trustme.CA | None = None
        self._tls_url: str | None = None
        server_context = None
        if tls:
            try:
                import trustme
            except ImportError as exc:
                raise ImportError(_MISSING_TRUSTME) from exc
            self._tls_ca = trustme.CA()
            server_context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
            self._tls_ca.issue_cert(HOST, "localhost").configure_cert(server_context)
        # Every socket and thread is registered here as it is made, so that close() (or a
        # failure halfway through starting) releases exactly what exists, newest first.
        self._resources = contextlib.ExitStack()
        try:
            self._start(server_context)
        except BaseException:
            self._resources.close()
            raise

    def _start(self, server_context: ssl.SSLContext | None) -> None:
        # Bound but not listening: the kernel refuses connections, and no one else can take
        # the port while the servers run.
        refused = self._resources.enter_context(socket.socket(socket.AF_INET, socket.SOCK_STREAM))
        refused.bind((HOST, 0))
        #: Refused: nothing listens on this bound port.
        self.refused_url = f"http://{HOST}:{refused.getsockname()[1]}/"

        full, fillers = _full_listener()
        self._resources.enter_context(full)
        for filler in fillers:
            self._resources.enter_context(filler)
        #: Connect timeout: the listener's accept queue is full.
        self.connect_timeout_url = f"http://{HOST}:{full.getsockname()[1]}/"

        faults = _FaultLoop(server_context)
        self._resources.callback(faults.stop)
        #: Accepts, reads the request, never answers.
        self.hang_url = f"http://{HOST}:{faults.listen('hang')}/"
        #: Reads the request, then resets the connection.
        self.reset_url = f"http://{HOST}:{faults.listen('reset')}/"
        #: Reads the request, then closes without an answer.
        self.close_url = f"http://{HOST}:{faults.listen('close')}/"
        #: Answers bytes that are not HTTP.
        self.garbage_url = f"http://{HOST}:{faults.listen('garbage')}/"
        #: Answers a body shorter than its Content-Length.
        self.truncated_url = f"http://{HOST}:{faults.listen('truncated')}/"
        if server_context is not None:
            self._tls_url = f"https://{HOST}:{faults.listen('tls')}/"
        faults.start()

        status = _StatusServer()
        self._resources.callback(status.server_close)
        self._status_base = f"http://{HOST}:{status.server_address[1]}"
        thread = threading.Thread(
            target=status.serve_forever,
            kwargs={"poll_interval": 0.05},
            name="upstreams-status",
            daemon=True,
        )
        thread.start()
        # shutdown() waits for serve_forever to return: only ever called once it runs.
        self._resources.callback(thread.join, timeout=5)
        self._resources.callback(status.stop)

    @property
    def tls_url(self) -> str:
        """HTTPS whose certificate comes from :attr:`tls_ca`, a CA no client trusts."""
        if self._tls_url is None:
            raise RuntimeError("started with tls=False: there is no TLS upstream")
        return self._tls_url

    @property
    def tls_ca(self) -> trustme.CA:
        """The ``trustme.CA`` that signed :attr:`tls_url`'s certificate."""
        if self._tls_ca is None:
            raise RuntimeError("started with tls=False: there is no TLS upstream")
        return self._tls_ca

    def status_url(self, status: int, retry_after: str | None = None, body: bytes = b"") -> str:
        """A URL whose server answers ``status`` to any method and path suffix.

        :param status: the status code, 200-599.
        :param retry_after: the ``Retry-After`` value to send, verbatim (``"120"`` or an
            HTTP-date); none when ``None``.
        :param body: the response body (``text/plain``); none for 204 and 304.
        """
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
        """A client SSL context that trusts :attr:`tls_url`'s certificate."""
        context = ssl.create_default_context()
        self.tls_ca.configure_trust(context)
        return context

    def close(self) -> None:
        """Stop every server, join their threads and close every socket (idempotent)."""
        self._resources.close()

    def __enter__(self) -> FaultyUpstreams:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        self.close()

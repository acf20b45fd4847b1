"""The loopback fault servers do what tests rely on them for, seen from a raw socket."""

from __future__ import annotations

import http.client
import socket
import ssl
import threading
import time
from urllib.parse import urlsplit

import pytest

from gatewayerrors.testing import GARBAGE, TRUNCATED, FaultyUpstreams

REQUEST = b"GET / HTTP/1.1\r\nHost: upstream\r\n\r\n"


def _address(url: str) -> tuple[str, int]:
    parts = urlsplit(url)
    assert parts.hostname is not None
    assert parts.port is not None
    return parts.hostname, parts.port


def _send(url: str) -> socket.socket:
    sock = socket.create_connection(_address(url), timeout=2)
    sock.sendall(REQUEST)
    return sock


def test_refused(upstreams: FaultyUpstreams) -> None:
    with pytest.raises(ConnectionRefusedError):
        socket.create_connection(_address(upstreams.refused_url), timeout=2)


def test_hang_never_answers(upstreams: FaultyUpstreams) -> None:
    with _send(upstreams.hang_url) as sock:
        sock.settimeout(0.3)
        with pytest.raises(TimeoutError):
            sock.recv(1)


def test_reset_sends_rst(upstreams: FaultyUpstreams) -> None:
    with _send(upstreams.reset_url) as sock, pytest.raises(ConnectionResetError):
        sock.recv(1)


def test_close_sends_fin_without_answer(upstreams: FaultyUpstreams) -> None:
    with _send(upstreams.close_url) as sock:
        assert sock.recv(1) == b""


def _read_all(url: str) -> bytes:
    with _send(url) as sock:
        received = b""
        while chunk := sock.recv(4096):
            received += chunk
    return received


def test_garbage_is_not_http(upstreams: FaultyUpstreams) -> None:
    received = _read_all(upstreams.garbage_url)
    assert received == GARBAGE
    assert not received.startswith(b"HTTP/")


def test_truncated_body_is_shorter_than_content_length(upstreams: FaultyUpstreams) -> None:
    head, _, body = _read_all(upstreams.truncated_url).partition(b"\r\n\r\n")
    assert head.startswith(b"HTTP/1.1 200 OK")
    assert b"Content-Length: 100" in head
    assert len(body) == 10
    assert head + b"\r\n\r\n" + body == TRUNCATED


def test_tls_certificate_is_not_trusted(upstreams: FaultyUpstreams) -> None:
    host, port = _address(upstreams.tls_url)
    context = ssl.create_default_context()
    with (
        socket.create_connection((host, port), timeout=2) as raw,
        pytest.raises(ssl.SSLCertVerificationError),
    ):
        context.wrap_socket(raw, server_hostname=host)


def test_tls_answers_a_trusting_client(upstreams: FaultyUpstreams) -> None:
    host, port = _address(upstreams.tls_url)
    connection = http.client.HTTPSConnection(
        host, port, timeout=2, context=upstreams.trusting_context()
    )
    try:
        connection.request("GET", "/")
        response = connection.getresponse()
        assert (response.status, response.read()) == (200, b"ok")
    finally:
        connection.close()


def test_dns_url_is_reserved_invalid(upstreams: FaultyUpstreams) -> None:
    assert urlsplit(upstreams.dns_url).hostname == "upstream.invalid"


def test_status_server_keeps_alive_for_any_method(upstreams: FaultyUpstreams) -> None:
    url = urlsplit(upstreams.status_url(503, "Wed, 21 Oct 2015 07:28:00 GMT", b"down"))
    assert url.port is not None
    connection = http.client.HTTPConnection("127.0.0.1", url.port, timeout=2)
    try:
        sockets = set()
        for method in ("GET", "POST", "PURGE", "HEAD"):
            connection.request(method, f"{url.path}?{url.query}", body=b"x" * 10)
            response = connection.getresponse()
            body = response.read()
            assert connection.sock is not None
            sockets.add(connection.sock.fileno())
            assert response.status == 503
            assert response.headers["Retry-After"] == "Wed, 21 Oct 2015 07:28:00 GMT"
            assert body == (b"" if method == "HEAD" else b"down")
        assert len(sockets) == 1, "the connection was reused"
    finally:
        connection.close()


def test_status_server_no_content(upstreams: FaultyUpstreams) -> None:
    url = urlsplit(upstreams.status_url(204, body=b"ignored"))
    assert url.port is not None
    connection = http.client.HTTPConnection("127.0.0.1", url.port, timeout=2)
    try:
        for _ in range(2):  # still usable afterwards: no stray body bytes on the connection
            connection.request("GET", f"{url.path}?{url.query}")
            response = connection.getresponse()
            assert (response.status, response.read()) == (204, b"")
            assert response.headers["Content-Length"] is None
    finally:
        connection.close()


def test_status_url_rejects_informational(upstreams: FaultyUpstreams) -> None:
    with pytest.raises(ValueError, match="200-599"):
        upstreams.status_url(101)


def test_close_stops_everything() -> None:
    before = set(threading.enumerate())
    servers = FaultyUpstreams()
    idle = http.client.HTTPConnection(*_address(servers.status_url(200)), timeout=2)
    idle.request("GET", "/200")
    assert idle.getresponse().read() == b""  # an idle keep-alive connection stays open
    held = _send(servers.hang_url)
    addresses = [_address(servers.hang_url), _address(servers.status_url(200))]
    servers.close()
    try:
        # Under load the session-wide servers may still be accepting a connection an earlier
        # test left in their backlog; such a handler thread is short-lived, ours must be gone.
        deadline = time.monotonic() + 3
        while True:
            leftover = [
                thread
                for thread in threading.enumerate()
                if thread not in before
                and (thread.name.startswith("upstreams") or "process_request" in thread.name)
            ]
            if not leftover or time.monotonic() > deadline:
                break
            time.sleep(0.05)
        assert not leftover
        for address in addresses:
            with pytest.raises(ConnectionRefusedError):
                socket.create_connection(address, timeout=2)
        assert held.recv(1) == b""  # the held connection was released
    finally:
        held.close()
        idle.close()


def test_connect_timeout(upstreams: FaultyUpstreams) -> None:
    with pytest.raises(TimeoutError):
        socket.create_connection(_address(upstreams.connect_timeout_url), timeout=0.3)

"""Real servers for the WSGI/Flask/Django tests: waitress (WSGI) and uvicorn (ASGI) on 127.0.0.1.

    with serve_wsgi(app) as base_url: ...       # waitress, keep-alive, 4 worker threads
    with serve_asgi(app) as base_url: ...       # uvicorn, lifespan off

Both bind port 0, run in a background thread and stop (joined) when the block exits.
"""

from __future__ import annotations

import contextlib
import socket
import ssl
import threading
import time
from collections.abc import Iterator
from typing import Any

import httpx
import requests
import uvicorn
from waitress import wasyncore
from waitress.server import create_server

__all__ = [
    "CLIENTS",
    "CLIENT_SSL",
    "FAULTS",
    "call_upstream",
    "fault_url",
    "raw_request",
    "serve_asgi",
    "serve_wsgi",
    "upstream_exception",
]

HOST = "127.0.0.1"


@contextlib.contextmanager
def serve_wsgi(app: Any, *, threads: int = 4, **options: Any) -> Iterator[str]:
    """Serve ``app`` with waitress (``options``: more waitress settings); yields
    ``http://127.0.0.1:<port>``."""
    server: Any = create_server(
        app, host=HOST, port=0, threads=threads, channel_timeout=10, **options
    )
    port = server.getsockname()[1]
    stopping = threading.Event()

    def loop() -> None:
        # One poll at a time, so the loop notices ``stopping`` and closes from its own thread.
        while not stopping.is_set():
            wasyncore.loop(timeout=0.05, map=server._map, count=1)
        wasyncore.close_all(server._map)

    thread = threading.Thread(target=loop, name=f"waitress-{port}", daemon=True)
    thread.start()
    try:
        yield f"http://{HOST}:{port}"
    finally:
        stopping.set()
        thread.join(timeout=5)
        server.task_dispatcher.shutdown(timeout=5)
        assert not thread.is_alive(), "waitress loop did not stop"


@contextlib.contextmanager
def serve_asgi(app: Any) -> Iterator[str]:
    """Serve ``app`` with uvicorn; yields ``http://127.0.0.1:<port>``."""
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    sock.bind((HOST, 0))
    port = sock.getsockname()[1]
    config = uvicorn.Config(app, lifespan="off", log_level="warning", loop="asyncio")
    server = uvicorn.Server(config)
    thread = threading.Thread(target=server.run, kwargs={"sockets": [sock]}, daemon=True)
    thread.start()
    deadline = time.monotonic() + 10
    while not server.started:
        assert thread.is_alive(), "uvicorn failed to start"
        assert time.monotonic() < deadline, "uvicorn did not start in time"
        time.sleep(0.01)
    try:
        yield f"http://{HOST}:{port}"
    finally:
        server.should_exit = True
        thread.join(timeout=10)
        sock.close()
        assert not thread.is_alive(), "uvicorn did not stop"


def raw_request(base_url: str, request: bytes, *, timeout: float = 5.0) -> bytes:
    """Send raw HTTP/1.1 bytes, read until the server closes or ``timeout``; the bytes read."""
    host, port = base_url.rsplit("/", 1)[-1].split(":")
    chunks: list[bytes] = []
    with socket.create_connection((host, int(port)), timeout=timeout) as sock:
        sock.sendall(request)
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            try:
                data = sock.recv(65536)
            except (ConnectionResetError, TimeoutError):
                break
            if not data:
                break
            chunks.append(data)
    return b"".join(chunks)


# -- upstream calls, as a view makes them --------------------------------------------------

FAULTS = ("refused", "hang", "reset", "close", "garbage", "tls", "dns", "503", "500")
"""Failures of ``upstreams`` a view can run into; digits are an upstream's HTTP status."""
CLIENTS = ("requests", "httpx")
CLIENT_TIMEOUT = 0.3
CLIENT_SSL = ssl.create_default_context()
"""Made once: httpx otherwise loads the CA bundle for every client (~50 ms each)."""


def fault_url(upstreams: Any, fault: str) -> str:
    """The URL of ``upstreams`` that fails as ``fault``."""
    if fault.isdigit():
        return str(upstreams.status_url(int(fault), retry_after="7" if fault == "503" else None))
    return str(getattr(upstreams, f"{fault}_url"))


def call_upstream(upstreams: Any, fault: str, client: str = "requests") -> None:
    """Call the failing upstream with ``client`` (raises what that client raises)."""
    url = fault_url(upstreams, fault)
    if client == "httpx":
        httpx.get(url, timeout=CLIENT_TIMEOUT, verify=CLIENT_SSL).raise_for_status()
    else:
        requests.get(url, timeout=CLIENT_TIMEOUT).raise_for_status()
    raise AssertionError(f"{url} did not fail")


def upstream_exception(upstreams: Any, fault: str, client: str = "requests") -> Exception:
    """The exception ``call_upstream`` raises, caught here (for the expected response)."""
    try:
        call_upstream(upstreams, fault, client)
    except AssertionError:
        raise
    except Exception as exc:
        return exc
    raise AssertionError("unreachable")


PROBLEM_JSON = "application/problem+json"

NEGOTIATED = [
    ("application/json", PROBLEM_JSON),
    ("application/xml", "application/problem+xml"),
    ("text/html", "text/html; charset=utf-8"),
    ("text/plain", "text/plain; charset=utf-8"),
]
"""(Accept sent, content type expected) for the four formats every adapter must answer."""

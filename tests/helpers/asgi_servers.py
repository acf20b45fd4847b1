"""Real ASGI servers (uvicorn, hypercorn) on 127.0.0.1, each in a background thread.

with serve(app) as server:            # uvicorn
    httpx.get(server.url + "/ok")
with serve(app, "hypercorn") as server:
    ...
"""

from __future__ import annotations

import asyncio
import contextlib
import socket
import threading
import time
from collections.abc import Iterator
from typing import Any

import uvicorn
from hypercorn.asyncio import serve as hypercorn_serve
from hypercorn.config import Config as HypercornConfig


class RunningServer:
    """A server listening on 127.0.0.1:<port>, serving ``app`` from its own thread."""

    def __init__(self, port: int, stop: Any, thread: threading.Thread) -> None:
        self.port = port
        self.url = f"http://127.0.0.1:{port}"
        self.ws_url = f"ws://127.0.0.1:{port}"
        self._stop = stop
        self._thread = thread

    def close(self) -> None:
        self._stop()
        self._thread.join(10)
        assert not self._thread.is_alive(), "server thread did not stop"


def _listening_socket() -> socket.socket:
    # proto=IPPROTO_TCP: asyncio sets TCP_NODELAY on accepted sockets only when the listener
    # says TCP explicitly; without it every keep-alive response waits ~40 ms (Nagle).
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM, socket.IPPROTO_TCP)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    sock.bind(("127.0.0.1", 0))
    sock.listen(128)
    return sock


def _wait_until(ready: Any, thread: threading.Thread, what: str) -> None:
    deadline = time.monotonic() + 10
    while not ready():
        if not thread.is_alive():
            raise RuntimeError(f"{what} exited during startup")
        if time.monotonic() > deadline:
            raise RuntimeError(f"{what} did not start within 10 s")
        time.sleep(0.01)


def _start_uvicorn(app: Any) -> RunningServer:
    sock = _listening_socket()
    config = uvicorn.Config(
        app,
        lifespan="off",
        log_config=None,  # keep uvicorn's records flowing to the root logger (caplog)
        log_level="warning",
        timeout_graceful_shutdown=2,
        ws_ping_interval=None,
    )
    server = uvicorn.Server(config)
    thread = threading.Thread(target=server.run, kwargs={"sockets": [sock]}, daemon=True)
    thread.start()
    _wait_until(lambda: server.started, thread, "uvicorn")

    def stop() -> None:
        server.should_exit = True

    # uvicorn closes the sockets it was given when it shuts down.
    return RunningServer(sock.getsockname()[1], stop, thread)


def _start_hypercorn(app: Any) -> RunningServer:
    sock = _listening_socket()
    port = sock.getsockname()[1]
    config = HypercornConfig()
    config.bind = [f"fd://{sock.detach()}"]  # hypercorn owns (and closes) the socket
    config.graceful_timeout = 2
    config.accesslog = None
    config.errorlog = None
    loop = asyncio.new_event_loop()
    shutdown = asyncio.Event()

    def run() -> None:
        asyncio.set_event_loop(loop)
        try:
            loop.run_until_complete(hypercorn_serve(app, config, shutdown_trigger=shutdown.wait))
        finally:
            loop.close()

    thread = threading.Thread(target=run, daemon=True)
    thread.start()

    def answers() -> bool:
        # The socket already listens; wait until hypercorn serves from it.
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=1) as probe:
                probe.sendall(b"GET /__ready HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n")
                return probe.recv(12).startswith(b"HTTP/1.1")
        except OSError:
            return False

    _wait_until(answers, thread, "hypercorn")
    return RunningServer(port, lambda: loop.call_soon_threadsafe(shutdown.set), thread)


@contextlib.contextmanager
def serve(app: Any, server: str = "uvicorn") -> Iterator[RunningServer]:
    """Serve ``app`` with ``server`` ("uvicorn" or "hypercorn") until the block ends."""
    running = _start_uvicorn(app) if server == "uvicorn" else _start_hypercorn(app)
    try:
        yield running
    finally:
        running.close()

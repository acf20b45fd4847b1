"""A real Redis server for the fleet tests: ``redis-server`` on a free loopback port.

    server = RedisServer.start()      # waits until it answers PING
    server.url                        # redis://127.0.0.1:<port>/0
    server.stop(); server.restart()   # the same port again (a store outage, then recovery)

No persistence (``--save ''``, ``--appendonly no``), bound to 127.0.0.1 only. Installed by the
Debian ``redis-server`` package (``.ci/run`` installs it when missing).
"""

from __future__ import annotations

import os
import shutil
import socket
import subprocess
import tempfile
import time

import pytest
import redis

__all__ = ["RedisServer", "require_redis_server"]

HOST = "127.0.0.1"


def require_redis_server() -> str:
    """The ``redis-server`` executable; skips without it, but fails in CI (``CI=true``)."""
    found = shutil.which("redis-server")
    if found is not None:
        return found
    reason = "redis-server is not installed (apt-get install redis-server; .ci/run installs it)"
    if os.environ.get("CI", "").lower() == "true":
        pytest.fail(f"{reason}: CI must run the Redis tests")
    pytest.skip(reason)


def _free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind((HOST, 0))
        return int(sock.getsockname()[1])


class RedisServer:
    """One ``redis-server`` process, started and stopped by the tests."""

    def __init__(self, executable: str, port: int) -> None:
        self.executable = executable
        self.port = port
        self.url = f"redis://{HOST}:{port}/0"
        self._workdir = tempfile.mkdtemp(prefix="gatewayerrors-redis-")
        self.process: subprocess.Popen[bytes] | None = None

    @classmethod
    def start(cls) -> RedisServer:
        """A server on a free port, answering."""
        server = cls(require_redis_server(), _free_port())
        server.restart()
        return server

    def restart(self) -> None:
        """Start (again) on the same port and wait until it answers PING (10 s at most)."""
        self.process = subprocess.Popen(
            [
                self.executable,
                "--port", str(self.port),
                "--bind", HOST,
                "--save", "",
                "--appendonly", "no",
                "--dir", self._workdir,
                "--loglevel", "warning",
            ],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )  # fmt: skip
        client = redis.Redis(host=HOST, port=self.port, socket_connect_timeout=0.2)
        deadline = time.monotonic() + 10
        try:
            while True:
                try:
                    if client.ping():
                        return
                except redis.ConnectionError:
                    pass
                if self.process.poll() is not None or time.monotonic() > deadline:
                    raise RuntimeError(f"redis-server did not start on port {self.port}")
                time.sleep(0.02)
        finally:
            client.close()

    def stop(self) -> None:
        """Stop the server (SIGTERM, then wait)."""
        process = self.process
        if process is None:
            return
        process.terminate()
        try:
            process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait(timeout=5)
        self.process = None

    def client(self) -> redis.Redis:
        """A new client of this server (close it when done)."""
        return redis.Redis(host=HOST, port=self.port, socket_timeout=2)

    def command_calls(self) -> dict[str, int]:
        """``INFO commandstats``: calls per command, as the server counts them."""
        client = self.client()
        try:
            stats = client.info("commandstats")
        finally:
            client.close()
        return {name.removeprefix("cmdstat_"): int(value["calls"]) for name, value in stats.items()}

    def close(self) -> None:
        """Stop the server and remove its working directory."""
        self.stop()
        shutil.rmtree(self._workdir, ignore_errors=True)

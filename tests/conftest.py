"""Shared fixtures: the fault servers of :mod:`gatewayerrors.testing` (``upstreams``,
``faulty_upstreams``, ``tls_ca``), an httpx client, and a real Redis server."""

from __future__ import annotations

from collections.abc import Iterator

import httpx
import pytest
from redis_server import RedisServer

pytest_plugins = ["gatewayerrors.testing"]


@pytest.fixture(scope="module")
def hx() -> Iterator[httpx.Client]:
    """A keep-alive httpx client for one test module's requests to its servers."""
    with httpx.Client(timeout=5) as client:
        yield client


@pytest.fixture(scope="session")
def redis_server() -> Iterator[RedisServer]:
    """A real redis-server on a free 127.0.0.1 port for the whole session, stopped at its end.

    Skips without redis-server, except in CI (``CI=true``), where it fails."""
    server = RedisServer.start()
    try:
        yield server
    finally:
        server.close()


@pytest.fixture
def redis_url(redis_server: RedisServer) -> Iterator[str]:
    """The session's Redis server, emptied for this test (restarted if a test stopped it)."""
    if redis_server.process is None:
        redis_server.restart()
    client = redis_server.client()
    try:
        client.flushall()
    finally:
        client.close()
    yield redis_server.url
    if redis_server.process is None:
        redis_server.restart()

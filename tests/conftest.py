"""Shared fixtures: the loopback fault servers of :mod:`tests.upstreams`."""

from __future__ import annotations

from collections.abc import Iterator

import httpx
import pytest
import trustme
from upstreams import Upstreams, start_upstreams


@pytest.fixture(scope="session")
def upstreams() -> Iterator[Upstreams]:
    """Loopback upstreams that fail for real (refused, hang, reset, close, garbage, TLS, DNS,
    any HTTP status)."""
    servers = start_upstreams()
    try:
        yield servers
    finally:
        servers.close()


@pytest.fixture(scope="session")
def tls_ca(upstreams: Upstreams) -> trustme.CA:
    """The CA that signed ``upstreams.tls_url``'s certificate (clients do not trust it)."""
    return upstreams.tls_ca


@pytest.fixture(scope="module")
def hx() -> Iterator[httpx.Client]:
    """A keep-alive httpx client for one test module's requests to its servers."""
    with httpx.Client(timeout=5) as client:
        yield client

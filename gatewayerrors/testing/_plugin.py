"""The pytest fixtures of :mod:`gatewayerrors.testing` (loaded through its ``pytest_plugins``)."""

from __future__ import annotations

from collections.abc import Iterator
from typing import TYPE_CHECKING

import pytest

from ._servers import FaultyUpstreams

if TYPE_CHECKING:
    import trustme

__all__ = ["faulty_upstreams", "tls_ca", "upstreams"]


@pytest.fixture(scope="session")
def faulty_upstreams() -> Iterator[FaultyUpstreams]:
    """Upstreams on 127.0.0.1 that fail for real: refused, hang, reset, close, garbage,
    truncated, connect timeout, untrusted TLS, unresolvable DNS, and any HTTP status with
    Retry-After. One set per test session, stopped at its end (see ``FaultyUpstreams``)."""
    with FaultyUpstreams() as servers:
        yield servers


@pytest.fixture(scope="session")
def upstreams(faulty_upstreams: FaultyUpstreams) -> FaultyUpstreams:
    """The same servers as ``faulty_upstreams``, under a shorter name."""
    return faulty_upstreams


@pytest.fixture(scope="session")
def tls_ca(faulty_upstreams: FaultyUpstreams) -> trustme.CA:
    """The CA that signed ``faulty_upstreams.tls_url``'s certificate (clients do not trust
    it unless told to: ``tls_ca.configure_trust(ssl_context)``)."""
    return faulty_upstreams.tls_ca

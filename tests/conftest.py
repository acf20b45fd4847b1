"""Shared fixtures: the fault servers of :mod:`gatewayerrors.testing` (``upstreams``,
``faulty_upstreams``, ``tls_ca``) and an httpx client."""

from __future__ import annotations

from collections.abc import Iterator

import httpx
import pytest

pytest_plugins = ["gatewayerrors.testing"]


@pytest.fixture(scope="module")
def hx() -> Iterator[httpx.Client]:
    """A keep-alive httpx client for one test module's requests to its servers."""
    with httpx.Client(timeout=5) as client:
        yield client

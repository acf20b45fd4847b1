"""The servers behind the ``adapter`` fixture: one per adapter and test module (see
tests/helpers/adapter_servers.py), each on its primary server of the matrix
(tests/helpers/support_matrix.py; the contract suite runs the whole matrix)."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import httpx
import pytest
from adapter_servers import ADAPTERS, Adapter, fault_urls
from support_matrix import FRAMEWORKS, Combination, host, servers_of


@pytest.fixture(scope="module")
def urls(upstreams: Any) -> dict[str, str]:
    return fault_urls(upstreams)


def _primary(name: str, urls: dict[str, str]) -> Iterator[Adapter]:
    with host(Combination(name, servers_of(FRAMEWORKS[name])[0], primary=True), urls) as found:
        yield found


@pytest.fixture(scope="module")
def asgi_adapter(urls: dict[str, str]) -> Iterator[Adapter]:
    yield from _primary("asgi", urls)


@pytest.fixture(scope="module")
def wsgi_adapter(urls: dict[str, str]) -> Iterator[Adapter]:
    yield from _primary("wsgi", urls)


@pytest.fixture(scope="module")
def flask_adapter(urls: dict[str, str]) -> Iterator[Adapter]:
    yield from _primary("flask", urls)


@pytest.fixture(scope="module")
def django_adapter(urls: dict[str, str]) -> Iterator[Adapter]:
    yield from _primary("django", urls)


@pytest.fixture(scope="module")
def aiohttp_adapter(urls: dict[str, str]) -> Iterator[Adapter]:
    yield from _primary("aiohttp", urls)


@pytest.fixture(params=ADAPTERS)
def adapter(request: pytest.FixtureRequest) -> Adapter:
    found: Adapter = request.getfixturevalue(f"{request.param}_adapter")
    return found


@pytest.fixture(scope="module")
def client() -> Iterator[httpx.Client]:
    with httpx.Client(timeout=5) as http_client:
        yield http_client

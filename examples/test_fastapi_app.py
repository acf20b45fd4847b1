"""Testing an app's failure handling with gatewayerrors.testing: examples/fastapi_app.py.

    pip install 'gatewayerrors[testing]' fastapi httpx
    python -m pytest examples/test_fastapi_app.py

The fixtures come from examples/conftest.py (``pytest_plugins = ["gatewayerrors.testing"]``).
Each test points the app's upstream at a server on 127.0.0.1 that really fails, then checks
what the app's own clients get. The app is fastapi_app.py as it is: its upstream URL and
timeout are module settings, which the tests swap with ``monkeypatch``.
"""

from __future__ import annotations

from collections.abc import AsyncIterator

import fastapi_app
import httpx
import pytest

from gatewayerrors.testing import FaultyUpstreams

# Async tests as FastAPI's documentation writes them: anyio's pytest plugin (installed with
# httpx) runs them; ``anyio_backend`` is "asyncio" unless a test asks for another.
pytestmark = pytest.mark.anyio


@pytest.fixture
async def client() -> AsyncIterator[httpx.AsyncClient]:
    transport = httpx.ASGITransport(app=fastapi_app.app)
    async with httpx.AsyncClient(transport=transport, base_url="http://testserver") as client:
        yield client


@pytest.mark.parametrize(
    ("fault", "code"),
    [
        ("refused_url", "connection_refused"),
        ("reset_url", "connection_terminated"),
        ("close_url", "connection_terminated"),
        ("garbage_url", "http_protocol_error"),
        ("tls_url", "tls_certificate_error"),
        ("dns_url", "dns_error"),
    ],
)
async def test_a_broken_upstream_answers_502_problem_json(
    client: httpx.AsyncClient,
    faulty_upstreams: FaultyUpstreams,
    monkeypatch: pytest.MonkeyPatch,
    fault: str,
    code: str,
) -> None:
    monkeypatch.setattr(fastapi_app, "ORDERS_URL", getattr(faulty_upstreams, fault))
    response = await client.get("/orders/42")
    assert response.status_code == 502
    assert response.headers["content-type"] == "application/problem+json"
    assert response.json()["code"] == code
    assert response.json()["instance"] == "/orders/42"


async def test_a_silent_upstream_answers_504(
    client: httpx.AsyncClient, faulty_upstreams: FaultyUpstreams, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(fastapi_app, "ORDERS_URL", faulty_upstreams.hang_url)
    monkeypatch.setattr(fastapi_app, "ORDERS_TIMEOUT", httpx.Timeout(5.0, read=0.2))
    response = await client.get("/orders/42")
    assert response.status_code == 504
    assert response.json()["code"] == "connection_read_timeout"


async def test_an_overloaded_upstream_passes_its_retry_after_on(
    client: httpx.AsyncClient, faulty_upstreams: FaultyUpstreams, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(fastapi_app, "ORDERS_URL", faulty_upstreams.status_url(503, "30"))
    response = await client.get("/orders/42", headers={"Accept": "text/html"})
    assert response.status_code == 503
    assert response.headers["retry-after"] == "30"
    assert response.headers["content-type"].startswith("text/html")


async def test_the_app_still_answers_when_its_upstream_does(
    client: httpx.AsyncClient, faulty_upstreams: FaultyUpstreams, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(fastapi_app, "ORDERS_URL", faulty_upstreams.status_url(200, body=b"{}"))
    response = await client.get("/orders/42")
    assert response.status_code == 200
    assert response.json() == {}

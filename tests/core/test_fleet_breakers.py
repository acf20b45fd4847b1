"""Breakers that share their state through a real Redis: when one replica's breaker opens, the
others answer 503 ``circuit_open`` at once, with ``Retry-After`` from the shared reopen time.

pybreaker: ``CircuitRedisStorage`` (sync, here two WSGI replicas under waitress).
purgatory: ``AsyncRedisUnitOfWork`` (async, two ASGI replicas under uvicorn). purgatory 3.0's
``SyncRedisUnitOfWork`` hands a ``redis.asyncio`` client to sync code and fails with TypeError on
first use: a test pins that, so the docs' advice changes when purgatory fixes it.
"""

from __future__ import annotations

import asyncio
import json
import time
from typing import Any

import httpx
import purgatory
import pybreaker
import pytest
import redis
import requests
from asgi_servers import serve
from purgatory.service._async.repository import AsyncRedisRepository
from wsgi_servers import serve_wsgi

from gatewayerrors import GatewayErrorsMiddleware, GatewayErrorsWSGIMiddleware
from gatewayerrors.testing import FaultyUpstreams

RESET = 60
JSON = {"accept": "application/json"}


def pybreaker_replica(redis_url: str, upstream: str) -> Any:
    """One replica: its own Redis connection and breaker object, the shared namespace."""
    storage = pybreaker.CircuitRedisStorage(
        pybreaker.STATE_CLOSED, redis.Redis.from_url(redis_url), namespace="orders"
    )
    breaker = pybreaker.CircuitBreaker(fail_max=2, reset_timeout=RESET, state_storage=storage)

    def app(environ: Any, start_response: Any) -> list[bytes]:
        breaker.call(requests.get, upstream, timeout=2)
        start_response("200 OK", [])
        return [b"ok"]

    return GatewayErrorsWSGIMiddleware(app)


def test_pybreaker_redis_storage_opens_the_circuit_on_every_replica(
    redis_url: str, upstreams: FaultyUpstreams
) -> None:
    a = pybreaker_replica(redis_url, upstreams.refused_url)
    b = pybreaker_replica(redis_url, upstreams.refused_url)
    with serve_wsgi(a) as url_a, serve_wsgi(b) as url_b, httpx.Client(timeout=5) as client:
        assert client.get(url_a, headers=JSON).json()["code"] == "connection_refused"
        opening = client.get(url_a, headers=JSON)  # the second failure opens the circuit
        assert opening.json()["code"] == "circuit_open"
        # Replica B never called the upstream: the shared state answers for it.
        shared = client.get(url_b, headers=JSON)
        assert (shared.status_code, shared.json()["code"]) == (503, "circuit_open")
        assert RESET - 2 <= int(shared.headers["retry-after"]) <= RESET
        # The reopen time is the shared one, not B's reset_timeout: move opened_at back 20 s.
        store = redis.Redis.from_url(redis_url)
        try:
            store.set("orders:pybreaker:opened_at", int(time.time()) - 20)
        finally:
            store.close()
        later = client.get(url_b, headers=JSON)
        assert RESET - 22 <= int(later.headers["retry-after"]) <= RESET - 19


def purgatory_replica(redis_url: str, upstream: str) -> Any:
    uow = purgatory.AsyncRedisUnitOfWork(redis_url)
    factory = purgatory.AsyncCircuitBreakerFactory(default_threshold=1, default_ttl=RESET, uow=uow)
    started = False

    async def app(scope: Any, receive: Any, send: Any) -> None:
        nonlocal started
        if scope["path"] == "/close":  # the unit of work's client, closed in its own loop
            repository = uow.contexts
            assert isinstance(repository, AsyncRedisRepository)
            await repository.redis.aclose()
            await send({"type": "http.response.start", "status": 204, "headers": []})
            await send({"type": "http.response.body", "body": b""})
            return
        if not started:  # connects the unit of work in the server's own event loop
            await factory.initialize()
            started = True
        async with await factory.get_breaker("orders"), httpx.AsyncClient(timeout=2) as http:
            await http.get(upstream)
        await send({"type": "http.response.start", "status": 200, "headers": []})
        await send({"type": "http.response.body", "body": b"ok"})

    return GatewayErrorsMiddleware(app)


def test_purgatory_redis_unit_of_work_opens_the_circuit_on_every_replica(
    redis_url: str, upstreams: FaultyUpstreams
) -> None:
    a = purgatory_replica(redis_url, upstreams.refused_url)
    b = purgatory_replica(redis_url, upstreams.refused_url)
    with serve(a) as server_a, serve(b) as server_b, httpx.Client(timeout=5) as client:
        assert client.get(server_a.url, headers=JSON).json()["code"] == "connection_refused"
        shared = client.get(server_b.url, headers=JSON)
        assert (shared.status_code, shared.json()["code"]) == (503, "circuit_open")
        assert RESET - 2 <= int(shared.headers["retry-after"]) <= RESET
        store = redis.Redis.from_url(redis_url)
        try:
            state = json.loads(store.get("cbr::orders") or b"{}")
            state["opened_at"] -= 20
            store.set("cbr::orders", json.dumps(state))
        finally:
            store.close()
        later = client.get(server_b.url, headers=JSON)
        assert RESET - 22 <= int(later.headers["retry-after"]) <= RESET - 19
        for server in (server_a, server_b):
            assert client.get(server.url + "/close").status_code == 204


@pytest.mark.filterwarnings("ignore::RuntimeWarning")  # its never-awaited coroutines
def test_purgatory_sync_redis_unit_of_work_is_broken_in_purgatory_3(redis_url: str) -> None:
    factory = purgatory.SyncCircuitBreakerFactory(uow=purgatory.SyncRedisUnitOfWork(redis_url))
    factory.initialize()
    with pytest.raises(TypeError), factory.get_breaker("orders"):
        pass
    asyncio.run(asyncio.sleep(0))  # nothing else to clean: the client never connected

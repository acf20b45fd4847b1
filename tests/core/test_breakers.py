"""Circuit breakers' open-circuit errors: 503 circuit_open with the real time until a trial call.

Each library is the real one, around real calls to a refused loopback port; breakers open for
600 s so that the few milliseconds a test takes cannot move the expected Retry-After by more
than the rounding.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Awaitable, Callable, Iterator
from datetime import timedelta
from typing import Any

import aiobreaker
import circuitbreaker
import httpx
import purgatory
import pybreaker
import pytest
import requests

from gatewayerrors._classify import default_classifier
from gatewayerrors._error import Evidence
from gatewayerrors._translate import Translator
from gatewayerrors._types import RequestInfo
from gatewayerrors.testing import FaultyUpstreams

OPEN_FOR = 600

# aiobreaker 1.2 calls datetime.utcnow(), deprecated since Python 3.12: its warning, not ours.
pytestmark = pytest.mark.filterwarnings("ignore:datetime.datetime.utcnow:DeprecationWarning")


def classify(exc: BaseException) -> Evidence:
    evidence = default_classifier.classify(exc)
    assert evidence is not None, f"{exc!r} not classified"
    return evidence


def failures(call: Callable[[], object], count: int) -> list[BaseException]:
    """The exceptions of ``count`` calls (each must raise)."""
    raised: list[BaseException] = []
    for _ in range(count):
        with pytest.raises(Exception) as caught:
            call()
        raised.append(caught.value)
    return raised


async def afailures(call: Callable[[], Awaitable[object]], count: int) -> list[BaseException]:
    raised: list[BaseException] = []
    for _ in range(count):
        with pytest.raises(Exception) as caught:
            await call()
        raised.append(caught.value)
    return raised


def assert_open(exc: BaseException, within: int = OPEN_FOR) -> None:
    evidence = classify(exc)
    assert evidence.code == "circuit_open"
    assert evidence.retry_after is not None
    # Rounded up: the trial call is allowed no earlier than this.
    assert within - 5 <= evidence.retry_after <= within


def test_circuitbreaker(upstreams: FaultyUpstreams) -> None:
    def fetch() -> httpx.Response:
        return httpx.get(upstreams.refused_url, timeout=2)

    # The decorator, applied by hand (circuitbreaker ships no type hints).
    orders: Callable[[], httpx.Response] = circuitbreaker.circuit(
        failure_threshold=2, recovery_timeout=OPEN_FOR, expected_exception=httpx.HTTPError
    )(fetch)

    first, second, third = failures(orders, 3)
    assert classify(first).code == classify(second).code == "connection_refused"
    assert isinstance(third, circuitbreaker.CircuitBreakerError)
    assert_open(third)


def test_pybreaker_trip_and_open(upstreams: FaultyUpstreams) -> None:
    breaker = pybreaker.CircuitBreaker(fail_max=2, reset_timeout=OPEN_FOR)

    def orders() -> requests.Response:
        return breaker.call(requests.get, upstreams.refused_url, timeout=2)

    first, tripped, rejected = failures(orders, 3)
    assert classify(first).code == "connection_refused"
    # The call that opened the circuit, and one the open circuit refused without trying.
    assert isinstance(tripped, pybreaker.CircuitBreakerError)
    assert isinstance(rejected, pybreaker.CircuitBreakerError)
    assert "still open" in str(rejected)
    assert_open(tripped)
    assert_open(rejected)


class CountingStorage(pybreaker.CircuitMemoryStorage):
    """A storage of one's own (as Redis storage is): each read of opened_at is counted."""

    reads = 0

    @property
    def opened_at(self) -> Any:
        CountingStorage.reads += 1
        return pybreaker.CircuitMemoryStorage.opened_at.fget(self)  # type: ignore[attr-defined]

    @opened_at.setter
    def opened_at(self, value: Any) -> None:
        pybreaker.CircuitMemoryStorage.opened_at.fset(self, value)  # type: ignore[attr-defined]


def test_pybreaker_with_another_storage_costs_no_read(upstreams: FaultyUpstreams) -> None:
    # A remote storage's opened_at is a network round trip: the error path does not make it,
    # and answers with reset_timeout, the longest the breaker can stay open.
    storage = CountingStorage(pybreaker.STATE_CLOSED)
    breaker = pybreaker.CircuitBreaker(fail_max=1, reset_timeout=OPEN_FOR, state_storage=storage)
    [_, rejected] = failures(
        lambda: breaker.call(requests.get, upstreams.refused_url, timeout=2), 2
    )
    reads = CountingStorage.reads
    assert classify(rejected).retry_after == OPEN_FOR
    assert CountingStorage.reads == reads


def test_pybreaker_decorator(upstreams: FaultyUpstreams) -> None:
    breaker = pybreaker.CircuitBreaker(fail_max=1, reset_timeout=OPEN_FOR)

    @breaker
    def orders() -> requests.Response:
        return requests.get(upstreams.refused_url, timeout=2)

    for exc in failures(orders, 2):
        assert_open(exc)


def test_aiobreaker(upstreams: FaultyUpstreams) -> None:
    breaker = aiobreaker.CircuitBreaker(fail_max=2, timeout_duration=timedelta(seconds=OPEN_FOR))

    async def orders() -> httpx.Response:
        async with httpx.AsyncClient(timeout=2) as client:
            return await client.get(upstreams.refused_url)

    async def run() -> list[BaseException]:
        return await afailures(lambda: breaker.call_async(orders), 3)

    first, tripped, rejected = asyncio.run(run())
    assert classify(first).code == "connection_refused"
    assert isinstance(tripped, aiobreaker.CircuitBreakerError)
    assert isinstance(tripped.__cause__, httpx.ConnectError)  # raised "from" the failure
    assert_open(tripped)
    assert_open(rejected)


@pytest.fixture(params=["EAST-3", "WEST+5"], ids=["UTC+3", "UTC-5"])
def local_time_zone(
    request: pytest.FixtureRequest, monkeypatch: pytest.MonkeyPatch
) -> Iterator[str]:
    """The process's local time zone set away from UTC (POSIX TZ strings need no tzdata)."""
    monkeypatch.setenv("TZ", request.param)
    time.tzset()
    yield request.param
    monkeypatch.undo()
    time.tzset()


def test_aiobreaker_away_from_utc(upstreams: FaultyUpstreams, local_time_zone: str) -> None:
    # aiobreaker stamps opened_at in UTC and subtracts local time: east of UTC its
    # reopen_time is None, west of UTC its time_remaining is hours off. Ours is neither.
    breaker = aiobreaker.CircuitBreaker(fail_max=1, timeout_duration=timedelta(seconds=OPEN_FOR))

    async def orders() -> httpx.Response:
        async with httpx.AsyncClient(timeout=2) as client:
            return await client.get(upstreams.refused_url)

    async def run() -> list[BaseException]:
        return await afailures(lambda: breaker.call_async(orders), 2)

    tripped, rejected = asyncio.run(run())
    assert_open(tripped)
    assert_open(rejected)


def test_purgatory_sync(upstreams: FaultyUpstreams) -> None:
    factory = purgatory.SyncCircuitBreakerFactory(default_threshold=2, default_ttl=OPEN_FOR)

    def orders() -> requests.Response:
        with factory.get_breaker("orders"):
            return requests.get(upstreams.refused_url, timeout=2)

    first, second, rejected, again = failures(orders, 4)
    assert classify(first).code == classify(second).code == "connection_refused"
    assert type(rejected).__name__ == "OpenedState"
    assert_open(rejected)
    assert_open(again)  # purgatory raises one object again and again: its traceback grows


def test_purgatory_async(upstreams: FaultyUpstreams) -> None:
    async def run() -> list[BaseException]:
        factory = purgatory.AsyncCircuitBreakerFactory(default_threshold=1, default_ttl=OPEN_FOR)

        async def orders() -> httpx.Response:
            async with await factory.get_breaker("orders"), httpx.AsyncClient(timeout=2) as client:
                return await client.get(upstreams.refused_url)

        return await afailures(orders, 2)

    first, rejected = asyncio.run(run())
    assert classify(first).code == "connection_refused"
    assert_open(rejected)


def test_an_upstream_retry_after_beats_the_breakers_reopen_time(upstreams: FaultyUpstreams) -> None:
    # The call that trips the breaker got a 503 with Retry-After: 120 from the upstream; the
    # breaker would allow a trial after 600 s. The upstream's own word is sent.
    breaker = aiobreaker.CircuitBreaker(fail_max=1, timeout_duration=timedelta(seconds=OPEN_FOR))
    url = upstreams.status_url(503, retry_after="120")

    async def orders() -> httpx.Response:
        async with httpx.AsyncClient(timeout=2) as client:
            return (await client.get(url)).raise_for_status()

    async def run() -> list[BaseException]:
        return await afailures(lambda: breaker.call_async(orders), 1)

    [tripped] = asyncio.run(run())
    evidence = classify(tripped)
    assert evidence.code == "circuit_open"
    assert evidence.retry_after == 120


def test_the_response_is_a_503_with_retry_after_and_no_traceback_logged(
    upstreams: FaultyUpstreams, caplog: pytest.LogCaptureFixture
) -> None:
    breaker = pybreaker.CircuitBreaker(fail_max=1, reset_timeout=OPEN_FOR)
    rejected = failures(lambda: breaker.call(requests.get, upstreams.refused_url, timeout=2), 2)[1]
    translator = Translator(service="checkout")
    response = translator.translate(rejected, RequestInfo(accept="application/json"))
    assert response is not None
    assert response.status == 503
    headers = dict(response.headers)
    assert OPEN_FOR - 5 <= int(headers["retry-after"]) <= OPEN_FOR
    assert b'"code":"circuit_open"' in response.body
    with caplog.at_level("DEBUG", "gatewayerrors"):
        translator.report(response, rejected)
    [record] = caplog.records
    assert record.exc_info is None
    assert record.levelname == "WARNING"


class HostileBreaker:
    """A breaker whose every answer raises."""

    @property
    def open_remaining(self) -> float:
        raise RuntimeError("no")

    @property
    def name(self) -> str:
        raise RuntimeError("no")


@pytest.mark.parametrize("breaker", [HostileBreaker(), None, "not a breaker"])
def test_an_unreadable_breaker_is_still_an_open_circuit(breaker: object) -> None:
    evidence = classify(circuitbreaker.CircuitBreakerError(breaker))
    assert evidence.code == "circuit_open"
    assert evidence.retry_after is None  # the translator then sends default_retry_after
    response = Translator().translate(circuitbreaker.CircuitBreakerError(breaker), RequestInfo())
    assert response is not None
    assert dict(response.headers)["retry-after"] == "30"


def test_breaker_errors_without_their_breaker_frames() -> None:
    # Raised by hand (a test double, a re-raise across threads): no frame holds the breaker.
    for exc in (
        pybreaker.CircuitBreakerError("open"),
        aiobreaker.CircuitBreakerError.__new__(aiobreaker.CircuitBreakerError),
    ):
        evidence = classify(exc)
        assert evidence.code == "circuit_open"
        assert evidence.retry_after is None

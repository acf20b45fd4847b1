"""Retry-After precedence (upstream, breaker, maintenance, default) and optional jitter."""

from __future__ import annotations

import asyncio
from datetime import timedelta
from typing import Any

import aiobreaker
import httpx
import pytest

from gatewayerrors import ServiceUnavailable, Settings
from gatewayerrors._settings import SettingsError
from gatewayerrors._translate import Translator
from gatewayerrors._types import RequestInfo
from gatewayerrors.testing import FaultyUpstreams

DRAWS = 2000

# aiobreaker 1.2 calls datetime.utcnow(), deprecated since Python 3.12: its warning, not ours.
pytestmark = pytest.mark.filterwarnings("ignore:datetime.datetime.utcnow:DeprecationWarning")


def upstream_503(upstreams: FaultyUpstreams, retry_after: str = "7") -> httpx.HTTPStatusError:
    try:
        httpx.get(upstreams.status_url(503, retry_after=retry_after), timeout=2).raise_for_status()
    except httpx.HTTPStatusError as exc:
        return exc
    raise AssertionError


def retry_after(translator: Translator, exc: BaseException) -> int | None:
    response = translator.translate(exc, RequestInfo())
    assert response is not None
    header = dict(response.headers).get("retry-after")
    assert header == (
        None if response.error.retry_after is None else str(response.error.retry_after)
    )
    return response.error.retry_after


def test_the_upstreams_own_retry_after_first(upstreams: FaultyUpstreams) -> None:
    assert retry_after(Translator(), upstream_503(upstreams)) == 7


def test_the_breakers_reopen_time_when_the_upstream_said_nothing(
    upstreams: FaultyUpstreams,
) -> None:
    breaker = aiobreaker.CircuitBreaker(fail_max=1, timeout_duration=timedelta(seconds=90))

    async def call() -> None:
        async with httpx.AsyncClient(timeout=2) as client:
            await client.get(upstreams.refused_url)

    async def run() -> BaseException:
        with pytest.raises(aiobreaker.CircuitBreakerError) as caught:
            await breaker.call_async(call)
        found: BaseException = caught.value
        return found

    value = retry_after(Translator(), asyncio.run(run()))
    assert value is not None
    assert 85 <= value <= 90


def test_maintenance_then_the_default() -> None:
    translator = Translator(maintenance=True, maintenance_retry_after=600, default_retry_after=20)
    response = translator.maintenance_response(RequestInfo())
    assert response is not None
    assert dict(response.headers)["retry-after"] == "600"
    assert retry_after(translator, ServiceUnavailable()) == 20
    assert retry_after(translator, ConnectionRefusedError(111, "refused")) is None  # a 502


def test_an_apps_explicit_retry_after_is_its_own(upstreams: FaultyUpstreams) -> None:
    cause = upstream_503(upstreams)
    try:
        raise ServiceUnavailable(retry_after=5) from cause
    except ServiceUnavailable as exc:
        explicit: BaseException = exc
    try:
        raise ServiceUnavailable(code="circuit_open") from cause
    except ServiceUnavailable as exc:
        silent: BaseException = exc
    assert retry_after(Translator(), explicit) == 5
    assert retry_after(Translator(), silent) == 7  # the app said nothing: the upstream's


def test_max_retry_after_bounds_everything(upstreams: FaultyUpstreams) -> None:
    assert retry_after(Translator(max_retry_after=5), upstream_503(upstreams, "120")) == 5


def test_no_jitter_by_default() -> None:
    translator = Translator()
    assert {retry_after(translator, ServiceUnavailable()) for _ in range(200)} == {30}


def test_jitter_spreads_upward_within_its_fraction() -> None:
    translator = Translator(retry_after_jitter=0.2)
    values = [retry_after(translator, ServiceUnavailable()) for _ in range(DRAWS)]
    assert all(value is not None and 30 <= value <= 36 for value in values)
    assert len(set(values)) == 7  # every second from 30 to 36 is drawn
    # Roughly uniform: no second gets more than twice its share (expected ~DRAWS/6 each
    # inner value; the rounded ends get half).
    assert max(values.count(v) for v in range(31, 36)) < 2 * DRAWS / 6


def test_jitter_respects_max_and_zero(upstreams: FaultyUpstreams) -> None:
    translator = Translator(retry_after_jitter=1, max_retry_after=40)
    values = {retry_after(translator, ServiceUnavailable()) or 0 for _ in range(DRAWS)}
    assert min(values) >= 30
    assert max(values) == 40
    zero = Translator(retry_after_jitter=0.5)
    assert {retry_after(zero, upstream_503(upstreams, "0")) for _ in range(20)} == {0}


def test_jitter_applies_to_maintenance_too() -> None:
    translator = Translator(maintenance=True, maintenance_retry_after=100, retry_after_jitter=0.1)
    values = set()
    for _ in range(500):
        response = translator.maintenance_response(RequestInfo())
        assert response is not None
        values.add(int(dict(response.headers)["retry-after"]))
    assert min(values) >= 100
    assert max(values) <= 110
    assert len(values) > 5


@pytest.mark.parametrize("value", [-0.1, 1.5, "0.2", True, float("nan"), None])
def test_bad_jitter_fails_at_startup(value: Any) -> None:
    with pytest.raises(SettingsError) as caught:
        Settings(retry_after_jitter=value)
    assert caught.value.option == "retry_after_jitter"


def test_an_apps_own_error_raised_from_a_breaker_keeps_the_reopen_time(
    upstreams: FaultyUpstreams,
) -> None:
    breaker = aiobreaker.CircuitBreaker(fail_max=1, timeout_duration=timedelta(seconds=90))

    async def call() -> None:
        async with httpx.AsyncClient(timeout=2) as client:
            await client.get(upstreams.refused_url)

    async def run() -> BaseException:
        try:
            await breaker.call_async(call)
        except aiobreaker.CircuitBreakerError as exc:
            try:
                raise ServiceUnavailable(code="circuit_open", upstream="orders") from exc
            except ServiceUnavailable as own:
                return own
        raise AssertionError

    response = Translator().translate(asyncio.run(run()), RequestInfo())
    assert response is not None
    assert response.error.upstream == "orders"
    assert response.error.retry_after is not None
    assert 85 <= response.error.retry_after <= 90

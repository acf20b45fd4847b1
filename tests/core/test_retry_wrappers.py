"""Retry wrappers are see-through: a give-up is classified by the last attempt's real cause.

The real libraries (tenacity, stamina, backoff, urllib3's Retry) retry real calls to loopback
upstreams that refuse or answer 503 with Retry-After; waits are zero so the tests stay fast.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable

import backoff
import httpx
import pytest
import requests
import stamina
import tenacity
import urllib3

from gatewayerrors._classify import default_classifier
from gatewayerrors._error import Evidence
from gatewayerrors.testing import FaultyUpstreams

ATTEMPTS = 3


def evidence_of(call: Callable[[], object]) -> tuple[BaseException, Evidence]:
    with pytest.raises(Exception) as caught:
        call()
    evidence = default_classifier.classify(caught.value)
    assert evidence is not None, f"{caught.value!r} not classified"
    return caught.value, evidence


@pytest.fixture
def counted() -> list[int]:
    """Attempt counter: proves the wrapper really retried."""
    return []


def test_tenacity_retry_error_is_its_last_attempt(
    upstreams: FaultyUpstreams, counted: list[int]
) -> None:
    @tenacity.retry(stop=tenacity.stop_after_attempt(ATTEMPTS), wait=tenacity.wait_none())
    def orders() -> httpx.Response:
        counted.append(1)
        return httpx.get(upstreams.refused_url, timeout=2)

    exc, evidence = evidence_of(orders)
    assert isinstance(exc, tenacity.RetryError)
    assert len(counted) == ATTEMPTS
    assert evidence.code == "connection_refused"


def test_tenacity_keeps_the_upstreams_retry_after(upstreams: FaultyUpstreams) -> None:
    url = upstreams.status_url(503, retry_after="7")

    @tenacity.retry(stop=tenacity.stop_after_attempt(ATTEMPTS), wait=tenacity.wait_none())
    def orders() -> httpx.Response:
        return httpx.get(url, timeout=2).raise_for_status()

    exc, evidence = evidence_of(orders)
    assert isinstance(exc, tenacity.RetryError)
    assert (evidence.code, evidence.retry_after, evidence.received_status) == (
        "upstream_overloaded",
        7,
        503,
    )


def test_tenacity_reraise_and_async(upstreams: FaultyUpstreams) -> None:
    @tenacity.retry(
        stop=tenacity.stop_after_attempt(ATTEMPTS), wait=tenacity.wait_none(), reraise=True
    )
    def orders() -> requests.Response:
        return requests.get(upstreams.refused_url, timeout=2)

    exc, evidence = evidence_of(orders)
    assert isinstance(exc, requests.ConnectionError)
    assert evidence.code == "connection_refused"

    @tenacity.retry(stop=tenacity.stop_after_attempt(ATTEMPTS), wait=tenacity.wait_none())
    async def async_orders() -> httpx.Response:
        async with httpx.AsyncClient(timeout=2) as client:
            return await client.get(upstreams.refused_url)

    exc, evidence = evidence_of(lambda: asyncio.run(async_orders()))
    assert isinstance(exc, tenacity.RetryError)
    assert evidence.code == "connection_refused"


def test_stamina(upstreams: FaultyUpstreams, counted: list[int]) -> None:
    url = upstreams.status_url(503, retry_after="7")

    @stamina.retry(on=httpx.HTTPError, attempts=ATTEMPTS, wait_initial=0, wait_max=0, wait_jitter=0)
    def refused() -> httpx.Response:
        counted.append(1)
        return httpx.get(upstreams.refused_url, timeout=2)

    @stamina.retry(on=httpx.HTTPError, attempts=ATTEMPTS, wait_initial=0, wait_max=0, wait_jitter=0)
    def overloaded() -> httpx.Response:
        return httpx.get(url, timeout=2).raise_for_status()

    assert evidence_of(refused)[1].code == "connection_refused"
    assert len(counted) == ATTEMPTS
    _, evidence = evidence_of(overloaded)
    assert (evidence.code, evidence.retry_after) == ("upstream_overloaded", 7)


def test_backoff(upstreams: FaultyUpstreams, counted: list[int]) -> None:
    url = upstreams.status_url(503, retry_after="7")

    @backoff.on_exception(backoff.constant, httpx.HTTPError, max_tries=ATTEMPTS, interval=0)
    def refused() -> httpx.Response:
        counted.append(1)
        return httpx.get(upstreams.refused_url, timeout=2)

    @backoff.on_exception(
        backoff.constant, requests.RequestException, max_tries=ATTEMPTS, interval=0
    )
    def overloaded() -> requests.Response:
        response = requests.get(url, timeout=2)
        response.raise_for_status()
        return response

    assert evidence_of(refused)[1].code == "connection_refused"
    assert len(counted) == ATTEMPTS
    _, evidence = evidence_of(overloaded)
    assert (evidence.code, evidence.retry_after) == ("upstream_overloaded", 7)


def test_urllib3_retry_gives_up_with_the_last_cause(upstreams: FaultyUpstreams) -> None:
    retries = urllib3.Retry(total=ATTEMPTS - 1, backoff_factor=0)
    with urllib3.PoolManager(retries=retries) as pool:
        exc, evidence = evidence_of(lambda: pool.request("GET", upstreams.refused_url))
    assert isinstance(exc, urllib3.exceptions.MaxRetryError)
    assert evidence.code == "connection_refused"


def test_urllib3_status_give_up_keeps_the_status_not_the_header(upstreams: FaultyUpstreams) -> None:
    # urllib3's ResponseError("too many 503 error responses") keeps no response, so the
    # upstream's Retry-After is lost (the 503 then gets default_retry_after). With
    # raise_on_status=False and raise_for_status() the response, and its header, survive.
    url = upstreams.status_url(503, retry_after="7")
    retries = urllib3.Retry(
        total=ATTEMPTS - 1,
        backoff_factor=0,
        status_forcelist=[503],
        respect_retry_after_header=False,
    )
    with urllib3.PoolManager(retries=retries) as pool:
        exc, evidence = evidence_of(lambda: pool.request("GET", url))
    assert isinstance(exc.reason, urllib3.exceptions.ResponseError)  # type: ignore[attr-defined]
    assert (evidence.code, evidence.received_status, evidence.retry_after) == (
        "upstream_overloaded",
        503,
        None,
    )

    session = requests.Session()
    adapter = requests.adapters.HTTPAdapter(
        max_retries=urllib3.Retry(
            total=ATTEMPTS - 1,
            backoff_factor=0,
            status_forcelist=[503],
            respect_retry_after_header=False,
            raise_on_status=False,
        )
    )
    session.mount("http://", adapter)
    with session:
        _, evidence = evidence_of(lambda: session.get(url, timeout=2).raise_for_status())
    assert (evidence.code, evidence.retry_after) == ("upstream_overloaded", 7)

"""gatewayerrors.client against real services on loopback: this library under uvicorn, in each
of its formats, and an Envoy-style proxy answer; read by httpx, requests, aiohttp and urllib3."""

from __future__ import annotations

import asyncio
import itertools
from collections.abc import Callable, Iterator
from typing import Any

import aiohttp
import httpx
import pytest
import requests
import stamina
import tenacity
import urllib3
from asgi_servers import RunningServer, serve
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import PlainTextResponse, Response
from starlette.routing import Route

from gatewayerrors import BadGateway, GatewayErrorsMiddleware, ServiceUnavailable
from gatewayerrors.client import (
    ProxyStatusEntry,
    UpstreamProblem,
    aiohttp_raise,
    httpx_async_hook,
    httpx_hook,
    is_retryable,
    parse_proxy_status,
    problem_from_response,
    raise_for_problem,
    requests_hook,
    retry_after_of,
    stamina_hook,
    urllib3_retry,
    wait_retry_after,
)
from gatewayerrors.testing import FaultyUpstreams

ENVOY_PROXY_STATUS = 'envoy; error=connection_refused; details="upstream connect error, refused"'
_attempts: dict[str, int] = {}
_keys = itertools.count()


def orders_app(upstreams: FaultyUpstreams, style: str) -> Any:
    async def refused(request: Request) -> Response:
        async with httpx.AsyncClient() as client:
            await client.get(upstreams.refused_url)
        return PlainTextResponse("unreachable")

    async def paused(request: Request) -> Response:
        raise ServiceUnavailable("breaker open", code="circuit_open", retry_after=30)

    async def flaky(request: Request) -> Response:
        # Fails ``times`` times with ``status`` (and Retry-After), then answers 200.
        key = request.query_params["key"]
        _attempts[key] = _attempts.get(key, 0) + 1
        if _attempts[key] <= int(request.query_params["times"]):
            retry_after = int(request.query_params["retry_after"])
            if request.query_params["status"] == "502":
                raise BadGateway("bad", retry_after=retry_after)
            raise ServiceUnavailable("busy", code="upstream_overloaded", retry_after=retry_after)
        return PlainTextResponse("ok")

    async def envoy(request: Request) -> Response:
        # What Envoy answers when its upstream refuses: a bare 503 with Proxy-Status.
        return PlainTextResponse(
            "upstream connect error or disconnect/reset before headers",
            status_code=503,
            headers={"proxy-status": ENVOY_PROXY_STATUS, "x-request-id": "envoy-id-1"},
        )

    async def foreign(request: Request) -> Response:
        # Another API's answers: a problem with its own code, a Twitter error of its own.
        if request.query_params.get("kind") == "twitter":
            body = b'{"errors": [{"code": 32, "message": "Could not authenticate you."}]}'
            return Response(body, 401, media_type="application/json")
        body = b'{"title": "Out of stock", "status": 503, "code": "OUT_OF_STOCK", "sku": "x1"}'
        return Response(body, 503, media_type="application/problem+json")

    async def huge(request: Request) -> Response:
        body = b'{"title": "' + b"x" * 200_000 + b'"}'
        return Response(body, 502, media_type="application/problem+json")

    routes = [
        Route("/huge", huge),
        Route("/foreign", foreign),
        Route("/refused", refused),
        Route("/paused", paused),
        Route("/flaky", flaky),
        Route("/envoy", envoy),
    ]
    return GatewayErrorsMiddleware(Starlette(routes=routes), service="orders-api", style=style)


@pytest.fixture(scope="module")
def services(upstreams: FaultyUpstreams) -> Iterator[dict[str, RunningServer]]:
    with (
        serve(orders_app(upstreams, "problem")) as problem,
        serve(orders_app(upstreams, "twitter")) as twitter,
    ):
        yield {"problem": problem, "twitter": twitter}


def flaky_url(base: str, status: int, times: int, retry_after: int) -> str:
    return f"{base}/flaky?key={next(_keys)}&status={status}&times={times}&retry_after={retry_after}"


# -- parsing every format we produce ------------------------------------------------------------

FORMATS = [
    # style, Accept, what the body gives
    ("problem", "application/problem+json", "problem"),
    ("problem", "application/problem+xml", "problem"),
    ("twitter", "application/json", "twitter"),
    ("twitter", "application/xml", "twitter"),
    ("problem", "text/html", "bare"),
    ("problem", "text/plain", "bare"),
]


@pytest.mark.parametrize(("style", "accept", "body"), FORMATS)
def test_httpx_hook_reads_every_format(
    services: dict[str, RunningServer], style: str, accept: str, body: str
) -> None:
    with (
        httpx.Client(event_hooks={"response": [httpx_hook]}, timeout=5) as client,
        pytest.raises(UpstreamProblem) as caught,
    ):
        client.get(services[style].url + "/refused", headers={"accept": accept})
    problem = caught.value
    assert problem.status == 502
    assert problem.request_id is not None
    assert len(problem.request_id) == 32
    # Proxy-Status is a header: every format carries it.
    assert problem.proxy_status == (
        ProxyStatusEntry("orders-api", "connection_refused", params=problem.proxy_status[0].params),
    )
    assert problem.root_cause == "connection_refused"
    if body == "bare":
        assert (problem.code, problem.title, problem.detail) == (None, None, None)
        return
    assert problem.code == "connection_refused"
    assert problem.detail == "The service this request depends on is not accepting connections."
    if body == "twitter":
        assert problem.number == 20
        assert problem.title is None
    else:
        assert problem.title == "Upstream refused the connection"
        assert problem.type is not None
        assert problem.type.endswith("connection_refused")
        assert problem.instance == "/refused"


def test_retry_after_and_catalog_code_from_a_503(services: dict[str, RunningServer]) -> None:
    with (
        httpx.Client(event_hooks={"response": [httpx_hook]}, timeout=5) as client,
        pytest.raises(UpstreamProblem) as caught,
    ):
        client.get(services["problem"].url + "/paused", headers={"x-request-id": "abc-123"})
    problem = caught.value
    assert (problem.status, problem.code, problem.retry_after) == (503, "circuit_open", 30)
    assert problem.retryable
    assert problem.request_id == "abc-123"  # the id we sent, echoed back
    assert problem.proxy_status == ()  # circuit_open is not an RFC 9209 type
    assert str(problem) == "503 Upstream temporarily disabled (circuit_open) request_id=abc-123"


def test_envoy_style_proxy_status(services: dict[str, RunningServer]) -> None:
    response = httpx.get(services["problem"].url + "/envoy", timeout=5)
    problem = problem_from_response(response)
    assert problem is not None
    assert problem.status == 503
    (entry,) = problem.proxy_status
    assert (entry.proxy, entry.error, entry.details) == (
        "envoy",
        "connection_refused",
        "upstream connect error, refused",
    )
    assert problem.root_cause == "connection_refused"
    assert problem.request_id == "envoy-id-1"
    assert problem.code is None  # a text body: no problem members


def test_async_httpx_hook(services: dict[str, RunningServer]) -> None:
    async def call() -> None:
        async with httpx.AsyncClient(event_hooks={"response": [httpx_async_hook]}) as client:
            await client.get(services["problem"].url + "/refused")

    with pytest.raises(UpstreamProblem) as caught:
        asyncio.run(call())
    assert (caught.value.status, caught.value.code) == (502, "connection_refused")


def test_requests_hook(services: dict[str, RunningServer]) -> None:
    with requests.Session() as session:
        session.hooks["response"].append(requests_hook)
        with pytest.raises(UpstreamProblem) as caught:
            session.get(services["twitter"].url + "/paused", timeout=5)
    problem = caught.value
    assert (problem.status, problem.code, problem.number) == (503, "circuit_open", 74)
    assert caught.value.retry_after == 30


def test_aiohttp_raise_for_status(services: dict[str, RunningServer]) -> None:
    async def call() -> None:
        async with (
            aiohttp.ClientSession(raise_for_status=aiohttp_raise) as session,
            session.get(
                services["problem"].url + "/refused", headers={"accept": "application/problem+xml"}
            ),
        ):
            pass

    with pytest.raises(UpstreamProblem) as caught:
        asyncio.run(call())
    assert (caught.value.status, caught.value.code) == (502, "connection_refused")
    assert caught.value.proxy_status[0].error == "connection_refused"


def test_urllib3_response(services: dict[str, RunningServer]) -> None:
    with urllib3.PoolManager(retries=False) as pool:
        response = pool.request("GET", services["problem"].url + "/paused")
    with pytest.raises(UpstreamProblem) as caught:
        raise_for_problem(response)
    assert (caught.value.status, caught.value.code, caught.value.retry_after) == (
        503,
        "circuit_open",
        30,
    )


def test_success_is_not_a_problem(services: dict[str, RunningServer]) -> None:
    url = flaky_url(services["problem"].url, 503, 0, 0)
    with httpx.Client(event_hooks={"response": [httpx_hook]}) as client:
        assert client.get(url).text == "ok"
    assert problem_from_response(httpx.get(url)) is None


def test_an_upstream_problem_is_classified_by_the_next_service(
    services: dict[str, RunningServer],
) -> None:
    """A service calling ours with the hook answers what it received (status kept)."""
    from gatewayerrors import Classifier

    with (
        httpx.Client(event_hooks={"response": [httpx_hook]}) as client,
        pytest.raises(UpstreamProblem) as caught,
    ):
        client.get(services["problem"].url + "/paused")
    evidence = Classifier().classify(caught.value)
    assert evidence is not None
    assert (evidence.code, evidence.received_status, evidence.retry_after) == (
        "upstream_overloaded",
        503,
        30,
    )


# -- Proxy-Status: a real Structured Fields parser -------------------------------------------


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        ("a; error=connection_refused", [("a", "connection_refused", None, None)]),
        (
            'a; error=dns_error; details="x, y; z", "b c"; received-status=502',
            [("a", "dns_error", None, "x, y; z"), ("b c", None, 502, None)],
        ),
        ("a, b, c", [("a", None, None, None), ("b", None, None, None), ("c", None, None, None)]),
        ("a; received-status=999", [("a", None, None, None)]),  # not a status: dropped
        ('a; error="not-a-token"', [("a", None, None, None)]),  # error must be a token
        ("(a b); error=x, c", [("c", None, None, None)]),  # an inner list is no intermediary
        ("1; error=x", []),  # a number is no intermediary
        ("a;;b", []),  # invalid: nothing at all
        ('a; details="unterminated', []),
        ("a; error=x\r\nInjected: 1", []),
        ("", []),
    ],
)
def test_parse_proxy_status(value: str, expected: list[tuple[Any, ...]]) -> None:
    entries = parse_proxy_status(value)
    assert [(e.proxy, e.error, e.received_status, e.details) for e in entries] == expected


def test_parse_proxy_status_joins_field_lines_and_bounds_them() -> None:
    entries = parse_proxy_status(["a; error=dns_error", "b; received-status=502"])
    assert [e.proxy for e in entries] == ["a", "b"]
    assert len(parse_proxy_status(", ".join(f"p{i}" for i in range(100)))) == 16
    assert parse_proxy_status("a" * 9000) == ()
    assert parse_proxy_status("caf\u00e9") == ()


def test_problem_from_a_hostile_body() -> None:
    class Hostile:
        status_code = 502
        headers = httpx.Headers({"content-type": "application/problem+xml"})
        content = (
            b'<?xml version="1.0"?><!DOCTYPE p [<!ENTITY a "aaaa">]>'
            b'<problem xmlns="urn:ietf:rfc:7807"><title>&a;</title></problem>'
        )

    problem = problem_from_response(Hostile())
    assert problem is not None
    assert (problem.status, problem.title) == (502, None)


# -- waiting as Retry-After says --------------------------------------------------------------


def test_tenacity_waits_as_retry_after_says(services: dict[str, RunningServer]) -> None:
    url = flaky_url(services["problem"].url, 503, 2, 30)
    sleeps: list[float] = []
    retrying = tenacity.Retrying(
        wait=wait_retry_after(cap=0.05, jitter=0),
        retry=tenacity.retry_if_exception(is_retryable),
        stop=tenacity.stop_after_attempt(5),
        sleep=sleeps.append,  # tenacity's own hook for the pause: recorded, not slept
    )
    with httpx.Client(event_hooks={"response": [httpx_hook]}) as client:
        response = retrying(client.get, url)
    assert response.text == "ok"
    assert sleeps == [0.05, 0.05]  # Retry-After 30, capped


def test_tenacity_jitter_never_waits_less_than_asked(services: dict[str, RunningServer]) -> None:
    with (
        httpx.Client(event_hooks={"response": [httpx_hook]}) as client,
        pytest.raises(UpstreamProblem) as caught,
    ):
        client.get(flaky_url(services["problem"].url, 503, 1, 2))
    state = tenacity.RetryCallState(tenacity.Retrying(), None, (), {})
    state.set_exception((UpstreamProblem, caught.value, None))
    waits = [wait_retry_after(cap=60, jitter=1)(state) for _ in range(50)]
    assert all(2 <= wait <= 3 for wait in waits)
    assert len(set(waits)) > 1  # spread, not one instant for every client


def test_tenacity_without_retry_after_uses_the_fallback() -> None:
    state = tenacity.RetryCallState(tenacity.Retrying(), None, (), {})
    state.set_exception((UpstreamProblem, UpstreamProblem(502), None))
    assert wait_retry_after(tenacity.wait_fixed(0.25))(state) == 0.25


def test_stamina_hook(services: dict[str, RunningServer]) -> None:
    url = flaky_url(services["problem"].url, 503, 2, 30)
    waits: list[float] = []

    def on_retry(details: stamina.instrumentation.RetryDetails) -> None:
        waits.append(details.wait_for)

    stamina.instrumentation.set_on_retry_hooks([on_retry])
    try:
        with httpx.Client(event_hooks={"response": [httpx_hook]}) as client:

            @stamina.retry(on=stamina_hook(cap=0.05, jitter=0), attempts=5)
            def get() -> str:
                return client.get(url).text

            assert get() == "ok"
    finally:
        stamina.instrumentation.set_on_retry_hooks(None)
    assert waits == [0.05, 0.05]


def test_stamina_hook_does_not_retry_a_client_error() -> None:
    hook = stamina_hook()
    assert hook(UpstreamProblem(404)) is False
    assert hook(ValueError("bug")) is False
    assert hook(UpstreamProblem(502)) is True  # no Retry-After: stamina's own backoff


def test_retry_after_of_httpx_status_error(services: dict[str, RunningServer]) -> None:
    response = httpx.get(services["problem"].url + "/paused")
    with pytest.raises(httpx.HTTPStatusError) as caught:
        response.raise_for_status()
    assert retry_after_of(caught.value) == 30


@pytest.mark.parametrize("status", [502, 503])
def test_urllib3_retry_preset(services: dict[str, RunningServer], status: int) -> None:
    """Retries 502/503/504 (urllib3 alone honours Retry-After on 503 only), capped."""
    url = flaky_url(services["problem"].url, status, 2, 3600)
    retries = urllib3_retry(total=3, cap=0.01, jitter=0)
    with urllib3.PoolManager(retries=retries) as pool:
        response = pool.request("GET", url)
    assert response.status == 200
    assert response.retries is not None
    assert [entry.status for entry in response.retries.history] == [status, status]


def test_urllib3_retry_preset_honours_retry_after_on_502(
    services: dict[str, RunningServer],
) -> None:
    retries = urllib3_retry(cap=7, jitter=0)
    with urllib3.PoolManager(retries=False) as pool:
        response = pool.request("GET", flaky_url(services["problem"].url, 502, 1, 3600))
    assert response.status == 502
    assert retries.is_retry("GET", 502, has_retry_after=True)
    assert retries.get_retry_after(response) == 7  # 3600 asked, capped
    assert not urllib3.Retry(status_forcelist=[502]).is_retry("POST", 502)
    assert not retries.is_retry("POST", 502)  # not idempotent: never retried


def test_urllib3_retry_gives_the_last_response_when_retries_run_out(
    services: dict[str, RunningServer],
) -> None:
    url = flaky_url(services["problem"].url, 503, 5, 1)
    with urllib3.PoolManager(retries=urllib3_retry(total=1, cap=0, jitter=0)) as pool:
        response = pool.request("GET", url)
    assert response.status == 503
    with pytest.raises(UpstreamProblem):
        raise_for_problem(response)


def test_wait_options_are_checked() -> None:
    with pytest.raises(ValueError, match="cap"):
        wait_retry_after(cap=float("inf"))
    with pytest.raises(ValueError, match="jitter"):
        stamina_hook(jitter=-1)


def test_a_foreign_problem_keeps_its_members_but_not_its_code(
    services: dict[str, RunningServer],
) -> None:
    problem = problem_from_response(httpx.get(services["problem"].url + "/foreign"))
    assert problem is not None
    assert (problem.status, problem.title, problem.code) == (503, "Out of stock", None)
    assert problem.members["code"] == "OUT_OF_STOCK"
    assert problem.members["sku"] == "x1"


def test_a_foreign_twitter_number_is_not_read_as_ours(services: dict[str, RunningServer]) -> None:
    """Twitter's 32 is "could not authenticate"; ours is tls_alert_received (502)."""
    response = requests.get(services["problem"].url + "/foreign?kind=twitter", timeout=5)
    problem = problem_from_response(response)
    assert problem is not None
    assert (problem.status, problem.number, problem.code) == (401, 32, None)
    assert problem.detail == "Could not authenticate you."
    assert not problem.retryable


def test_retry_after_of_aiohttp_and_requests_errors(services: dict[str, RunningServer]) -> None:
    url = services["problem"].url + "/paused"

    async def call() -> None:
        async with (
            aiohttp.ClientSession(raise_for_status=True) as session,
            session.get(url),
        ):
            pass

    with pytest.raises(aiohttp.ClientResponseError) as aiohttp_error:
        asyncio.run(call())
    assert retry_after_of(aiohttp_error.value) == 30
    with pytest.raises(requests.HTTPError) as requests_error:
        requests.get(url, timeout=5).raise_for_status()
    assert retry_after_of(requests_error.value) == 30
    assert retry_after_of(ValueError("no response")) is None


def _get_huge_with_httpx(url: str) -> None:
    with httpx.Client(event_hooks={"response": [httpx_hook]}) as http:
        http.get(url)


def _get_huge_with_requests(url: str) -> None:
    requests.get(url, hooks={"response": requests_hook}, timeout=5)


@pytest.mark.parametrize("get", [_get_huge_with_httpx, _get_huge_with_requests])
def test_a_body_over_the_limit_is_not_read(
    services: dict[str, RunningServer], get: Callable[[str], None]
) -> None:
    with pytest.raises(UpstreamProblem) as caught:
        get(services["problem"].url + "/huge")
    assert (caught.value.status, caught.value.title) == (502, None)

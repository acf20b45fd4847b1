"""The classifier's spec, client by client: real exceptions from real HTTP clients.

Every exception here is raised by the client library itself, talking to the loopback fault
servers of ``gatewayerrors.testing``; nothing is built by hand. Each table row reads "this client,
meeting this failure, is translated to this code".
"""

from __future__ import annotations

import asyncio
import email.utils
import http.client
import socket
import sys
import time
import urllib.error
import urllib.request
from collections.abc import Callable
from urllib.parse import urlsplit

import aiohttp
import anyio
import httpx
import pytest
import requests
import requests.adapters
import urllib3

from gatewayerrors import Classifier, catalog
from gatewayerrors.core import Evidence
from gatewayerrors.testing import FaultyUpstreams

# A call that must fail fast (refused, reset, a status) gets a generous timeout so a busy machine
# cannot turn it into a timeout; a call that must time out gets a short one.
FAST = 2.0
SLOW = 0.2

Call = Callable[[str, float], bytes]
"""GET ``url`` with ``timeout`` seconds and return the body; raise the client's own error for a
4xx/5xx status where the client has a ``raise_for_status`` (or raises by itself)."""

classifier = Classifier()

# httpx's own default context (certifi), built once: building it costs ~60 ms per client.
HTTPX_TLS = httpx.create_ssl_context()


def httpx_sync(url: str, timeout: float) -> bytes:
    with httpx.Client(timeout=timeout, verify=HTTPX_TLS) as client:
        return client.get(url).raise_for_status().content


def httpx_async(url: str, timeout: float) -> bytes:
    async def get() -> bytes:
        async with httpx.AsyncClient(timeout=timeout, verify=HTTPX_TLS) as client:
            return (await client.get(url)).raise_for_status().content

    return anyio.run(get)


def requests_get(url: str, timeout: float) -> bytes:
    response = requests.get(url, timeout=timeout)
    response.raise_for_status()
    return response.content


def urllib3_no_retries(url: str, timeout: float) -> bytes:
    # retries=False: urllib3 raises the underlying error itself, not MaxRetryError.
    with urllib3.PoolManager(timeout=timeout, retries=False) as pool:
        return pool.request("GET", url).data


ERROR_STATUSES = (429, *range(500, 512))


def urllib3_retry_on_status(url: str, timeout: float) -> bytes:
    # Retry(0) wraps every failure in MaxRetryError; status_forcelist turns 5xx/429 into one.
    retries = urllib3.Retry(total=0, status_forcelist=ERROR_STATUSES)
    with urllib3.PoolManager(timeout=timeout, retries=retries) as pool:
        return pool.request("GET", url).data


def aiohttp_get(url: str, timeout: float, *, total: bool = False) -> bytes:
    if total:
        limits = aiohttp.ClientTimeout(total=timeout)
    else:
        limits = aiohttp.ClientTimeout(total=None, sock_connect=timeout, sock_read=timeout)

    async def get() -> bytes:
        async with (
            aiohttp.ClientSession(timeout=limits) as session,
            session.get(url, raise_for_status=True) as response,
        ):
            return await response.read()

    return asyncio.run(get())


def urllib_urlopen(url: str, timeout: float) -> bytes:
    try:
        with urllib.request.urlopen(url, timeout=timeout) as response:  # raises HTTPError itself
            body: bytes = response.read()
            return body
    except urllib.error.HTTPError as exc:
        # The error is also the response: it holds the socket open until closed. Its status and
        # headers (all the classifier reads) stay readable after close().
        exc.close()
        raise


def http_client(url: str, timeout: float) -> bytes:
    parts = urlsplit(url)
    assert parts.hostname is not None
    connection_class = (
        http.client.HTTPSConnection if parts.scheme == "https" else http.client.HTTPConnection
    )
    connection = connection_class(parts.hostname, parts.port, timeout=timeout)
    try:
        target = (parts.path or "/") + (f"?{parts.query}" if parts.query else "")
        connection.request("GET", target)
        return connection.getresponse().read()
    finally:
        connection.close()


CLIENTS: dict[str, Call] = {
    "httpx": httpx_sync,
    "httpx-async": httpx_async,
    "requests": requests_get,
    "urllib3": urllib3_no_retries,
    "urllib3-retry": urllib3_retry_on_status,
    "aiohttp": aiohttp_get,
    "urllib": urllib_urlopen,
    "http.client": http_client,
}


def failure(call: Callable[[str, float], object], url: str, timeout: float) -> BaseException:
    """The exception ``call`` raises (the test fails if it raises none)."""
    try:
        call(url, timeout)
    except Exception as exc:
        return exc
    pytest.fail(f"{call.__name__}({url!r}) did not fail")


def classified(exc: BaseException) -> Evidence:
    evidence = classifier.classify(exc)
    assert evidence is not None, f"not classified: {exc!r}"
    return evidence


# -- transport failures -------------------------------------------------------------------------

# fault (a FaultyUpstreams URL), code for every client, timeout, codes that differ by client
TRANSPORT: list[tuple[str, str, float, dict[str, str]]] = [
    ("refused_url", "connection_refused", FAST, {}),
    (
        "connect_timeout_url",
        "connection_timeout",
        SLOW,
        # http.client raises a bare TimeoutError from connect(): the phase is unknown.
        {"http.client": "upstream_timeout"},
    ),
    (
        "hang_url",
        "connection_read_timeout",
        SLOW,
        # urllib and http.client raise a bare TimeoutError from the read.
        {"urllib": "upstream_timeout", "http.client": "upstream_timeout"},
    ),
    ("reset_url", "connection_terminated", FAST, {}),
    ("close_url", "connection_terminated", FAST, {}),
    ("garbage_url", "http_protocol_error", FAST, {}),
    ("truncated_url", "http_response_incomplete", FAST, {}),
    ("tls_url", "tls_certificate_error", FAST, {}),
    ("dns_url", "dns_error", FAST, {}),
]


TRANSPORT_CASES = [
    pytest.param(call, fault, timeout, differing.get(name, code), id=f"{fault[:-4]}-{name}")
    for fault, code, timeout, differing in TRANSPORT
    for name, call in CLIENTS.items()
]


@pytest.mark.parametrize(("call", "fault", "timeout", "code"), TRANSPORT_CASES)
def test_transport_failure(
    upstreams: FaultyUpstreams, call: Call, fault: str, timeout: float, code: str
) -> None:
    evidence = classified(failure(call, getattr(upstreams, fault), timeout))
    assert evidence.code == code
    assert catalog[evidence.code].status == catalog[code].status
    assert evidence.received_status is None
    assert evidence.retry_after is None


@pytest.mark.parametrize("fault", ["connect_timeout_url", "hang_url"])
def test_aiohttp_total_timeout_has_no_phase(upstreams: FaultyUpstreams, fault: str) -> None:
    """ClientTimeout(total=...) raises a bare asyncio/builtin TimeoutError: phase unknown."""
    url = getattr(upstreams, fault)
    exc = failure(lambda url, timeout: aiohttp_get(url, timeout, total=True), url, SLOW)
    assert isinstance(exc, asyncio.TimeoutError)
    evidence = classified(exc)
    assert (evidence.code, catalog[evidence.code].status) == ("upstream_timeout", 504)


# -- upstream HTTP statuses ---------------------------------------------------------------------


def _http_date(seconds_from_now: float) -> str:
    return email.utils.formatdate(time.time() + seconds_from_now, usegmt=True)


# status, Retry-After sent, code, status we answer, Retry-After seconds we pass on
STATUSES: list[tuple[int, str | None, str, int, int | None]] = [
    (500, None, "upstream_error", 502, None),
    (500, "5", "upstream_error", 502, 5),
    (501, None, "upstream_error", 502, None),
    (502, None, "upstream_error", 502, None),
    (503, None, "upstream_overloaded", 503, None),
    (503, "120", "upstream_overloaded", 503, 120),
    (503, "@+120", "upstream_overloaded", 503, 120),  # HTTP-date 120 s from now
    (503, "@-3600", "upstream_overloaded", 503, 0),  # HTTP-date in the past
    (503, "soon", "upstream_overloaded", 503, None),  # unreadable: dropped
    (504, None, "upstream_timeout", 504, None),
    (429, "30", "upstream_overloaded", 503, 30),
    (429, "@+60", "upstream_overloaded", 503, 60),
]
STATUS_CLIENTS = ["httpx", "httpx-async", "requests", "aiohttp", "urllib"]


def _retry_after_header(value: str | None) -> str | None:
    if value is not None and value.startswith("@"):
        return _http_date(float(value[1:]))
    return value


@pytest.mark.parametrize("client", STATUS_CLIENTS)
@pytest.mark.parametrize(("status", "retry_after", "code", "answered", "seconds"), STATUSES)
def test_upstream_error_status(
    upstreams: FaultyUpstreams,
    client: str,
    status: int,
    retry_after: str | None,
    code: str,
    answered: int,
    seconds: int | None,
) -> None:
    url = upstreams.status_url(status, _retry_after_header(retry_after), b"upstream says no")
    evidence = classified(failure(CLIENTS[client], url, FAST))
    assert evidence.code == code
    assert catalog[evidence.code].status == answered
    assert evidence.received_status == status
    if seconds is None or retry_after is None or not retry_after.startswith("@+"):
        assert evidence.retry_after == seconds
    else:  # an HTTP-date has one-second resolution and the clock moves
        assert evidence.retry_after is not None
        assert abs(evidence.retry_after - seconds) <= 2


@pytest.mark.parametrize(
    ("status", "code", "answered"),
    [
        (502, "upstream_error", 502),
        (503, "upstream_overloaded", 503),
        (504, "upstream_timeout", 504),
        (429, "upstream_overloaded", 503),
    ],
)
def test_urllib3_gives_up_on_status(
    upstreams: FaultyUpstreams, status: int, code: str, answered: int
) -> None:
    """MaxRetryError(ResponseError("too many 503 error responses")): the status is only in the
    message, and the Retry-After header is lost."""
    exc = failure(urllib3_retry_on_status, upstreams.status_url(status, "7"), FAST)
    assert isinstance(exc, urllib3.exceptions.MaxRetryError)
    evidence = classified(exc)
    assert (evidence.code, evidence.received_status, evidence.retry_after) == (code, status, None)
    assert catalog[evidence.code].status == answered


def test_requests_retry_error_keeps_the_status(upstreams: FaultyUpstreams) -> None:
    retries = urllib3.Retry(total=0, status_forcelist=[503])
    with requests.Session() as session:
        session.mount("http://", requests.adapters.HTTPAdapter(max_retries=retries))
        exc = failure(
            lambda url, timeout: session.get(url, timeout=timeout).raise_for_status(),
            upstreams.status_url(503),
            FAST,
        )
    assert isinstance(exc, requests.exceptions.RetryError)
    evidence = classified(exc)
    assert (evidence.code, evidence.received_status) == ("upstream_overloaded", 503)


@pytest.mark.parametrize("client", STATUS_CLIENTS)
@pytest.mark.parametrize("status", [400, 401, 403, 404, 409, 422, 451])
def test_client_error_status_is_not_a_gateway_error(
    upstreams: FaultyUpstreams, client: str, status: int
) -> None:
    """A 4xx from the upstream is the application's business (often a bug), not a 502."""
    exc = failure(CLIENTS[client], upstreams.status_url(status, "10"), FAST)
    assert classifier.classify(exc) is None


@pytest.mark.parametrize("client", [*STATUS_CLIENTS, "urllib3", "http.client"])
def test_success_needs_no_translation(upstreams: FaultyUpstreams, client: str) -> None:
    """A 200 raises nothing (so there is nothing to translate) and its body arrives whole."""
    assert CLIENTS[client](upstreams.status_url(200, None, b"fine"), FAST) == b"fine"


# -- exception groups from real task groups ------------------------------------------------------


async def _gather_with_anyio(*urls: str) -> None:
    async with httpx.AsyncClient(timeout=FAST, verify=HTTPX_TLS) as client:

        async def get(url: str) -> None:
            with anyio.CancelScope(shield=True):  # the first failure must not cancel the rest
                (await client.get(url)).raise_for_status()

        async with anyio.create_task_group() as group:
            for url in urls:
                group.start_soon(get, url)


def test_anyio_task_group(upstreams: FaultyUpstreams) -> None:
    """anyio raises an ExceptionGroup (the ``exceptiongroup`` backport on 3.10): the most
    specific member wins (the OS said "refused"; a reset is a generic transport error)."""
    exc = failure(
        lambda url, timeout: anyio.run(_gather_with_anyio, url, upstreams.reset_url),
        upstreams.refused_url,
        FAST,
    )
    assert type(exc).__name__ == "ExceptionGroup"
    assert len(exc.exceptions) == 2  # type: ignore[attr-defined]
    assert classified(exc).code == "connection_refused"


def test_anyio_nested_task_groups(upstreams: FaultyUpstreams) -> None:
    async def outer() -> None:
        async with anyio.create_task_group() as group:
            group.start_soon(_gather_with_anyio, upstreams.status_url(503, "9"))
            group.start_soon(_gather_with_anyio, upstreams.status_url(404))

    exc = failure(lambda url, timeout: anyio.run(outer), "", FAST)
    nested = exc.exceptions[0]  # type: ignore[attr-defined]
    assert type(nested).__name__ == "ExceptionGroup"
    evidence = classified(exc)
    assert (evidence.code, evidence.received_status, evidence.retry_after) == (
        "upstream_overloaded",
        503,
        9,
    )


@pytest.mark.skipif(sys.version_info < (3, 11), reason="asyncio.TaskGroup is new in 3.11")
def test_asyncio_task_group(upstreams: FaultyUpstreams) -> None:
    async def gather() -> None:
        async with (
            httpx.AsyncClient(timeout=FAST, verify=HTTPX_TLS) as client,
            asyncio.TaskGroup() as group,  # type: ignore[attr-defined]
        ):
            group.create_task(client.get(upstreams.dns_url))
            # A sibling that only waits: the failure cancels it, so the group is deterministic.
            group.create_task(asyncio.sleep(10))

    exc = failure(lambda url, timeout: asyncio.run(gather()), "", FAST)
    assert isinstance(exc, BaseExceptionGroup)  # type: ignore[name-defined]  # noqa: F821
    assert classified(exc).code == "dns_error"


def test_task_group_of_unrelated_errors_is_not_mine(upstreams: FaultyUpstreams) -> None:
    async def broken() -> None:
        raise KeyError("bug")

    async def gather() -> None:
        async with anyio.create_task_group() as group:
            group.start_soon(broken)
            group.start_soon(_gather_with_anyio, upstreams.status_url(404))

    exc = failure(lambda url, timeout: anyio.run(gather), "", FAST)
    assert classifier.classify(exc) is None


# -- chains: the client's error wrapped by the application ---------------------------------------


class PaymentError(Exception):
    """An application's own wrapper, as apps write them."""


def test_evidence_deep_in_an_application_chain(upstreams: FaultyUpstreams) -> None:
    """Explicit causes are followed however deep the application wraps the client's error."""

    def charge() -> None:
        try:
            requests_get(upstreams.refused_url, FAST)
        except requests.ConnectionError as exc:
            raise PaymentError("could not charge") from exc

    def checkout() -> None:
        try:
            charge()
        except PaymentError as exc:
            raise RuntimeError("checkout failed") from exc

    def handler() -> None:
        try:
            checkout()
        except RuntimeError as exc:
            raise ValueError("request failed") from exc

    exc = failure(lambda url, timeout: handler(), "", FAST)
    # ValueError -> RuntimeError -> PaymentError -> requests.ConnectionError ->
    # urllib3 MaxRetryError -> NewConnectionError -> ConnectionRefusedError
    assert classified(exc).code == "connection_refused"


def test_from_none_cuts_the_chain(upstreams: FaultyUpstreams) -> None:
    """``raise ... from None`` says the earlier failure is not the cause: not ours."""

    def handler() -> None:
        try:
            requests_get(upstreams.refused_url, FAST)
        except requests.ConnectionError:
            raise RuntimeError("reported elsewhere") from None

    exc = failure(lambda url, timeout: handler(), "", FAST)
    assert exc.__suppress_context__
    assert classifier.classify(exc) is None


def test_app_bug_raised_while_handling_an_upstream_error_is_not_mine(
    upstreams: FaultyUpstreams,
) -> None:
    """An application's own error in an ``except`` block stays the application's.

    Only a link that is itself an upstream failure has its implicit context followed, so the
    framework's 500 handling and error tracking see the bug; ``raise ... from exc`` opts in.
    """

    def handler() -> None:
        try:
            httpx_sync(upstreams.hang_url, SLOW)
        except httpx.TimeoutException:
            fallbacks: dict[str, str] = {}
            fallbacks["fallback"]  # the fallback path has a bug

    exc = failure(lambda url, timeout: handler(), "", FAST)
    assert isinstance(exc, KeyError)
    assert isinstance(exc.__context__, httpx.TimeoutException)
    assert classifier.classify(exc) is None


def test_a_client_error_raised_while_handling_another_keeps_both(
    upstreams: FaultyUpstreams,
) -> None:
    """A recognised failure raised while handling another: the more specific evidence wins."""

    def handler() -> None:
        try:
            parts = urlsplit(upstreams.refused_url)
            assert parts.port is not None
            socket.create_connection((parts.hostname, parts.port), timeout=FAST)
        except ConnectionRefusedError:
            raise TimeoutError("gave up")  # noqa: B904 - implicit chaining is the point

    exc = failure(lambda url, timeout: handler(), "", FAST)
    assert classified(exc).code == "connection_refused"


# -- grpc and botocore: real clients, real exceptions -----------------------------------------


def _grpc_target(url: str) -> str:
    parts = urlsplit(url)
    return f"{parts.hostname}:{parts.port or 80}"


GRPC: list[tuple[str, str]] = [
    ("refused_url", "connection_refused"),
    ("hang_url", "http_response_timeout"),  # DEADLINE_EXCEEDED
    ("connect_timeout_url", "http_response_timeout"),  # gRPC does not tell the phase
    ("reset_url", "connection_terminated"),
    ("close_url", "connection_terminated"),
    ("garbage_url", "http_protocol_error"),
    ("tls_url", "tls_certificate_error"),
    ("dns_url", "dns_error"),
]


@pytest.mark.parametrize(("fault", "code"), GRPC)
def test_grpc(upstreams: FaultyUpstreams, fault: str, code: str) -> None:
    """grpc-core reports every connection failure as UNAVAILABLE; its details tell which."""
    grpc = pytest.importorskip("grpc")
    url = getattr(upstreams, fault)
    if url.startswith("https:"):
        channel = grpc.secure_channel(_grpc_target(url), grpc.ssl_channel_credentials())
    else:
        channel = grpc.insecure_channel(_grpc_target(url))
    with channel:
        exc = failure(
            lambda url, timeout: channel.unary_unary("/shop.Payments/Charge")(b"", timeout=timeout),
            url,
            SLOW if "timeout" in fault or fault == "hang_url" else FAST,
        )
    assert isinstance(exc, grpc.RpcError)
    assert classified(exc).code == code


def test_grpc_aio(upstreams: FaultyUpstreams) -> None:
    grpc_aio = pytest.importorskip("grpc.aio")

    async def call() -> None:
        async with grpc_aio.insecure_channel(_grpc_target(upstreams.refused_url)) as channel:
            await channel.unary_unary("/shop.Payments/Charge")(b"", timeout=FAST)

    exc = failure(lambda url, timeout: asyncio.run(call()), "", FAST)
    assert isinstance(exc, grpc_aio.AioRpcError)
    assert classified(exc).code == "connection_refused"


@pytest.fixture(scope="module")
def botocore_session() -> object:
    botocore_session = pytest.importorskip("botocore.session")
    return botocore_session.get_session()


BOTOCORE: list[tuple[str, int | None, str, int | None]] = [
    ("refused_url", None, "connection_refused", None),
    ("connect_timeout_url", None, "connection_timeout", None),
    ("hang_url", None, "connection_read_timeout", None),
    ("reset_url", None, "connection_terminated", None),
    ("close_url", None, "connection_terminated", None),
    ("garbage_url", None, "http_protocol_error", None),
    ("tls_url", None, "tls_certificate_error", None),
    ("dns_url", None, "dns_error", None),
    ("status_url", 503, "upstream_overloaded", 503),
    ("status_url", 500, "upstream_error", 500),
]


@pytest.mark.parametrize(("fault", "status", "code", "received"), BOTOCORE)
def test_botocore(
    upstreams: FaultyUpstreams,
    botocore_session: object,
    fault: str,
    status: int | None,
    code: str,
    received: int | None,
) -> None:
    from botocore.config import Config

    url = upstreams.status_url(status) if status else getattr(upstreams, fault)
    timeout = SLOW if fault in ("connect_timeout_url", "hang_url") else FAST
    config = Config(connect_timeout=timeout, read_timeout=timeout, retries={"max_attempts": 1})
    client = botocore_session.create_client(  # type: ignore[attr-defined]
        "s3",
        endpoint_url=url,
        region_name="us-east-1",
        aws_access_key_id="test",
        aws_secret_access_key="test",
        config=config,
    )
    exc = failure(lambda url, timeout: client.list_buckets(), url, timeout)
    assert type(exc).__module__ == "botocore.exceptions"
    evidence = classified(exc)
    assert (evidence.code, evidence.received_status) == (code, received)


def test_botocore_client_error_4xx_is_not_mine(
    upstreams: FaultyUpstreams, botocore_session: object
) -> None:
    client = botocore_session.create_client(  # type: ignore[attr-defined]
        "s3",
        endpoint_url=upstreams.status_url(403),
        region_name="us-east-1",
        aws_access_key_id="test",
        aws_secret_access_key="test",
    )
    exc = failure(lambda url, timeout: client.list_buckets(), "", FAST)
    assert type(exc).__name__ == "ClientError"
    assert classifier.classify(exc) is None

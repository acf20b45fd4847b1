"""Log-storm control: one traceback per kind of failure and window, exact counts, bounded."""

from __future__ import annotations

import io
import logging
import threading
from collections.abc import Iterator
from typing import Any

import httpx
import pytest
import requests
from asgi_servers import serve
from starlette.applications import Starlette
from starlette.middleware import Middleware
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route
from wsgi_servers import serve_wsgi

from gatewayerrors import GatewayErrorsMiddleware, GatewayErrorsWSGIMiddleware, Settings
from gatewayerrors._catalog import catalog
from gatewayerrors._logstorm import LogStorm, failure_signature, log_level
from gatewayerrors._settings import SettingsError
from gatewayerrors._translate import Translator
from gatewayerrors._types import RequestInfo
from gatewayerrors.testing import FaultyUpstreams

FORMAT = "%(asctime)s %(levelname)s %(name)s [%(process)d] %(message)s"


class Clock:
    """A clock the test moves by hand (the storm's windows are minutes long)."""

    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


@pytest.fixture
def log() -> Iterator[io.StringIO]:
    """The ``storm`` logger's output through a real formatting handler, as a server has."""
    stream = io.StringIO()
    handler = logging.StreamHandler(stream)
    handler.setFormatter(logging.Formatter(FORMAT))
    logger = logging.getLogger("storm")
    logger.addHandler(handler)
    logger.setLevel(logging.DEBUG)
    logger.propagate = False
    try:
        yield stream
    finally:
        logger.removeHandler(handler)
        logger.propagate = True
        logger.setLevel(logging.NOTSET)


@pytest.fixture
def records() -> Iterator[list[logging.LogRecord]]:
    """Every record of the ``storm`` logger."""
    found: list[logging.LogRecord] = []

    class Collect(logging.Handler):
        def emit(self, record: logging.LogRecord) -> None:
            found.append(record)

    handler = Collect(logging.DEBUG)
    logger = logging.getLogger("storm")
    logger.addHandler(handler)
    logger.setLevel(logging.DEBUG)
    try:
        yield found
    finally:
        logger.removeHandler(handler)
        logger.setLevel(logging.NOTSET)


def refused_call(url: str) -> httpx.ConnectError:
    """A real httpx ConnectError (refused), raised always from this one line."""
    try:
        httpx.get(url, timeout=2)
    except httpx.ConnectError as exc:
        return exc
    raise AssertionError("the refused port answered")


def storm(translator: Translator, exc: BaseException, count: int) -> None:
    for number in range(count):
        response = translator.translate(exc, RequestInfo(request_id=f"req-{number}"))
        assert response is not None
        translator.report(response, exc)


# -- the policy ---------------------------------------------------------------------------


def test_first_in_window_has_the_traceback_repeats_count_exactly(
    upstreams: FaultyUpstreams, records: list[logging.LogRecord]
) -> None:
    translator = Translator(logger_name="storm")
    exc = refused_call(upstreams.refused_url)
    storm(translator, exc, 50)
    assert len(records) == 50  # one line per failure: nothing lost
    first, *repeats = records
    assert first.exc_info is not None
    assert first.exc_info[1] is exc
    assert first.gatewayerrors_repeats == 0  # type: ignore[attr-defined]
    assert first.getMessage().startswith("upstream failure: 502 connection_refused")
    assert all(r.exc_info is None for r in repeats)
    assert [r.gatewayerrors_repeats for r in repeats] == list(range(1, 50))  # type: ignore[attr-defined]
    assert [r.gatewayerrors_request_id for r in records] == [f"req-{n}" for n in range(50)]  # type: ignore[attr-defined]
    assert repeats[-1].getMessage() == (
        "upstream failure (repeat 49 in 60 s): 502 connection_refused upstream=- request_id=req-49"
    )


def test_a_different_failure_gets_its_own_traceback(
    upstreams: FaultyUpstreams, records: list[logging.LogRecord]
) -> None:
    translator = Translator(logger_name="storm")
    refused = refused_call(upstreams.refused_url)
    try:
        httpx.get(upstreams.reset_url, timeout=2)
    except httpx.HTTPError as exc:
        reset: BaseException = exc
    storm(translator, refused, 3)
    storm(translator, reset, 3)
    storm(translator, refused, 1)
    assert [r.exc_info is not None for r in records] == [True, False, False] * 2 + [False]
    assert records[3].gatewayerrors_code == "connection_terminated"  # type: ignore[attr-defined]


def test_the_same_code_from_another_place_is_another_signature(upstreams: FaultyUpstreams) -> None:
    def elsewhere() -> httpx.ConnectError:
        try:
            httpx.get(upstreams.refused_url, timeout=2)
        except httpx.ConnectError as exc:
            return exc
        raise AssertionError

    here, again, there = (
        refused_call(upstreams.refused_url),
        refused_call(upstreams.refused_url),
        elsewhere(),
    )
    assert failure_signature("connection_refused", None, False, here) == failure_signature(
        "connection_refused", None, False, again
    )
    assert failure_signature("connection_refused", None, False, here) != failure_signature(
        "connection_refused", None, False, there
    )
    assert failure_signature("connection_refused", "orders", False, here) != failure_signature(
        "connection_refused", None, False, here
    )


def test_after_the_window_a_summary_then_a_new_traceback() -> None:
    clock = Clock()
    policy = LogStorm("first", 60, clock=clock)
    args = ("connection_refused", 502, "orders", logging.ERROR)
    decisions = [policy.decide("sig", *args) for _ in range(1234)]
    assert [d.traceback for d in decisions[:2]] == [True, False]
    assert decisions[-1].repeats == 1233
    assert all(not d.summaries for d in decisions)
    clock.now += 59.9
    assert policy.decide("sig", *args).repeats == 1234
    clock.now += 0.1
    rolled = policy.decide("sig", *args)
    assert rolled.traceback
    assert rolled.repeats == 0
    [summary] = rolled.summaries
    assert (summary.code, summary.status, summary.upstream) == ("connection_refused", 502, "orders")
    assert summary.failures == 1235
    assert summary.seconds == 60
    clock.now += 120
    assert policy.decide("sig", *args).summaries == ()  # a window of one needs no summary


def test_summary_line_reads_like_the_issue(records: list[logging.LogRecord]) -> None:
    translator = Translator(logger_name="storm", log_window=0.5)
    clock = Clock()
    translator._storm = LogStorm("first", 0.5, clock=clock)
    exc = ConnectionRefusedError(111, "Connection refused")
    storm(translator, exc, 1234)
    clock.now += 1
    storm(translator, exc, 1)
    summary, first = records[-2:]
    assert summary.getMessage() == (
        "upstream failures: 502 connection_refused upstream=- x 1,234 in the last 0.5 s "
        "(traceback logged for the first)"
    )
    assert summary.gatewayerrors_summary_count == 1234  # type: ignore[attr-defined]
    assert summary.exc_info is None
    assert first.exc_info is not None


def test_the_table_is_bounded_and_eviction_keeps_counts() -> None:
    policy = LogStorm("first", 60, limit=4, clock=Clock())
    for sig in range(4):
        policy.decide(sig, "connection_refused", 502, None, logging.ERROR)
        policy.decide(sig, "connection_refused", 502, None, logging.ERROR)
    decision = policy.decide("new", "connection_refused", 502, None, logging.ERROR)
    assert len(policy) == 4
    assert decision.traceback
    [evicted] = decision.summaries
    assert evicted.failures == 2  # signature 0: its first and one repeat


def test_modes_always_and_never(
    upstreams: FaultyUpstreams, records: list[logging.LogRecord]
) -> None:
    exc = refused_call(upstreams.refused_url)
    storm(Translator(logger_name="storm", log_tracebacks="always"), exc, 3)
    assert [r.exc_info is not None for r in records] == [True] * 3
    assert [r.gatewayerrors_repeats for r in records] == [0, 1, 2]  # type: ignore[attr-defined]
    records.clear()
    storm(Translator(logger_name="storm", log_tracebacks="never"), exc, 3)
    assert [r.exc_info for r in records] == [None] * 3


@pytest.mark.parametrize("mode", ["first", "always"])
@pytest.mark.parametrize("code", ["circuit_open", "maintenance"])
def test_deliberate_fast_failures_never_format_a_traceback(
    mode: str, code: str, records: list[logging.LogRecord]
) -> None:
    from gatewayerrors import ServiceUnavailable

    translator = Translator(logger_name="storm", log_tracebacks=mode)
    exc = ServiceUnavailable(code=code)
    storm(translator, exc, 2)
    assert [r.exc_info for r in records] == [None, None]
    assert [r.levelno for r in records] == [log_level(catalog[code])] * 2


def test_levels_per_kind() -> None:
    assert log_level(catalog["connection_refused"]) == logging.ERROR
    assert log_level(catalog["upstream_error"]) == logging.ERROR
    assert log_level(catalog["connection_read_timeout"]) == logging.WARNING
    assert log_level(catalog["upstream_timeout"]) == logging.WARNING
    assert log_level(catalog["upstream_overloaded"]) == logging.WARNING
    assert log_level(catalog["circuit_open"]) == logging.WARNING
    assert log_level(catalog["maintenance"]) == logging.INFO


def test_a_timeout_is_a_warning_and_silencing_warnings_skips_it(
    upstreams: FaultyUpstreams, records: list[logging.LogRecord]
) -> None:
    translator = Translator(logger_name="storm")
    try:
        httpx.get(upstreams.hang_url, timeout=0.2)
    except httpx.ReadTimeout as exc:
        timeout: BaseException = exc
    storm(translator, timeout, 1)
    [record] = records
    assert record.levelno == logging.WARNING
    assert record.gatewayerrors_code == "connection_read_timeout"  # type: ignore[attr-defined]
    records.clear()
    logging.getLogger("storm").setLevel(logging.ERROR)
    storm(translator, timeout, 2)
    assert records == []
    assert len(translator._storm) == 1  # a skipped record is not counted either


def test_a_failure_after_the_start_is_its_own_signature_and_an_error(
    upstreams: FaultyUpstreams, records: list[logging.LogRecord]
) -> None:
    translator = Translator(logger_name="storm")
    exc = refused_call(upstreams.refused_url)
    response = translator.translate(exc, RequestInfo())
    assert response is not None
    translator.report(response, exc)
    translator.report(response, exc, response_started=True)
    assert [r.exc_info is not None for r in records] == [True, True]
    assert records[1].levelno == logging.ERROR
    assert records[1].getMessage().startswith("upstream failure after the response started")


def test_concurrent_threads_count_exactly() -> None:
    policy = LogStorm("first", 60)
    results: list[int] = []
    lock = threading.Lock()

    def worker() -> None:
        mine = [
            policy.decide("sig", "connection_refused", 502, None, logging.ERROR).repeats
            for _ in range(2000)
        ]
        with lock:
            results.extend(mine)

    threads = [threading.Thread(target=worker) for _ in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert sorted(results) == list(range(16000))  # one first, every repeat number once


# -- through real servers -----------------------------------------------------------------


def test_a_storm_through_uvicorn_logs_one_traceback_in_few_bytes(
    upstreams: FaultyUpstreams, log: io.StringIO
) -> None:
    async def orders(request: Request) -> Response:
        async with httpx.AsyncClient(timeout=2) as client:
            await client.get(upstreams.refused_url)
        return Response("unreachable")

    app = Starlette(
        routes=[Route("/orders", orders)],
        middleware=[Middleware(GatewayErrorsMiddleware, logger_name="storm")],
    )
    with serve(app) as server, httpx.Client(base_url=server.url, timeout=5) as client:
        statuses = [client.get("/orders").status_code for _ in range(40)]
    assert statuses == [502] * 40
    text = log.getvalue()
    first, rest = text.split("(repeat 1 in 60 s)", 1)
    assert "Traceback (most recent call last)" in first  # the first one, complete
    assert "httpx.ConnectError: All connection attempts failed" in first
    assert "Traceback" not in rest
    lines = text.splitlines()
    repeats = [line for line in lines if "(repeat " in line]
    assert len(repeats) == 39
    assert max(len(line.encode()) for line in repeats) < 300


def test_a_storm_through_waitress_threads_counts_exactly(
    upstreams: FaultyUpstreams, records: list[logging.LogRecord]
) -> None:
    def app(environ: Any, start_response: Any) -> list[bytes]:
        requests.get(upstreams.refused_url, timeout=2)
        raise AssertionError("unreachable")

    wrapped = GatewayErrorsWSGIMiddleware(app, logger_name="storm")
    with serve_wsgi(wrapped, threads=4) as url:

        def client() -> None:
            with requests.Session() as session:
                for _ in range(10):
                    assert session.get(url, timeout=5).status_code == 502

        threads = [threading.Thread(target=client) for _ in range(4)]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()
    assert len(records) == 40
    assert sum(r.exc_info is not None for r in records) == 1
    assert sorted(r.gatewayerrors_repeats for r in records) == list(range(40))  # type: ignore[attr-defined]


# -- settings -----------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("options", "option"),
    [
        ({"log_tracebacks": "sometimes"}, "log_tracebacks"),
        ({"log_tracebacks": True}, "log_tracebacks"),
        ({"log_window": 0}, "log_window"),
        ({"log_window": -5}, "log_window"),
        ({"log_window": float("inf")}, "log_window"),
        ({"log_window": float("nan")}, "log_window"),
        ({"log_window": "60"}, "log_window"),
        ({"log_window": True}, "log_window"),
    ],
)
def test_log_settings_are_checked_at_startup(options: dict[str, Any], option: str) -> None:
    with pytest.raises(SettingsError) as caught:
        Settings(**options)
    assert caught.value.option == option


def test_log_settings_defaults() -> None:
    settings = Settings()
    assert (settings.log_tracebacks, settings.log_window) == ("first", 60)
    assert Settings(log_window=0.5).log_window == 0.5

"""The classifier's spec for what loopback cannot produce, and for the rules around the rules.

Exceptions are hand-built here only where no loopback server can make a client raise them for
real (a DNS server that times out, a network with no route); everything a fault server can
produce is in ``test_classify_clients.py``.
"""

from __future__ import annotations

import errno
import os
import socket
import sys
from datetime import datetime, timedelta, timezone
from pathlib import Path

import httpx
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import gatewayerrors
import gatewayerrors.core
from gatewayerrors import (
    BadGateway,
    Classifier,
    GatewayError,
    GatewayTimeout,
    ServiceUnavailable,
    _classify,
    catalog,
)
from gatewayerrors._classify import _BUILT_IN_RULES
from gatewayerrors.core import Evidence, parse_retry_after
from gatewayerrors.testing import FaultyUpstreams

classifier = Classifier()


def _raised(exc: BaseException, cause: BaseException | None = None) -> BaseException:
    """``exc`` as Python leaves it after ``raise exc from cause``."""
    try:
        raise exc from cause
    except BaseException as caught:
        return caught


def _code(exc: BaseException, with_classifier: Classifier = classifier) -> str | None:
    evidence = with_classifier.classify(exc)
    return None if evidence is None else evidence.code


# -- OS-level facts loopback cannot produce ------------------------------------------------------

EAI_AGAIN = socket.gaierror(socket.EAI_AGAIN, "Temporary failure in name resolution")
EAI_NONAME = socket.gaierror(socket.EAI_NONAME, "Name or service not known")


def _os_error(number: int) -> OSError:
    return OSError(number, os.strerror(number))


@pytest.mark.parametrize(
    ("exc", "code", "status"),
    [
        # Hand-built: a resolver that times out needs a DNS server that does not answer, which
        # cannot be arranged without changing the machine's resolver configuration.
        pytest.param(EAI_AGAIN, "dns_timeout", 504, id="EAI_AGAIN"),
        pytest.param(EAI_NONAME, "dns_error", 502, id="EAI_NONAME"),
        # Hand-built: loopback always routes; a real ENETUNREACH needs a network without a route.
        pytest.param(
            _os_error(errno.ENETUNREACH), "destination_ip_unroutable", 502, id="ENETUNREACH"
        ),
        pytest.param(
            _os_error(errno.EHOSTUNREACH), "destination_ip_unroutable", 502, id="EHOSTUNREACH"
        ),
        pytest.param(_os_error(errno.ECONNREFUSED), "connection_refused", 502, id="ECONNREFUSED"),
        pytest.param(_os_error(errno.ETIMEDOUT), "upstream_timeout", 504, id="ETIMEDOUT"),
        pytest.param(_os_error(errno.EPIPE), "connection_terminated", 502, id="EPIPE"),
        pytest.param(
            BrokenPipeError(errno.EPIPE, "Broken pipe"),
            "connection_terminated",
            502,
            id="BrokenPipeError",
        ),
        pytest.param(
            ConnectionAbortedError(), "connection_terminated", 502, id="ConnectionAbortedError"
        ),
        pytest.param(TimeoutError(), "upstream_timeout", 504, id="TimeoutError"),
    ],
)
def test_os_level_evidence(exc: BaseException, code: str, status: int) -> None:
    evidence = classifier.classify(exc)
    assert evidence is not None
    assert (evidence.code, catalog[evidence.code].status) == (code, status)


@pytest.mark.parametrize(
    ("inner", "code"),
    [(EAI_AGAIN, "dns_timeout"), (_os_error(errno.ENETUNREACH), "destination_ip_unroutable")],
)
def test_os_evidence_beats_the_client_wrapper(inner: BaseException, code: str) -> None:
    """Shaped like httpx's real chain: ConnectError raised from httpcore.ConnectError raised
    from the OS error (as the loopback refused/DNS cases produce for real)."""
    import httpcore

    exc = _raised(httpx.ConnectError(str(inner)), _raised(httpcore.ConnectError(str(inner)), inner))
    assert _code(exc) == code


# -- exception groups (hand-built shapes; real task groups are in test_classify_clients) -----


def _exception_group() -> type[BaseException]:
    if sys.version_info >= (3, 11):
        return ExceptionGroup  # type: ignore[name-defined]  # noqa: F821
    backport = pytest.importorskip("exceptiongroup", reason="no ExceptionGroup on 3.10 without it")
    return backport.ExceptionGroup  # type: ignore[no-any-return]


def test_exception_group_most_specific_member_wins() -> None:
    group = _exception_group()
    exc = group("two", [ConnectionResetError(), ConnectionRefusedError()])
    assert _code(exc) == "connection_refused"


def test_nested_exception_group() -> None:
    group = _exception_group()
    exc = group("outer", [ValueError("bug"), group("inner", [EAI_AGAIN])])
    assert _code(exc) == "dns_timeout"


def test_exception_group_of_unrelated_errors() -> None:
    group = _exception_group()
    assert _code(group("bugs", [ValueError(), KeyError("k")])) is None


# -- chains -----------------------------------------------------------------------------------


def test_tie_goes_to_the_outermost() -> None:
    """Equal specificity: the evidence nearer the top of the chain wins."""
    exc = _raised(BadGateway(upstream="outer"), GatewayTimeout(upstream="inner"))
    evidence = classifier.classify(exc)
    assert evidence is not None
    assert (evidence.code, evidence.upstream) == ("upstream_error", "outer")


def test_cyclic_chain_terminates() -> None:
    first, second = RuntimeError("a"), RuntimeError("b", ConnectionRefusedError())
    first.__cause__ = second
    second.__cause__ = first
    assert _code(first) == "connection_refused"


def _chain(depth: int) -> BaseException:
    """A refused connection ``depth`` links down a chain of generic wrappers."""
    exc: BaseException = ConnectionRefusedError()
    for number in range(depth):
        exc = _raised(RuntimeError(number), exc)
    return exc


def test_very_long_chain_is_bounded() -> None:
    """A pathological chain costs a bounded walk: no recursion, and links past the bound are
    not examined (so its cost does not grow with the chain)."""
    assert _code(_chain(_classify._MAX_LINKS - 1)) == "connection_refused"
    deep = _chain(10_000)
    assert classifier.classify(deep) is None  # 10,000 links down: past the bound, not reached
    assert _code(_raised(ConnectionResetError(), deep)) == "connection_terminated"


def test_hostile_exception_does_not_break_classification() -> None:
    class Hostile(httpx.HTTPStatusError):
        @property
        def response(self) -> httpx.Response:
            raise RuntimeError("boom")

        @response.setter
        def response(self, value: httpx.Response) -> None:
            pass

    exc = Hostile("x", request=httpx.Request("GET", "http://u/"), response=httpx.Response(503))
    exc.__cause__ = ConnectionResetError()
    assert _code(exc) == "connection_terminated"


# -- register(): the application's own rules win ------------------------------------------------


class QuotaExceeded(Exception):
    """An SDK's own exception, unknown to the built-in rules."""


def test_register_class(upstreams: FaultyUpstreams) -> None:
    mine = Classifier()
    mine.register(QuotaExceeded, "upstream_overloaded", retry_after=60, upstream="maps")
    exc = _raised(QuotaExceeded("daily quota"))
    evidence = mine.classify(exc)
    assert evidence is not None
    assert evidence == Evidence("upstream_overloaded", evidence.specificity, 60, None, None, "maps")
    assert classifier.classify(exc) is None  # registration is per classifier


def test_registered_class_wins_over_built_in_evidence(upstreams: FaultyUpstreams) -> None:
    mine = Classifier()
    mine.register(httpx.ConnectError, "circuit_open", detail="Payments is paused.")
    with pytest.raises(httpx.ConnectError) as caught:
        httpx.get(upstreams.refused_url, timeout=2)
    evidence = mine.classify(caught.value)
    assert evidence is not None
    # ConnectionRefusedError is deeper in the chain and more precise, but the user said so.
    assert (evidence.code, evidence.detail) == ("circuit_open", "Payments is paused.")


def test_registered_subclass_matches() -> None:
    class DailyQuotaExceeded(QuotaExceeded):
        pass

    mine = Classifier()
    mine.register(QuotaExceeded, "upstream_overloaded")
    assert _code(DailyQuotaExceeded(), mine) == "upstream_overloaded"


def test_registered_predicate_wins_anywhere_in_the_chain(upstreams: FaultyUpstreams) -> None:
    mine = Classifier()
    mine.register(lambda exc: isinstance(exc, ConnectionRefusedError), "destination_unavailable")
    with pytest.raises(httpx.ConnectError) as caught:
        httpx.get(upstreams.refused_url, timeout=2)
    assert _code(caught.value, mine) == "destination_unavailable"
    assert _code(caught.value) == "connection_refused"


def test_raising_predicate_is_ignored() -> None:
    mine = Classifier()
    mine.register(lambda exc: 1 / 0 == 0, "circuit_open")
    assert _code(ConnectionRefusedError(), mine) == "connection_refused"


def test_register_validates() -> None:
    mine = Classifier()
    with pytest.raises(ValueError, match="unknown gatewayerrors code"):
        mine.register(QuotaExceeded, "no_such_code")
    with pytest.raises(TypeError):
        mine.register(int, "upstream_error")  # type: ignore[arg-type]
    with pytest.raises(TypeError):
        mine.register("QuotaExceeded", "upstream_error")  # type: ignore[arg-type]


def test_register_after_classifying_takes_effect() -> None:
    """The per-type rule cache does not keep a stale answer."""
    mine = Classifier()
    assert _code(QuotaExceeded(), mine) is None
    mine.register(QuotaExceeded, "upstream_overloaded")
    assert _code(QuotaExceeded(), mine) == "upstream_overloaded"


def test_classifier_without_built_ins() -> None:
    mine = Classifier(built_ins=False)
    assert _code(ConnectionRefusedError(), mine) is None
    mine.register(ConnectionRefusedError, "destination_unavailable")
    assert _code(ConnectionRefusedError(), mine) == "destination_unavailable"


def test_module_level_register_is_the_default_classifier() -> None:
    assert gatewayerrors.register.__self__ is gatewayerrors.core.default_classifier  # type: ignore[attr-defined]


# -- the application's own GatewayError ---------------------------------------------------------


class PaymentsDown(ServiceUnavailable):
    default_code = "circuit_open"


@pytest.mark.parametrize(
    ("exc", "code", "status", "retry_after", "upstream", "detail"),
    [
        (GatewayError(), "upstream_error", 502, None, None, None),
        (BadGateway(), "upstream_error", 502, None, None, None),
        (ServiceUnavailable(retry_after=30), "destination_unavailable", 503, 30, None, None),
        (GatewayTimeout(upstream="search"), "upstream_timeout", 504, None, "search", None),
        (
            ServiceUnavailable(
                detail="Payments is paused.", code="circuit_open", upstream="payments"
            ),
            "circuit_open",
            503,
            None,
            "payments",
            "Payments is paused.",
        ),
        (PaymentsDown(retry_after=12.7), "circuit_open", 503, 12, None, None),
        (BadGateway(code="dns_timeout"), "dns_timeout", 504, None, None, None),
    ],
)
def test_gateway_error(
    exc: GatewayError,
    code: str,
    status: int,
    retry_after: int | None,
    upstream: str | None,
    detail: str | None,
) -> None:
    evidence = classifier.classify(exc)
    assert evidence is not None
    assert (evidence.code, catalog[evidence.code].status) == (code, status)
    assert exc.status == status
    assert (evidence.retry_after, evidence.upstream, evidence.detail) == (
        retry_after,
        upstream,
        detail,
    )


def test_gateway_error_retry_after_datetime() -> None:
    when = datetime.now(timezone.utc) + timedelta(seconds=90)
    evidence = classifier.classify(ServiceUnavailable(retry_after=when))
    assert evidence is not None
    assert evidence.retry_after is not None
    assert 88 <= evidence.retry_after <= 90


def test_own_error_wins_over_its_cause(upstreams: FaultyUpstreams) -> None:
    """The application said what it means: its GatewayError beats the client's evidence."""
    try:
        try:
            httpx.get(upstreams.refused_url, timeout=2)
        except httpx.ConnectError as exc:
            raise GatewayTimeout(upstream="ledger") from exc
    except GatewayTimeout as exc:
        evidence = classifier.classify(exc)
    assert evidence is not None
    assert (evidence.code, evidence.upstream) == ("upstream_timeout", "ledger")


def test_gateway_error_rejects_unknown_code() -> None:
    with pytest.raises(ValueError, match="unknown gatewayerrors code"):
        BadGateway(code="oops")


# -- not mine ------------------------------------------------------------------------------------


def _file_error() -> OSError:
    try:
        Path("/nonexistent/gatewayerrors/config.toml").read_text()
    except OSError as exc:
        return exc
    raise AssertionError("unreachable")


@pytest.mark.parametrize(
    "exc",
    [
        ValueError("bad input"),
        KeyError("missing"),
        RuntimeError("bug"),
        ZeroDivisionError(),
        _file_error(),  # FileNotFoundError (ENOENT)
        OSError(errno.ENOENT, "No such file or directory"),
        PermissionError(errno.EACCES, "Permission denied"),
        OSError(errno.ENOSPC, "No space left on device"),
        OSError("no errno at all"),
        _raised(ValueError("wrapped"), KeyError("inner")),
        pytest.param(httpx.InvalidURL("no scheme"), id="httpx.InvalidURL"),
        pytest.param(httpx.UnsupportedProtocol("ftp"), id="httpx.UnsupportedProtocol"),
    ],
    ids=lambda exc: type(exc).__name__,
)
def test_unrelated_exceptions_are_not_mine(exc: BaseException) -> None:
    assert classifier.classify(exc) is None


def test_gaierror_is_not_an_errno_os_error() -> None:
    """gaierror's errno is an EAI_* number, never read as an errno (on macOS EAI_AGAIN is 2,
    like ENOENT)."""
    collision = socket.gaierror(errno.ECONNREFUSED, "whatever")
    assert _code(collision) == "dns_error"


# -- the rule table itself -----------------------------------------------------------------------


@pytest.mark.parametrize("key", sorted(_BUILT_IN_RULES), ids="/".join)
def test_every_built_in_rule_gives_a_catalog_code(key: tuple[str, str]) -> None:
    evidence = _BUILT_IN_RULES[key](Exception("bare"))
    assert evidence is None or evidence.code in catalog


def test_a_registered_datetime_retry_after_counts_down() -> None:
    class Paused(Exception):
        pass

    classifier = Classifier()
    resume_at = datetime.now(timezone.utc) + timedelta(seconds=120)
    classifier.register(Paused, "circuit_open", retry_after=resume_at)
    first = classifier.classify(Paused())
    assert first is not None
    assert first.retry_after is not None
    assert 118 <= first.retry_after <= 121
    # Later matches see less time left: the date is converted when an exception matches.
    later = classifier.classify(Paused())
    assert later is not None
    assert later.retry_after is not None
    assert later.retry_after <= first.retry_after


def test_hostile_links_do_not_lose_the_rest_of_the_chain() -> None:
    class BrokenArgs(Exception):
        @property
        def args(self) -> tuple[object, ...]:  # type: ignore[override]
            raise RuntimeError("args exploded")

    class EqualToEverything(Exception):
        def __eq__(self, other: object) -> bool:
            return True

        __hash__ = Exception.__hash__

    broken = BrokenArgs()
    broken.__cause__ = ConnectionRefusedError()
    assert _code(broken) == "connection_refused"
    equal = EqualToEverything()
    equal.__cause__ = ConnectionRefusedError()
    assert _code(equal) == "connection_refused"


@pytest.mark.skipif(sys.version_info < (3, 11), reason="ExceptionGroup is built in from 3.11")
def test_a_large_group_is_classified_by_its_precise_members_with_bounded_work() -> None:
    members = []
    for _ in range(40):
        wrapper = httpx.ConnectError("All connection attempts failed")
        wrapper.__cause__ = ConnectionRefusedError(111, "refused")
        members.append(wrapper)
    group = ExceptionGroup("many", members)  # type: ignore[name-defined]  # noqa: F821
    assert _code(group) == "connection_refused"
    # Bounded work: members past the collection bound are not examined, so a group of 20,000
    # costs what a group of _MAX_COLLECTED costs (a precise member at the end is not reached).
    bugs = [ValueError(n) for n in range(20_000)]
    huge = ExceptionGroup("huge", [*bugs, ConnectionRefusedError()])  # type: ignore[name-defined]  # noqa: F821
    assert classifier.classify(huge) is None
    first = ExceptionGroup("huge", [ConnectionRefusedError(), *bugs])  # type: ignore[name-defined]  # noqa: F821
    assert _code(first) == "connection_refused"


def test_a_naive_datetime_is_local_time() -> None:
    """datetime.now() + timedelta is what people write: it must not be read as UTC."""
    in_five_minutes = datetime.now() + timedelta(minutes=5)
    seconds = parse_retry_after(in_five_minutes)
    assert seconds is not None
    assert 298 <= seconds <= 301


def test_an_upstream_504_passes_its_retry_after_on() -> None:
    request = httpx.Request("GET", "http://x/")
    response = httpx.Response(504, headers={"retry-after": "120"}, request=request)
    error = httpx.HTTPStatusError("504", request=request, response=response)
    evidence = classifier.classify(error)
    assert evidence is not None
    assert (evidence.code, evidence.retry_after, evidence.received_status) == (
        "upstream_timeout",
        120,
        504,
    )


@settings(max_examples=300, deadline=None)
@given(st.one_of(st.text(max_size=40), st.binary(max_size=40)))
def test_parse_retry_after_never_raises(value: str | bytes) -> None:
    """Any header value, text or raw bytes: seconds (>= 0) or None, never an exception."""
    seconds = parse_retry_after(value)
    assert seconds is None or (isinstance(seconds, int) and seconds >= 0)


@pytest.mark.parametrize("value", ["²", "12³", "٣", "\uff11\uff12", b"\xb2", b"1\xb9", "²" * 20])
def test_digits_of_other_scripts_are_unreadable(value: str | bytes) -> None:
    # delay-seconds is ASCII DIGIT (RFC 9110 §10.2.3); str.isdigit() accepts far more.
    assert parse_retry_after(value) is None


def test_ascii_delay_seconds_still_read() -> None:
    assert [parse_retry_after(v) for v in ("0", " 7 ", b"120", "0042")] == [0, 7, 120, 42]

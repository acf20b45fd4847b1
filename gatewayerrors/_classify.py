"""Classify an exception as an upstream failure (a catalog code) or "not mine".

Recognition never imports a client library: a rule is keyed by the exception class's
top-level package and class name (``("httpx", "ConnectTimeout")``), looked up along the
class's MRO, so ``httpx._exceptions.ConnectTimeout`` and any subclass match without
``import httpx``. The rule found for a type is cached.

One exception is rarely the whole story (httpx's ``ConnectError`` only says *refused* three
links down), so the classifier walks the chain: ``__cause__``, ``__context__``, exception
groups' members, and the wrapped exceptions clients keep in ``reason`` (urllib3, urllib),
``os_error`` (aiohttp) or ``args`` (requests). Every link may give evidence; the most specific
wins, and on a tie the outermost.
"""

from __future__ import annotations

import errno
import math
import re
import socket
import sys
import time
from collections.abc import Mapping
from datetime import datetime, timedelta, timezone
from typing import NamedTuple

from werkzeug.http import parse_date

from ._catalog import catalog
from ._chain import chain_of, received_chain
from ._classify_databases import database_rules
from ._error import Evidence
from ._types import Predicate, Rule

__all__ = ["Classifier", "Rule", "default_classifier", "parse_retry_after", "register"]


# Specificity ranks. Precise low-level facts (the OS said "refused") beat a client's generic
# wrapper ("could not connect"), which beats a bare timeout.
USER = 1000
OWN = 900
BREAKER = 850  # the breaker's decision is the answer, even when it opened on this very call
STATUS = 800
OS_PRECISE = 700
CLIENT_PRECISE = 600
OS_TRANSPORT = 500
CLIENT_TRANSPORT = 400
CLIENT_GENERIC = 300
TIMEOUT_GENERIC = 200

# Bounds for pathological chains (a task group of thousands): links examined and collected.
_MAX_LINKS = 256
_MAX_COLLECTED = 512
_CACHE_LIMIT = 1024
_MAX_ARGS = 16  # wrapped exceptions sit in the first args (requests: args[0])


def parse_retry_after(value: object, now: float | None = None) -> int | None:
    """Seconds from a ``Retry-After`` value: delay-seconds, an HTTP-date, a number or a datetime.

    Returns None when the value cannot be read. Negative delays become 0.
    """
    if value is None:
        return None
    if isinstance(value, bool):
        return None
    if isinstance(value, (int, float)):
        # NaN is unreadable; infinity would make int() raise, so bound it like long digits.
        return int(max(0, min(value, 10**11))) if value == value else None
    if isinstance(value, datetime):
        date = value  # a naive datetime is local time, as datetime.now() gives it
    elif isinstance(value, (str, bytes)):
        text = value.decode("latin-1") if isinstance(value, bytes) else value
        text = text.strip()
        # str.isdigit() alone accepts superscripts and other scripts' digits ("²", "٣"), which
        # int() rejects or reads as numbers; delay-seconds is ASCII DIGITs (RFC 9110 §10.2.3).
        if text.isascii() and text.isdigit():
            return int(text) if len(text) < 12 else 10**11
        try:
            parsed = parse_date(text)
        except Exception:  # unreadable, whatever the date parser thinks of it
            return None
        if parsed is None:
            return None
        date = parsed
    else:
        return None
    current = time.time() if now is None else now
    try:
        return max(0, int(date.timestamp() - current + 0.5))
    except (ValueError, OverflowError, OSError):  # a date the platform cannot place in time
        return None


def _header(headers: object, name: str) -> object:
    if headers is None:
        return None
    getter = getattr(headers, "get", None)
    if getter is None:
        return None
    try:
        return getter(name)
    except Exception:  # a hostile or exotic mapping must not break classification
        return None


def _from_status(status: object, headers: object) -> Evidence | None:
    """Evidence from an upstream HTTP status: 5xx and 429 are gateway failures, 4xx are not."""
    if not isinstance(status, int) or isinstance(status, bool):
        return None
    if status == 503 or status == 429:
        retry = parse_retry_after(_header(headers, "retry-after"))
        return Evidence("upstream_overloaded", STATUS, retry, status)
    if status == 504:
        retry = parse_retry_after(_header(headers, "retry-after"))
        return Evidence("upstream_timeout", STATUS, retry, status)
    if 500 <= status <= 599:
        retry = parse_retry_after(_header(headers, "retry-after"))
        return Evidence("upstream_error", STATUS, retry, status)
    return None


def _with_chain(evidence: Evidence | None, headers: object, body: object = None) -> Evidence | None:
    # What the failed upstream said about its own failure (Proxy-Status, a problem's code).
    if evidence is None:
        return None
    chain = received_chain(headers, body)
    if not chain.members and chain.upstream_code is None:
        return evidence
    return evidence._replace(upstream_code=chain.upstream_code, chain=chain.members)


def _read_body(response: object) -> object:
    # The body only if already read: httpx and requests both keep it in ``_content`` (requests
    # reads on ``.content``, which would be network I/O here for a streamed response).
    try:
        return getattr(response, "_content", None)
    except Exception:
        return None


def _response_status(exc: BaseException) -> Evidence | None:
    # httpx.HTTPStatusError and requests.HTTPError keep the response in ``.response``.
    response = getattr(exc, "response", None)
    if response is None:
        return None
    status = getattr(response, "status_code", None)
    headers = getattr(response, "headers", None)
    evidence = _from_status(status, headers)
    return _with_chain(evidence, headers, _read_body(response)) if evidence else None


def _aiohttp_status(exc: BaseException) -> Evidence | None:
    # aiohttp reports a response it could not parse as ClientResponseError(status=400) raised
    # from an ``aiohttp.http_exceptions`` error: that 400 is aiohttp's, not the upstream's.
    if type(exc.__cause__).__module__.startswith("aiohttp.http_exceptions"):
        return None
    headers = getattr(exc, "headers", None)
    return _with_chain(_from_status(getattr(exc, "status", None), headers), headers)


_TOO_MANY_STATUS = re.compile(r"too many (\d{3}) error responses")


def _urllib3_response_error(exc: BaseException) -> Evidence:
    # urllib3's Retry(status_forcelist=...) gives up with ResponseError("too many 503 error
    # responses"): the status is only in the message (no headers, so no Retry-After).
    found = _TOO_MANY_STATUS.search(str(exc))
    evidence = _from_status(int(found.group(1)), None) if found else None
    return evidence or Evidence("upstream_error", CLIENT_GENERIC)


def _upstream_problem(exc: BaseException) -> Evidence | None:
    # gatewayerrors.client.UpstreamProblem: a service answered an error (its Retry-After kept).
    evidence = _from_status(getattr(exc, "status", None), None)
    if evidence is None:
        return None
    entries = getattr(exc, "proxy_status", ())
    chain = chain_of(
        entries if isinstance(entries, tuple) else (),
        getattr(exc, "code", None),
        getattr(exc, "upstream_code", None),
    )
    return evidence._replace(
        retry_after=parse_retry_after(getattr(exc, "retry_after", None)),
        upstream_code=chain.upstream_code,
        chain=chain.members,
    )


def _botocore_client_error(exc: BaseException) -> Evidence | None:
    # botocore.exceptions.ClientError: the upstream answered; its status is in the metadata.
    response = getattr(exc, "response", None)
    metadata = response.get("ResponseMetadata") if isinstance(response, dict) else None
    if not isinstance(metadata, dict):
        return None
    return _from_status(metadata.get("HTTPStatusCode"), metadata.get("HTTPHeaders"))


def _urllib_status(exc: BaseException) -> Evidence | None:
    headers = getattr(exc, "headers", None)
    return _with_chain(_from_status(getattr(exc, "code", None), headers), headers)


def _own(exc: BaseException) -> Evidence | None:
    code = getattr(exc, "code", None)
    if not isinstance(code, str) or code not in catalog:
        return None
    return Evidence(
        code,
        OWN,
        parse_retry_after(getattr(exc, "retry_after", None)),
        None,
        getattr(exc, "detail", None),
        getattr(exc, "upstream", None),
    )


def _fixed(code: str, specificity: int) -> Rule:
    evidence = Evidence(code, specificity)

    def rule(exc: BaseException) -> Evidence:
        return evidence

    return rule


_EAI_AGAIN = getattr(socket, "EAI_AGAIN", -3)


def _gaierror(exc: BaseException) -> Evidence:
    code = "dns_timeout" if getattr(exc, "errno", None) == _EAI_AGAIN else "dns_error"
    return Evidence(code, OS_PRECISE)


_ERRNO_CODES = {
    errno.ECONNREFUSED: ("connection_refused", OS_PRECISE),
    errno.ENETUNREACH: ("destination_ip_unroutable", OS_PRECISE),
    errno.EHOSTUNREACH: ("destination_ip_unroutable", OS_PRECISE),
    errno.ECONNRESET: ("connection_terminated", OS_TRANSPORT),
    errno.ECONNABORTED: ("connection_terminated", OS_TRANSPORT),
    errno.EPIPE: ("connection_terminated", OS_TRANSPORT),
    errno.ETIMEDOUT: ("upstream_timeout", TIMEOUT_GENERIC),
}


def _os_error(exc: BaseException) -> Evidence | None:
    # A bare OSError is often a local file error: only network errnos count.
    found = _ERRNO_CODES.get(getattr(exc, "errno", None))  # type: ignore[arg-type]
    return Evidence(*found) if found else None


def _ssl_error(exc: BaseException) -> Evidence:
    reason = getattr(exc, "reason", None)
    if isinstance(reason, str) and "ALERT" in reason:
        return Evidence("tls_alert_received", CLIENT_TRANSPORT)
    return Evidence("tls_protocol_error", CLIENT_TRANSPORT)


def _url_error(exc: BaseException) -> Evidence:
    # urllib.request wraps in URLError only what fails while connecting and sending the
    # request (AbstractHTTPHandler.do_open); a timeout there is a connect timeout (or, rarely,
    # a stalled upload: 504 either way). Read timeouts come out bare.
    if isinstance(getattr(exc, "reason", None), TimeoutError):
        return Evidence("connection_timeout", CLIENT_TRANSPORT)
    return Evidence("connection_failed", CLIENT_GENERIC)


def _httpx_remote_protocol(exc: BaseException) -> Evidence:
    # httpx uses one class for three different failures; its messages are its API here.
    message = str(exc).lower()
    if "disconnected without" in message:
        return Evidence("connection_terminated", CLIENT_PRECISE)
    if "closed connection without sending complete" in message or "incomplete" in message:
        return Evidence("http_response_incomplete", CLIENT_PRECISE)
    return Evidence("http_protocol_error", CLIENT_PRECISE)


_GRPC_CODES = {
    "UNAVAILABLE": "destination_unavailable",
    "DEADLINE_EXCEEDED": "http_response_timeout",
    "RESOURCE_EXHAUSTED": "upstream_overloaded",
}


def _grpc(exc: BaseException) -> Evidence | None:
    code_method = getattr(exc, "code", None)
    if not callable(code_method):
        return None
    try:
        status = code_method()
    except Exception:
        return None
    name = getattr(status, "name", None)
    code = _GRPC_CODES.get(name) if isinstance(name, str) else None
    if code == "destination_unavailable":
        code = _grpc_unavailable_cause(exc) or code
    return Evidence(code, CLIENT_PRECISE) if code else None


# gRPC puts every connection failure under UNAVAILABLE; grpc-core's details say which one
# ("failed to connect to all addresses; last error: ...: Connection refused").
# Matched lower-cased, first match wins.
_GRPC_UNAVAILABLE_DETAILS = (
    ("connection refused", "connection_refused"),
    ("errors resolving", "dns_error"),
    ("dns resolution failed", "dns_error"),
    ("certificate_verify_failed", "tls_certificate_error"),
    ("handshake failed", "tls_protocol_error"),
    ("connection reset", "connection_terminated"),
    ("socket closed", "connection_terminated"),
    ("failed parsing http/2", "http_protocol_error"),
)


def _grpc_unavailable_cause(exc: BaseException) -> str | None:
    details_method = getattr(exc, "details", None)
    if not callable(details_method):
        return None
    try:
        details = details_method()
    except Exception:
        return None
    if not isinstance(details, str):
        return None
    details = details.lower()
    for needle, code in _GRPC_UNAVAILABLE_DETAILS:
        if needle in details:
            return code
    return None


# -- circuit breakers ------------------------------------------------------------------------
# Retry-After for an open circuit is the time until the breaker lets a trial call through,
# rounded up and at least 1 s (0 would invite an immediate retry that the breaker refuses).
# Each library keeps that time somewhere else; none is imported.

_MAX_FRAMES = 64


def _seconds_until(remaining: object) -> int | None:
    if isinstance(remaining, timedelta):
        remaining = remaining.total_seconds()
    if not isinstance(remaining, (int, float)) or isinstance(remaining, bool):
        return None
    if remaining != remaining:  # NaN
        return None
    return max(1, math.ceil(min(remaining, 10**11)))


def _breaker_evidence(seconds: object) -> Evidence:
    return Evidence("circuit_open", BREAKER, _seconds_until(seconds))


def _frame_locals(exc: BaseException, package: str) -> list[Mapping[str, object]]:
    """The local variables of ``exc``'s traceback frames that run ``package``'s code.

    For breakers whose exception carries no reference to the breaker (pybreaker, purgatory):
    the frame that raised it still holds the breaker (``self``) or its context.
    """
    found: list[Mapping[str, object]] = []
    tb = exc.__traceback__
    frames = 0
    while tb is not None and frames < _MAX_FRAMES:
        frames += 1
        frame = tb.tb_frame
        name = frame.f_globals.get("__name__")
        if isinstance(name, str) and name.partition(".")[0] == package:
            found.append(frame.f_locals)
        tb = tb.tb_next
    return found


def _circuitbreaker_open(exc: BaseException) -> Evidence:
    # circuitbreaker.CircuitBreakerError(circuit_breaker): the breaker's ``open_remaining`` is
    # whole seconds until it half-opens.
    breaker = exc.__dict__.get("_circuit_breaker")
    try:
        remaining = getattr(breaker, "open_remaining", None)
    except Exception:
        remaining = None
    return _breaker_evidence(remaining)


def _pybreaker_open(exc: BaseException) -> Evidence:
    # pybreaker.CircuitBreakerError carries only a message. The breaker is ``self`` in
    # CircuitBreaker.call, or ``self._breaker`` in the state that raised; it reopens for a
    # trial call at opened_at + reset_timeout. Only the in-memory storage is read: a Redis
    # storage would cost a network round trip on the error path (its reset_timeout, the
    # longest possible wait, is used then, unless the raising frame holds opened_at).
    frames = _frame_locals(exc, "pybreaker")
    for local in reversed(frames):  # the raising frame is the innermost
        # The open state's before_call has just read opened_at from the storage (Redis too:
        # the reopen time every replica shares) and holds it with the timeout: no read here.
        opened, timeout = local.get("opened_at"), local.get("timeout")
        if isinstance(opened, datetime) and opened.tzinfo and isinstance(timeout, timedelta):
            return _breaker_evidence(_seconds_to(opened + timeout))
    for local in frames:
        owner = local.get("self")
        breaker = owner if hasattr(owner, "_state_storage") else getattr(owner, "_breaker", None)
        if breaker is None:
            continue
        timeout = getattr(breaker, "_reset_timeout", None)
        if not isinstance(timeout, (int, float)):
            continue
        storage = getattr(breaker, "_state_storage", None)
        opened = None
        if type(storage).__name__ == "CircuitMemoryStorage":
            opened = getattr(storage, "_opened_at", None)
        if isinstance(opened, datetime) and opened.tzinfo is not None:
            return _breaker_evidence(opened.timestamp() + timeout - time.time())
        return _breaker_evidence(timeout)
    return _breaker_evidence(None)


def _aiobreaker_open(exc: BaseException) -> Evidence:
    # aiobreaker.CircuitBreakerError.reopen_time: when the breaker half-opens. Its
    # ``time_remaining`` is not used: aiobreaker 1.2 stamps opened_at with utcnow() but
    # subtracts now(), so away from UTC it is off by the UTC offset (or reopen_time is None
    # east of UTC); the raising frame's breaker gives opened_at + timeout_duration then.
    reopen = exc.__dict__.get("reopen_time")
    if not isinstance(reopen, datetime):
        reopen = None
        for local in _frame_locals(exc, "aiobreaker"):
            owner = local.get("self")
            breaker = (
                owner if hasattr(owner, "_state_storage") else getattr(owner, "_breaker", None)
            )
            opened = getattr(getattr(breaker, "_state_storage", None), "opened_at", None)
            duration = getattr(breaker, "_timeout_duration", None)
            if isinstance(opened, datetime) and isinstance(duration, timedelta):
                reopen = opened + duration
                break
    return _breaker_evidence(None if reopen is None else _seconds_to(reopen))


def _seconds_to(moment: datetime) -> float:
    """Seconds from now until ``moment``; a naive one is read as local time or as UTC, whichever
    puts it ahead by less (aiobreaker mixes the two)."""
    if moment.tzinfo is not None:
        return (moment - datetime.now(timezone.utc)).total_seconds()
    utc_now = datetime.now(timezone.utc).replace(tzinfo=None)
    ahead = [
        seconds
        for seconds in (
            (moment - datetime.now()).total_seconds(),
            (moment - utc_now).total_seconds(),
        )
        if seconds >= 0
    ]
    return min(ahead) if ahead else 0.0


def _purgatory_open(exc: BaseException) -> Evidence:
    # purgatory raises its OpenedState itself, which knows when it opened (time.time()); the
    # ttl is the circuit's, on the Context in the raising frame (``context`` or ``self``).
    opened = exc.__dict__.get("opened_at")
    if isinstance(opened, (int, float)):
        for local in _frame_locals(exc, "purgatory"):
            for name in ("context", "self"):
                ttl = getattr(local.get(name), "ttl", None)
                if isinstance(ttl, (int, float)) and not isinstance(ttl, bool):
                    return _breaker_evidence(opened + ttl - time.time())
    return _breaker_evidence(None)


def _built_in_rules() -> dict[tuple[str, str], Rule]:
    f = _fixed
    rules: dict[tuple[str, str], Rule] = {
        ("gatewayerrors", "GatewayError"): _own,
        ("gatewayerrors", "UpstreamProblem"): _upstream_problem,
        # -- stdlib --------------------------------------------------------------------
        ("builtins", "ConnectionRefusedError"): f("connection_refused", OS_PRECISE),
        ("builtins", "ConnectionResetError"): f("connection_terminated", OS_TRANSPORT),
        ("builtins", "BrokenPipeError"): f("connection_terminated", OS_TRANSPORT),
        ("builtins", "ConnectionAbortedError"): f("connection_terminated", OS_TRANSPORT),
        ("builtins", "TimeoutError"): f("upstream_timeout", TIMEOUT_GENERIC),
        ("builtins", "OSError"): _os_error,
        ("socket", "gaierror"): _gaierror,
        ("asyncio", "TimeoutError"): f("upstream_timeout", TIMEOUT_GENERIC),  # 3.10
        ("concurrent", "TimeoutError"): f("upstream_timeout", TIMEOUT_GENERIC),  # 3.10
        ("ssl", "SSLCertVerificationError"): f("tls_certificate_error", OS_PRECISE),
        ("ssl", "SSLError"): _ssl_error,
        ("http", "RemoteDisconnected"): f("connection_terminated", CLIENT_PRECISE),
        ("http", "IncompleteRead"): f("http_response_incomplete", CLIENT_PRECISE),
        ("http", "BadStatusLine"): f("http_protocol_error", CLIENT_TRANSPORT),
        ("http", "LineTooLong"): f("http_response_header_size", CLIENT_PRECISE),
        ("urllib", "HTTPError"): _urllib_status,
        ("urllib", "URLError"): _url_error,
        # -- httpx / httpcore ----------------------------------------------------------
        ("httpx", "HTTPStatusError"): _response_status,
        ("httpx", "RemoteProtocolError"): _httpx_remote_protocol,
        ("httpcore", "RemoteProtocolError"): _httpx_remote_protocol,
        ("httpx", "DecodingError"): f("http_response_content_coding", CLIENT_PRECISE),
        ("httpx", "TimeoutException"): f("upstream_timeout", CLIENT_GENERIC),
        ("httpx", "NetworkError"): f("connection_failed", CLIENT_GENERIC),
        ("httpx", "ProxyError"): f("connection_failed", CLIENT_GENERIC),
        ("httpcore", "TimeoutException"): f("upstream_timeout", CLIENT_GENERIC),
        ("httpcore", "NetworkError"): f("connection_failed", CLIENT_GENERIC),
        ("httpcore", "ProxyError"): f("connection_failed", CLIENT_GENERIC),
        # -- requests ------------------------------------------------------------------
        ("requests", "ConnectTimeout"): f("connection_timeout", CLIENT_PRECISE),
        ("requests", "ReadTimeout"): f("connection_read_timeout", CLIENT_PRECISE),
        ("requests", "Timeout"): f("upstream_timeout", CLIENT_GENERIC),
        ("requests", "SSLError"): f("tls_protocol_error", CLIENT_GENERIC),
        ("requests", "ProxyError"): f("connection_failed", CLIENT_GENERIC),
        ("requests", "ChunkedEncodingError"): f("http_response_incomplete", CLIENT_PRECISE),
        ("requests", "ContentDecodingError"): f("http_response_content_coding", CLIENT_PRECISE),
        ("requests", "RetryError"): f("upstream_error", CLIENT_GENERIC),
        ("requests", "ConnectionError"): f("connection_failed", CLIENT_GENERIC),
        ("requests", "HTTPError"): _response_status,
        # -- urllib3 -------------------------------------------------------------------
        ("urllib3", "NameResolutionError"): f("dns_error", CLIENT_PRECISE),
        ("urllib3", "ConnectTimeoutError"): f("connection_timeout", CLIENT_PRECISE),
        ("urllib3", "ReadTimeoutError"): f("connection_read_timeout", CLIENT_PRECISE),
        ("urllib3", "TimeoutError"): f("upstream_timeout", CLIENT_GENERIC),
        ("urllib3", "NewConnectionError"): f("connection_failed", CLIENT_GENERIC),
        ("urllib3", "SSLError"): f("tls_protocol_error", CLIENT_GENERIC),
        ("urllib3", "ProxyError"): f("connection_failed", CLIENT_GENERIC),
        ("urllib3", "IncompleteRead"): f("http_response_incomplete", CLIENT_PRECISE),
        ("urllib3", "InvalidChunkLength"): f("http_response_transfer_coding", CLIENT_PRECISE),
        ("urllib3", "DecodeError"): f("http_response_content_coding", CLIENT_PRECISE),
        ("urllib3", "ResponseError"): _urllib3_response_error,
        ("urllib3", "EmptyPoolError"): f("connection_limit_reached", CLIENT_PRECISE),
        ("urllib3", "ProtocolError"): f("http_protocol_error", CLIENT_GENERIC),
        ("urllib3", "MaxRetryError"): f("connection_failed", CLIENT_GENERIC - 1),
        # -- aiohttp -------------------------------------------------------------------
        ("aiohttp", "ClientConnectorDNSError"): f("dns_error", CLIENT_PRECISE),
        ("aiohttp", "ClientConnectorCertificateError"): f("tls_certificate_error", CLIENT_PRECISE),
        ("aiohttp", "ServerFingerprintMismatch"): f("tls_certificate_error", CLIENT_PRECISE),
        ("aiohttp", "ClientConnectorSSLError"): f("tls_protocol_error", CLIENT_TRANSPORT),
        ("aiohttp", "ClientSSLError"): f("tls_protocol_error", CLIENT_TRANSPORT),
        ("aiohttp", "ServerDisconnectedError"): f("connection_terminated", CLIENT_PRECISE),
        ("aiohttp", "ConnectionTimeoutError"): f("connection_timeout", CLIENT_PRECISE),
        ("aiohttp", "SocketTimeoutError"): f("connection_read_timeout", CLIENT_PRECISE),
        ("aiohttp", "ServerTimeoutError"): f("upstream_timeout", CLIENT_GENERIC),
        ("aiohttp", "ClientPayloadError"): f("http_response_incomplete", CLIENT_PRECISE),
        ("aiohttp", "ClientResponseError"): _aiohttp_status,
        ("aiohttp", "ClientConnectorError"): f("connection_failed", CLIENT_GENERIC),
        # aiohttp.http_exceptions: the response parser's verdict
        ("aiohttp", "LineTooLong"): f("http_response_header_size", CLIENT_PRECISE),
        ("aiohttp", "ContentLengthError"): f("http_response_incomplete", CLIENT_PRECISE),
        ("aiohttp", "TransferEncodingError"): f("http_response_transfer_coding", CLIENT_PRECISE),
        ("aiohttp", "ContentEncodingError"): f("http_response_content_coding", CLIENT_PRECISE),
        ("aiohttp", "DecompressSizeError"): f("http_response_body_size", CLIENT_PRECISE),
        ("aiohttp", "BadHttpMessage"): f("http_protocol_error", CLIENT_PRECISE),
        ("aiohttp", "HttpProcessingError"): f("http_protocol_error", CLIENT_GENERIC),
        ("aiohttp", "ServerConnectionError"): f("connection_failed", CLIENT_GENERIC - 1),
        ("aiohttp", "ClientOSError"): f("connection_failed", CLIENT_GENERIC - 1),
        # -- grpc ----------------------------------------------------------------------
        ("grpc", "RpcError"): _grpc,
        # -- botocore ------------------------------------------------------------------
        ("botocore", "ConnectTimeoutError"): f("connection_timeout", CLIENT_PRECISE),
        ("botocore", "ReadTimeoutError"): f("connection_read_timeout", CLIENT_PRECISE),
        ("botocore", "EndpointConnectionError"): f("connection_failed", CLIENT_GENERIC),
        # botocore re-raises urllib3's errors implicitly (no ``from``): recognising its own
        # classes is what lets the classifier follow their context to the precise cause.
        ("botocore", "ConnectionClosedError"): f("connection_terminated", CLIENT_GENERIC),
        ("botocore", "SSLError"): f("tls_protocol_error", CLIENT_GENERIC),
        ("botocore", "ProxyConnectionError"): f("connection_failed", CLIENT_GENERIC),
        ("botocore", "HTTPClientError"): f("connection_failed", CLIENT_GENERIC - 1),
        ("botocore", "ConnectionError"): f("connection_failed", CLIENT_GENERIC - 1),
        ("botocore", "ClientError"): _botocore_client_error,
        # -- circuit breakers ----------------------------------------------------------
        ("circuitbreaker", "CircuitBreakerError"): _circuitbreaker_open,
        ("pybreaker", "CircuitBreakerError"): _pybreaker_open,
        ("aiobreaker", "CircuitBreakerError"): _aiobreaker_open,
        ("purgatory", "OpenedState"): _purgatory_open,
    }
    # httpx/httpcore name their precise classes alike.
    for package in ("httpx", "httpcore"):
        rules[(package, "ConnectTimeout")] = f("connection_timeout", CLIENT_PRECISE)
        rules[(package, "ReadTimeout")] = f("connection_read_timeout", CLIENT_PRECISE)
        rules[(package, "WriteTimeout")] = f("connection_write_timeout", CLIENT_PRECISE)
        rules[(package, "PoolTimeout")] = f("connection_limit_reached", CLIENT_PRECISE)
        rules[(package, "ConnectError")] = f("connection_failed", CLIENT_GENERIC)
        rules[(package, "ReadError")] = f("connection_terminated", CLIENT_GENERIC)
        rules[(package, "WriteError")] = f("connection_terminated", CLIENT_GENERIC)
    # -- databases and caches (their own module: _classify_databases) -------------------
    rules.update(
        database_rules(
            precise=CLIENT_PRECISE,
            generic=CLIENT_GENERIC,
            os_error=_os_error,
        )
    )
    return rules


_BUILT_IN_RULES: Mapping[tuple[str, str], Rule] = _built_in_rules()


# Where clients keep the exception they wrap: set on the instance (urllib3's MaxRetryError.reason,
# urllib's URLError.reason) or exposed by the class (aiohttp's os_error, ExceptionGroup.exceptions).
# SQLAlchemy's DBAPIError keeps the driver's error in ``orig``.
_LINK_ATTRIBUTES = ("reason", "os_error", "exceptions", "orig")


class _TypeInfo(NamedTuple):
    rule: Rule | None
    class_links: tuple[str, ...]


_NO_INFO = _TypeInfo(None, ())


def _class_links(link: BaseException, names: tuple[str, ...]) -> list[object]:
    """What a class exposes as wrapped exceptions (exception groups' members, aiohttp's
    ``os_error``); a property that raises loses only itself."""
    linked: list[object] = []
    for name in names:
        try:
            value = getattr(link, name, None)
        except Exception:
            continue
        if isinstance(value, (tuple, list)):
            linked += value
        else:
            linked.append(value)
    return linked


class Classifier:
    """Maps exceptions to catalog codes: built-in rules plus the ones you register.

    Registered rules win over built-in ones, whichever link of the chain they match.
    """

    def __init__(self, *, built_ins: bool = True) -> None:
        self._rules: dict[tuple[str, str], Rule] = dict(_BUILT_IN_RULES) if built_ins else {}
        self._user_types: list[tuple[type[BaseException], Rule]] = []
        self._predicates: list[tuple[Predicate, Rule]] = []
        self._cache: dict[type[BaseException], _TypeInfo] = {}

    def register(
        self,
        match: type[BaseException] | Predicate,
        code: str,
        *,
        retry_after: float | datetime | None = None,
        detail: str | None = None,
        upstream: str | None = None,
    ) -> None:
        """Translate exceptions of class ``match`` (or for which predicate ``match`` is true).

        ``code`` is a catalog code; ``retry_after``, ``detail`` and ``upstream`` are used for
        every exception this rule matches. A ``datetime`` retry-after counts down: it is turned
        into seconds when an exception matches, not when the rule is registered.
        """
        if code not in catalog:
            raise ValueError(f"unknown gatewayerrors code: {code!r}")
        evidence = Evidence(code, USER, parse_retry_after(retry_after), None, detail, upstream)

        def rule(exc: BaseException) -> Evidence:
            return evidence

        if isinstance(retry_after, datetime):

            def rule(exc: BaseException) -> Evidence:
                return evidence._replace(retry_after=parse_retry_after(retry_after))

        if isinstance(match, type):
            if not issubclass(match, BaseException):
                raise TypeError("match must be an exception class or a predicate")
            self._user_types.append((match, rule))
            self._cache.clear()
        elif callable(match):
            self._predicates.append((match, rule))
        else:
            raise TypeError("match must be an exception class or a predicate")

    def _rule_for(self, cls: type[BaseException]) -> Rule | None:
        for user_type, rule in self._user_types:
            if issubclass(cls, user_type):
                return rule
        rules = self._rules
        for klass in cls.__mro__:
            module = klass.__module__
            if not isinstance(module, str):
                continue  # a class can set anything as __module__: it names no package
            found = rules.get((module.partition(".")[0], klass.__name__))
            if found is not None:
                return found
        return None

    def _type_info(self, cls: type[BaseException]) -> _TypeInfo:
        info = self._cache.get(cls)
        if info is None:
            try:
                class_links = tuple(name for name in _LINK_ATTRIBUTES if hasattr(cls, name))
                info = _TypeInfo(self._rule_for(cls), class_links)
            except Exception:  # an odd class (a hostile metaclass) is skipped, not fatal
                info = _NO_INFO
            if len(self._cache) >= _CACHE_LIMIT:
                self._cache.clear()
            self._cache[cls] = info
        return info

    def _evidence(self, exc: BaseException, rule: Rule | None) -> Evidence | None:
        for predicate, user_rule in self._predicates:
            try:
                matched = predicate(exc)
            except Exception:
                matched = False
            if matched:
                return user_rule(exc)
        if rule is None:
            return None
        try:
            return rule(exc)
        except Exception:  # a hostile exception object must not break classification
            return None

    def classify(self, exc: BaseException) -> Evidence | None:
        """The most specific evidence along the exception's chain, or None if none is found.

        Explicit links are always followed: ``__cause__`` (``raise ... from exc``), exception
        groups' members, and the exceptions a client wraps (``reason``, ``os_error``, ``args``).
        The implicit ``__context__`` ("raised while handling") is followed only from a link that
        is itself an upstream failure (a client re-raising a lower-level error) and never when
        suppressed (``from None``): an application's own exception raised in an ``except``
        block stays the application's, for its framework's error handling to see.
        """
        # This runs on every translated error: no helper calls per link in the common case.
        best: Evidence | None = None
        upstream_retry: int | None = None
        breaker_retry: int | None = None
        chain: list[BaseException] = [exc]
        seen = {id(exc)}
        cached = self._cache.get
        predicates = self._predicates
        index = 0
        # Breadth-first, so that on equal specificity the outermost evidence wins.
        while index < len(chain) and index < _MAX_LINKS:
            link = chain[index]
            index += 1
            info = cached(type(link)) or self._type_info(type(link))
            rule = info.rule
            found = None
            if predicates:
                found = self._evidence(link, rule)
            elif rule is not None:
                try:
                    found = rule(link)
                except Exception:  # a hostile exception object must not break classification
                    found = None
            if found is not None:
                if best is None or found.specificity > best.specificity:
                    best = found
                if found.specificity == STATUS and upstream_retry is None:
                    upstream_retry = found.retry_after
                elif found.specificity == BREAKER and breaker_retry is None:
                    breaker_retry = found.retry_after
            # The common links inline (this loop is the hot part of every translated error);
            # each access that user code can override is guarded on its own.
            try:
                args = link.args
                # Only a real tuple, and only its first items: a subclass can make ``args``
                # an endless iterator or a huge sequence (walking it exhausted memory).
                linked: list[object] = [*args[:_MAX_ARGS]] if type(args) is tuple else []
            except Exception:
                linked = []
            linked.append(link.__cause__)
            if found is not None and not link.__suppress_context__:
                linked.append(link.__context__)
            instance = link.__dict__
            if instance:
                linked += [instance.get(name) for name in _LINK_ATTRIBUTES]
            if info.class_links:
                linked += _class_links(link, info.class_links)
            for candidate in linked:
                if (
                    candidate is not None
                    and isinstance(candidate, BaseException)
                    and id(candidate) not in seen
                    and len(chain) < _MAX_COLLECTED
                ):
                    seen.add(id(candidate))
                    chain.append(candidate)
        if best is not None and (upstream_retry is not None or breaker_retry is not None):
            # Retry-After precedence: the upstream's own word, then the breaker's reopen time
            # (a trial call before the upstream said it is back would only reopen the circuit).
            # They fill in for evidence without a Retry-After (an app's ServiceUnavailable
            # raised from a breaker error); an app's explicit retry_after stays its own.
            if upstream_retry is not None and (
                best.retry_after is None or best.specificity == BREAKER
            ):
                best = best._replace(retry_after=upstream_retry)
            elif best.retry_after is None:
                best = best._replace(retry_after=breaker_retry)
        return best

    def known_exception_classes(self) -> list[type[BaseException]]:
        """The exception classes this classifier has a rule for, among modules already imported.

        For frameworks that dispatch on exception classes (Flask's error handlers). Nothing is
        imported: a package that is not in ``sys.modules`` contributes no class. Rules keyed by
        name match subclasses too, so a class stands for its subclasses; predicate rules match
        no class and are not included. Call it again after more modules are imported.
        """
        wanted: dict[str, set[str]] = {}
        for package, name in self._rules:
            wanted.setdefault(package, set()).add(name)
        found: dict[type[BaseException], None] = {}
        for module_name, module in list(sys.modules.items()):
            package = module_name.partition(".")[0]
            names = wanted.get(package)
            namespace = getattr(module, "__dict__", None) if names else None
            if not isinstance(namespace, dict):
                continue
            for name in names:  # type: ignore[union-attr]
                value = namespace.get(name)
                if (
                    isinstance(value, type)
                    and issubclass(value, BaseException)
                    and value.__name__ == name
                    and isinstance(value.__module__, str)
                    and value.__module__.partition(".")[0] == package
                ):
                    found[value] = None
        for user_type, _ in self._user_types:
            found[user_type] = None
        return list(found)


default_classifier = Classifier()
"""The classifier every middleware uses unless given its own."""

register = default_classifier.register

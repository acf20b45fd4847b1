"""The library's own exceptions, for apps that detect upstream failures themselves."""

from __future__ import annotations

import copy
import pickle
import socket
from datetime import datetime, timedelta, timezone

import orjson
import pytest

from gatewayerrors import BadGateway, GatewayError, GatewayTimeout, ServiceUnavailable, catalog
from gatewayerrors.core import ErrorResponse, RequestInfo, Translator


def translate(exc: BaseException) -> ErrorResponse:
    response = Translator().translate(exc, RequestInfo(accept="application/json"))
    assert response is not None
    return response


@pytest.mark.parametrize(
    ("cls", "code", "status"),
    [
        (GatewayError, "upstream_error", 502),
        (BadGateway, "upstream_error", 502),
        (ServiceUnavailable, "destination_unavailable", 503),
        (GatewayTimeout, "upstream_timeout", 504),
    ],
)
def test_defaults(cls: type[GatewayError], code: str, status: int) -> None:
    exc = cls()
    assert isinstance(exc, GatewayError)
    assert isinstance(exc, Exception)
    assert exc.code == code
    assert exc.status == status
    assert exc.detail is None
    assert exc.retry_after is None
    assert exc.upstream is None
    assert str(exc) == catalog[code].title
    response = translate(exc)
    assert response.status == status
    body = orjson.loads(response.body)
    assert body["code"] == code
    assert body["detail"] == catalog[code].description


def test_subclasses_are_caught_as_gateway_error() -> None:
    for cls in (BadGateway, ServiceUnavailable, GatewayTimeout):
        with pytest.raises(GatewayError):
            raise cls()


def test_all_options_reach_the_response() -> None:
    exc = ServiceUnavailable(
        detail="Payments are paused while we fail over.",
        code="circuit_open",
        retry_after=42,
        upstream="payments",
    )
    assert str(exc) == "Payments are paused while we fail over."
    response = translate(exc)
    body = orjson.loads(response.body)
    assert response.status == 503
    assert body["code"] == "circuit_open"
    assert body["title"] == catalog["circuit_open"].title
    assert body["detail"] == "Payments are paused while we fail over."
    assert body["retry_after"] == 42
    assert body["upstream"] == "payments"
    assert dict(response.headers)["retry-after"] == "42"


def test_the_code_decides_the_status() -> None:
    # The RFC 9209 type's recommended status wins over the class's default family.
    assert GatewayTimeout(code="connection_read_timeout").status == 504
    assert ServiceUnavailable(code="connection_limit_reached").status == 503
    assert BadGateway(code="tls_certificate_error").status == 502
    assert translate(BadGateway(code="tls_certificate_error")).status == 502
    assert translate(GatewayError(code="maintenance")).status == 503


def test_unknown_code_is_refused() -> None:
    with pytest.raises(ValueError, match="no_such_code"):
        BadGateway(code="no_such_code")


def test_empty_detail_and_upstream_mean_unset() -> None:
    exc = BadGateway(detail="", upstream="")
    assert exc.detail is None
    assert exc.upstream is None
    body = orjson.loads(translate(exc).body)
    assert body["detail"] == catalog["upstream_error"].description
    assert "upstream" not in body


@pytest.mark.parametrize(
    ("retry_after", "expected"),
    [(30, 30), (1.9, 1), (0, 0), (-10, 0), (10**12, 3600)],
)
def test_retry_after_seconds(retry_after: float, expected: int) -> None:
    assert translate(GatewayTimeout(retry_after=retry_after)).error.retry_after == expected


def test_retry_after_datetime_aware_and_naive() -> None:
    aware = datetime.now(timezone.utc) + timedelta(minutes=2)
    naive = aware.replace(tzinfo=None)  # naive datetimes are taken as UTC
    for when in (aware, naive):
        retry = translate(ServiceUnavailable(retry_after=when)).error.retry_after
        assert retry is not None
        assert 115 <= retry <= 120
    past = datetime.now(timezone.utc) - timedelta(hours=1)
    assert translate(ServiceUnavailable(retry_after=past)).error.retry_after == 0


def test_own_exception_wins_over_the_real_cause() -> None:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    try:
        try:
            socket.create_connection(("127.0.0.1", port), timeout=2)
        except ConnectionRefusedError as cause:
            raise ServiceUnavailable(code="circuit_open", upstream="search") from cause
    except GatewayError as exc:
        response = translate(exc)
    assert response.error.code == "circuit_open"
    assert response.error.upstream == "search"


def test_survives_pickle_and_copy() -> None:
    exc = ServiceUnavailable(
        detail="Paused.", code="circuit_open", retry_after=30, upstream="payments"
    )
    for clone in (pickle.loads(pickle.dumps(exc)), copy.copy(exc), copy.deepcopy(exc)):
        assert type(clone) is ServiceUnavailable
        assert (clone.code, clone.detail, clone.retry_after, clone.upstream) == (
            "circuit_open",
            "Paused.",
            30,
            "payments",
        )
        assert str(clone) == "Paused."


def test_the_message_is_for_logs_and_never_reaches_the_client() -> None:
    """The positional message is an exception message: hosts in it must not leak."""
    from gatewayerrors.core import RequestInfo, Translator

    exc = BadGateway("payments at http://10.0.0.5:8080/charge failed: refused")
    assert str(exc) == "payments at http://10.0.0.5:8080/charge failed: refused"
    for accept in ("application/json", "application/xml", "text/html", "text/plain"):
        response = Translator().translate(exc, RequestInfo(accept=accept))
        assert response is not None
        assert b"10.0.0.5" not in response.body
        assert b"8080" not in response.body
        assert all("10.0.0.5" not in value for _, value in response.headers)

"""Headers on every generated error: types, caching, Retry-After, Proxy-Status, request ids."""

from __future__ import annotations

import re
from datetime import datetime, timedelta, timezone
from typing import Any, cast

import http_sf
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from gatewayerrors import BadGateway, GatewayTimeout, ServiceUnavailable, catalog
from gatewayerrors._headers import (
    clean_header_value,
    proxy_status,
    sf_item,
    sf_string,
    valid_request_id,
)
from gatewayerrors.core import ErrorResponse, RequestInfo, Translator

ACCEPTS = ["application/problem+json", "application/problem+xml", "text/html", "text/plain"]
CONTROL = re.compile(r"[\x00-\x1f\x7f]")
# RFC 9110 §5.5: field-value = *field-content; visible ASCII, SP/HTAB, obs-text. We send
# only printable ASCII.
FIELD_VALUE = re.compile(r"[\x20-\x7e]*")
FIELD_NAME = re.compile(r"[!#$%&'*+\-.^_`|~0-9a-z]+")


def respond(
    exc: BaseException,
    translator: Translator | None = None,
    accept: str | None = None,
    request_id: str | None = None,
) -> ErrorResponse:
    request = RequestInfo(accept=accept, request_id=request_id)
    response = (translator or Translator()).translate(exc, request)
    assert response is not None
    return response


def header(response: ErrorResponse, name: str) -> str | None:
    values = [value for key, value in response.headers if key == name]
    assert len(values) <= 1, f"{name} sent {len(values)} times"
    return values[0] if values else None


def parse_proxy_status(value: str) -> list[tuple[Any, dict[str, Any]]]:
    """Proxy-Status as a strict RFC 8941 (9651) List; raises on any syntax error."""
    parsed = http_sf.parse(value.encode("ascii"), tltype="list")
    return cast("list[tuple[Any, dict[str, Any]]]", parsed)


def assert_header_values_safe(response: ErrorResponse) -> None:
    for name, value in response.headers:
        assert FIELD_NAME.fullmatch(name), name
        assert FIELD_VALUE.fullmatch(value), (name, value)
        assert value == value.strip(), (name, value)


# -- the fixed headers -------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("accept", "content_type"),
    [
        ("application/problem+json", "application/problem+json"),
        ("application/problem+xml", "application/problem+xml"),
        ("text/html", "text/html; charset=utf-8"),
        ("text/plain", "text/plain; charset=utf-8"),
    ],
)
def test_content_type_cache_control_vary(accept: str, content_type: str) -> None:
    response = respond(ConnectionRefusedError(111, "refused"), accept=accept)
    assert header(response, "content-type") == content_type
    assert header(response, "cache-control") == "no-store"
    if content_type.startswith("text/html"):
        # A page's words follow Accept-Language too (docs/languages.md); no other format's do.
        assert header(response, "vary") == "Accept, Accept-Language"
        assert header(response, "content-language") == "en"
    else:
        assert header(response, "vary") == "Accept"
        assert header(response, "content-language") is None
    assert header(response, "content-length") == str(len(response.body))
    for name, value in response.headers:
        assert name == name.lower()
        assert isinstance(value, str)


# -- Retry-After -------------------------------------------------------------------------------


def test_retry_after_always_on_503_with_the_default() -> None:
    response = respond(ServiceUnavailable())
    assert response.status == 503
    assert header(response, "retry-after") == "30"


def test_retry_after_default_is_configurable() -> None:
    response = respond(ServiceUnavailable(), Translator(default_retry_after=7))
    assert header(response, "retry-after") == "7"


def test_retry_after_default_is_clamped_to_the_maximum() -> None:
    response = respond(ServiceUnavailable(), Translator(max_retry_after=10))
    assert header(response, "retry-after") == "10"


@pytest.mark.parametrize("code", [code for code, kind in catalog.items() if kind.status == 503])
def test_every_503_code_has_retry_after(code: str) -> None:
    response = Translator().response_for(code, RequestInfo())
    assert re.fullmatch(r"\d+", header(response, "retry-after") or "")


@pytest.mark.parametrize(
    "exc",
    [ConnectionRefusedError(111, "refused"), TimeoutError(), BadGateway(), GatewayTimeout()],
    ids=["502-refused", "504-timeout", "502-own", "504-own"],
)
def test_no_retry_after_on_502_504_when_unknown(exc: BaseException) -> None:
    response = respond(exc)
    assert response.status in (502, 504)
    assert header(response, "retry-after") is None


@pytest.mark.parametrize(
    ("retry_after", "expected"),
    [
        (5, "5"),
        (2.9, "2"),
        (0, "0"),
        (-4, "0"),
        (10**9, "3600"),
        (float("inf"), "3600"),
        (float("nan"), None),
    ],
)
def test_retry_after_on_502_504_when_known_integer_and_clamped(
    retry_after: float, expected: str | None
) -> None:
    for exc in (BadGateway(retry_after=retry_after), GatewayTimeout(retry_after=retry_after)):
        response = respond(exc)
        assert header(response, "retry-after") == expected


def test_retry_after_from_a_datetime_is_integer_seconds() -> None:
    when = datetime.now(timezone.utc) + timedelta(seconds=90)
    value = header(respond(GatewayTimeout(retry_after=when)), "retry-after")
    assert value is not None
    assert 85 <= int(value) <= 90


def test_retry_after_is_clamped_to_max_retry_after() -> None:
    translator = Translator(max_retry_after=120)
    response = respond(ServiceUnavailable(retry_after=86_400), translator)
    assert header(response, "retry-after") == "120"


# -- Proxy-Status ------------------------------------------------------------------------------


@pytest.mark.parametrize("code", list(catalog))
def test_proxy_status_error_only_for_rfc9209_types(code: str) -> None:
    response = Translator(service="checkout-api").response_for(code, RequestInfo())
    value = header(response, "proxy-status")
    if not catalog[code].rfc9209:
        assert value is None
        return
    assert value == f"checkout-api; error={code}"
    [(name, params)] = parse_proxy_status(value)
    assert name == http_sf.Token("checkout-api")
    assert params == {"error": http_sf.Token(code)}


def test_proxy_status_received_status_when_known() -> None:
    # upstream_error is our own code: no error= parameter, but the received status.
    exc = BadGateway()
    translator = Translator(service="api")
    error = translator.failure(
        translator.classify(exc)._replace(received_status=500),  # type: ignore[union-attr]
        RequestInfo(),
    )
    response = translator.respond(error, RequestInfo())
    [(name, params)] = parse_proxy_status(header(response, "proxy-status") or "")
    assert name == http_sf.Token("api")
    assert params == {"received-status": 500}


def test_proxy_status_error_and_received_status_together() -> None:
    translator = Translator(service="api")
    evidence = translator.classify(ConnectionResetError(104, "reset"))
    assert evidence is not None
    error = translator.failure(evidence._replace(received_status=502), RequestInfo())
    value = header(translator.respond(error, RequestInfo()), "proxy-status") or ""
    [(_, params)] = parse_proxy_status(value)
    assert params == {"error": http_sf.Token("connection_terminated"), "received-status": 502}


def test_proxy_status_details_only_in_debug() -> None:
    exc = ConnectionRefusedError(111, 'say "hi" \\ to 10.0.0.7')
    production = header(respond(exc), "proxy-status") or ""
    assert "details" not in production
    assert "10.0.0.7" not in production
    debug = header(respond(exc, Translator(debug=True)), "proxy-status") or ""
    [(_, params)] = parse_proxy_status(debug)
    assert params["error"] == http_sf.Token("connection_refused")
    assert params["details"] == 'ConnectionRefusedError: [Errno 111] say "hi" \\ to 10.0.0.7'


@pytest.mark.parametrize(
    ("service", "expected"),
    [
        ("checkout-api", http_sf.Token("checkout-api")),
        ("Checkout.API:v2/eu", http_sf.Token("Checkout.API:v2/eu")),
        ("*edge", http_sf.Token("*edge")),
        ("my service", "my service"),
        ("9lives", "9lives"),
        ("-dash", "-dash"),
        ("", ""),
        ('quote"back\\slash', 'quote"back\\slash'),
        ("café", "caf?"),
        ("a\r\nSet-Cookie: x=1", "a??Set-Cookie: x=1"),
        ("tab\there", "tab?here"),
    ],
)
def test_service_name_is_a_token_or_an_sf_string(service: str, expected: object) -> None:
    response = respond(ConnectionRefusedError(111, "refused"), Translator(service=service))
    [(name, _)] = parse_proxy_status(header(response, "proxy-status") or "")
    assert name == expected
    assert type(name) is type(expected)


# -- no control characters, whatever the input --------------------------------------------------

ANY_TEXT = st.text(st.characters(codec=None, exclude_categories=()), max_size=60)


@settings(max_examples=100, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    service=ANY_TEXT,
    request_id=ANY_TEXT,
    message=ANY_TEXT,
    upstream=ANY_TEXT,
    detail=ANY_TEXT,
    accept=ANY_TEXT,
    retry=st.one_of(st.none(), st.integers()),
)
def test_header_values_never_carry_control_characters(
    service: str,
    request_id: str,
    message: str,
    upstream: str,
    detail: str,
    accept: str,
    retry: int | None,
) -> None:
    translator = Translator(service=service, debug=True)
    exc = ServiceUnavailable(detail=detail, upstream=upstream, retry_after=retry)
    exc.__context__ = ConnectionResetError(message)
    response = respond(exc, translator, accept=accept, request_id=request_id)
    assert_header_values_safe(response)
    [(_, params)] = parse_proxy_status(header(response, "proxy-status") or "")
    assert set(params) <= {"error", "details", "received-status"}
    assert re.fullmatch(r"\d+", header(response, "retry-after") or "")


@settings(max_examples=100, deadline=None)
@given(st.text(st.characters(codec=None, exclude_categories=()), max_size=300))
def test_header_building_blocks_are_control_free(text: str) -> None:
    assert not CONTROL.search(clean_header_value(text))
    for value in (sf_string(text), sf_item(text), proxy_status(text, "dns_error", 503, text)):
        assert FIELD_VALUE.fullmatch(value)
    parsed = parse_proxy_status(proxy_status(text, "dns_error", 503, text))
    assert len(parsed) == 1


def test_sf_string_escapes_and_bounds() -> None:
    assert sf_string('a"b\\c') == '"a\\"b\\\\c"'
    item = cast(
        "tuple[Any, dict[str, Any]]", http_sf.parse(sf_string('a"b\\c').encode(), tltype="item")
    )
    assert item[0] == 'a"b\\c'
    assert len(sf_string("x" * 10_000)) <= 258


# -- request ids -------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "request_id",
    [
        "abc",
        "0f8fad5b-d9cb-469f-a165-70867728950e",
        "1-5759e988-bd862e3fe1be46a994272793",
        "req_01H8XGJWBWBAQ4Z2Z5K6ZJ7Y9C",
        "a.b:c/d+e=f@g",
        "x" * 128,
    ],
)
def test_valid_request_id_is_reused(request_id: str) -> None:
    response = respond(GatewayTimeout(), request_id=request_id)
    assert header(response, "x-request-id") == request_id
    assert response.error.request_id == request_id
    assert valid_request_id(request_id) == request_id


@pytest.mark.parametrize(
    "request_id",
    [
        None,
        "",
        "x" * 129,
        "has space",
        "crlf\r\nSet-Cookie: a=b",
        "new\nline",
        "nul\x00",
        'quote"',
        "<script>",
        "ünïcode",
        "semi;colon",
        "comma,separated",
    ],
)
def test_invalid_request_id_is_replaced_by_a_generated_one(request_id: str | None) -> None:
    response = respond(GatewayTimeout(), request_id=request_id)
    value = header(response, "x-request-id")
    assert value is not None
    assert re.fullmatch(r"[0-9a-f]{32}", value)
    assert valid_request_id(request_id) is None


def test_generated_request_ids_are_unique() -> None:
    translator = Translator()
    ids = {header(respond(GatewayTimeout(), translator), "x-request-id") for _ in range(200)}
    assert len(ids) == 200


def test_request_id_not_trusted_when_disabled() -> None:
    response = respond(GatewayTimeout(), Translator(trust_request_id=False), request_id="abc")
    value = header(response, "x-request-id")
    assert value != "abc"
    assert re.fullmatch(r"[0-9a-f]{32}", value or "")


def test_request_id_header_name_is_configurable_and_lowercase() -> None:
    response = respond(
        GatewayTimeout(), Translator(request_id_header="X-Correlation-ID"), request_id="abc"
    )
    assert header(response, "x-correlation-id") == "abc"
    assert header(response, "x-request-id") is None


def test_a_style_header_outside_ascii_becomes_printable_ascii() -> None:
    """WSGI servers refuse non-latin-1 header values: the core never hands one over."""
    from gatewayerrors.core import RequestInfo, Translator

    translator = Translator(
        style=lambda error, fmt, request: ("application/json; n=☃\r\nX: 1", b"{}")
    )
    response = translator.translate(
        ConnectionRefusedError(), RequestInfo(accept="application/json")
    )
    assert response is not None
    content_type = dict(response.headers)["content-type"]
    assert content_type == "application/json; n=?X: 1"
    assert content_type.isascii()
    assert content_type.isprintable()

"""The error catalog: every RFC 9209 type with its recommended status, stable numbers, data."""

from __future__ import annotations

import dataclasses
import re
from collections.abc import Mapping

import pytest

from gatewayerrors import ErrorKind, catalog
from gatewayerrors.core import Catalog

# RFC 9209 §2.3: every registered proxy error type and its "Recommended HTTP Status Code".
# proxy_internal_response recommends "depends" (None): we answer 500 for it.
RFC9209_TYPES: dict[str, int | None] = {
    "dns_timeout": 504,
    "dns_error": 502,
    "destination_not_found": 500,
    "destination_unavailable": 503,
    "destination_ip_prohibited": 502,
    "destination_ip_unroutable": 502,
    "connection_refused": 502,
    "connection_terminated": 502,
    "connection_timeout": 504,
    "connection_read_timeout": 504,
    "connection_write_timeout": 504,
    "connection_limit_reached": 503,
    "tls_protocol_error": 502,
    "tls_certificate_error": 502,
    "tls_alert_received": 502,
    "http_request_error": 400,
    "http_request_denied": 403,
    "http_response_incomplete": 502,
    "http_response_header_section_size": 502,
    "http_response_header_size": 502,
    "http_response_body_size": 502,
    "http_response_trailer_section_size": 502,
    "http_response_trailer_size": 502,
    "http_response_transfer_coding": 502,
    "http_response_content_coding": 502,
    "http_response_timeout": 504,
    "http_upgrade_failed": 502,
    "http_protocol_error": 502,
    "proxy_internal_response": None,
    "proxy_internal_error": 500,
    "proxy_configuration_error": 500,
    "proxy_loop_detected": 502,
}

# Our own codes, for what RFC 9209 has no type for, with the status each must have.
OWN_CODES = {
    "upstream_error": 502,
    "upstream_overloaded": 503,
    "upstream_timeout": 504,
    "connection_failed": 502,
    "circuit_open": 503,
    "maintenance": 503,
}

# Numbers are public API (like the Twitter API's error codes): never renumbered, never
# reused. Changing a line here is a breaking change; adding a new code adds a line.
STABLE_NUMBERS = {
    "dns_timeout": 10,
    "dns_error": 11,
    "destination_not_found": 12,
    "destination_unavailable": 13,
    "destination_ip_prohibited": 14,
    "destination_ip_unroutable": 15,
    "connection_refused": 20,
    "connection_terminated": 21,
    "connection_timeout": 22,
    "connection_read_timeout": 23,
    "connection_write_timeout": 24,
    "connection_limit_reached": 25,
    "tls_protocol_error": 30,
    "tls_certificate_error": 31,
    "tls_alert_received": 32,
    "http_request_error": 40,
    "http_request_denied": 41,
    "http_response_timeout": 42,
    "http_response_incomplete": 43,
    "http_response_header_section_size": 44,
    "http_response_header_size": 45,
    "http_response_body_size": 46,
    "http_response_trailer_section_size": 47,
    "http_response_trailer_size": 48,
    "http_response_transfer_coding": 49,
    "http_response_content_coding": 50,
    "http_upgrade_failed": 51,
    "http_protocol_error": 52,
    "proxy_internal_response": 60,
    "proxy_internal_error": 61,
    "proxy_configuration_error": 62,
    "proxy_loop_detected": 63,
    "upstream_error": 70,
    "upstream_overloaded": 71,
    "upstream_timeout": 72,
    "connection_failed": 73,
    "circuit_open": 74,
    "maintenance": 75,
}


@pytest.mark.parametrize(("code", "status"), sorted(RFC9209_TYPES.items()))
def test_every_rfc9209_type_is_present_with_its_recommended_status(
    code: str, status: int | None
) -> None:
    kind = catalog[code]
    assert kind.rfc9209 is True
    if status is None:
        assert 400 <= kind.status <= 599
    else:
        assert kind.status == status


def test_rfc9209_flag_marks_exactly_the_registered_types() -> None:
    registered = {code for code, kind in catalog.items() if kind.rfc9209}
    assert registered == set(RFC9209_TYPES)


def test_own_codes_exist_with_their_status_and_do_not_collide_with_registered_types() -> None:
    own = {code: kind.status for code, kind in catalog.items() if not kind.rfc9209}
    assert own == OWN_CODES
    assert not set(own) & set(RFC9209_TYPES)


def test_numbers_are_stable() -> None:
    assert {code: kind.number for code, kind in catalog.items()} == STABLE_NUMBERS


def test_numbers_and_codes_are_unique() -> None:
    numbers = [kind.number for kind in catalog.values()]
    assert len(set(numbers)) == len(numbers) == len(catalog)


def test_catalog_refuses_duplicate_numbers_or_codes() -> None:
    kind = catalog["connection_refused"]
    with pytest.raises(ValueError, match="unique"):
        Catalog((kind, dataclasses.replace(kind, code="other")))
    with pytest.raises(ValueError, match="unique"):
        Catalog((kind, dataclasses.replace(kind, number=999)))


def test_codes_are_structured_field_tokens_and_xml_friendly() -> None:
    # Proxy-Status needs an sf-token; RFC 9457 extension values and URIs need no escaping.
    for code in catalog:
        assert re.fullmatch(r"[a-z][a-z0-9_]{2,}", code), code


def test_statuses_are_gateway_statuses_or_the_rfc_recommended_ones() -> None:
    for kind in catalog.values():
        if kind.rfc9209:
            continue
        assert kind.status in (502, 503, 504), kind.code


def test_catalog_is_a_read_only_mapping_in_number_order() -> None:
    assert isinstance(catalog, Mapping)
    assert len(catalog) == len(STABLE_NUMBERS) == len(list(catalog))
    assert "connection_refused" in catalog
    assert "not_a_code" not in catalog
    assert catalog.get("not_a_code") is None
    with pytest.raises(KeyError):
        catalog["not_a_code"]
    assert set(catalog.keys()) == set(STABLE_NUMBERS)
    assert all(isinstance(kind, ErrorKind) for kind in catalog.values())
    assert all(kind.code == code for code, kind in catalog.items())
    assert catalog == {kind.code: kind for kind in catalog.values()}
    numbers = [catalog[code].number for code in catalog]
    assert numbers == sorted(numbers)
    with pytest.raises(TypeError):
        catalog["x"] = catalog["maintenance"]  # type: ignore[index]
    with pytest.raises(dataclasses.FrozenInstanceError):
        catalog["maintenance"].status = 200  # type: ignore[misc]
    assert "error kinds" in repr(catalog)


def test_by_number() -> None:
    for code, number in STABLE_NUMBERS.items():
        assert catalog.by_number(number) is catalog[code]
    with pytest.raises(KeyError):
        catalog.by_number(1)


def test_human_text_is_present_and_one_line() -> None:
    for kind in catalog.values():
        for name in ("title", "description", "hint"):
            text = getattr(kind, name)
            assert text, (kind.code, name)
            assert text == text.strip(), (kind.code, name)
            assert "\n" not in text, (kind.code, name)
        assert len(kind.title) <= 60, kind.code
        assert not kind.title.endswith("."), kind.code
        assert kind.description.endswith("."), kind.code
        assert kind.hint.endswith("."), kind.code


def test_iis_sub_status_when_given_is_a_502_sub_code() -> None:
    for kind in catalog.values():
        assert kind.iis == "" or re.fullmatch(r"502\.[1-7]", kind.iis), kind.code

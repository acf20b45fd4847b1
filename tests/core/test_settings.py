"""Settings: safe production defaults, validation, overrides."""

from __future__ import annotations

import dataclasses
from typing import Any

import hypothesis
import orjson
import pytest
from hypothesis import given
from hypothesis import strategies as st
from rfc3986_validator import validate_rfc3986

from gatewayerrors import Settings, catalog
from gatewayerrors._settings import SettingsError, resolve_settings
from gatewayerrors.core import RequestInfo, Translator


def test_production_defaults() -> None:
    settings = Settings()
    assert settings.debug is False
    assert settings.format_param is None
    assert settings.path_suffix is False
    assert settings.suppress_response_codes is None
    assert settings.maintenance is False
    assert settings.service == "app"
    assert settings.default_retry_after == 30
    assert settings.max_retry_after == 3600
    assert settings.maintenance_retry_after == 300
    assert settings.type_base == "urn:gatewayerrors:"
    assert settings.request_id_header == "x-request-id"
    assert settings.trust_request_id is True
    assert settings.forward_request_id is False
    assert settings.style == "problem"
    assert settings.templates is None
    assert settings.classifier is None
    assert settings.on_error is None
    assert settings.logger_name == "gatewayerrors"
    assert settings.maintenance_env == "GATEWAYERRORS_MAINTENANCE"
    assert settings.maintenance_exempt == ("/health", "/healthz", "/livez", "/readyz")
    assert dict(settings.overrides) == {}


def test_settings_are_frozen() -> None:
    settings = Settings()
    with pytest.raises(dataclasses.FrozenInstanceError):
        settings.debug = True  # type: ignore[misc]


@pytest.mark.parametrize(
    "name", ["default_retry_after", "max_retry_after", "maintenance_retry_after"]
)
def test_retry_after_settings_must_be_non_negative_int(name: str) -> None:
    def settings(value: object) -> Settings:
        options: dict[str, Any] = {name: value}
        return Settings(**options)

    with pytest.raises(ValueError, match=name):
        settings(-1)
    for bad in (1.5, True, "30", None):
        with pytest.raises(TypeError, match=name):
            settings(bad)
    assert getattr(settings(0), name) == 0


def test_forward_request_id_must_be_a_bool() -> None:
    with pytest.raises(TypeError, match="forward_request_id"):
        Settings(forward_request_id="yes")  # type: ignore[arg-type]
    assert Settings(forward_request_id=True).forward_request_id is True


def test_overrides_for_unknown_codes_are_refused() -> None:
    with pytest.raises(ValueError, match="no_such_code"):
        Settings(overrides={"no_such_code": {"title": "x"}})


def test_overrides_with_unknown_keys_are_refused() -> None:
    with pytest.raises(ValueError, match="colour"):
        Translator(overrides={"maintenance": {"colour": "red"}})


def test_overrides_change_title_detail_and_hint_everywhere() -> None:
    overrides = {
        "maintenance": {
            "title": "Back soon",
            "detail": "We are upgrading.",
            "hint": "Come back at 10:00 UTC.",
        }
    }
    translator = Translator(overrides=overrides)
    json_body = orjson.loads(translator.response_for("maintenance", RequestInfo()).body)
    assert (json_body["title"], json_body["detail"]) == ("Back soon", "We are upgrading.")
    for accept in ("text/plain", "text/html"):
        body = translator.response_for("maintenance", RequestInfo(accept=accept)).body.decode()
        for text in ("Back soon", "We are upgrading.", "Come back at 10:00 UTC."):
            assert text in body
    other = orjson.loads(translator.response_for("circuit_open", RequestInfo()).body)
    assert other["title"] == catalog["circuit_open"].title


def test_invalid_style_is_refused() -> None:
    with pytest.raises(ValueError, match="style"):
        Translator(style="yaml")


def test_from_mapping() -> None:
    settings = Settings.from_mapping({"service": "api", "debug": True})
    assert settings == Settings(service="api", debug=True)
    with pytest.raises(TypeError, match="colour, size"):
        Settings.from_mapping({"service": "api", "size": 1, "colour": "red"})


def test_keyword_options_equal_a_settings_object() -> None:
    options = {"service": "api", "default_retry_after": 5, "format_param": "format"}
    assert Translator(**options).settings == Settings(**options)  # type: ignore[arg-type]


@pytest.mark.parametrize("exempt", ["/health", ("/health", "health"), ("/health", 3)])
def test_maintenance_exempt_must_be_paths(exempt: object) -> None:
    with pytest.raises(ValueError, match="maintenance_exempt"):
        Settings(maintenance_exempt=exempt)  # type: ignore[arg-type]


def test_maintenance_exempt_list_becomes_a_tuple() -> None:
    assert Settings(maintenance_exempt=["/ping"]).maintenance_exempt == ("/ping",)  # type: ignore[arg-type]


@pytest.mark.parametrize("flag", [1, "yes", None])
def test_maintenance_must_be_a_bool_or_a_callable(flag: object) -> None:
    with pytest.raises(TypeError, match="maintenance"):
        Settings(maintenance=flag)  # type: ignore[arg-type]


# The type member must be a URI reference (RFC 9457 §3.1.1): judged by rfc3986-validator,
# the grammar check jsonschema uses for the "uri-reference" format.


@pytest.mark.parametrize(
    ("type_base", "sent"),
    [
        ("urn:gatewayerrors:", "urn:gatewayerrors:"),
        ("https://docs.example.com/errors/", "https://docs.example.com/errors/"),
        ("https://docs.example.com/fehler/ü/", "https://docs.example.com/fehler/%C3%BC/"),
        ("https://docs.example.com/errors/%C3%BC/", "https://docs.example.com/errors/%C3%BC/"),
        ("/errors/a b#", "/errors/a%20b#"),
        ("/50%/", "/50%25/"),
        ("https://[::1]:8443/errors/", "https://[::1]:8443/errors/"),
        ("", ""),
    ],
)
def test_type_base_is_percent_encoded(type_base: str, sent: str) -> None:
    settings = Settings(type_base=type_base)
    assert settings.type_base == sent
    assert validate_rfc3986(sent + "connection_refused", rule="URI_reference")
    response = Translator(settings).translate(ConnectionRefusedError(), RequestInfo())
    assert response is not None
    assert orjson.loads(response.body)["type"] == sent + "connection_refused"


@pytest.mark.parametrize(
    "type_base", ["1a:b/", "https://x/[errors]/", "https://x:port/", "//host:", ":/", "\ud800"]
)
def test_type_base_that_is_no_uri_reference_fails_at_construction(type_base: str) -> None:
    with pytest.raises(ValueError, match="type_base"):
        Settings(type_base=type_base)


def test_type_base_must_be_a_string() -> None:
    with pytest.raises(TypeError, match="type_base"):
        Settings(type_base=b"urn:x:")  # type: ignore[arg-type]


@hypothesis.settings(max_examples=500, deadline=None)
@given(st.text(max_size=40))
def test_any_accepted_type_base_makes_a_uri_reference(type_base: str) -> None:
    try:
        sent = Settings(type_base=type_base).type_base
    except ValueError:
        return
    assert validate_rfc3986(sent + "connection_refused", rule="URI_reference")


# Each wrong value is refused when the settings are built, with the option named.
REFUSED_AT_BUILD = {
    "service": 42,
    "classifier": 42,
    "format_param": "two words",
    "request_id_header": "bad header",
    "on_error": 5,
    "logger_name": " ",
    "debug": "yes",
    "overrides": ["connection_refused"],
}


@pytest.mark.parametrize(("name", "value"), REFUSED_AT_BUILD.items(), ids=list(REFUSED_AT_BUILD))
def test_a_wrong_value_is_refused_with_the_option_named(name: str, value: object) -> None:
    options: dict[str, Any] = {name: value}
    with pytest.raises(SettingsError, match=name) as refused:
        Settings(**options)
    assert refused.value.option == name


def test_overrides_texts_must_be_a_mapping() -> None:
    with pytest.raises(SettingsError, match=r"overrides\['connection_refused'\]"):
        Settings(overrides={"connection_refused": "a title"})  # type: ignore[dict-item]


def test_an_adapter_takes_a_settings_object_or_options_not_anything_else() -> None:
    assert resolve_settings(None, {"service": "api"}) == Settings(service="api")
    with pytest.raises(TypeError, match="not both"):
        resolve_settings(Settings(), {"service": "api"})
    with pytest.raises(TypeError, match="must be a gatewayerrors Settings"):
        resolve_settings({"service": "api"}, {})  # type: ignore[arg-type]

"""FastAPI's /openapi.json documents the gateway errors: fetched from a real server, validated
with openapi-spec-validator, and checked against the real error responses of the same app."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import httpx
import jsonschema  # type: ignore[import-untyped]
import pytest
from asgi_servers import serve
from fastapi import FastAPI
from openapi_spec_validator import validate

from gatewayerrors import ServiceUnavailable, catalog
from gatewayerrors.openapi import (
    add_gateway_errors,
    document_gateway_errors,
    gateway_responses,
    problem_schema,
)
from gatewayerrors.starlette import install
from gatewayerrors.testing import FaultyUpstreams

STATUSES = ("502", "503", "504")


def shop(upstreams: FaultyUpstreams, *, globally: bool, style: str = "problem") -> FastAPI:
    app = FastAPI(title="shop")

    @app.get("/refused")
    async def refused() -> dict[str, str]:
        async with httpx.AsyncClient() as client:
            await client.get(upstreams.refused_url)
        return {}

    @app.get("/paused", responses=gateway_responses([503]))  # documented route by route
    async def paused() -> dict[str, str]:
        raise ServiceUnavailable("breaker open", code="circuit_open", retry_after=9)

    @app.post("/orders", status_code=201)
    async def create() -> dict[str, str]:
        return {}

    if globally:
        document_gateway_errors(app, style=style)
    install(app, service="shop-api", style=style)
    return app


@pytest.fixture(scope="module")
def served(upstreams: FaultyUpstreams) -> Iterator[dict[str, str]]:
    with (
        serve(shop(upstreams, globally=True)) as globally,
        serve(shop(upstreams, globally=False)) as per_route,
        serve(shop(upstreams, globally=True, style="twitter")) as twitter,
    ):
        yield {"global": globally.url, "route": per_route.url, "twitter": twitter.url}


def fetch(url: str) -> dict[str, Any]:
    document: dict[str, Any] = httpx.get(url + "/openapi.json", timeout=5).json()
    return document


def resolve(document: dict[str, Any], node: dict[str, Any]) -> dict[str, Any]:
    while "$ref" in node:
        target: Any = document
        for part in node["$ref"].removeprefix("#/").split("/"):
            target = target[part]
        node = target
    return node


@pytest.mark.parametrize("mode", ["global", "route", "twitter"])
def test_the_document_validates(served: dict[str, str], mode: str) -> None:
    validate(fetch(served[mode]))  # raises OpenAPIValidationError when invalid


def test_every_operation_lists_the_three_responses_with_headers(served: dict[str, str]) -> None:
    document = fetch(served["global"])
    operations = [
        operation
        for item in document["paths"].values()
        for method, operation in item.items()
        if method in ("get", "post")
    ]
    assert len(operations) == 3
    for operation in operations:
        for status in STATUSES:
            response = resolve(document, operation["responses"][status])
            assert set(response["headers"]) == {"Retry-After", "Proxy-Status", "X-Request-Id"}
            assert set(response["content"]) >= {
                "application/problem+json",
                "application/problem+xml",
            }
    retry_after = resolve(document, {"$ref": "#/components/responses/ServiceUnavailable"})
    assert retry_after["headers"]["Retry-After"]["required"] is True
    # FastAPI's own responses are kept.
    assert document["paths"]["/orders"]["post"]["responses"]["201"]["description"]


def test_the_codes_are_an_enum_per_status(served: dict[str, str]) -> None:
    document = fetch(served["global"])
    assert document["components"]["schemas"]["GatewayProblem"]["properties"]["code"]["enum"] == (
        list(catalog)
    )
    response = resolve(document, {"$ref": "#/components/responses/GatewayTimeout"})
    narrowed = response["content"]["application/problem+json"]["schema"]["allOf"][1]
    assert narrowed["properties"]["status"] == {"const": 504}
    assert set(narrowed["properties"]["code"]["enum"]) == {
        code for code, kind in catalog.items() if kind.status == 504
    }
    xml = resolve(document, document["components"]["schemas"]["GatewayProblem"])["xml"]
    assert xml == {"name": "problem", "namespace": "urn:ietf:rfc:7807"}


def test_per_route_documents_only_that_route(served: dict[str, str]) -> None:
    document = fetch(served["route"])
    assert "503" in document["paths"]["/paused"]["get"]["responses"]
    assert "502" not in document["paths"]["/paused"]["get"]["responses"]
    assert not set(STATUSES) & set(document["paths"]["/refused"]["get"]["responses"])


@pytest.mark.parametrize(("path", "status"), [("/refused", "502"), ("/paused", "503")])
def test_real_answers_match_the_documented_schema(
    served: dict[str, str], path: str, status: str
) -> None:
    document = fetch(served["global"])
    operation = document["paths"][path]["get"]
    documented = resolve(document, operation["responses"][status])
    schema = documented["content"]["application/problem+json"]["schema"]
    response = httpx.get(served["global"] + path, timeout=5)
    assert str(response.status_code) == status
    for header, spec in documented["headers"].items():
        if spec.get("required"):
            assert header.lower() in response.headers
    # The document's own schema, with its components, validates the real body.
    jsonschema.validate(
        response.json(),
        {**schema, "components": document["components"]},
        cls=jsonschema.Draft202012Validator,
    )


def test_twitter_style_documents_the_envelope(served: dict[str, str]) -> None:
    document = fetch(served["twitter"])
    response = resolve(document, {"$ref": "#/components/responses/BadGateway"})
    assert set(response["content"]) >= {"application/json", "application/xml"}
    body = httpx.get(served["twitter"] + "/refused", timeout=5).json()
    jsonschema.validate(
        body, {"$ref": "#/components/schemas/GatewayErrors", "components": document["components"]}
    )


def test_an_existing_response_is_not_overwritten() -> None:
    document: dict[str, Any] = {
        "openapi": "3.1.0",
        "info": {"title": "t", "version": "1"},
        "paths": {"/x": {"get": {"responses": {"503": {"description": "ours"}}}}},
    }
    add_gateway_errors(document, include=lambda path, method, operation: path == "/x")
    assert document["paths"]["/x"]["get"]["responses"]["503"] == {"description": "ours"}
    assert "$ref" in document["paths"]["/x"]["get"]["responses"]["502"]
    validate(document)


def test_bad_options_fail_at_startup() -> None:
    with pytest.raises(ValueError, match="statuses"):
        gateway_responses([500])
    with pytest.raises(ValueError, match="style"):
        document_gateway_errors(FastAPI(), style="soap")


def test_the_schema_is_a_valid_json_schema() -> None:
    jsonschema.Draft202012Validator.check_schema(problem_schema())


def test_starlette_schema_generator_output() -> None:
    """Starlette's own SchemaGenerator (docstring YAML): its document gains the responses."""
    import json

    from starlette.routing import Route
    from starlette.schemas import SchemaGenerator

    async def orders(request: Any) -> Any:
        """
        responses:
          200:
            description: The orders.
          503:
            description: Our own words for a 503.
        """

    generator = SchemaGenerator({"openapi": "3.1.0", "info": {"title": "shop", "version": "1"}})
    document = add_gateway_errors(generator.get_schema([Route("/orders", orders)]))
    document = json.loads(json.dumps(document))  # as served: status keys become text
    validate(document)
    responses = document["paths"]["/orders"]["get"]["responses"]
    assert responses["503"] == {"description": "Our own words for a 503."}
    assert set(responses) == {"200", "502", "503", "504"}

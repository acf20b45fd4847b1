"""OpenAPI for the gateway errors a service answers: 502, 503 and 504, documented.

For FastAPI (or any OpenAPI 3.1 document as a dict), with nothing imported from FastAPI::

    from fastapi import FastAPI
    from gatewayerrors.openapi import document_gateway_errors, gateway_responses

    app = FastAPI()
    document_gateway_errors(app)                       # every operation

    @app.get("/orders", responses=gateway_responses())  # or route by route
    async def orders(): ...

Each response has the problem schema for ``application/problem+json`` and
``application/problem+xml`` (RFC 9457, Appendix B's XML names), the status's catalog codes as an
enum, and the ``Retry-After``, ``Proxy-Status`` and request-id headers.
"""

from __future__ import annotations

import copy
from collections.abc import Callable, Iterable
from typing import Any

from ._catalog import catalog

__all__ = [
    "GATEWAY_STATUSES",
    "add_gateway_errors",
    "document_gateway_errors",
    "gateway_responses",
    "problem_schema",
]

GATEWAY_STATUSES = (502, 503, 504)
_XML = {"name": "problem", "namespace": "urn:ietf:rfc:7807"}
_DESCRIPTIONS = {
    502: "Bad Gateway: a service this request depends on failed (refused, reset, TLS, DNS, an "
    "invalid answer), or answered with an error.",
    503: "Service Unavailable: a service this request depends on is overloaded, paused "
    "(circuit open), out of connections or down for maintenance. Retry after the delay given.",
    504: "Gateway Timeout: a service this request depends on did not answer in time.",
}
_SCHEMA = "GatewayProblem"
_TWITTER_SCHEMA = "GatewayErrors"
_COMPONENT_RESPONSES = {502: "BadGateway", 503: "ServiceUnavailable", 504: "GatewayTimeout"}

Include = Callable[[str, str, dict[str, Any]], bool]
"""``include(path, method, operation)``: whether an operation gets the gateway responses."""


def _codes(status: int | None = None) -> list[str]:
    return [code for code, kind in catalog.items() if status is None or kind.status == status]


def problem_schema() -> dict[str, Any]:
    """The JSON Schema (OpenAPI 3.1) of the problem details this library renders."""
    codes = _codes()
    return {
        "title": _SCHEMA,
        "description": "RFC 9457 problem details for a gateway error (gatewayerrors).",
        "type": "object",
        "properties": {
            "type": {
                "type": "string",
                "format": "uri-reference",
                "description": "The problem type: the settings' type_base, then the code.",
            },
            "title": {"type": "string", "description": "Short summary, stable per code."},
            "status": {"type": "integer", "minimum": 100, "maximum": 599},
            "detail": {"type": "string", "description": "What happened, for the client."},
            "instance": {"type": "string", "format": "uri-reference"},
            "code": {
                "type": "string",
                "enum": codes,
                "description": "Stable catalog code (RFC 9209 error type where one exists).",
            },
            "retry_after": {"type": "integer", "minimum": 0, "description": "Seconds."},
            "upstream": {"type": "string", "description": "Logical name of the upstream."},
            "upstream_status": {
                "type": "integer",
                "description": "The status the upstream answered, when it answered.",
            },
            "upstream_code": {
                "type": "string",
                "enum": codes,
                "description": "The failed upstream's own root cause (service chains).",
            },
            "request_id": {"type": "string", "description": "Quote it when asking for help."},
            "exception": {"type": "string", "description": "Debug mode only."},
        },
        "required": ["type", "title", "status", "detail", "code"],
        "xml": dict(_XML),
    }


def _twitter_schema() -> dict[str, Any]:
    return {
        "title": _TWITTER_SCHEMA,
        "description": "Twitter-API-style error envelope (style='twitter').",
        "type": "object",
        "properties": {
            "errors": {
                "type": "array",
                "items": {
                    "type": "object",
                    "properties": {
                        "message": {"type": "string"},
                        "code": {
                            "type": "integer",
                            "enum": [kind.number for kind in catalog.values()],
                            "description": "The catalog's stable number.",
                        },
                    },
                    "required": ["message", "code"],
                },
            }
        },
        "required": ["errors"],
        "xml": {"name": "errors"},
    }


def _headers(status: int, request_id_header: str) -> dict[str, Any]:
    return {
        "Retry-After": {
            "description": "Seconds to wait before retrying (RFC 9110 §10.2.3)."
            + (" Always sent on a 503." if status == 503 else " Sent when known."),
            "required": status == 503,
            "schema": {"type": "integer", "minimum": 0},
        },
        "Proxy-Status": {
            "description": "RFC 9209: one member per intermediary, nearest the origin first, "
            "with its error type (`error=`) and the status it received (`received-status=`).",
            "schema": {"type": "string"},
            "example": "orders-api; error=connection_refused",
        },
        request_id_header: {
            "description": "The request id (reused from the request when valid), also in the body.",
            "required": True,
            "schema": {"type": "string"},
        },
    }


def _content(status: int, style: str, schema: dict[str, Any]) -> dict[str, Any]:
    if style == "twitter":
        return {
            "application/json": {"schema": schema},
            "application/xml": {"schema": schema},
            "text/html": {"schema": {"type": "string"}},
            "text/plain": {"schema": {"type": "string"}},
        }
    narrowed = {
        "allOf": [
            schema,
            {
                "properties": {
                    "status": {"const": status},
                    "code": {"enum": _codes(status)},
                }
            },
        ]
    }
    return {
        "application/problem+json": {"schema": narrowed},
        "application/problem+xml": {"schema": copy.deepcopy(narrowed)},
        "text/html": {"schema": {"type": "string"}},
        "text/plain": {"schema": {"type": "string"}},
    }


def _check(statuses: Iterable[int], style: str) -> tuple[int, ...]:
    wanted = tuple(statuses)
    unknown = [status for status in wanted if status not in GATEWAY_STATUSES]
    if unknown:
        raise ValueError(f"statuses must be among {GATEWAY_STATUSES}, not {unknown}")
    if style not in ("problem", "twitter"):
        raise ValueError(f"style must be 'problem' or 'twitter', not {style!r}")
    return wanted


def _title_case(header: str) -> str:
    return "-".join(part[:1].upper() + part[1:] for part in header.split("-"))


def gateway_responses(
    statuses: Iterable[int] = GATEWAY_STATUSES,
    *,
    style: str = "problem",
    request_id_header: str = "x-request-id",
) -> dict[int | str, dict[str, Any]]:
    """A FastAPI ``responses=`` dict (a route's, a router's or the app's): self-contained,
    no components needed."""
    wanted = _check(statuses, style)
    schema = problem_schema() if style == "problem" else _twitter_schema()
    header = _title_case(request_id_header)
    return {
        status: {
            "description": _DESCRIPTIONS[status],
            "content": _content(status, style, schema),
            "headers": _headers(status, header),
        }
        for status in wanted
    }


def add_gateway_errors(
    document: dict[str, Any],
    *,
    statuses: Iterable[int] = GATEWAY_STATUSES,
    include: Include | None = None,
    style: str = "problem",
    request_id_header: str = "x-request-id",
) -> dict[str, Any]:
    """Add the gateway responses to an OpenAPI 3.1 ``document`` (changed in place, returned).

    The schema, headers and responses go to ``components``; each operation (for which
    ``include(path, method, operation)`` is true, default all) gets a ``$ref`` to them for
    every status it does not document itself.
    """
    wanted = _check(statuses, style)
    name = _SCHEMA if style == "problem" else _TWITTER_SCHEMA
    schema = problem_schema() if style == "problem" else _twitter_schema()
    header = _title_case(request_id_header)
    components = document.setdefault("components", {})
    components.setdefault("schemas", {})[name] = schema
    reference = {"$ref": f"#/components/schemas/{name}"}
    responses = components.setdefault("responses", {})
    for status in wanted:
        responses[_COMPONENT_RESPONSES[status]] = {
            "description": _DESCRIPTIONS[status],
            "content": _content(status, style, reference),
            "headers": _headers(status, header),
        }
    for path, item in (document.get("paths") or {}).items():
        for method, operation in item.items():
            if method not in _METHODS or not isinstance(operation, dict):
                continue
            if include is not None and not include(path, method, operation):
                continue
            documented = operation.setdefault("responses", {})
            # Starlette's SchemaGenerator keys statuses by int (its YAML); JSON makes them text.
            present = {str(key) for key in documented}
            for status in wanted:
                if str(status) in present:
                    continue
                documented.setdefault(
                    str(status), {"$ref": f"#/components/responses/{_COMPONENT_RESPONSES[status]}"}
                )
    return document


_METHODS = frozenset({"get", "put", "post", "delete", "options", "head", "patch", "trace"})


def document_gateway_errors(
    app: Any,
    *,
    statuses: Iterable[int] = GATEWAY_STATUSES,
    include: Include | None = None,
    style: str = "problem",
    request_id_header: str = "x-request-id",
) -> None:
    """Make a FastAPI ``app``'s ``/openapi.json`` document the gateway responses.

    Wraps ``app.openapi`` (FastAPI caches the document in ``app.openapi_schema``): the first
    call builds FastAPI's document, then :func:`add_gateway_errors` adds ours. Options are
    checked here, at startup.
    """
    wanted = _check(statuses, style)
    build = app.openapi

    added: list[dict[str, Any]] = []

    def openapi() -> dict[str, Any]:
        if not added:  # FastAPI's own document, built (or cached) once, then ours added
            app.openapi_schema = add_gateway_errors(
                build(),
                statuses=wanted,
                include=include,
                style=style,
                request_id_header=request_id_header,
            )
            added.append(app.openapi_schema)
        return added[0]

    app.openapi = openapi

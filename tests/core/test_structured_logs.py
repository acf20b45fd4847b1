"""Structured logs: the log record's ``extra`` fields are a stable interface, read here by a JSON
formatter (stdlib logging) while a real app under uvicorn fails against a refused upstream."""

from __future__ import annotations

import io
import json
import logging
from collections.abc import Iterator
from typing import Any

import httpx
import pytest
from starlette.applications import Starlette
from starlette.routing import Route
from wsgi_servers import serve_asgi

from gatewayerrors import GatewayErrorsMiddleware

pytestmark = pytest.mark.server

STABLE_FIELDS = (
    "gatewayerrors_code",
    "gatewayerrors_status",
    "gatewayerrors_upstream",
    "gatewayerrors_request_id",
    "gatewayerrors_response_started",
    "gatewayerrors_repeats",
)
"""What docs/observability.md promises on every translated error's record."""


class JSONFormatter(logging.Formatter):
    """One JSON object per record: the message, our ``extra`` fields, the traceback if any."""

    def format(self, record: logging.LogRecord) -> str:
        line: dict[str, Any] = {"level": record.levelname, "message": record.getMessage()}
        fields = vars(record).items()
        line.update({name: value for name, value in fields if name.startswith("gatewayerrors_")})
        if record.exc_info:
            line["traceback"] = self.formatException(record.exc_info)
        return json.dumps(line)


@pytest.fixture
def json_log() -> Iterator[io.StringIO]:
    stream = io.StringIO()
    handler = logging.StreamHandler(stream)
    handler.setFormatter(JSONFormatter())
    logger = logging.getLogger("gatewayerrors")
    logger.addHandler(handler)
    try:
        yield stream
    finally:
        logger.removeHandler(handler)


def test_each_translated_error_is_one_json_line_with_the_stable_fields(
    upstreams: Any, json_log: io.StringIO
) -> None:
    async def orders(request: Any) -> Any:
        async with httpx.AsyncClient() as client:
            await client.get(upstreams.refused_url)

    host = httpx.URL(upstreams.refused_url).netloc.decode()
    app = GatewayErrorsMiddleware(
        Starlette(routes=[Route("/orders", orders)]), upstream_names={host: "orders"}
    )
    with serve_asgi(app) as base:
        ids = [httpx.get(base + "/orders").headers["x-request-id"] for _ in range(3)]
    lines = [json.loads(line) for line in json_log.getvalue().splitlines()]
    assert len(lines) == 3
    for line, request_id in zip(lines, ids, strict=True):
        assert set(STABLE_FIELDS) <= set(line)
        assert line["gatewayerrors_code"] == "connection_refused"
        assert line["gatewayerrors_status"] == 502
        assert line["gatewayerrors_upstream"] == "orders"
        assert line["gatewayerrors_request_id"] == request_id
        assert line["gatewayerrors_response_started"] is False
        assert line["level"] == "ERROR"
    assert [line["gatewayerrors_repeats"] for line in lines] == [0, 1, 2]
    assert "ConnectError" in lines[0]["traceback"]  # the first in the window: its traceback
    assert "traceback" not in lines[1]  # repeats: one compact line each

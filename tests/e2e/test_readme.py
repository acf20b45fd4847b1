"""The README's "Use it" example, run as written under uvicorn against failing loopback upstreams.

Only the upstream's address is swapped (``http://orders.internal`` does not resolve here): the
view, the ``raise_for_status()`` call and the middleware are the README's own lines.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from asgi_servers import serve

from gatewayerrors.testing import FaultyUpstreams

pytestmark = pytest.mark.server

README = Path(__file__).resolve().parents[2] / "README.md"
UPSTREAM = "http://orders.internal/orders/"


def use_it_example() -> str:
    """The first Python block under "## Use it"."""
    section = README.read_text(encoding="utf-8").partition("\n## Use it\n")[2]
    found = re.search(r"```python\n(.*?)```", section, re.DOTALL)
    assert found is not None, "README: no python block under 'Use it'"
    code = found.group(1)
    assert UPSTREAM in code
    return code


def readme_app(upstream: str) -> Any:
    namespace: dict[str, Any] = {}
    exec(compile(use_it_example().replace(UPSTREAM, upstream), str(README), "exec"), namespace)
    return namespace["app"]


@pytest.fixture(scope="module")
def servers(upstreams: FaultyUpstreams) -> Iterator[dict[str, str]]:
    # The view appends the order id to the upstream URL; a query parameter takes it here.
    targets = {
        "503": upstreams.status_url(503, retry_after="7") + "&order=",
        "500": upstreams.status_url(500) + "?order=",
        "refused": upstreams.refused_url + "orders/",
    }
    with (
        serve(readme_app(targets["503"])) as unavailable,
        serve(readme_app(targets["500"])) as broken,
        serve(readme_app(targets["refused"])) as refused,
    ):
        yield {"503": unavailable.url, "500": broken.url, "refused": refused.url}


@pytest.mark.parametrize(
    ("upstream", "status", "code", "retry_after"),
    [
        ("503", 503, "upstream_overloaded", "7"),
        ("500", 502, "upstream_error", None),
        ("refused", 502, "connection_refused", None),
    ],
)
def test_the_readme_example_translates_upstream_failures(
    servers: dict[str, str],
    hx: httpx.Client,
    upstream: str,
    status: int,
    code: str,
    retry_after: str | None,
) -> None:
    response = hx.get(servers[upstream] + "/orders/42")

    assert response.status_code == status
    assert response.headers["content-type"] == "application/problem+json"
    problem = response.json()
    assert (problem["code"], problem["instance"]) == (code, "/orders/42")
    assert response.headers.get("retry-after") == retry_after
    assert response.headers["proxy-status"].startswith("checkout-api")

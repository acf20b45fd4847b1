"""Odd input from outside (an upstream's header, a path, an Accept) through every adapter.

The same app as test_customization_adapters.py, on the same real servers (uvicorn for ASGI,
waitress for WSGI, Flask and Django), with this module's own failing upstreams.
"""

from __future__ import annotations

from typing import Any

import httpx
import pytest
import test_customization_adapters as shared
from test_customization_adapters import Adapter, fetch

# The four-adapter fixtures are shared with test_customization_adapters.py: pytest finds
# fixtures by their name in the module, so binding them here makes them available.
adapter = shared.adapter
asgi_adapter = shared.asgi_adapter
wsgi_adapter = shared.wsgi_adapter
flask_adapter = shared.flask_adapter
django_adapter = shared.django_adapter
client = shared.client

pytestmark = pytest.mark.server

# Each is one latin-1 byte or more on the wire; str.isdigit() accepts all but the last.
ODD_RETRY_AFTER = {"superscript": "²", "mixed": "12³", "fraction": "½"}


@pytest.fixture(scope="module")
def urls(upstreams: Any) -> dict[str, str]:
    found = {"refused": upstreams.refused_url}
    for name, value in ODD_RETRY_AFTER.items():
        found[name] = upstreams.status_url(503, retry_after=value)
    return found


@pytest.mark.parametrize("name", sorted(ODD_RETRY_AFTER))
def test_an_unreadable_upstream_retry_after_still_gets_the_503(
    adapter: Adapter, client: httpx.Client, name: str
) -> None:
    with adapter.configure():
        response = fetch(client, adapter, f"/fault/{name}")

    assert response.status_code == 503
    problem = response.json()
    assert (problem["code"], problem["upstream_status"]) == ("upstream_overloaded", 503)
    assert response.headers["retry-after"] == "30"  # unreadable: the default, as documented


@pytest.mark.parametrize(
    ("accept", "content_type"),
    [
        ("text/*", "text/plain; charset=utf-8"),
        ("text/*;q=0.9, application/json;q=0.5", "text/plain; charset=utf-8"),
        ("text/*, text/html", "text/html; charset=utf-8"),
        ("*/*", "application/problem+json"),
    ],
)
def test_a_text_only_client_gets_text(
    adapter: Adapter, client: httpx.Client, accept: str, content_type: str
) -> None:
    with adapter.configure():
        response = fetch(client, adapter, "/fault/refused", accept)

    assert response.status_code == 502
    assert response.headers["content-type"] == content_type

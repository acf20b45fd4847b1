"""Odd input from outside (an upstream's header, a path, an Accept) through every adapter.

The same app as the contract suite (tests/helpers/adapter_servers.py, servers from
tests/adapters/conftest.py: uvicorn for ASGI, waitress for WSGI, Flask and Django, aiohttp's
own server for aiohttp), with this
module's own failing upstreams (its ``urls`` fixture).
"""

from __future__ import annotations

import threading
import xml.etree.ElementTree as ET
from collections.abc import Iterator
from typing import Any
from wsgiref.simple_server import WSGIRequestHandler, make_server

import httpx
import pytest
from adapter_servers import Adapter, asgi_app, fetch, wsgi_app
from asgi_servers import serve
from page_parsing import parse_page, problem_script
from rfc3986_validator import validate_rfc3986
from wsgi_servers import serve_asgi

from gatewayerrors import GatewayErrorsMiddleware, GatewayErrorsWSGIMiddleware

pytestmark = pytest.mark.server

# Each is one latin-1 byte or more on the wire; str.isdigit() accepts all but the last.
ODD_RETRY_AFTER = {"superscript": "²", "mixed": "12³", "fraction": "½"}


SECRETS = ("s3cret", "k3y-123", "t0ken")


def with_credentials(url: str) -> str:
    """``url`` with a password in its userinfo and API keys in its query."""
    url = url.replace("http://", "http://admin:s3cret@", 1)
    return url + ("&" if "?" in url else "?") + "api_key=k3y-123&token=t0ken"


@pytest.fixture(scope="module")
def urls(upstreams: Any) -> dict[str, str]:
    found = {"refused": upstreams.refused_url}
    # Credentials in the URL and the query, as a view gets them from its configuration.
    found["credentials_refused"] = with_credentials(upstreams.refused_url + "orders")
    found["credentials_503"] = with_credentials(upstreams.status_url(502))
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


def test_a_non_ascii_type_base_goes_out_percent_encoded(
    adapter: Adapter, client: httpx.Client
) -> None:
    with adapter.configure(type_base="https://docs.shop.example/fehler/übersicht/"):
        as_json = fetch(client, adapter, "/fault/refused").json()
        as_xml = fetch(client, adapter, "/fault/refused", "application/xml")
        as_html = fetch(client, adapter, "/fault/refused", "text/html")

    sent = "https://docs.shop.example/fehler/%C3%BCbersicht/connection_refused"
    assert validate_rfc3986(sent, rule="URI_reference")
    assert as_json["type"] == sent
    assert ET.fromstring(as_xml.content).findtext("{urn:ietf:rfc:7807}type") == sent
    assert problem_script(parse_page(as_html.content))["type"] == sent


FORMATS = {
    "application/json": "application/problem+json",
    "application/xml": "application/problem+xml",
    "text/html": "text/html; charset=utf-8",
    "text/plain": "text/plain; charset=utf-8",
}


@pytest.mark.parametrize("fault", ["credentials_refused", "credentials_503"])
def test_debug_text_never_carries_credentials(
    adapter: Adapter, client: httpx.Client, fault: str
) -> None:
    with adapter.configure(debug=True):
        responses = {
            accept: fetch(client, adapter, f"/fault/{fault}", accept) for accept in FORMATS
        }

    for accept, response in responses.items():
        assert response.status_code == 502
        assert response.headers["content-type"] == FORMATS[accept]
        proxy_status = response.headers["proxy-status"]
        assert "details=" in proxy_status  # debug on: the exception is there...
        for secret in SECRETS:  # ...without the password and the keys
            assert secret not in response.text
            assert secret not in proxy_status
        assert "api_key=***" in response.text
        assert "api_key=***" in proxy_status


# (path sent, instance expected): what the client sent, percent-escapes and all.
HOSTILE_PATHS = [
    ("/fault/refused/%25XX", "/fault/refused/%25XX"),  # a literal "%" followed by "XX"
    ("/fault/refused/%25", "/fault/refused/%25"),
    ("/fault/refused/%FF", "/fault/refused/%FF"),  # not UTF-8
    ("/fault/refused/a%2Fb", "/fault/refused/a%2Fb"),  # a "/" inside a segment
    ("/fault/refused/a%20b", "/fault/refused/a%20b"),
    ("/fault/refused/caf%C3%A9", "/fault/refused/caf%C3%A9"),
    ("/fault/refused/%E2%9C%93/%F0%9F%99%82", "/fault/refused/%E2%9C%93/%F0%9F%99%82"),
    ("/fault/refused/%3Cscript%3E%22", "/fault/refused/%3Cscript%3E%22"),
    ("/fault/refused/~u!$&'()*+,;=:@", "/fault/refused/~u!$&'()*+,;=:@"),
]


@pytest.mark.parametrize(("path", "instance"), HOSTILE_PATHS)
def test_the_same_path_gives_the_same_instance_on_every_adapter(
    adapter: Adapter, client: httpx.Client, path: str, instance: str
) -> None:
    with adapter.configure():
        response = fetch(client, adapter, path + "?q=1")
        as_xml = fetch(client, adapter, path, "application/xml")

    assert response.status_code == 502
    assert response.json()["instance"] == instance
    assert ET.fromstring(as_xml.content).findtext("{urn:ietf:rfc:7807}instance") == instance
    assert validate_rfc3986(instance, rule="URI_reference")


@pytest.fixture(scope="module")
def wsgiref_url(urls: dict[str, str]) -> Iterator[str]:
    """The WSGI adapter under the stdlib's wsgiref, which sets no REQUEST_URI."""
    app = GatewayErrorsWSGIMiddleware(wsgi_app(urls), service="shop")

    class Quiet(WSGIRequestHandler):
        def log_message(self, format: str, *args: Any) -> None:
            pass

    server = make_server("127.0.0.1", 0, app, handler_class=Quiet)
    thread = threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.05})
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_port}"
    finally:
        server.shutdown()
        server.server_close()
        thread.join(5)


@pytest.mark.parametrize(
    ("path", "instance"),
    # Only the raw path tells "%2F" from "/": PEP 3333 decodes both to "/".
    [(path, instance) for path, instance in HOSTILE_PATHS if "%2F" not in path],
)
def test_a_server_without_request_uri_gives_the_same_instance(
    wsgiref_url: str, client: httpx.Client, path: str, instance: str
) -> None:
    response = client.get(wsgiref_url + path)

    assert response.status_code == 502
    assert response.json()["instance"] == instance


@pytest.fixture(scope="module")
def django_asgi_url(urls: dict[str, str], django_adapter: Adapter) -> Iterator[str]:
    """Django's ASGI handler under uvicorn, on the URLconf ``django_adapter`` installed."""
    from django.core.asgi import get_asgi_application

    with serve_asgi(get_asgi_application()) as url:
        yield url


@pytest.mark.parametrize(("path", "instance"), HOSTILE_PATHS)
def test_django_under_asgi_gives_the_same_instance(
    django_asgi_url: str, client: httpx.Client, path: str, instance: str
) -> None:
    response = client.get(django_asgi_url + path, headers={"Accept": "application/json"})

    assert response.status_code == 502
    assert response.json()["instance"] == instance


@pytest.fixture(scope="module")
def hypercorn_url(urls: dict[str, str]) -> Iterator[str]:
    """The ASGI adapter under hypercorn (another server's raw_path)."""
    with serve(GatewayErrorsMiddleware(asgi_app(urls), service="shop"), "hypercorn") as s:
        yield s.url


@pytest.mark.parametrize(("path", "instance"), HOSTILE_PATHS)
def test_hypercorn_gives_the_same_instance(
    hypercorn_url: str, client: httpx.Client, path: str, instance: str
) -> None:
    response = client.get(hypercorn_url + path, headers={"Accept": "application/json"})

    assert response.status_code == 502
    assert response.json()["instance"] == instance

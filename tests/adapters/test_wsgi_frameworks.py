"""Falcon (WSGI) and Pyramid behind the generic WSGI middleware: what the framework keeps.

The contract suite (test_contract.py) proves the gateway errors on both; this module checks
what docs/wsgi.md and docs/pyramid.md promise about coexistence: the framework's own handler
for a class wins over the middleware, its HTTP errors stay its own, and without the one Falcon
line its default 500 handler swallows every failure.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import TYPE_CHECKING, Any, cast

import falcon
import httpx
import pytest
import requests
from adapter_servers import call_upstream
from wsgi_servers import serve_wsgi

from gatewayerrors import GatewayErrorsWSGIMiddleware

if TYPE_CHECKING:
    from _typeshed.wsgi import WSGIApplication

pytestmark = pytest.mark.server


@pytest.fixture(scope="module")
def urls(upstreams: Any) -> dict[str, str]:
    return {"refused": upstreams.refused_url, "unavailable": upstreams.status_url(503)}


def falcon_app(urls: dict[str, str], *, own_catch_all: bool = False) -> Any:
    class Fault:
        def on_get(self, req: falcon.Request, resp: falcon.Response, name: str) -> None:
            call_upstream(urls, name)

    class Missing:
        def on_get(self, req: falcon.Request, resp: falcon.Response) -> None:
            raise falcon.HTTPNotFound(title="no such order")

    def from_the_cache(
        req: falcon.Request, resp: falcon.Response, ex: Exception, params: Any
    ) -> None:
        resp.content_type = falcon.MEDIA_TEXT
        resp.text = "served from the cache"

    def catch_all(req: falcon.Request, resp: falcon.Response, ex: Exception, params: Any) -> None:
        resp.status = falcon.HTTP_500
        resp.content_type = falcon.MEDIA_TEXT
        resp.text = f"our own 500: {type(ex).__name__}"

    app = falcon.App()
    if own_catch_all:
        app.add_error_handler(Exception, catch_all)  # registered before wrapping
    # The app's own answer for one class (what /fault/refused raises); /fault/unavailable
    # raises requests' HTTPError, not one of these.
    app.add_error_handler(requests.exceptions.ConnectionError, from_the_cache)
    app.add_route("/fault/{name}", Fault())
    app.add_route("/missing", Missing())
    return GatewayErrorsWSGIMiddleware(cast("WSGIApplication", app), service="shop")


@pytest.fixture(scope="module")
def falcon_url(urls: dict[str, str]) -> Iterator[str]:
    with serve_wsgi(falcon_app(urls)) as url:
        yield url


def test_falcon_upstream_failure_gives_the_gateway_error(falcon_url: str, hx: httpx.Client) -> None:
    # No handler of the app's: the middleware's own, registered for Exception when it wrapped
    # the Falcon app, lets the failure out of Falcon.
    response = hx.get(falcon_url + "/fault/unavailable", headers={"Accept": "application/json"})
    assert response.status_code == 503
    assert response.json()["code"] == "upstream_overloaded"


def test_falcon_handler_for_a_class_wins(falcon_url: str, hx: httpx.Client) -> None:
    response = hx.get(falcon_url + "/fault/refused", headers={"Accept": "application/json"})
    assert (response.status_code, response.text) == (200, "served from the cache")
    assert "proxy-status" not in response.headers


def test_falcon_keeps_its_http_errors(falcon_url: str, hx: httpx.Client) -> None:
    response = hx.get(falcon_url + "/missing", headers={"Accept": "application/json"})
    assert response.status_code == 404
    assert response.json() == {"title": "no such order"}
    assert "proxy-status" not in response.headers


def test_falcon_answers_a_bug_with_its_own_500(falcon_url: str, hx: httpx.Client) -> None:
    response = hx.get(falcon_url + "/fault/bug", headers={"Accept": "application/json"})
    assert response.status_code == 500
    assert response.json()["title"] == "500 Internal Server Error"  # Falcon's, unchanged
    assert "proxy-status" not in response.headers


def test_falcon_apps_catch_all_gets_what_we_do_not_translate(
    urls: dict[str, str], hx: httpx.Client
) -> None:
    with serve_wsgi(falcon_app(urls, own_catch_all=True)) as url:
        bug = hx.get(url + "/fault/bug", headers={"Accept": "application/json"})
        failure = hx.get(url + "/fault/unavailable", headers={"Accept": "application/json"})
    assert (bug.status_code, bug.text) == (500, "our own 500: ValueError")
    assert failure.status_code == 503
    assert failure.json()["code"] == "upstream_overloaded"


# -- Pyramid ---------------------------------------------------------------------------------


def pyramid_app(urls: dict[str, str]) -> Any:
    # apps_pyramid imports Pyramid with its import-time warnings silenced.
    from apps_pyramid import Configurator, Request, Response
    from pyramid.httpexceptions import HTTPNotFound

    def fault(request: Request) -> Response:
        call_upstream(urls, request.matchdict["name"])
        raise AssertionError("unreachable")

    def missing(request: Request) -> Response:
        raise HTTPNotFound("no such order")

    def from_the_cache(exc: Exception, request: Request) -> Response:
        return Response("served from the cache", content_type="text/plain")

    with Configurator() as config:
        config.add_route("fault", "/fault/{name}")
        config.add_route("missing", "/missing")
        config.add_view(fault, route_name="fault")
        config.add_view(missing, route_name="missing")
        # The app's exception view for one class (what /fault/refused raises).
        config.add_exception_view(from_the_cache, context=requests.exceptions.ConnectionError)
        app = config.make_wsgi_app()
    return GatewayErrorsWSGIMiddleware(app, service="shop")


@pytest.fixture(scope="module")
def pyramid_url(urls: dict[str, str]) -> Iterator[str]:
    with serve_wsgi(pyramid_app(urls)) as url:
        yield url


def test_pyramid_failure_gives_the_gateway_error(pyramid_url: str, hx: httpx.Client) -> None:
    response = hx.get(pyramid_url + "/fault/unavailable", headers={"Accept": "application/json"})
    assert response.status_code == 503
    assert response.json()["code"] == "upstream_overloaded"


def test_pyramid_exception_view_for_a_class_wins(pyramid_url: str, hx: httpx.Client) -> None:
    response = hx.get(pyramid_url + "/fault/refused", headers={"Accept": "application/json"})
    assert (response.status_code, response.text) == (200, "served from the cache")
    assert "proxy-status" not in response.headers


def test_pyramid_keeps_its_http_exceptions(pyramid_url: str, hx: httpx.Client) -> None:
    response = hx.get(pyramid_url + "/missing", headers={"Accept": "text/plain"})
    assert response.status_code == 404
    assert "no such order" in response.text
    assert "proxy-status" not in response.headers

"""Falcon (ASGI): the wrapped app next to Falcon's own error handlers, under uvicorn.

Falcon answers every exception itself (its handler for ``Exception`` sends a 500), so the
middleware registers a handler for ``Exception`` in its place that re-raises upstream failures
out of the app (Falcon's rule for a handler that re-raises) and gives everything else to the
handler it replaced: a handler the app registers for a class wins, its own ``Exception`` handler
registered before wrapping gets what we do not translate, and without one Falcon's own answer
is unchanged (the same bytes as the same app unwrapped). WebSocket failures go the same way.
"""

from __future__ import annotations

import logging
from collections.abc import AsyncIterator, Iterator
from typing import Any, cast

import falcon
import falcon.asgi
import httpx
import pytest
import websockets.exceptions
import websockets.sync.client
from app_site import Site, open_site, our_records

from gatewayerrors import Classifier, GatewayErrorsMiddleware
from gatewayerrors.asgi import ASGIApp
from gatewayerrors.core import Evidence
from gatewayerrors.testing import FaultyUpstreams

pytestmark = pytest.mark.server


class CatalogDown(Exception):
    """The app's own exception, raised from the client's."""


class Resource:
    def __init__(self, upstreams: FaultyUpstreams) -> None:
        self.upstreams = upstreams

    async def call(self) -> None:
        async with httpx.AsyncClient(timeout=2) as client:
            await client.get(self.upstreams.refused_url)

    async def on_get_fail(self, req: falcon.asgi.Request, resp: falcon.asgi.Response) -> None:
        await self.call()

    async def on_get_wrapped(self, req: falcon.asgi.Request, resp: falcon.asgi.Response) -> None:
        try:
            await self.call()
        except httpx.ConnectError as exc:
            raise CatalogDown("the catalog is down") from exc

    async def on_get_bug(self, req: falcon.asgi.Request, resp: falcon.asgi.Response) -> None:
        raise ValueError("a bug, not an upstream failure")

    async def on_get_forbidden(self, req: falcon.asgi.Request, resp: falcon.asgi.Response) -> None:
        raise falcon.HTTPForbidden()

    async def on_get_stream(self, req: falcon.asgi.Request, resp: falcon.asgi.Response) -> None:
        async def body() -> AsyncIterator[bytes]:
            yield b"first\n"
            await self.call()

        resp.stream = body()

    async def on_websocket_fail(self, req: falcon.asgi.Request, ws: falcon.asgi.WebSocket) -> None:
        await self.call()

    async def on_websocket_late(self, req: falcon.asgi.Request, ws: falcon.asgi.WebSocket) -> None:
        await ws.accept()
        await self.call()

    async def on_websocket_bug(self, req: falcon.asgi.Request, ws: falcon.asgi.WebSocket) -> None:
        raise ValueError("a bug, not an upstream failure")


def make_app(upstreams: FaultyUpstreams) -> falcon.asgi.App[Any, Any]:
    app = falcon.asgi.App()
    resource = Resource(upstreams)
    for name in ("fail", "wrapped", "bug", "forbidden", "stream"):
        app.add_route(f"/{name}", resource, suffix=name)
    return app


def wrap(app: falcon.asgi.App[Any, Any]) -> GatewayErrorsMiddleware:
    # Falcon types the scope as a dict, the middleware as any mutable mapping.
    return GatewayErrorsMiddleware(cast("ASGIApp", app), service="shop")


async def teapot(
    req: falcon.asgi.Request, resp: falcon.asgi.Response, ex: Exception, params: Any
) -> None:
    resp.status = 418
    resp.text = f"handled {type(ex).__name__}"


@pytest.fixture(scope="module")
def site() -> Iterator[Site]:
    with open_site() as opened:
        yield opened


def test_an_upstream_failure_gets_the_502_however_deep_in_the_chain(
    site: Site, hx: httpx.Client, upstreams: FaultyUpstreams, caplog: pytest.LogCaptureFixture
) -> None:
    url = site.serve(wrap(make_app(upstreams))).url
    with caplog.at_level(logging.ERROR):
        for path in ("/fail", "/wrapped"):
            response = hx.get(url + path)
            assert response.status_code == 502, path
            assert response.headers["proxy-status"] == "shop; error=connection_refused"
            assert response.json()["code"] == "connection_refused"
    assert len(our_records(caplog, 2)) == 2


@pytest.mark.parametrize("before", [True, False], ids=["before-wrapping", "after-wrapping"])
def test_a_handler_for_its_class_wins(
    site: Site,
    hx: httpx.Client,
    upstreams: FaultyUpstreams,
    caplog: pytest.LogCaptureFixture,
    before: bool,
) -> None:
    app = make_app(upstreams)
    if before:
        app.add_error_handler(httpx.ConnectError, teapot)
    wrapped = wrap(app)
    if not before:
        app.add_error_handler(httpx.ConnectError, teapot)
    url = site.serve(wrapped).url
    with caplog.at_level(logging.ERROR):
        response = hx.get(url + "/fail")
        # Then one that is ours (its class is not the handler's), to know the log is complete.
        ours = hx.get(url + "/wrapped", headers={"x-request-id": "the-wrapped-one"})
    assert (response.status_code, response.text) == (418, "handled ConnectError")
    assert "proxy-status" not in response.headers
    assert ours.status_code == 502
    (record,) = our_records(caplog, 1)  # the middleware never saw the handled one
    assert "the-wrapped-one" in record.getMessage()


@pytest.mark.parametrize("path", ["/bug", "/forbidden", "/no-such-route"])
def test_what_we_do_not_translate_gets_falcons_own_answer(
    site: Site, hx: httpx.Client, upstreams: FaultyUpstreams, path: str
) -> None:
    without = hx.get(site.serve(make_app(upstreams)).url + path)
    wrapped = hx.get(site.serve(wrap(make_app(upstreams))).url + path)
    assert wrapped.status_code == without.status_code >= 400
    assert wrapped.headers["content-type"] == without.headers["content-type"]
    assert wrapped.content == without.content
    assert "proxy-status" not in wrapped.headers


def test_the_apps_own_exception_handler_gets_what_we_do_not_translate(
    site: Site, hx: httpx.Client, upstreams: FaultyUpstreams
) -> None:
    app = make_app(upstreams)
    app.add_error_handler(Exception, teapot)  # before wrapping: ours hands on to it
    url = site.serve(wrap(app)).url
    bug = hx.get(url + "/bug")
    assert (bug.status_code, bug.text) == (418, "handled ValueError")
    assert hx.get(url + "/fail").status_code == 502


def test_an_exception_handler_registered_after_wrapping_replaces_ours(
    site: Site, hx: httpx.Client, upstreams: FaultyUpstreams
) -> None:
    # Falcon keeps one handler per class: the documented order is "yours first".
    app = make_app(upstreams)
    wrapped = wrap(app)
    app.add_error_handler(Exception, teapot)
    response = hx.get(site.serve(wrapped).url + "/fail")
    assert (response.status_code, response.text) == (418, "handled ConnectError")


def test_a_failure_after_the_response_started_aborts_it_and_is_logged(
    site: Site, hx: httpx.Client, upstreams: FaultyUpstreams, caplog: pytest.LogCaptureFixture
) -> None:
    url = site.serve(wrap(make_app(upstreams))).url
    with caplog.at_level(logging.ERROR), hx.stream("GET", url + "/stream") as response:
        assert response.status_code == 200
        with pytest.raises(httpx.RemoteProtocolError):  # the body is cut, not completed
            response.read()
    (record,) = our_records(caplog, 1)
    assert "after the response started" in record.getMessage()


def test_websocket_failures_go_the_same_way(site: Site, upstreams: FaultyUpstreams) -> None:
    app = make_app(upstreams)
    resource = Resource(upstreams)
    app.add_route("/ws/fail", resource, suffix="fail")
    app.add_route("/ws/bug", resource, suffix="bug")
    app.add_route("/ws/late", resource, suffix="late")
    ws_url = site.serve(wrap(app)).url.replace("http://", "ws://")
    # Before accept, with uvicorn's denial extension: our HTTP 502 instead of the upgrade.
    with pytest.raises(websockets.exceptions.InvalidStatus) as denied:
        websockets.sync.client.connect(ws_url + "/ws/fail", open_timeout=5)
    assert denied.value.response.status_code == 502
    assert b"connection_refused" in denied.value.response.body
    # Not ours: Falcon's own handler closes the handshake (the server answers 403).
    with pytest.raises(websockets.exceptions.InvalidStatus) as refused:
        websockets.sync.client.connect(ws_url + "/ws/bug", open_timeout=5)
    assert refused.value.response.status_code == 403
    # After accept: a close frame that says "bad gateway" and why.
    with (
        websockets.sync.client.connect(ws_url + "/ws/late", open_timeout=5) as connection,
        pytest.raises(websockets.exceptions.ConnectionClosedError) as closed,
    ):
        connection.recv(timeout=5)
    assert closed.value.rcvd is not None
    assert (closed.value.rcvd.code, closed.value.rcvd.reason) == (1014, "connection_refused")


class BrokenClassifier(Classifier):
    def classify(self, exc: BaseException) -> Evidence | None:
        raise RuntimeError("classifier bug")


def test_a_failing_classifier_leaves_the_exception_to_falcon(
    site: Site, hx: httpx.Client, upstreams: FaultyUpstreams, caplog: pytest.LogCaptureFixture
) -> None:
    # Not ours, as Translator.translate says: Falcon's own 500, not a dropped connection.
    app = make_app(upstreams)
    wrapped = GatewayErrorsMiddleware(cast("ASGIApp", app), classifier=BrokenClassifier())
    with caplog.at_level(logging.ERROR):
        response = hx.get(site.serve(wrapped).url + "/fail")
    assert response.status_code == 500
    assert response.json() == {"title": "500 Internal Server Error"}
    (record,) = our_records(caplog, 1)
    assert record.getMessage() == "classifier failed; treating as not mine"

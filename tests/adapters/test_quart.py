"""Quart: ``install`` next to Quart's own error handling, under uvicorn.

Quart answers every exception inside the app, so ``install`` hooks into its exception handling:
a handler the app registers for a class wins, its handler for ``500`` or ``Exception`` gets
what we do not translate, and without one Quart's own answer is unchanged (the same bytes as
the same app without ``install``), in testing mode too (where Quart re-raises).
"""

from __future__ import annotations

import logging
from collections.abc import AsyncIterator, Iterator
from typing import Any

import httpx
import pytest
import websockets.exceptions
import websockets.sync.client
from app_site import Site, open_site, our_records
from quart import Blueprint, Quart, Response, abort, request

from gatewayerrors import SettingsError
from gatewayerrors.quart import install
from gatewayerrors.testing import FaultyUpstreams

pytestmark = pytest.mark.server


class CatalogDown(Exception):
    """The app's own exception, raised from the client's."""


def make_app(
    upstreams: FaultyUpstreams,
    *,
    installed: bool = True,
    shop_handles: type[Exception] | None = None,
) -> Quart:
    app = Quart(__name__)
    shop = Blueprint("shop", __name__, url_prefix="/shop")
    if shop_handles is not None:
        shop.register_error_handler(shop_handles, teapot)

    async def call() -> None:
        async with httpx.AsyncClient(timeout=2) as client:
            await client.get(upstreams.refused_url)

    @app.get("/fail")
    @shop.get("/fail")
    async def fail() -> str:
        await call()
        return "unreachable"

    @app.get("/wrapped")
    async def wrapped() -> str:
        try:
            await call()
        except httpx.ConnectError as exc:
            raise CatalogDown("the catalog is down") from exc
        return "unreachable"

    @app.get("/bug")
    async def bug() -> str:
        raise ValueError("a bug, not an upstream failure")

    @app.get("/forbidden")
    async def forbidden() -> str:
        abort(403)

    @app.get("/after")
    async def after() -> str:
        return "the after_request function fails"

    @app.after_request
    async def after_request(response: Response) -> Response:
        if request.path == "/after":
            await call()
        response.headers["x-after-request"] = "ran"
        return response

    @app.get("/stream")
    async def stream() -> Response:
        async def body() -> AsyncIterator[bytes]:
            yield b"first\n"
            await call()

        return Response(body(), content_type="text/plain")

    @app.websocket("/ws/fail")
    async def ws_fail() -> None:
        await call()

    app.register_blueprint(shop)
    if installed:
        install(app, service="shop")
    return app


async def teapot(error: Exception) -> tuple[str, int]:
    return f"handled {type(error).__name__}", 418


@pytest.fixture(scope="module")
def site() -> Iterator[Site]:
    with open_site() as opened:
        yield opened


def test_an_upstream_failure_gets_the_502_as_the_apps_response(
    site: Site, hx: httpx.Client, upstreams: FaultyUpstreams, caplog: pytest.LogCaptureFixture
) -> None:
    url = site.serve(make_app(upstreams)).url
    with caplog.at_level(logging.ERROR):
        for path in ("/fail", "/wrapped", "/shop/fail"):
            response = hx.get(url + path)
            assert response.status_code == 502, path
            assert response.headers["proxy-status"] == "shop; error=connection_refused"
            assert response.json()["code"] == "connection_refused"
            assert response.headers["x-after-request"] == "ran"  # after_request saw it
    assert len(our_records(caplog, 3)) == 3


def test_an_upstream_failure_outside_the_view_is_answered_too(
    site: Site, hx: httpx.Client, upstreams: FaultyUpstreams
) -> None:
    response = hx.get(site.serve(make_app(upstreams)).url + "/after")
    assert response.status_code == 502
    assert response.json()["code"] == "connection_refused"


def test_a_handler_for_its_class_wins(
    site: Site, hx: httpx.Client, upstreams: FaultyUpstreams, caplog: pytest.LogCaptureFixture
) -> None:
    app = make_app(upstreams)
    app.register_error_handler(httpx.ConnectError, teapot)
    url = site.serve(app).url
    with caplog.at_level(logging.ERROR):
        response = hx.get(url + "/fail")
        # Then one that is ours (its class is not the handler's), to know the log is complete.
        ours = hx.get(url + "/wrapped", headers={"x-request-id": "the-wrapped-one"})
    assert (response.status_code, response.text) == (418, "handled ConnectError")
    assert "proxy-status" not in response.headers
    assert ours.status_code == 502
    (record,) = our_records(caplog, 1)  # the middleware never saw the handled one
    assert "the-wrapped-one" in record.getMessage()


def test_a_blueprints_handler_for_its_class_wins_in_the_blueprint(
    site: Site, hx: httpx.Client, upstreams: FaultyUpstreams
) -> None:
    url = site.serve(make_app(upstreams, shop_handles=httpx.TransportError)).url
    assert hx.get(url + "/shop/fail").status_code == 418
    assert hx.get(url + "/fail").status_code == 502


@pytest.mark.parametrize("testing", [False, True], ids=["production", "testing"])
@pytest.mark.parametrize("path", ["/bug", "/forbidden", "/no-such-route"])
def test_what_we_do_not_translate_gets_quarts_own_answer(
    site: Site, hx: httpx.Client, upstreams: FaultyUpstreams, path: str, testing: bool
) -> None:
    answers = []
    for installed in (False, True):
        app = make_app(upstreams, installed=installed)
        app.testing = testing  # Quart re-raises, its ASGI layer sends a traceback page
        answers.append(hx.get(site.serve(app).url + path))
    without, with_install = answers
    assert with_install.status_code == without.status_code >= 400
    assert with_install.headers["content-type"] == without.headers["content-type"]
    if not testing:  # the traceback page names the objects' addresses
        assert with_install.content == without.content
    assert "proxy-status" not in with_install.headers


def test_upstream_failures_are_answered_in_testing_mode(
    site: Site, hx: httpx.Client, upstreams: FaultyUpstreams
) -> None:
    app = make_app(upstreams)
    app.testing = True
    assert hx.get(site.serve(app).url + "/fail").status_code == 502


@pytest.mark.parametrize("key", [500, Exception], ids=["500", "Exception"])
def test_a_catch_all_handler_gets_only_what_we_do_not_translate(
    site: Site, hx: httpx.Client, upstreams: FaultyUpstreams, key: Any
) -> None:
    app = make_app(upstreams)
    app.register_error_handler(key, teapot)
    url = site.serve(app).url
    bug = hx.get(url + "/bug")
    expected = "InternalServerError" if key == 500 else "ValueError"
    assert (bug.status_code, bug.text) == (418, f"handled {expected}")
    assert hx.get(url + "/fail").status_code == 502


def test_a_failure_after_the_response_started_aborts_it_and_is_logged(
    site: Site, hx: httpx.Client, upstreams: FaultyUpstreams, caplog: pytest.LogCaptureFixture
) -> None:
    url = site.serve(make_app(upstreams)).url
    with caplog.at_level(logging.ERROR), hx.stream("GET", url + "/stream") as response:
        assert response.status_code == 200
        with pytest.raises(httpx.RemoteProtocolError):  # the body is cut, not completed
            response.read()
    (record,) = our_records(caplog, 1)
    assert "after the response started" in record.getMessage()


def test_websocket_errors_are_left_to_quart(site: Site, upstreams: FaultyUpstreams) -> None:
    statuses = []
    for installed in (False, True):
        ws_url = site.serve(make_app(upstreams, installed=installed)).url.replace("http", "ws")
        with pytest.raises(websockets.exceptions.InvalidStatus) as refused:
            websockets.sync.client.connect(ws_url + "/ws/fail", open_timeout=5)
        statuses.append(refused.value.response.status_code)
    assert statuses[0] == statuses[1] == 500  # Quart's own answer, with or without install


def test_install_checks_the_settings_at_once(upstreams: FaultyUpstreams) -> None:
    app = make_app(upstreams, installed=False)
    asgi_app = app.asgi_app
    with pytest.raises(TypeError, match=r"servce \(did you mean service\?\)"):
        install(app, servce="x")  # type: ignore[call-arg]
    with pytest.raises(SettingsError, match="default_retry_after"):
        install(app, default_retry_after=-1)
    assert app.asgi_app == asgi_app  # nothing installed


def test_install_returns_a_translator_to_share(upstreams: FaultyUpstreams) -> None:
    translator = install(make_app(upstreams, installed=False), service="shared")
    assert translator.settings.service == "shared"
    assert install(make_app(upstreams, installed=False), translator=translator) is translator

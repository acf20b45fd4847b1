"""Litestar: the plugin next to Litestar's own exception handling, under uvicorn.

Litestar catches every exception in each route's own exception middleware; the plugin's
handler for ``Exception`` hands upstream failures on to the middleware and everything else to
what Litestar would have done: a handler the app registers for a class wins, its handler for
``500`` or ``Exception`` gets what we do not translate, and without one Litestar's own answer is
unchanged (the same bytes as the same app without the plugin).
"""

from __future__ import annotations

import logging
from collections.abc import AsyncIterator, Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from app_site import Site, open_site, our_records
from litestar import Litestar, MediaType, Request, Response, get
from litestar.exceptions import NotAuthorizedException
from litestar.logging import LoggingConfig
from litestar.response import Stream
from litestar.testing import TestClient
from litestar.types import ASGIApp, Receive, Scope, Send

from gatewayerrors import SettingsError
from gatewayerrors.litestar import GatewayErrorsPlugin
from gatewayerrors.testing import FaultyUpstreams

pytestmark = pytest.mark.server


class CatalogDown(Exception):
    """The app's own exception, raised from the client's."""


def make_app(
    upstreams: FaultyUpstreams,
    *,
    plugin: bool = True,
    handlers: dict[Any, Any] | None = None,
    debug: bool = False,
    middleware: list[Any] | None = None,
) -> Litestar:
    async def call() -> None:
        async with httpx.AsyncClient(timeout=2) as client:
            await client.get(upstreams.refused_url)

    @get("/fail", media_type=MediaType.TEXT)
    async def fail() -> str:
        await call()
        return "unreachable"

    @get("/wrapped", media_type=MediaType.TEXT)
    async def wrapped() -> str:
        try:
            await call()
        except httpx.ConnectError as exc:
            raise CatalogDown("the catalog is down") from exc
        return "unreachable"

    @get("/bug", media_type=MediaType.TEXT)
    async def bug() -> str:
        raise ValueError("a bug, not an upstream failure")

    @get("/forbidden", media_type=MediaType.TEXT)
    async def forbidden() -> str:
        raise NotAuthorizedException("no")

    @get("/checked", media_type=MediaType.TEXT)
    async def checked() -> str:
        return "your middleware calls an upstream first"

    @get("/stream")
    async def stream() -> Stream:
        async def body() -> AsyncIterator[bytes]:
            yield b"first\n"
            await call()

        return Stream(body(), media_type=MediaType.TEXT)

    return Litestar(
        [fail, wrapped, bug, forbidden, checked, stream],
        exception_handlers=handlers or {},
        plugins=[GatewayErrorsPlugin(service="shop")] if plugin else [],
        debug=debug,
        middleware=middleware or [],
        logging_config=LoggingConfig(configure_root_logger=False, log_exceptions="never"),
    )


@pytest.fixture(scope="module")
def site() -> Iterator[Site]:
    with open_site() as opened:
        yield opened


def teapot(request: Request[Any, Any, Any], exc: Exception) -> Response[str]:
    return Response(f"handled {type(exc).__name__}", status_code=418, media_type=MediaType.TEXT)


def test_an_upstream_failure_gets_the_502_however_deep_in_the_chain(
    site: Site, hx: httpx.Client, upstreams: FaultyUpstreams, caplog: pytest.LogCaptureFixture
) -> None:
    url = site.serve(make_app(upstreams)).url
    with caplog.at_level(logging.ERROR):
        for path in ("/fail", "/wrapped"):
            response = hx.get(url + path)
            assert response.status_code == 502, path
            assert response.headers["proxy-status"] == "shop; error=connection_refused"
            assert response.json()["code"] == "connection_refused"
    assert len(our_records(caplog, 2)) == 2


def test_a_handler_for_its_class_wins(
    site: Site, hx: httpx.Client, upstreams: FaultyUpstreams, caplog: pytest.LogCaptureFixture
) -> None:
    url = site.serve(make_app(upstreams, handlers={httpx.ConnectError: teapot})).url
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
def test_what_we_do_not_translate_gets_litestars_own_answer(
    site: Site, hx: httpx.Client, upstreams: FaultyUpstreams, path: str
) -> None:
    without = hx.get(site.serve(make_app(upstreams, plugin=False)).url + path)
    with_plugin = hx.get(site.serve(make_app(upstreams)).url + path)
    assert with_plugin.status_code == without.status_code >= 400
    assert with_plugin.headers["content-type"] == without.headers["content-type"]
    assert with_plugin.content == without.content
    assert "proxy-status" not in with_plugin.headers


def test_a_failure_in_your_middleware_outside_ours_gets_litestars_own_500(
    site: Site, hx: httpx.Client, upstreams: FaultyUpstreams
) -> None:
    # The plugin's middleware is innermost of the app's: one listed in middleware=[...] runs
    # outside it, and Litestar's outer exception middleware answers what it raises, as without
    # the plugin (our handler does not re-raise where no middleware of ours would catch it).
    def calls_an_upstream_first(app: ASGIApp) -> ASGIApp:
        async def middleware(scope: Scope, receive: Receive, send: Send) -> None:
            async with httpx.AsyncClient(timeout=2) as client:
                await client.get(upstreams.refused_url)
            await app(scope, receive, send)

        return middleware

    answers = [
        hx.get(
            site.serve(make_app(upstreams, plugin=plugin, middleware=[calls_an_upstream_first])).url
            + "/checked"
        )
        for plugin in (False, True)
    ]
    without, with_plugin = answers
    assert with_plugin.status_code == without.status_code == 500
    assert with_plugin.content == without.content


def test_litestars_debug_page_is_kept(
    site: Site, hx: httpx.Client, upstreams: FaultyUpstreams
) -> None:
    url = site.serve(make_app(upstreams, debug=True)).url
    bug = hx.get(url + "/bug", headers={"accept": "text/plain"})
    assert bug.status_code == 500
    assert "ValueError: a bug, not an upstream failure" in bug.text  # Litestar's debug page
    assert hx.get(url + "/fail").status_code == 502


@pytest.mark.parametrize("key", [500, Exception], ids=["500", "Exception"])
def test_a_catch_all_handler_gets_only_what_we_do_not_translate(
    site: Site, hx: httpx.Client, upstreams: FaultyUpstreams, key: Any
) -> None:
    url = site.serve(make_app(upstreams, handlers={key: teapot})).url
    bug = hx.get(url + "/bug")
    assert (bug.status_code, bug.text) == (418, "handled ValueError")
    assert hx.get(url + "/fail").status_code == 502
    # Litestar gives an HTTPException to a handler for 500 only when its status is 500.
    assert hx.get(url + "/forbidden").status_code == (418 if key is Exception else 401)


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


def test_the_plugin_checks_the_settings_at_once() -> None:
    with pytest.raises(TypeError, match=r"servce \(did you mean service\?\)"):
        GatewayErrorsPlugin(servce="x")  # type: ignore[call-arg]
    with pytest.raises(SettingsError, match="default_retry_after"):
        GatewayErrorsPlugin(default_retry_after=-1)


def test_the_shared_maintenance_state_follows_the_apps_lifespan(tmp_path: Path) -> None:
    plugin = GatewayErrorsPlugin(maintenance_store=f"file://{tmp_path}/maintenance.json")
    switch = plugin.translator.maintenance_switch
    assert switch is not None
    switch.stop()  # as if built without starting: the app's startup starts it
    app = Litestar([], plugins=[plugin])
    with TestClient(app):  # runs the app's lifespan: startup, then shutdown
        assert switch._thread is not None
        assert switch._thread.is_alive()
    assert switch._thread is None

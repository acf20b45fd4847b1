"""Starlette and FastAPI: every documented way in gives the same answer, under uvicorn.

``install(app)``, ``app.add_middleware(GatewayErrorsMiddleware)`` and wrapping the app from
outside (``GatewayErrorsMiddleware(app)``) must all answer a refused upstream with our 502; with
``install`` the answer goes through the app's own middleware (CORS here) whatever the order of
the calls; misconfiguration raises at the ``install`` call.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from typing import Any

import httpx
import pytest
from asgi_servers import serve
from fastapi import FastAPI
from starlette.applications import Starlette
from starlette.middleware.cors import CORSMiddleware
from starlette.requests import Request
from starlette.responses import PlainTextResponse
from starlette.routing import Route

from gatewayerrors import GatewayErrorsMiddleware, SettingsError
from gatewayerrors.starlette import install
from gatewayerrors.testing import FaultyUpstreams

pytestmark = pytest.mark.server

ORIGIN = "http://frontend.example"


def make_app(kind: str, upstreams: FaultyUpstreams) -> Starlette:
    async def fail(request: Request) -> PlainTextResponse:
        async with httpx.AsyncClient(timeout=2) as client:
            await client.get(upstreams.refused_url)
        return PlainTextResponse("unreachable")

    async def bug(request: Request) -> PlainTextResponse:
        raise ValueError("a bug, not an upstream failure")

    if kind == "fastapi":
        app: Starlette = FastAPI()
        app.add_route("/fail", fail)
        app.add_route("/bug", bug)
    else:
        app = Starlette(routes=[Route("/fail", fail), Route("/bug", bug)])
    return app


def add_cors(app: Starlette) -> None:
    app.add_middleware(CORSMiddleware, allow_origins=[ORIGIN])


def install_it(app: Starlette) -> Any:
    install(app, service="shop")
    return app


def add_it(app: Starlette) -> Any:
    app.add_middleware(GatewayErrorsMiddleware, service="shop")
    return app


def wrap_it(app: Starlette) -> Any:
    return GatewayErrorsMiddleware(app, service="shop")


WAYS: dict[str, Callable[[Starlette], Any]] = {
    "install": install_it,
    "add_middleware": add_it,
    "wrapped": wrap_it,
}


@pytest.mark.parametrize("kind", ["starlette", "fastapi"])
@pytest.mark.parametrize("way", sorted(WAYS))
def test_every_way_in_answers_the_502(
    kind: str, way: str, upstreams: FaultyUpstreams, caplog: pytest.LogCaptureFixture
) -> None:
    asgi = WAYS[way](make_app(kind, upstreams))
    with caplog.at_level(logging.ERROR), serve(asgi) as server, httpx.Client() as client:
        response = client.get(server.url + "/fail")
        assert response.status_code == 502
        assert response.headers["content-type"] == "application/problem+json"
        assert response.headers["proxy-status"] == "shop; error=connection_refused"
        assert response.json()["code"] == "connection_refused"
        bug = client.get(server.url + "/bug")
        assert bug.status_code == 500  # not ours: Starlette's own 500
    messages = [r.getMessage() for r in caplog.records if r.name == "gatewayerrors"]
    assert len(messages) == 1
    assert "after the response started" not in messages[0]


@pytest.mark.parametrize("kind", ["starlette", "fastapi"])
@pytest.mark.parametrize("cors_first", [True, False], ids=["cors-first", "cors-after"])
def test_install_answers_through_the_apps_middleware(
    kind: str, cors_first: bool, upstreams: FaultyUpstreams
) -> None:
    app = make_app(kind, upstreams)
    if cors_first:
        add_cors(app)
        install(app, service="shop")
    else:
        install(app, service="shop")
        add_cors(app)
    with serve(app) as server, httpx.Client() as client:
        response = client.get(server.url + "/fail", headers={"origin": ORIGIN})
    assert response.status_code == 502
    assert response.headers["access-control-allow-origin"] == ORIGIN


def test_install_returns_a_translator_to_share(upstreams: FaultyUpstreams) -> None:
    app = make_app("starlette", upstreams)
    translator = install(app, service="shared")
    assert translator.settings.service == "shared"
    with pytest.raises(TypeError, match="only one"):
        install(make_app("starlette", upstreams), translator=translator, service="x")


@pytest.mark.parametrize(
    ("options", "message"),
    [
        ({"servce": "x"}, r"servce \(did you mean service\?\)"),
        ({"overrides": {"no_such_code": {}}}, "no_such_code"),
        ({"templates": "/no/such/folder"}, "templates"),
        ({"default_retry_after": 1.5}, "default_retry_after"),
    ],
)
def test_install_checks_the_settings_at_once(
    options: dict[str, Any], message: str, upstreams: FaultyUpstreams
) -> None:
    app = make_app("fastapi", upstreams)
    with pytest.raises(TypeError, match=message):
        install(app, **options)
    assert app.user_middleware == []


def test_a_bad_option_is_a_settings_error_that_is_also_a_value_error() -> None:
    with pytest.raises(SettingsError) as raised:
        GatewayErrorsMiddleware(PlainTextResponse("x"), default_retry_after=-1)
    assert isinstance(raised.value, ValueError)
    assert raised.value.option == "default_retry_after"


def test_install_after_start_is_refused(upstreams: FaultyUpstreams) -> None:
    app = make_app("starlette", upstreams)
    with serve(app) as server, httpx.Client() as client:
        client.get(server.url + "/bug")
    with pytest.raises(RuntimeError, match="before the application starts"):
        install(app)

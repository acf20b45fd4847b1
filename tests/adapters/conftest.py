"""The servers behind the ``adapter`` fixture: one per adapter and test module (see
tests/helpers/adapter_servers.py)."""

from __future__ import annotations

import contextlib
import sys
from collections.abc import Iterator
from typing import Any

import httpx
import pytest
from adapter_servers import (
    ADAPTERS,
    BASE,
    DJANGO_URLCONF,
    Adapter,
    ASGISwitch,
    WSGISwitch,
    asgi_app,
    django_urlconf,
    fault_urls,
    flask_app,
    switching,
    wsgi_app,
)
from apps_aiohttp import AiohttpSwitch
from apps_aiohttp import build as aiohttp_app
from asgi_servers import serve
from django_setup import configure_django
from wsgi_servers import serve_wsgi

from gatewayerrors import GatewayErrorsMiddleware, GatewayErrorsWSGIMiddleware


@pytest.fixture(scope="module")
def urls(upstreams: Any) -> dict[str, str]:
    return fault_urls(upstreams)


@pytest.fixture(scope="module")
def asgi_adapter(urls: dict[str, str]) -> Iterator[Adapter]:
    inner = asgi_app(urls)

    def build(options: dict[str, Any]) -> Any:
        return GatewayErrorsMiddleware(inner, **options)

    switch = ASGISwitch(build(BASE))
    with serve(switch) as server:
        yield Adapter("asgi", server.url, switching(switch, build))


@pytest.fixture(scope="module")
def wsgi_adapter(urls: dict[str, str]) -> Iterator[Adapter]:
    inner = wsgi_app(urls)

    def build(options: dict[str, Any]) -> Any:
        return GatewayErrorsWSGIMiddleware(inner, **options)

    switch = WSGISwitch(build(BASE))
    with serve_wsgi(switch) as url:
        yield Adapter("wsgi", url, switching(switch, build))


@pytest.fixture(scope="module")
def flask_adapter(urls: dict[str, str]) -> Iterator[Adapter]:
    def build(options: dict[str, Any]) -> Any:
        return flask_app(urls, options)

    switch = WSGISwitch(build(BASE))
    with serve_wsgi(switch) as url:
        yield Adapter("flask", url, switching(switch, build))


@pytest.fixture(scope="module")
def django_adapter(urls: dict[str, str]) -> Iterator[Adapter]:
    # Django is configured once per process (django_setup); this module only points it at
    # its own URLconf (override_settings) and sets GATEWAYERRORS per test, as Django apps do.
    configure_django()
    from django.core.wsgi import get_wsgi_application
    from django.test import override_settings

    sys.modules[DJANGO_URLCONF] = django_urlconf(urls)

    def apply(options: dict[str, Any]) -> contextlib.AbstractContextManager[None]:
        override: contextlib.AbstractContextManager[None] = override_settings(GATEWAYERRORS=options)
        return override

    try:
        with (
            override_settings(ROOT_URLCONF=DJANGO_URLCONF, GATEWAYERRORS=BASE),
            serve_wsgi(get_wsgi_application()) as url,
        ):
            yield Adapter("django", url, apply)
    finally:
        del sys.modules[DJANGO_URLCONF]


@pytest.fixture(scope="module")
def aiohttp_adapter(urls: dict[str, str]) -> Iterator[Adapter]:
    # aiohttp freezes an app when it starts serving: the switch swaps whole apps, each set up
    # by its own AppRunner, behind one aiohttp server (tests/helpers/apps_aiohttp.py).
    with AiohttpSwitch(aiohttp_app(urls, BASE)) as switch:

        def apply(options: dict[str, Any]) -> contextlib.AbstractContextManager[None]:
            return switch.serving(aiohttp_app(urls, options))

        yield Adapter("aiohttp", switch.url, apply)


@pytest.fixture(params=ADAPTERS)
def adapter(request: pytest.FixtureRequest) -> Adapter:
    found: Adapter = request.getfixturevalue(f"{request.param}_adapter")
    return found


@pytest.fixture(scope="module")
def client() -> Iterator[httpx.Client]:
    with httpx.Client(timeout=5) as http_client:
        yield http_client

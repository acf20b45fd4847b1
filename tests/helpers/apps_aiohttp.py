"""aiohttp.web for the adapter tests: the shared test app, and a real aiohttp server for it.

    app = build(urls, {"service": "shop"})      # the app every framework serves (BRIEF)
    with serve_aiohttp(app) as url: ...         # AppRunner + TCPSite on 127.0.0.1, own thread

    with AiohttpSwitch(build(urls, BASE)) as switch:   # one server, the app swapped per test
        with switch.serving(build(urls, options)): ...

An aiohttp app is frozen once it serves, so :class:`AiohttpSwitch` swaps whole apps: each is
set up by its own ``AppRunner`` (startup signals, freeze) without a site, and one low-level
``web.Server`` on the socket hands every request to the current app's request factory and
handler, so a keep-alive connection opened before a swap is served by the new app.
"""

from __future__ import annotations

import asyncio
import contextlib
import threading
from collections.abc import Coroutine, Iterator
from typing import Any, TypeVar

from adapter_servers import call_upstream
from aiohttp import web

from gatewayerrors.aiohttp import install

__all__ = ["AiohttpSwitch", "build", "serve_aiohttp"]

HOST = "127.0.0.1"
T = TypeVar("T")


def build(urls: dict[str, str], options: dict[str, Any]) -> web.Application:
    """The shared test app (``/ok``, ``/health``, ``/fault/<name>[/anything]``,
    ``/stream/<name>``) with gatewayerrors installed with ``options``."""

    async def ok(request: web.Request) -> web.Response:
        return web.Response(body=b"hello", content_type="text/plain")

    async def fault(request: web.Request) -> web.Response:
        await asyncio.to_thread(call_upstream, urls, request.match_info["name"])
        return web.Response(text="unreachable")

    async def stream(request: web.Request) -> web.StreamResponse:
        response = web.StreamResponse()
        response.content_type = "text/plain"
        await response.prepare(request)
        await response.write(b"first\n")
        await asyncio.to_thread(call_upstream, urls, request.match_info["name"])
        return response

    app = web.Application()
    app.router.add_get("/ok", ok)
    app.router.add_get("/health", ok)
    app.router.add_route("*", "/fault/{name}", fault)
    app.router.add_route("*", "/fault/{name}/{rest:.*}", fault)
    app.router.add_get("/stream/{name}", stream)
    install(app, **options)
    return app


class _Loop:
    """An event loop in a daemon thread, for servers the synchronous tests talk to."""

    def __init__(self) -> None:
        self.loop = asyncio.new_event_loop()
        self._thread = threading.Thread(target=self.loop.run_forever, daemon=True)
        self._thread.start()

    def run(self, coro: Coroutine[Any, Any, T]) -> T:
        return asyncio.run_coroutine_threadsafe(coro, self.loop).result(10)

    def close(self) -> None:
        self.loop.call_soon_threadsafe(self.loop.stop)
        self._thread.join(10)
        assert not self._thread.is_alive(), "the event loop thread did not stop"
        self.loop.close()


async def _site(runner: web.BaseRunner) -> str:
    await runner.setup()
    site = web.TCPSite(runner, HOST, 0)
    await site.start()
    return f"http://{HOST}:{runner.addresses[0][1]}"


@contextlib.contextmanager
def serve_aiohttp(app: web.Application) -> Iterator[str]:
    """Serve ``app`` (AppRunner + TCPSite, no access log) until the block ends; yields its URL.

    The runner's cleanup runs the app's ``on_shutdown`` and ``on_cleanup`` signals."""
    thread = _Loop()
    runner = web.AppRunner(app, access_log=None)
    try:
        yield thread.run(_site(runner))
    finally:
        thread.run(runner.cleanup())
        thread.close()


class AiohttpSwitch:
    """One aiohttp server whose app is replaced between tests (see the module docstring)."""

    def __init__(self, app: web.Application) -> None:
        self._thread = _Loop()
        self._runner: web.AppRunner | None = None
        self._outer: web.ServerRunner | None = None
        self.url = ""
        self._runner = self._thread.run(self._setup(app))

    @contextlib.contextmanager
    def serving(self, app: web.Application) -> Iterator[None]:
        """Serve ``app`` for the block (set up: its startup signals ran), then what was served
        before; ``app`` is cleaned up (its cleanup signals) at the end."""
        previous, self._runner = self._runner, self._thread.run(self._setup(app))
        try:
            yield
        finally:
            current, self._runner = self._runner, previous
            self._thread.run(current.cleanup())

    async def _setup(self, app: web.Application) -> web.AppRunner:
        runner = web.AppRunner(app, access_log=None)
        await runner.setup()
        if self._outer is None:

            def make_request(*args: Any) -> web.BaseRequest:
                return self._current().request_factory(*args)

            async def dispatch(request: web.BaseRequest) -> web.StreamResponse:
                return await self._current().request_handler(request)

            self._runner = runner
            self._outer = web.ServerRunner(
                web.Server(dispatch, request_factory=make_request, access_log=None)
            )
            self.url = await _site(self._outer)
        return runner

    def _current(self) -> web.Server:
        """The current app's server (its request factory and handler), read per request."""
        assert self._runner is not None
        server = self._runner.server
        assert server is not None
        return server

    def close(self) -> None:
        if self._outer is not None:
            self._thread.run(self._outer.cleanup())
        if self._runner is not None:
            self._thread.run(self._runner.cleanup())
        self._thread.close()

    def __enter__(self) -> AiohttpSwitch:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

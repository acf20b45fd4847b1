"""``python -m gatewayerrors demo``: a Starlette service whose upstreams really fail.

Starts the service on 127.0.0.1 (``--port``, default 8000) next to local failing upstreams
(the servers of :mod:`gatewayerrors.testing`), prints ``curl`` lines that show every translated
error as JSON, XML and HTML, and runs until Ctrl-C or SIGTERM. Needs the ``demo`` extra
(``pip install 'gatewayerrors[demo]'``: starlette, uvicorn, httpx, trustme).
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import errno
import importlib.util
import logging
import signal
import socket
import sys
from collections.abc import AsyncIterator
from typing import Any, NamedTuple

from ..testing import FaultyUpstreams

__all__ = ["DESCRIPTION", "SUMMARY", "add_arguments", "build_app", "run"]


class _Endpoint(NamedTuple):
    path: str
    upstream: str
    what: str
    status: int


_ENDPOINTS = (
    _Endpoint("/refused", "refused", "the upstream port is closed", 502),
    _Endpoint("/timeout", "hang", "the upstream accepts but never answers (1 s timeout)", 504),
    _Endpoint("/reset", "reset", "the upstream resets the connection", 502),
    _Endpoint("/tls", "tls", "the upstream's TLS certificate is not trusted", 502),
    _Endpoint("/dns", "dns", "the upstream's name does not resolve", 502),
    _Endpoint("/overloaded", "overloaded", "the upstream answers 503, Retry-After: 120", 503),
    _Endpoint("/maintenance", "", "the app raises ServiceUnavailable(code='maintenance')", 503),
)
_FORMATS = (
    ("JSON, with the headers", "-i "),
    ("XML", "-H 'Accept: application/problem+xml' "),
    ("HTML", "-H 'Accept: text/html' "),
)
_MISSING_EXTRA = "the demo needs starlette, uvicorn and httpx: pip install 'gatewayerrors[demo]'"


def build_app(urls: dict[str, str]) -> Any:
    """The demo's Starlette app, calling the given upstream URLs, with the middleware."""
    import httpx
    from starlette.applications import Starlette
    from starlette.requests import Request
    from starlette.responses import PlainTextResponse
    from starlette.routing import Route

    from .. import ServiceUnavailable
    from ..asgi import GatewayErrorsMiddleware

    timeout = httpx.Timeout(2.0, read=1.0)

    @contextlib.asynccontextmanager
    async def lifespan(app: Starlette) -> AsyncIterator[dict[str, Any]]:
        async with httpx.AsyncClient(timeout=timeout) as client:
            yield {"client": client}

    def upstream_call(url: str) -> Any:
        async def endpoint(request: Request) -> PlainTextResponse:
            client: httpx.AsyncClient = request.state.client
            response = await client.get(url)
            response.raise_for_status()
            return PlainTextResponse(response.text)

        return endpoint

    async def maintenance(request: Request) -> PlainTextResponse:
        raise ServiceUnavailable(
            code="maintenance", retry_after=600, detail="Orders are paused for a database upgrade."
        )

    async def index(request: Request) -> PlainTextResponse:
        lines = ["gatewayerrors demo. Failing endpoints:", ""]
        lines += [f"  {e.path:<14} {e.what}" for e in _ENDPOINTS if e.upstream in urls]
        lines += ["", "Add ?format=json|xml|html|text to pick the format in a browser."]
        return PlainTextResponse("\n".join(lines) + "\n")

    async def health(request: Request) -> PlainTextResponse:
        return PlainTextResponse("ok\n")

    routes = [Route("/", index), Route("/health", health)]
    for endpoint in _ENDPOINTS:
        if endpoint.upstream in urls:
            routes.append(Route(endpoint.path, upstream_call(urls[endpoint.upstream])))
    routes.append(Route("/maintenance", maintenance))
    app = Starlette(routes=routes, lifespan=lifespan)
    app.add_middleware(GatewayErrorsMiddleware, service="demo", format_param="format")
    return app


def _banner(base: str, urls: dict[str, str]) -> str:
    lines = [f"gatewayerrors demo: a Starlette service on {base} with real failing upstreams.", ""]
    for endpoint in _ENDPOINTS:
        if endpoint.upstream and endpoint.upstream not in urls:
            lines += [
                f"{endpoint.path}: skipped (needs trustme: pip install 'gatewayerrors[demo]')",
                "",
            ]
            continue
        lines.append(f"{endpoint.path}: {endpoint.what} -> {endpoint.status}")
        for name, option in _FORMATS:
            lines.append(f"  curl {option}{base}{endpoint.path}  # {name}")
        lines.append("")
    lines += [
        f"Healthy: curl -i {base}/health    In a browser: {base}/refused?format=html",
        "Press Ctrl-C to stop.",
    ]
    return "\n".join(lines)


class _ShortFormatter(logging.Formatter):
    """One line per record: the demo prints the log record, not the traceback."""

    def formatException(self, ei: Any) -> str:
        return ""


def _configure_logging() -> None:
    handler = logging.StreamHandler(sys.stderr)
    handler.setFormatter(_ShortFormatter("%(name)s: %(message)s"))
    for name in ("gatewayerrors", "uvicorn.error"):
        logger = logging.getLogger(name)
        logger.handlers[:] = [handler]
        logger.propagate = False
        logger.setLevel(logging.INFO if name == "gatewayerrors" else logging.WARNING)


def _listen(port: int) -> socket.socket:
    # proto=IPPROTO_TCP: asyncio sets TCP_NODELAY on accepted sockets only when the listener
    # says TCP explicitly; without it every keep-alive response waits ~40 ms (Nagle).
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM, socket.IPPROTO_TCP)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    try:
        sock.bind(("127.0.0.1", port))
    except OSError:
        sock.close()
        raise
    sock.listen(128)
    return sock


def _upstream_urls(upstreams: FaultyUpstreams, tls: bool) -> dict[str, str]:
    """The demo's upstream names (see ``_ENDPOINTS``) and the fault server behind each."""
    urls = {
        "refused": upstreams.refused_url,
        "hang": upstreams.hang_url,
        "reset": upstreams.reset_url,
        "dns": upstreams.dns_url,
        "overloaded": upstreams.status_url(503, "120", b"overloaded\n"),
    }
    if tls:
        urls["tls"] = upstreams.tls_url
    return urls


async def _serve(sock: socket.socket) -> None:
    import uvicorn

    tls = importlib.util.find_spec("trustme") is not None
    with FaultyUpstreams(tls=tls) as upstreams:
        urls = _upstream_urls(upstreams, tls)
        config = uvicorn.Config(
            build_app(urls),
            log_config=None,
            access_log=False,
            timeout_graceful_shutdown=2,
        )
        server = uvicorn.Server(config)
        _stop_on_signals(server)
        serving = asyncio.create_task(server.serve(sockets=[sock]))
        while not server.started and not serving.done():
            await asyncio.sleep(0.02)
        if server.started:
            port = sock.getsockname()[1]
            print(_banner(f"http://127.0.0.1:{port}", urls), flush=True)
        await serving


def _stop_on_signals(server: Any) -> None:
    # uvicorn handles SIGINT/SIGTERM while it serves, then restores these handlers and raises
    # the signal again; setting the flag (instead of raising KeyboardInterrupt or dying on
    # SIGTERM) makes that second delivery harmless, so the demo exits 0 without a traceback.
    def stop(signum: int, frame: Any) -> None:
        server.should_exit = True

    signal.signal(signal.SIGINT, stop)
    signal.signal(signal.SIGTERM, stop)


SUMMARY = "start a demo service with real failing upstreams"
DESCRIPTION = (
    "Start a Starlette service on 127.0.0.1 whose upstreams really fail, print curl lines that "
    "show each translated error as JSON, XML and HTML, and run until Ctrl-C. "
    "Needs the demo extra: pip install 'gatewayerrors[demo]'."
)


def add_arguments(parser: argparse.ArgumentParser) -> None:
    """The ``demo`` command's options."""
    parser.add_argument(
        "--port",
        type=int,
        default=8000,
        help="port on 127.0.0.1, 0 for any free port (default: %(default)s)",
    )


def run(args: argparse.Namespace) -> int:
    """Run the demo until Ctrl-C or SIGTERM; 0 on a clean stop, 1 if it cannot start."""
    try:
        import httpx  # noqa: F401
        import starlette  # noqa: F401
        import uvicorn  # noqa: F401
    except ImportError:
        print(f"gatewayerrors demo: {_MISSING_EXTRA}", file=sys.stderr)
        return 1
    try:
        sock = _listen(args.port)
    except OSError as exc:
        reason = "is in use" if exc.errno == errno.EADDRINUSE else f"failed: {exc.strerror}"
        print(
            f"gatewayerrors demo: port {args.port} {reason}; try --port 0 for any free port",
            file=sys.stderr,
        )
        return 1
    _configure_logging()
    previous = signal.getsignal(signal.SIGINT), signal.getsignal(signal.SIGTERM)
    try:
        asyncio.run(_serve(sock))
    except KeyboardInterrupt:  # Ctrl-C before the handlers were installed
        pass
    finally:
        sock.close()
        signal.signal(signal.SIGINT, previous[0])
        signal.signal(signal.SIGTERM, previous[1])
    print("gatewayerrors demo: stopped.", flush=True)
    return 0

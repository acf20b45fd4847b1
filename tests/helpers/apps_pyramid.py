"""The contract app on Pyramid, behind the generic WSGI middleware.

Pyramid's exception view tween re-raises what no exception view handles, so an upstream failure
reaches the middleware as it is; an exception view the app registers for a class wins.
"""

from __future__ import annotations

import warnings
from typing import Any

from adapter_servers import call_upstream, stream_body

from gatewayerrors import GatewayErrorsWSGIMiddleware

# Pyramid's names too: import them from here, with the import-time warnings silenced.
__all__ = ["Configurator", "Request", "Response", "build"]

with warnings.catch_warnings():
    # The libraries warning about themselves on import: Pyramid 2 imports pkg_resources
    # (setuptools says it is deprecated, and that PasteDeploy's namespace package is declared
    # the old way), WebOb 1.8 the cgi module (deprecated in 3.11; on 3.13 the legacy-cgi
    # distribution WebOb depends on stands in for it).
    warnings.filterwarnings("ignore", "pkg_resources is deprecated", UserWarning)
    warnings.filterwarnings("ignore", "Deprecated call to `pkg_resources", DeprecationWarning)
    warnings.filterwarnings("ignore", "'cgi' is deprecated", DeprecationWarning)
    from pyramid.config import Configurator
    from pyramid.request import Request
    from pyramid.response import Response


def build(urls: dict[str, str], options: dict[str, Any]) -> Any:
    """The Pyramid app of the shared interface, wrapped with ``options``."""

    def hello(request: Request) -> Response:
        return Response("hello", content_type="text/plain")

    def fault(request: Request) -> Response:
        call_upstream(urls, request.matchdict["name"])
        raise AssertionError("unreachable")

    def stream(request: Request) -> Response:
        body = stream_body(urls, request.matchdict["name"])
        return Response(app_iter=body, content_type="text/plain")

    with Configurator() as config:
        config.add_route("ok", "/ok")
        config.add_route("health", "/health")
        config.add_route("fault", "/fault/{name}")
        config.add_route("fault_more", "/fault/{name}/*rest")
        config.add_route("stream", "/stream/{name}")
        config.add_view(hello, route_name="ok")
        config.add_view(hello, route_name="health")
        config.add_view(fault, route_name="fault")
        config.add_view(fault, route_name="fault_more")
        config.add_view(stream, route_name="stream")
        app = config.make_wsgi_app()
    return GatewayErrorsWSGIMiddleware(app, **options)

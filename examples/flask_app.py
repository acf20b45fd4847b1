"""A Flask app whose upstream fails: answers 502/503/504 in the format the client asked for.

pip install "gatewayerrors[flask]" httpx waitress
CATALOG_UPSTREAM=http://127.0.0.1:9/ python examples/flask_app.py       # dev server
waitress-serve --call --listen=127.0.0.1:8000 flask_app:create_app      # from examples/

curl -i localhost:8000/products                        # 502, application/problem+json
curl -i -H 'Accept: text/html' localhost:8000/products # the same failure as an HTML page
curl -i localhost:8000/export                          # a streamed body failing early: 502
"""

from __future__ import annotations

import os
from collections.abc import Iterator

import httpx
from flask import Flask, Response, jsonify, stream_with_context

from gatewayerrors import ServiceUnavailable
from gatewayerrors.flask import GatewayErrors

# Nothing listens on the discard port: by default every call is refused.
DEFAULT_UPSTREAM = "http://127.0.0.1:9/"


def create_app() -> Flask:
    app = Flask(__name__)
    app.config["CATALOG_UPSTREAM"] = os.environ.get("CATALOG_UPSTREAM", DEFAULT_UPSTREAM)
    app.config["CATALOG_PAUSED"] = False
    # Any gatewayerrors setting, as GATEWAYERRORS_<NAME> (or keyword arguments below).
    app.config["GATEWAYERRORS_SERVICE"] = "catalog"
    app.config["GATEWAYERRORS_DEFAULT_RETRY_AFTER"] = 10

    @app.get("/products")
    def products() -> Response:
        # Refused, reset, timed out, TLS, DNS or a 5xx: the extension answers, the view stays plain.
        response = httpx.get(app.config["CATALOG_UPSTREAM"], timeout=2.0)
        response.raise_for_status()
        return jsonify(response.json())

    @app.get("/export")
    def export() -> Response:
        def rows() -> Iterator[str]:
            # Runs after the view returned; a failure before the first row still gets a 502.
            with httpx.stream("GET", app.config["CATALOG_UPSTREAM"], timeout=2.0) as upstream:
                upstream.raise_for_status()
                yield from upstream.iter_lines()

        return Response(stream_with_context(rows()), mimetype="text/plain")

    @app.get("/orders")
    def orders() -> Response:
        if app.config["CATALOG_PAUSED"]:
            # Detected by the app itself: a circuit breaker, a feature flag, ...
            raise ServiceUnavailable(code="circuit_open", retry_after=30, upstream="orders")
        return jsonify([])

    @app.get("/health")
    def health() -> str:
        return "ok"

    GatewayErrors(app)
    return app


app = create_app()

if __name__ == "__main__":
    app.run(port=8000)

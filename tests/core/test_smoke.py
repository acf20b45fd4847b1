"""The package imports and the core turns a real refused connection into a 502."""

import socket

import gatewayerrors
from gatewayerrors.core import RequestInfo, Translator


def test_refused_connection_becomes_502() -> None:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    try:
        socket.create_connection(("127.0.0.1", port), timeout=2)
    except ConnectionRefusedError as exc:
        response = Translator().translate(exc, RequestInfo())
    assert response is not None
    assert response.status == 502
    assert response.error.code == "connection_refused"
    assert gatewayerrors.catalog["connection_refused"].number == 20

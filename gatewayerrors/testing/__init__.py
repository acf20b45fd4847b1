"""Upstreams that really fail, on 127.0.0.1, to test your own app's failure handling.

As a pytest plugin, in your top-level ``conftest.py``::

    pytest_plugins = ["gatewayerrors.testing"]

then a test asks for the session-wide ``faulty_upstreams`` fixture (also named ``upstreams``)
and points the app under test at one of its URLs::

    def test_orders_answer_502_when_the_upstream_refuses(faulty_upstreams, monkeypatch):
        monkeypatch.setattr(myapp, "ORDERS_URL", faulty_upstreams.refused_url)
        response = TestClient(myapp.app).get("/orders/42")
        assert response.status_code == 502

Fixtures: ``faulty_upstreams`` (a :class:`FaultyUpstreams`), ``upstreams`` (the same), and
``tls_ca`` (the ``trustme.CA`` behind ``tls_url``). Without pytest, use the class directly::

    with FaultyUpstreams() as servers:
        httpx.get(servers.reset_url)  # raises httpx.RemoteProtocolError

Importing this module needs neither pytest nor trustme; the fixtures need pytest, the TLS
upstream needs trustme: ``pip install 'gatewayerrors[testing]'`` installs both. The module is
not registered as a pytest entry point, so it loads only into the sessions that ask for it.
See docs/testing.md.
"""

from __future__ import annotations

from ._servers import GARBAGE, TRUNCATED, FaultyUpstreams

__all__ = ["GARBAGE", "TRUNCATED", "FaultyUpstreams"]

# pytest reads this from a plugin module too: the fixtures (which import pytest) load only when
# pytest loads this module as a plugin, never on a plain import.
pytest_plugins = ["gatewayerrors.testing._plugin"]

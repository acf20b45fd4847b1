"""One uvicorn server per test module that serves whichever app a test gives it.

    @pytest.fixture(scope="module")
    def site() -> Iterator[Site]:
        with open_site() as opened:
            yield opened

    def test_something(site: Site) -> None:
        url = site.serve(make_app()).url

Starting a server costs more than most tests (its shutdown waits for the server loop), so a
module whose tests each need their own app configuration swaps the app instead.
"""

from __future__ import annotations

import contextlib
import logging
import time
from collections.abc import Iterator
from typing import Any

import pytest
from adapter_servers import ASGISwitch
from asgi_servers import serve


class Site:
    """A running server; ``url`` serves the app last given to :meth:`serve`."""

    def __init__(self, switch: ASGISwitch, url: str) -> None:
        self._switch = switch
        self.url = url

    def serve(self, app: Any) -> Site:
        self._switch.current = app
        return self


@contextlib.contextmanager
def open_site() -> Iterator[Site]:
    switch = ASGISwitch(None)
    with serve(switch) as server:
        yield Site(switch, server.url)


def our_records(caplog: pytest.LogCaptureFixture, count: int = 0) -> list[logging.LogRecord]:
    """The library's log records, waiting (5 s at most) until there are ``count`` of them: the
    ASGI middleware logs after its last send, so the client can have its answer before."""
    deadline = time.monotonic() + 5
    while True:
        found = [record for record in caplog.records if record.name == "gatewayerrors"]
        if len(found) >= count or time.monotonic() > deadline:
            return found
        time.sleep(0.01)

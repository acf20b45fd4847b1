"""examples/starlette_app.py and examples/fastapi_app.py, run as a user runs them:
``python examples/<file>.py``, then real requests, then Ctrl-C."""

from __future__ import annotations

import json
import os
import re
import signal
import subprocess
import sys
import threading
import time
import xml.etree.ElementTree as ET
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

pytestmark = [
    pytest.mark.server,
    pytest.mark.skipif(sys.platform == "win32", reason="POSIX signals"),
]

ROOT = Path(__file__).resolve().parents[2]


class Example:
    """``python examples/<name>`` on a free port (PORT=0), stopped with SIGINT."""

    def __init__(self, name: str, env: dict[str, str]) -> None:
        full_env = {**os.environ, "PYTHONPATH": str(ROOT), "PORT": "0", **env}
        full_env.pop("GATEWAYERRORS_MAINTENANCE", None)
        self.process = subprocess.Popen(
            [sys.executable, str(ROOT / "examples" / name)],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.PIPE,
            text=True,
            env=full_env,
        )
        self.log: list[str] = []
        self._reader = threading.Thread(target=self._read, daemon=True)
        self._reader.start()
        self.base = self._wait_until_serving()

    def _read(self) -> None:
        assert self.process.stderr is not None
        for line in self.process.stderr:
            self.log.append(line)

    def _wait_until_serving(self) -> str:
        deadline = time.monotonic() + 20
        while time.monotonic() < deadline and self.process.poll() is None:
            found = re.search(r"running on (http://127\.0\.0\.1:\d+)", "".join(self.log))
            if found:
                return found.group(1)
            time.sleep(0.05)
        self.stop()
        raise AssertionError("example did not start:\n" + "".join(self.log))

    def stop(self) -> int:
        if self.process.poll() is None:
            self.process.send_signal(signal.SIGINT)
        try:
            code = self.process.wait(timeout=15)
        except subprocess.TimeoutExpired:
            self.process.kill()
            code = self.process.wait()
        self._reader.join(5)
        if self.process.stderr is not None:
            self.process.stderr.close()
        return code


@pytest.fixture
def run_example() -> Iterator[Any]:
    started: list[Example] = []

    def start(name: str, **env: str) -> Example:
        example = Example(name, env)
        started.append(example)
        return example

    yield start
    for example in started:
        example.stop()


def test_starlette_example(run_example: Any, upstreams: Any) -> None:
    example = run_example("starlette_app.py", QUOTES_URL=upstreams.refused_url)
    with httpx.Client(base_url=example.base, timeout=10) as client:
        quote = client.get("/quote")
        assert quote.status_code == 502
        assert quote.headers["content-type"] == "application/problem+json"
        assert quote.headers["proxy-status"] == "quotes-api; error=connection_refused"
        assert quote.json()["code"] == "connection_refused"

        html = client.get("/quote", headers={"accept": "text/html"})
        assert html.status_code == 502
        assert html.headers["content-type"].startswith("text/html")

        checkout = client.get("/checkout")
        assert checkout.status_code == 503
        assert checkout.headers["retry-after"] == "30"
        assert checkout.json()["code"] == "circuit_open"
        assert client.get("/health").text == "ok"
    assert example.stop() == 0
    assert "Traceback" not in "".join(example.log).split("Shutting down")[-1]


def test_fastapi_example(run_example: Any, upstreams: Any) -> None:
    example = run_example("fastapi_app.py", ORDERS_URL=upstreams.status_url(503, "45"))
    with httpx.Client(base_url=example.base, timeout=10) as client:
        order = client.get("/orders/42", headers={"accept": "application/xml"})
        assert order.status_code == 503
        assert order.headers["retry-after"] == "45"
        assert order.headers["content-type"] == "application/problem+xml"
        problem = ET.fromstring(order.content)
        assert problem.findtext("{urn:ietf:rfc:7807}code") == "upstream_overloaded"

        search = client.get("/search", params={"q": "lamp"})
        assert search.status_code == 200  # the app's own handler for its class wins
        assert json.loads(search.text) == {"results": [], "degraded": True}
        assert client.get("/health").json() == {"status": "ok"}
    assert example.stop() == 0
    log = "".join(example.log)
    assert "upstream failure" in log  # the on_error hook's log line


def wait_for_log(example: Any, needle: str, count: int) -> str:
    """The example's log once ``needle`` appears ``count`` times (records follow responses)."""
    deadline = time.monotonic() + 10
    while time.monotonic() < deadline:
        log = "".join(example.log)
        if log.count(needle) >= count:
            return log
        time.sleep(0.05)
    raise AssertionError(f"{needle!r} not logged {count} times:\n" + "".join(example.log))


def test_breaker_example(run_example: Any, upstreams: Any) -> None:
    example = run_example(
        "breaker_app.py", ORDERS_URL=upstreams.refused_url, STOCK_URL=upstreams.reset_url
    )
    with httpx.Client(base_url=example.base, timeout=10) as client:
        orders = [client.get("/orders/42") for _ in range(7)]
        # Four refused calls, the fifth opens the circuit, then the circuit answers at once.
        assert [r.status_code for r in orders] == [502] * 4 + [503] * 3
        assert {r.json()["code"] for r in orders[:4]} == {"connection_refused"}
        assert {r.json()["code"] for r in orders[4:]} == {"circuit_open"}
        assert [r.json().get("upstream") for r in orders[:5]] == ["orders"] * 5
        for response in orders[4:]:
            # Seconds until aiobreaker allows a trial call (30), plus up to 10% jitter.
            assert 25 <= int(response.headers["retry-after"]) <= 33
        log = wait_for_log(example, "circuit_open", 3)
        assert "Traceback" not in log.split("circuit_open", 1)[1]  # fail-fast: no traceback
        assert "(repeat 3 in 60 s): 502 connection_refused upstream=orders" in log

        stock = [client.get("/stock/42") for _ in range(6)]
        assert [r.status_code for r in stock] == [502] * 4 + [503] * 2
        assert {r.json()["code"] for r in stock[4:]} == {"circuit_open"}
        assert stock[0].json()["upstream"] == "stock"
        assert 25 <= int(stock[-1].headers["retry-after"]) <= 33
        for response in orders + stock:
            assert "127.0.0.1" not in response.text
        assert client.get("/health").text == "ok"
    assert example.stop() == 0

"""gunicorn --preload: the app (and its maintenance switch) is built in the master and forked
into workers, where the master's refresher thread does not exist. Each worker must run its own,
or it would never see the operator's switch."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import httpx
import pytest

from gatewayerrors.maintenance import FileStore, MaintenanceState

pytest.importorskip("gunicorn")
pytestmark = pytest.mark.skipif(not hasattr(os, "fork"), reason="gunicorn forks (POSIX)")

APP = """\
import os

from gatewayerrors import GatewayErrorsWSGIMiddleware


def app(environ, start_response):
    switch = middleware.translator.maintenance_switch
    thread = switch._thread
    alive = thread is not None and thread.is_alive()
    start_response("200 OK", [("content-type", "text/plain")])
    return [("%d %s" % (os.getpid(), alive)).encode()]


middleware = GatewayErrorsWSGIMiddleware(app, maintenance_store=STORE_URL)
"""


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def test_each_preloaded_worker_runs_its_own_refresher(tmp_path: Path) -> None:
    state_file = tmp_path / "maintenance.json"
    (tmp_path / "fleet_app.py").write_text(
        f"STORE_URL = {f'file://{state_file}'!r}\n" + APP, "utf-8"
    )
    port = free_port()
    server = subprocess.Popen(
        [
            sys.executable, "-m", "gunicorn", "--preload", "--workers", "2",
            "--bind", f"127.0.0.1:{port}", "--log-level", "warning", "fleet_app:middleware",
        ],
        cwd=tmp_path,
        env={**os.environ, "PYTHONPATH": str(tmp_path)},
    )  # fmt: skip
    base = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 20
        while True:
            try:
                httpx.get(base + "/healthz", timeout=2)
                break
            except httpx.TransportError:
                assert server.poll() is None, "gunicorn exited"
                assert time.monotonic() < deadline, "gunicorn did not start"
                time.sleep(0.1)

        def health(_: int) -> str:
            # A new connection each time, so that both workers get some.
            return httpx.get(base + "/healthz", headers={"connection": "close"}, timeout=5).text

        with ThreadPoolExecutor(8) as pool:
            answers = set(pool.map(health, range(200)))
        pids = {answer.split()[0] for answer in answers}
        assert len(pids) == 2, answers  # both workers answered
        assert str(server.pid) not in pids
        assert all(answer.endswith(" True") for answer in answers)  # a refresher in each

        FileStore(state_file).write(MaintenanceState(on=True))
        deadline = time.monotonic() + 2.0
        while True:
            with ThreadPoolExecutor(8) as pool:
                statuses = list(
                    pool.map(
                        lambda _: httpx.get(base, headers={"connection": "close"}).status_code,
                        range(40),
                    )
                )
            if set(statuses) == {503}:
                break
            assert time.monotonic() < deadline, statuses
            time.sleep(0.1)
    finally:
        server.terminate()
        server.wait(timeout=20)

"""``python -m gatewayerrors demo`` as a newcomer runs it: a subprocess, curl-like requests,
then Ctrl-C (SIGINT) or SIGTERM, and a clean exit."""

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

import httpx
import pytest

pytestmark = [
    pytest.mark.server,
    pytest.mark.skipif(sys.platform == "win32", reason="POSIX signals"),
]

ROOT = Path(__file__).resolve().parents[2]


class Demo:
    def __init__(self) -> None:
        env = {**os.environ, "PYTHONPATH": str(ROOT), "PYTHONUNBUFFERED": "1"}
        env.pop("GATEWAYERRORS_MAINTENANCE", None)
        self.process = subprocess.Popen(
            [sys.executable, "-m", "gatewayerrors", "demo", "--port", "0"],
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
            env=env,
            cwd=ROOT,
        )
        self.stdout: list[str] = []
        self.stderr = ""
        self._reader = threading.Thread(target=self._read_stdout, daemon=True)
        self._reader.start()
        self.base = self._wait_for_banner()

    def _read_stdout(self) -> None:
        assert self.process.stdout is not None
        for line in self.process.stdout:
            self.stdout.append(line)

    def _wait_for_banner(self) -> str:
        deadline = time.monotonic() + 20
        while time.monotonic() < deadline:
            text = "".join(self.stdout)
            if "Press Ctrl-C to stop." in text:
                found = re.search(r"http://127\.0\.0\.1:\d+", text)
                assert found, text
                return found.group(0)
            if self.process.poll() is not None:
                break
            time.sleep(0.05)
        self.stop(signal.SIGKILL)
        raise AssertionError(f"demo did not start:\n{''.join(self.stdout)}\n{self.stderr}")

    def stop(self, signum: int) -> int:
        if self.process.poll() is None:
            self.process.send_signal(signum)
        try:
            code = self.process.wait(timeout=15)
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.wait()
            raise
        assert self.process.stderr is not None
        self.stderr = self.process.stderr.read()
        self._reader.join(5)
        for stream in (self.process.stdout, self.process.stderr):
            if stream is not None:
                stream.close()
        return code


@pytest.fixture
def demo() -> Iterator[Demo]:
    running = Demo()
    try:
        yield running
    finally:
        if running.process.poll() is None:
            running.stop(signal.SIGKILL)


def test_demo_serves_every_failure_in_three_formats_and_stops_on_ctrl_c(demo: Demo) -> None:
    banner = "".join(demo.stdout)
    expected = {
        "/refused": (502, "connection_refused"),
        "/timeout": (504, "connection_read_timeout"),
        "/reset": (502, "connection_terminated"),
        "/tls": (502, "tls_certificate_error"),
        "/dns": (502, "dns_error"),
        "/overloaded": (503, "upstream_overloaded"),
        "/maintenance": (503, "maintenance"),
    }
    with httpx.Client(base_url=demo.base, timeout=10) as client:
        for path, (status, code) in expected.items():
            # The banner shows each endpoint as JSON, XML and HTML, with its status.
            assert f"curl -i {demo.base}{path}" in banner
            assert f"-H 'Accept: application/problem+xml' {demo.base}{path}" in banner
            assert f"-H 'Accept: text/html' {demo.base}{path}" in banner
            assert f"{path}: " in banner
            assert f"-> {status}" in banner.split(f"{path}: ", 1)[1].split("\n", 1)[0]

            response = client.get(path)
            assert response.status_code == status, (path, response.text)
            assert response.headers["content-type"] == "application/problem+json"
            assert json.loads(response.text)["code"] == code

        xml = client.get("/refused", headers={"Accept": "application/problem+xml"})
        assert xml.headers["content-type"] == "application/problem+xml"
        assert ET.fromstring(xml.content).find("{urn:ietf:rfc:7807}status").text == "502"  # type: ignore[union-attr]
        html = client.get("/overloaded", headers={"Accept": "text/html"})
        assert html.headers["content-type"].startswith("text/html")
        assert html.headers["retry-after"] == "120"
        assert "503" in html.text
        assert client.get("/health").status_code == 200

    exit_code = demo.stop(signal.SIGINT)
    assert exit_code == 0, demo.stderr
    assert "Traceback" not in demo.stderr
    assert "stopped" in "".join(demo.stdout)
    # One short log line per translated error, no traceback.
    assert "gatewayerrors: upstream failure: 502 connection_refused" in demo.stderr


def test_demo_stops_cleanly_on_sigterm(demo: Demo) -> None:
    assert httpx.get(demo.base + "/refused", timeout=5).status_code == 502
    code = demo.stop(signal.SIGTERM)
    assert code == 0, demo.stderr
    assert "Traceback" not in demo.stderr


def test_demo_reports_a_busy_port_without_a_traceback(demo: Demo) -> None:
    port = demo.base.rsplit(":", 1)[1]
    result = subprocess.run(
        [sys.executable, "-m", "gatewayerrors", "demo", "--port", port],
        capture_output=True,
        text=True,
        timeout=30,
        env={**os.environ, "PYTHONPATH": str(ROOT)},
        cwd=ROOT,
    )
    assert result.returncode == 1
    assert f"port {port} is in use" in result.stderr
    assert "Traceback" not in result.stderr

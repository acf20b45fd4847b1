"""The Flask and Django examples run, and answer real upstream failures.

The Flask app is served in-process by waitress; the Django project runs in subprocesses (its
own settings, as a user would start it): ``manage.py check``, waitress and uvicorn.
"""

from __future__ import annotations

import importlib.util
import os
import re
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import requests
from wsgi_servers import serve_wsgi

pytestmark = pytest.mark.server

ROOT = Path(__file__).resolve().parents[2]
EXAMPLES = ROOT / "examples"
DJANGO_PROJECT = EXAMPLES / "django_project"


def load_flask_example() -> Any:
    spec = importlib.util.spec_from_file_location("flask_app_example", EXAMPLES / "flask_app.py")
    assert spec is not None
    assert spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_flask_example(upstreams: Any) -> None:
    app = load_flask_example().create_app()
    app.config["CATALOG_UPSTREAM"] = upstreams.refused_url
    with serve_wsgi(app) as url, requests.Session() as session:
        response = session.get(f"{url}/products", timeout=5)
        assert response.status_code == 502
        assert response.headers["content-type"] == "application/problem+json"
        assert response.headers["proxy-status"] == "catalog; error=connection_refused"
        assert response.json()["code"] == "connection_refused"

        streamed = session.get(f"{url}/export", headers={"Accept": "text/plain"}, timeout=5)
        assert streamed.status_code == 502
        assert streamed.text.startswith("502")

        app.config["CATALOG_UPSTREAM"] = upstreams.status_url(503)
        overloaded = session.get(f"{url}/products", timeout=5)
        assert overloaded.status_code == 503
        assert overloaded.headers["retry-after"] == "10"  # GATEWAYERRORS_DEFAULT_RETRY_AFTER

        app.config["CATALOG_PAUSED"] = True
        paused = session.get(f"{url}/orders", timeout=5)
        assert (paused.status_code, paused.json()["code"]) == (503, "circuit_open")
        assert session.get(f"{url}/health", timeout=5).text == "ok"


def _env(upstream: str) -> dict[str, str]:
    env = dict(os.environ)
    env["PYTHONPATH"] = os.pathsep.join([str(ROOT), str(DJANGO_PROJECT), env.get("PYTHONPATH", "")])
    env["CATALOG_UPSTREAM"] = upstream
    env.pop("DJANGO_SETTINGS_MODULE", None)
    return env


@pytest.fixture(scope="module")
def refused(upstreams: Any) -> str:
    return str(upstreams.refused_url)


def test_django_example_passes_checks(refused: str) -> None:
    result = subprocess.run(
        [sys.executable, "manage.py", "check", "--fail-level", "WARNING"],
        cwd=DJANGO_PROJECT,
        env=_env(refused),
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert result.returncode == 0, result.stderr
    assert "no issues" in result.stdout


def _serve(command: list[str], env: dict[str, str], pattern: str) -> Iterator[str]:
    process = subprocess.Popen(
        command, cwd=DJANGO_PROJECT, env=env, stderr=subprocess.PIPE, text=True
    )
    try:
        assert process.stderr is not None
        deadline = time.monotonic() + 30
        url = None
        while url is None:
            assert time.monotonic() < deadline, "the server did not start"
            line = process.stderr.readline()
            assert line, f"the server exited: {process.wait(timeout=5)}"
            found = re.search(pattern, line)
            url = found.group(1) if found else None
        yield url
    finally:
        process.terminate()
        try:
            process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait(timeout=10)
        if process.stderr is not None:
            process.stderr.close()


@pytest.fixture(scope="module")
def django_wsgi_url(refused: str) -> Iterator[str]:
    command = ["-m", "waitress", "--listen=127.0.0.1:0", "catalog.wsgi:application"]
    pattern = r"Serving on (http://127\.0\.0\.1:\d+)"
    yield from _serve([sys.executable, *command], _env(refused), pattern)


@pytest.fixture(scope="module")
def django_asgi_url(refused: str) -> Iterator[str]:
    command = ["-m", "uvicorn", "catalog.asgi:application", "--port", "0", "--lifespan", "off"]
    pattern = r"running on (http://127\.0\.0\.1:\d+)"
    yield from _serve([sys.executable, *command], _env(refused), pattern)


@pytest.fixture(params=["wsgi", "asgi"])
def django_url(request: pytest.FixtureRequest) -> str:
    return str(request.getfixturevalue(f"django_{request.param}_url"))


def test_django_example(django_url: str) -> None:
    with requests.Session() as session:
        for path in ("/products", "/products-async"):
            response = session.get(f"{django_url}{path}", timeout=5)
            assert response.status_code == 502, path
            assert response.headers["content-type"] == "application/problem+json"
            assert response.headers["proxy-status"] == "catalog; error=connection_refused"
            assert response.json()["instance"] == path
        page = session.get(f"{django_url}/products", headers={"Accept": "text/html"}, timeout=5)
        assert page.status_code == 502
        assert page.headers["content-type"] == "text/html; charset=utf-8"
        assert session.get(f"{django_url}/health", timeout=5).text == "ok"
        assert session.get(f"{django_url}/missing", timeout=5).status_code == 404


def test_django_example_html_uses_the_project_template(django_url: str) -> None:
    page = requests.get(f"{django_url}/products", headers={"Accept": "text/html"}, timeout=5)
    assert page.status_code == 502
    assert "<title>502 " in page.text
    assert "Quote <code>" in page.text
    assert "about /products." in page.text


def test_django_example_streamed_failure_under_wsgi(django_wsgi_url: str) -> None:
    response = requests.get(f"{django_wsgi_url}/export", timeout=5)
    assert (response.status_code, response.json()["code"]) == (502, "connection_refused")

"""gatewayerrors.testing as a user meets it: a plugin named in a conftest, fixtures in a test, an
import without pytest, and the documented example test of a user app."""

from __future__ import annotations

import os
import re
import socket
import subprocess
import sys
import textwrap
from pathlib import Path
from urllib.parse import urlsplit

import pytest

from gatewayerrors.testing import FaultyUpstreams

ROOT = Path(__file__).resolve().parents[2]
ENV = {**os.environ, "PYTHONPATH": str(ROOT)}


def run_pytest(cwd: Path, *args: str) -> subprocess.CompletedProcess[str]:
    """A separate pytest run, as a user's project runs its suite.

    ``--no-cov``: a nested run in this repository would start pytest-cov again, which erases
    the coverage data that this run's subprocesses wrote. The nested run is still measured (as
    every subprocess is, see [tool.coverage.run] in pyproject.toml).
    """
    command = [sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", "-W", "error"]
    return subprocess.run(
        [*command, "--no-cov", *args],
        capture_output=True,
        text=True,
        timeout=180,
        cwd=cwd,
        env={key: value for key, value in ENV.items() if key != "PYTEST_ADDOPTS"},
    )


DOCS = ROOT / "docs" / "testing.md"
RECIPE = ROOT / "docs" / "recipes" / "testing.md"


def docs_python_blocks(page: Path = DOCS) -> list[str]:
    return re.findall(r"^```python\n(.*?)^```", page.read_text("utf-8"), re.DOTALL | re.MULTILINE)


def test_the_test_examples_of_the_docs_pass(tmp_path: Path) -> None:
    blocks = [block for block in docs_python_blocks() if "def test_" in block]
    assert blocks
    (tmp_path / "conftest.py").write_text('pytest_plugins = ["gatewayerrors.testing"]\n')
    for number, block in enumerate(blocks):
        (tmp_path / f"test_docs_{number}.py").write_text(block)
    result = run_pytest(tmp_path)
    assert result.returncode == 0, result.stdout + result.stderr
    tests = sum(block.count("\ndef test_") for block in blocks)
    assert result.stdout.strip().splitlines()[-1].startswith(f"{tests} passed")


def test_the_other_python_blocks_of_the_docs_run() -> None:
    blocks = [block for block in docs_python_blocks() if "def test_" not in block]
    assert len(blocks) == 2  # the conftest line, and the servers without pytest
    for block in blocks:
        subprocess.run(
            [sys.executable, "-c", block], capture_output=True, timeout=60, env=ENV, check=True
        )


def test_the_recipes_conftest_and_test_module_pass(tmp_path: Path) -> None:
    # docs/recipes/testing.md: the conftest line, then a whole test module, run as a user would.
    conftest, module = docs_python_blocks(RECIPE)
    assert conftest.strip() == 'pytest_plugins = ["gatewayerrors.testing"]'
    (tmp_path / "conftest.py").write_text(conftest)
    (tmp_path / "test_recipe.py").write_text(module)
    result = run_pytest(tmp_path)
    assert result.returncode == 0, result.stdout + result.stderr
    summary = result.stdout.strip().splitlines()[-1]
    passed = re.match(r"(\d+) passed in ", summary)
    assert passed, summary  # nothing failed, skipped or warned
    assert int(passed.group(1)) > module.count("\ndef test_")  # the parametrized cases ran


def test_the_example_test_of_a_user_app_passes() -> None:
    # docs/testing.md shows this file: it must keep passing as written.
    result = run_pytest(ROOT, "examples/test_fastapi_app.py")
    assert result.returncode == 0, result.stdout + result.stderr
    summary = result.stdout.strip().splitlines()[-1]
    assert " passed" in summary
    assert "skipped" not in summary
    assert "warning" not in summary


USER_TESTS = """
import socket
import ssl
from urllib.parse import urlsplit

import pytest


def address(url):
    parts = urlsplit(url)
    return parts.hostname, parts.port


def test_refused(faulty_upstreams):
    with pytest.raises(ConnectionRefusedError):
        socket.create_connection(address(faulty_upstreams.refused_url), timeout=2)


def test_both_names_are_one_session_object(faulty_upstreams, upstreams):
    assert upstreams is faulty_upstreams


def test_tls_ca_signed_the_tls_upstream(faulty_upstreams, tls_ca):
    context = ssl.create_default_context()
    tls_ca.configure_trust(context)
    with socket.create_connection(address(faulty_upstreams.tls_url), timeout=2) as raw:
        with context.wrap_socket(raw, server_hostname="127.0.0.1") as tls:
            tls.sendall(b"GET / HTTP/1.1\\r\\nHost: x\\r\\n\\r\\n")
            assert tls.recv(64).startswith(b"HTTP/1.1 200 OK")
"""


def test_the_plugin_in_a_user_project(tmp_path: Path) -> None:
    (tmp_path / "conftest.py").write_text('pytest_plugins = ["gatewayerrors.testing"]\n')
    (tmp_path / "test_user.py").write_text(USER_TESTS)
    result = run_pytest(tmp_path)
    assert result.returncode == 0, result.stdout + result.stderr
    assert result.stdout.strip().splitlines()[-1].startswith("3 passed")


def test_the_fixtures_load_only_where_asked_for(tmp_path: Path) -> None:
    # No pytest11 entry point: a session that does not name the plugin does not get it.
    (tmp_path / "test_user.py").write_text("def test_x(faulty_upstreams):\n    pass\n")
    result = run_pytest(tmp_path)
    assert result.returncode == 1
    assert "fixture 'faulty_upstreams' not found" in result.stdout


def test_the_fixtures_are_documented(tmp_path: Path) -> None:
    (tmp_path / "conftest.py").write_text('pytest_plugins = ["gatewayerrors.testing"]\n')
    result = run_pytest(tmp_path, "--fixtures")
    for name in ("faulty_upstreams", "upstreams", "tls_ca"):
        assert f"\n{name} [session scope]" in result.stdout


WITHOUT_PYTEST_OR_TRUSTME = """
import socket
import sys
from urllib.parse import urlsplit

sys.modules["pytest"] = None  # importing either now raises ImportError
sys.modules["trustme"] = None
from gatewayerrors.testing import FaultyUpstreams

try:
    FaultyUpstreams()
except ImportError as exc:
    print("tls:", exc)
with FaultyUpstreams(tls=False) as servers:
    try:
        servers.tls_url
    except RuntimeError as exc:
        print("tls_url:", exc)
    refused = urlsplit(servers.refused_url)
    try:
        socket.create_connection((refused.hostname, refused.port), timeout=2)
    except ConnectionRefusedError:
        print("refused: yes")
"""


def test_the_servers_need_neither_pytest_nor_trustme() -> None:
    result = subprocess.run(
        [sys.executable, "-c", textwrap.dedent(WITHOUT_PYTEST_OR_TRUSTME)],
        capture_output=True,
        text=True,
        timeout=60,
        env=ENV,
        check=True,
    )
    lines = result.stdout.splitlines()
    assert lines[0].startswith("tls: the TLS upstream needs trustme")
    assert "pip install 'gatewayerrors[testing]'" in lines[0]
    assert lines[1] == "tls_url: started with tls=False: there is no TLS upstream"
    assert lines[2] == "refused: yes"


def test_a_plain_import_loads_no_pytest() -> None:
    code = "import sys, gatewayerrors.testing; print('pytest' in sys.modules)"
    result = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, timeout=60, env=ENV
    )
    assert result.stdout == "False\n", result.stderr


def test_close_releases_the_ports_and_may_be_called_twice() -> None:
    with FaultyUpstreams(tls=False) as servers:
        urls = [servers.hang_url, servers.status_url(200)]
    servers.close()
    for url in urls:
        parts = urlsplit(url)
        assert parts.hostname is not None
        assert parts.port is not None
        with pytest.raises(ConnectionRefusedError):
            socket.create_connection((parts.hostname, parts.port), timeout=2)

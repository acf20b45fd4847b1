"""The middleware's import path loads no tooling: no CLI, demo, preview, catalog generator or
test servers, and none of the libraries only they need."""

from __future__ import annotations

import ast
import os
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
PACKAGE = ROOT / "gatewayerrors"
RUNTIME = (
    "gatewayerrors",
    "gatewayerrors.core",
    "gatewayerrors.asgi",
    "gatewayerrors.wsgi",
    "gatewayerrors.flask",
    "gatewayerrors.django",
    "gatewayerrors.starlette",
    "gatewayerrors.litestar",
    "gatewayerrors.quart",
    "gatewayerrors.aiohttp",
)
TOOLING = (
    "gatewayerrors._tools",
    "gatewayerrors.testing",
    "gatewayerrors.__main__",
    "gatewayerrors.django.management",  # manage.py commands: tools run by an operator
)
TOOLING_ONLY_LIBRARIES = ("pytest", "trustme", "uvicorn")


def loaded_modules(statement: str) -> set[str]:
    """``sys.modules`` of a fresh interpreter after ``statement``."""
    code = f"{statement}\nimport sys\nprint('\\n'.join(sys.modules))"
    result = subprocess.run(
        [sys.executable, "-c", code],
        capture_output=True,
        text=True,
        timeout=60,
        check=True,
        cwd=ROOT,
        env={**os.environ, "PYTHONPATH": str(ROOT)},
    )
    return set(result.stdout.split())


def is_tooling(name: str) -> bool:
    return any(name == prefix or name.startswith(prefix + ".") for prefix in TOOLING)


@pytest.mark.parametrize("module", RUNTIME)
def test_runtime_module_imports_no_tooling(module: str) -> None:
    loaded = loaded_modules(f"import {module}")
    assert module in loaded
    assert sorted(name for name in loaded if is_tooling(name)) == []
    assert sorted(loaded & set(TOOLING_ONLY_LIBRARIES)) == []


def test_the_adapters_through_the_top_level_import_no_tooling() -> None:
    loaded = loaded_modules(
        "from gatewayerrors import GatewayErrorsMiddleware, GatewayErrorsWSGIMiddleware"
    )
    assert {"gatewayerrors.asgi", "gatewayerrors.wsgi"} <= loaded
    assert sorted(name for name in loaded if is_tooling(name)) == []


FRAMEWORKS = ("starlette", "fastapi", "flask", "django", "litestar", "quart", "falcon", "aiohttp")


def test_the_package_and_its_middleware_import_no_framework() -> None:
    # A framework is imported by its own helper module only (gatewayerrors.litestar, ...);
    # the middleware recognises Starlette and Falcon apps by their class names.
    loaded = loaded_modules("import gatewayerrors, gatewayerrors.asgi, gatewayerrors.wsgi")
    assert sorted(name for name in loaded if name.partition(".")[0] in FRAMEWORKS) == []


def test_no_store_costs_nothing_and_a_redis_url_imports_redis_only_when_used() -> None:
    threads = "import threading; print('threads', sorted(t.name for t in threading.enumerate()))"
    statement = (
        "from gatewayerrors.core import Translator, Settings\n"
        "import gatewayerrors.maintenance\n"
        "Translator()\n"
        "Settings(maintenance_store='redis://127.0.0.1:1/0')  # checked, not opened\n"
    )
    loaded = loaded_modules(statement + threads)
    assert "redis" not in loaded
    assert "gatewayerrors._redis_store" not in loaded
    assert "gatewayerrors-maintenance" not in " ".join(loaded)  # no refresher thread either


def test_the_command_line_loads_the_tools() -> None:
    # The check above would pass if the names were wrong: the tools are where it looks.
    loaded = loaded_modules("import gatewayerrors.__main__")
    assert {"gatewayerrors._tools.cli", "gatewayerrors.__main__"} <= loaded


def imported_names(path: Path) -> set[str]:
    """Absolute names of every module ``path`` imports, anywhere in the file (functions too)."""
    parts = path.relative_to(ROOT).with_suffix("").parts
    package = parts[:-1]  # the same for a module and for its package's __init__
    names: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text("utf-8"))):
        if isinstance(node, ast.Import):
            names.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom):
            base = list(package[: len(package) - (node.level - 1)]) if node.level else []
            module = ".".join([*base, *([node.module] if node.module else [])])
            names.add(module)
            names.update(f"{module}.{alias.name}" for alias in node.names)
    return names


def module_name(path: Path) -> str:
    parts = path.relative_to(ROOT).with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


RUNTIME_FILES = sorted(path for path in PACKAGE.rglob("*.py") if not is_tooling(module_name(path)))


@pytest.mark.parametrize("path", RUNTIME_FILES, ids=module_name)
def test_no_runtime_source_mentions_the_tools(path: Path) -> None:
    # Also catches an import inside a function, which the import check above would miss.
    assert sorted(name for name in imported_names(path) if is_tooling(name)) == []

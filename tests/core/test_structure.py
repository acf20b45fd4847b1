"""The package's shape: no import cycle, and a pinned public surface for each public module."""

from __future__ import annotations

import ast
import importlib
import inspect
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

PACKAGE = Path(__file__).resolve().parents[2] / "gatewayerrors"


def module_name(path: Path) -> str:
    parts = path.relative_to(PACKAGE.parent).with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def is_type_checking_block(node: ast.AST) -> bool:
    return isinstance(node, ast.If) and "TYPE_CHECKING" in ast.unparse(node.test)


def imported_modules(path: Path, known: set[str]) -> set[str]:
    """The package's modules that ``path`` imports at run time (function bodies included;
    ``if TYPE_CHECKING:`` blocks excluded, as they never run)."""
    this = module_name(path)
    package = this if path.name == "__init__.py" else this.rpartition(".")[0]
    found: set[str] = set()

    def visit(node: ast.AST) -> None:
        if is_type_checking_block(node):
            return
        if isinstance(node, ast.Import):
            found.update(alias.name for alias in node.names if alias.name in known)
        elif isinstance(node, ast.ImportFrom):
            if node.level:
                base = package.rsplit(".", node.level - 1)[0] if node.level > 1 else package
                target = f"{base}.{node.module}" if node.module else base
            else:
                target = node.module or ""
            if target in known:
                found.add(target)
            for alias in node.names:  # from . import asgi
                if f"{target}.{alias.name}" in known:
                    found.add(f"{target}.{alias.name}")
        for child in ast.iter_child_nodes(node):
            visit(child)

    visit(ast.parse(path.read_text("utf-8")))
    found.discard(this)
    return found


def import_graph() -> dict[str, set[str]]:
    paths = sorted(PACKAGE.rglob("*.py"))
    known = {module_name(path) for path in paths}
    # No edge from a submodule to its package's __init__ for being imported: Python runs the
    # __init__ first anyway, and the __init__ importing its own submodules is no cycle.
    return {module_name(path): imported_modules(path, known) for path in paths}


def find_cycle(graph: dict[str, set[str]]) -> list[str] | None:
    state: dict[str, int] = {}
    stack: list[str] = []

    def visit(node: str) -> list[str] | None:
        state[node] = 1
        stack.append(node)
        for target in sorted(graph.get(node, ())):
            if state.get(target) == 1:
                return [*stack[stack.index(target) :], target]
            if target not in state:
                found = visit(target)
                if found:
                    return found
        stack.pop()
        state[node] = 2
        return None

    for node in sorted(graph):
        if node not in state:
            found = visit(node)
            if found:
                return found
    return None


def test_the_package_has_no_import_cycle() -> None:
    graph = import_graph()
    assert "gatewayerrors._types" in graph
    assert find_cycle(graph) is None, " -> ".join(find_cycle(graph) or [])


def test_the_cycle_finder_finds_a_cycle() -> None:
    assert find_cycle({"a": {"b"}, "b": {"c"}, "c": {"a"}}) == ["a", "b", "c", "a"]
    assert find_cycle({"a": {"b"}, "b": set()}) is None


def test_the_types_module_is_a_leaf() -> None:
    graph = import_graph()
    assert graph["gatewayerrors._types"] <= {"gatewayerrors._error"}
    assert graph["gatewayerrors._error"] <= {"gatewayerrors._catalog"}
    # The catalog marks its texts for translation (N_), from a leaf of its own.
    assert graph["gatewayerrors._catalog"] <= {"gatewayerrors._messages"}
    assert graph["gatewayerrors._messages"] == set()


def test_the_core_imports_no_adapter_or_framework() -> None:
    graph = import_graph()
    adapters = {
        "gatewayerrors.asgi",
        "gatewayerrors.wsgi",
        "gatewayerrors.flask",
        "gatewayerrors.django",
        "gatewayerrors.starlette",
        "gatewayerrors.litestar",
        "gatewayerrors.quart",
        "gatewayerrors.aiohttp",
    }
    for module, targets in graph.items():
        tooling = ("gatewayerrors._tools", "gatewayerrors._demo", "gatewayerrors._preview")
        if module.startswith("gatewayerrors._") and not module.startswith(tooling):
            assert not targets & adapters, module


PUBLIC = {
    "gatewayerrors": {
        "DEFAULT_MAINTENANCE_EXEMPT",
        "BadGateway",
        "Classifier",
        "ErrorKind",
        "GatewayError",
        "GatewayErrorsMiddleware",
        "GatewayErrorsWSGIMiddleware",
        "GatewayTimeout",
        "ServiceUnavailable",
        "Settings",
        "SettingsError",
        "SettingsOptions",
        "UpstreamFailure",
        "__version__",
        "catalog",
        "register",
    },
    "gatewayerrors.core": {
        "BUNDLED_LANGUAGES",
        "Catalog",
        "Classifier",
        "ContextTemplateFunction",
        "ErrorKind",
        "ErrorResponse",
        "Evidence",
        "Format",
        "Integration",
        "MaintenanceCheck",
        "OnError",
        "PageContext",
        "Predicate",
        "RequestInfo",
        "Rule",
        "Settings",
        "SettingsOptions",
        "StyleFunction",
        "TemplateFunction",
        "Translator",
        "UpstreamFailure",
        "catalog",
        "default_classifier",
        "negotiate",
        "page_context",
        "parse_retry_after",
        "websocket_close_code",
    },
    "gatewayerrors.asgi": {
        "ASGIApp",
        "GatewayErrorsMiddleware",
        "Message",
        "Receive",
        "Scope",
        "Send",
    },
    "gatewayerrors.wsgi": {"GatewayErrorsWSGIMiddleware"},
    "gatewayerrors.openapi": {
        "GATEWAY_STATUSES",
        "add_gateway_errors",
        "document_gateway_errors",
        "gateway_responses",
        "problem_schema",
    },
    "gatewayerrors.client": {
        "ProxyStatusEntry",
        "UpstreamProblem",
        "aiohttp_raise",
        "aproblem_from_response",
        "forwarded_headers",
        "httpx_async_request_hook",
        "httpx_request_hook",
        "requests_forwarding_auth",
        "httpx_async_hook",
        "httpx_hook",
        "is_retryable",
        "parse_proxy_status",
        "problem_from_response",
        "raise_for_problem",
        "requests_hook",
        "retry_after_of",
        "stamina_hook",
        "urllib3_retry",
        "wait_retry_after",
    },
    "gatewayerrors.maintenance": {
        "FileStore",
        "MaintenanceState",
        "MaintenanceStore",
        "MemoryStore",
        "RedisStore",
        "StoreError",
        "open_store",
    },
    "gatewayerrors.testing": {"GARBAGE", "TRUNCATED", "FaultyUpstreams"},
    "gatewayerrors.starlette": {"install"},
    "gatewayerrors.litestar": {"GatewayErrorsPlugin"},
    "gatewayerrors.quart": {"install"},
    "gatewayerrors.aiohttp": {"GatewayErrors", "install", "middleware"},
    "gatewayerrors.flask": {"CONFIG_PREFIX", "GatewayErrors"},
    "gatewayerrors.otel": {"UPSTREAM_ATTRIBUTE", "OpenTelemetry"},
    "gatewayerrors.prometheus": {"OTHER", "UNNAMED", "PrometheusMetrics"},
    "gatewayerrors.sentry": {"FINGERPRINT_PREFIX", "SentryEvents"},
    "gatewayerrors.django": {
        "SETTINGS_NAME",
        "GatewayErrorsMiddleware",
        "django_template",
        "drf_exception_handler",
        "get_translator",
        "response_for_exception",
    },
}


@pytest.mark.parametrize("module", sorted(PUBLIC))
def test_public_names_are_pinned(module: str) -> None:
    if module == "gatewayerrors.django":
        pytest.importorskip("django")
    imported = importlib.import_module(module)
    assert set(imported.__all__) == PUBLIC[module]
    for name in imported.__all__:
        assert hasattr(imported, name), name
        value = getattr(imported, name)
        # type(value), not inspect.isclass: on 3.10 a Callable[...] alias passes isclass.
        if issubclass(type(value), type) or inspect.isfunction(value):
            assert getattr(value, "__doc__", None), f"{module}.{name} has no docstring"


def test_a_misspelt_option_fails_mypy_through_the_top_level_import(tmp_path: Path) -> None:
    program = tmp_path / "app.py"
    program.write_text(
        textwrap.dedent(
            """
            from starlette.applications import Starlette

            from gatewayerrors import GatewayErrorsMiddleware, GatewayErrorsWSGIMiddleware
            from gatewayerrors.starlette import install

            GatewayErrorsMiddleware(Starlette(), service="ok", debug=True)
            GatewayErrorsMiddleware(Starlette(), servce="typo")
            GatewayErrorsWSGIMiddleware(lambda environ, start: [], servce="typo")
            install(Starlette(), servce="typo")
            """
        )
    )
    result = subprocess.run(
        [
            sys.executable,
            "-m",
            "mypy",
            "--strict",
            "--no-incremental",
            "--cache-dir",
            str(tmp_path / "c"),
            str(program),
        ],
        capture_output=True,
        text=True,
        timeout=240,
    )
    errors = [line for line in result.stdout.splitlines() if ": error:" in line]
    assert result.returncode == 1, result.stdout
    assert all('"servce"' in line for line in errors), errors
    assert [line.split(":")[1] for line in errors] == ["8", "9", "10"], errors


@pytest.mark.parametrize(
    ("module", "framework", "project"),
    [
        ("gatewayerrors.flask", "flask", "Flask"),
        ("gatewayerrors.starlette", "starlette", "Starlette"),
        ("gatewayerrors.django", "django", "Django"),
        ("gatewayerrors.litestar", "litestar", "Litestar"),
        ("gatewayerrors.quart", "quart", "Quart"),
        ("gatewayerrors.aiohttp", "aiohttp", "aiohttp"),
    ],
)
def test_a_missing_framework_names_the_extra_to_install(
    module: str, framework: str, project: str
) -> None:
    program = f"import sys; sys.modules[{framework!r}] = None; import {module}"
    result = subprocess.run(
        [sys.executable, "-c", program], capture_output=True, text=True, timeout=60
    )
    assert result.returncode == 1
    last = result.stderr.strip().splitlines()[-1]
    assert last == (
        f"ModuleNotFoundError: {module} needs {project}, which is not installed: "
        f"pip install 'gatewayerrors[{framework}]'"
    )

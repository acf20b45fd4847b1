"""The documentation site's own pieces: a reference page per public module, and the two build
scripts (the docstring rewriting, the root pages). The strict build itself runs in .ci/run."""

from __future__ import annotations

import importlib.util
import os
import sys
from pathlib import Path
from types import ModuleType, SimpleNamespace

import pytest

ROOT = Path(__file__).resolve().parents[2]
PACKAGE = ROOT / "gatewayerrors"


def script(name: str) -> ModuleType:
    spec = importlib.util.spec_from_file_location(name, ROOT / "scripts" / f"{name}.py")
    assert spec is not None
    assert spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules[name] = module
    spec.loader.exec_module(module)
    return module


def public_modules() -> list[str]:
    names = [path.stem for path in PACKAGE.glob("*.py") if not path.name.startswith("_")]
    names += [path.parent.name for path in PACKAGE.glob("*/__init__.py")]
    return sorted(name for name in names if not name.startswith("_") and name != "page")


def test_every_public_module_has_a_reference_page() -> None:
    pages = {
        path.stem: path.read_text("utf-8") for path in (ROOT / "docs" / "reference").glob("*.md")
    }
    assert "::: gatewayerrors\n" in pages["gatewayerrors"]
    missing = [
        name
        for name in public_modules()
        if f"::: gatewayerrors.{name}\n" not in pages.get(name, "")
    ]
    assert missing == [], f"add docs/reference/<module>.md (and its nav entry) for {missing}"


def test_docstring_roles_literal_markers_and_simple_tables_become_markdown() -> None:
    if importlib.util.find_spec("griffe") is None:
        # The README's test command installs .[test]; griffe comes with .[docs] (in .[dev]).
        reason = "griffe is in the docs extra: pip install -e '.[docs]'"
        if os.environ.get("CI", "").lower() == "true":
            pytest.fail(f"{reason}: CI must run the docs tests")
        pytest.skip(reason)
    markdown_of = script("griffe_rst_roles").markdown_of
    docstring = (
        "Asks :meth:`Translator.translate` and :class:`~gatewayerrors.core.RequestInfo`::\n"
        "\n"
        "    code()\n"
        "\n"
        "==========  ===========\n"
        "``a_url``   refuses\n"
        "``b_url``   answers a\n"
        "            long line\n"
        "==========  ===========\n"
    )
    expected = (
        "Asks `Translator.translate` and `RequestInfo`:\n"
        "\n"
        "    code()\n"
        "\n"
        "- ``a_url``: refuses\n"
        "- ``b_url``: answers a long line\n"
    )
    assert markdown_of(docstring) == expected
    assert markdown_of(expected) == expected  # griffe may call the rewrite twice


def test_root_pages_link_to_the_site_or_github_and_nest_lists_by_four() -> None:
    root_pages = script("mkdocs_root_pages")
    text = (
        "See [How it works](docs/index.md#settings), [README](README.md) and\n"
        "[the app](examples/flask_app.py).\n"
        "\n"
        "- Outage readiness:\n"
        "  - log-storm control,\n"
        "    on by default\n"
        "- next\n"
        "\n"
        "1. Build:\n"
        "\n"
        "   ```sh\n"
        "   python -m build\n"
        "   ```\n"
        "\n"
        "   Then install it.\n"
        "2. Commit.\n"
    )
    repo = "https://github.com/gatewayerrors/gatewayerrors"
    markdown = root_pages.site_markdown(text, ROOT / "docs", repo)
    assert "[How it works](index.md#settings)" in markdown
    assert f"[README]({repo}/blob/main/README.md)" in markdown
    assert f"[the app]({repo}/blob/main/examples/flask_app.py)" in markdown
    assert "\n    - log-storm control,\n      on by default\n- next\n" in markdown
    assert (
        "\n    ```sh\n    python -m build\n    ```\n\n    Then install it.\n\n2. Commit.\n"
        in markdown
    )


def test_the_contributing_page_is_the_root_file() -> None:
    root_pages = script("mkdocs_root_pages")
    page = SimpleNamespace(file=SimpleNamespace(src_uri="contributing.md"), edit_url=None)
    repo = "https://github.com/gatewayerrors/gatewayerrors"
    config = {"docs_dir": str(ROOT / "docs"), "repo_url": repo}
    markdown = root_pages.on_page_markdown("placeholder", page, config)
    assert markdown.startswith("# Contributing to gatewayerrors\n")
    assert page.edit_url == f"{repo}/edit/main/CONTRIBUTING.md"
    other = SimpleNamespace(file=SimpleNamespace(src_uri="index.md"), edit_url=None)
    assert root_pages.on_page_markdown("unchanged", other, config) == "unchanged"

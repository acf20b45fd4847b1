"""The distribution: one version, links that work on the package index, an sdist that holds
what the documentation tells a reader to run."""

from __future__ import annotations

import re
import sys
from pathlib import Path

import gatewayerrors

if sys.version_info >= (3, 11):
    import tomllib
else:  # pytest's own dependency on 3.10 (mypy checks as 3.10, from any interpreter)
    import tomli as tomllib  # type: ignore[import-not-found, unused-ignore]

ROOT = Path(__file__).resolve().parents[2]
PYPROJECT = tomllib.loads((ROOT / "pyproject.toml").read_text(encoding="utf-8"))
MARKDOWN_LINK = re.compile(r"\]\(([^)\s]+)\)")
# A path into the repository that a page tells the reader to run or open.
REPO_PATH = re.compile(r"(?<![\w/.])((?:examples|benchmarks|scripts|\.ci)/[\w./-]*[\w/])")


def test_the_version_has_one_home() -> None:
    assert "version" not in PYPROJECT["project"]
    assert "version" in PYPROJECT["project"]["dynamic"]
    assert PYPROJECT["tool"]["hatch"]["version"]["path"] == "gatewayerrors/__init__.py"
    assert re.fullmatch(r"\d+\.\d+\.\d+(?:(?:a|b|rc)\d+)?", gatewayerrors.__version__)


def test_the_metadata_names_the_project_urls() -> None:
    urls = PYPROJECT["project"]["urls"]
    assert set(urls) == {"Homepage", "Documentation", "Changelog", "Issues"}
    assert all(url.startswith("https://") for url in urls.values())


def test_readme_links_work_on_the_package_index_page() -> None:
    # The index renders README.md away from the repository: a relative link would be broken.
    links = MARKDOWN_LINK.findall((ROOT / "README.md").read_text(encoding="utf-8"))
    assert links
    assert [link for link in links if not link.startswith(("https://", "#"))] == []


def test_the_sdist_holds_every_file_the_docs_tell_a_reader_to_run() -> None:
    include = PYPROJECT["tool"]["hatch"]["build"]["targets"]["sdist"]["include"]
    pages = [ROOT / "README.md", ROOT / "CONTRIBUTING.md", *sorted((ROOT / "docs").rglob("*.md"))]
    mentioned = {
        path.rstrip("/")
        for page in pages
        for path in REPO_PATH.findall(page.read_text(encoding="utf-8"))
    }
    assert {"examples/flask_app.py", "benchmarks/bench_core.py", ".ci/run"} <= mentioned
    for path in sorted(mentioned):
        assert (ROOT / path).exists(), f"{path} is mentioned but does not exist"
        top = path.split("/", 1)[0]
        assert top in include, f"{path} is mentioned but {top}/ is not in the sdist"

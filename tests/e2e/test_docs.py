"""Every ``python`` code block in README.md and docs/ (its subfolders too) runs as written.

A page's blocks run in order, in one fresh interpreter (later blocks may use what earlier ones
defined, as a reader would), from an empty working directory, with the Django example project
importable (``catalog.settings``). A block that cannot run on its own says so in a
``<!-- not run: reason -->`` comment on the line before it; there should be few.
"""

from __future__ import annotations

import os
import re
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
PAGES = [ROOT / "README.md", *sorted((ROOT / "docs").rglob("*.md"))]
BLOCK = re.compile(r"^```python\n(.*?)^```", re.S | re.M)
NOT_RUN = "<!-- not run:"


def name(page: Path) -> str:
    """The page's path from the repository root: docs/testing.md, docs/recipes/testing.md."""
    return page.relative_to(ROOT).as_posix()


def python_blocks(page: Path) -> list[tuple[int, str]]:
    text = page.read_text("utf-8")
    blocks = []
    for match in BLOCK.finditer(text):
        before = text[: match.start()].rstrip("\n").rpartition("\n")[2]
        if before.startswith(NOT_RUN):
            continue
        blocks.append((text.count("\n", 0, match.start()) + 2, match.group(1)))
    return blocks


def program(page: Path) -> str:
    parts = []
    for line, code in python_blocks(page):
        parts.append(f"# --- {name(page)}, block at line {line}\n")
        parts.append(f"print({f'{name(page)}:{line}'!r}, flush=True)\n{code}\n")
    return "".join(parts)


@pytest.mark.parametrize("page", [p for p in PAGES if python_blocks(p)], ids=name)
def test_code_blocks_run_as_written(page: Path, tmp_path: Path) -> None:
    # The folder the docs' template examples name, as the reader's project would have it.
    (tmp_path / "templates" / "errors").mkdir(parents=True)
    (tmp_path / "templates" / "errors" / "error.html").write_text("<h1>{{ title }}</h1>")
    env = {
        **os.environ,
        "PYTHONPATH": os.pathsep.join([str(ROOT / "examples" / "django_project"), str(tmp_path)]),
    }
    result = subprocess.run(
        [sys.executable, "-c", program(page)],
        cwd=tmp_path,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )
    last_block = (result.stdout.strip().splitlines() or ["(none)"])[-1]
    assert result.returncode == 0, f"failed in {last_block}:\n{result.stderr[-3000:]}"


def test_every_page_with_code_is_checked() -> None:
    skipped = [
        (name(page), line)
        for page in PAGES
        for line, text in enumerate(page.read_text("utf-8").splitlines(), 1)
        if text.startswith(NOT_RUN)
    ]
    # Each block left out needs its reason; keep this list short.
    assert len(skipped) <= 4, skipped

"""docs/support.md is generated from the contract matrix (tests/helpers/support_matrix.py) and
must match it."""

import subprocess
import sys

from support_matrix import FRAMEWORKS, PAGE, ROOT, SERVERS, cell, combinations, render_markdown


def test_the_support_page_is_generated_from_the_matrix() -> None:
    assert PAGE.read_text(encoding="utf-8") == render_markdown(), (
        "docs/support.md is stale: run python tests/helpers/support_matrix.py --write"
    )


def test_every_tested_combination_has_its_tick() -> None:
    page = render_markdown()
    for framework in FRAMEWORKS.values():
        [row] = [line for line in page.splitlines() if line.startswith(f"| {framework.label} ")]
        servers = [name for name, server in SERVERS.items() if server.kind == framework.kind]
        cells = [text.strip() for text in row.strip("|").split("|")][2:]
        tested = {c.server for c in combinations() if FRAMEWORKS[c.framework] is framework}
        assert {c.rstrip("²") for c in cells} <= {"✓", "excluded¹", "—"}, row
        assert [c.startswith("✓") for c in cells] == [s in tested for s in servers], row
        assert cells == [cell(framework, s, sorted(tested)) for s in servers], row


def test_the_script_prints_the_page() -> None:
    result = subprocess.run(
        [sys.executable, str(ROOT / "tests" / "helpers" / "support_matrix.py")],
        capture_output=True,
        text=True,
        timeout=60,
        check=True,
    )
    assert result.stdout == render_markdown()

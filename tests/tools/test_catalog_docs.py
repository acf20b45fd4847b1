"""docs/catalog.md is generated from the catalog and must match it."""

import subprocess
import sys
from pathlib import Path

from gatewayerrors import catalog
from gatewayerrors._tools.catalog_docs import render_markdown

DOCS = Path(__file__).resolve().parents[2] / "docs" / "catalog.md"


def test_docs_table_is_generated_from_the_catalog() -> None:
    assert DOCS.read_text(encoding="utf-8") == render_markdown(), (
        "docs/catalog.md is stale: run python -m gatewayerrors catalog --write docs/catalog.md"
    )


def test_every_code_has_a_row_and_a_section() -> None:
    page = render_markdown()
    for code, kind in catalog.items():
        assert f"| {kind.number} | [`{code}`](#{code}) | {kind.status} |" in page
        assert f"### `{code}`" in page


def test_catalog_command_prints_the_page() -> None:
    result = subprocess.run(
        [sys.executable, "-m", "gatewayerrors", "catalog"],
        capture_output=True,
        text=True,
        timeout=60,
        check=True,
    )
    assert result.stdout == render_markdown()

"""An MkDocs hook: CONTRIBUTING.md and CHANGELOG.md, from the repository root, as site pages.

docs/contributing.md and docs/changelog.md are placeholders; their content is the root file, as
GitHub shows it, read at build time (so there is one copy to edit). The root files link as the
repository's root sees it: ``docs/x.md`` becomes the site's page ``x.md``, anything else in the
repository (``README.md``, ``examples/...``) its GitHub address, so the strict build's link
check holds for them too.
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

ROOT_PAGES = {"contributing.md": "CONTRIBUTING.md", "changelog.md": "CHANGELOG.md"}
_LINK = re.compile(r"\]\((?!https?://|mailto:|#)([^)\s]+)\)")


def _rewrite_link(target: str, docs: Path, blob: str) -> str:
    path = target.partition("#")[0]
    if path.startswith("docs/") and (docs / path.removeprefix("docs/")).is_file():
        return target.removeprefix("docs/")
    return f"{blob}/{target}"


def on_page_markdown(markdown: str, page: Any, config: Any, **kwargs: Any) -> str:
    """Replace a placeholder page's Markdown with its root file's, links rewritten."""
    name = ROOT_PAGES.get(page.file.src_uri)
    if name is None:
        return markdown
    docs = Path(config["docs_dir"])
    repo = str(config["repo_url"]).rstrip("/")
    page.edit_url = f"{repo}/edit/main/{name}"
    text = (docs.parent / name).read_text(encoding="utf-8")
    return _LINK.sub(lambda m: f"]({_rewrite_link(m.group(1), docs, repo + '/blob/main')})", text)

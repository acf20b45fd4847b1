"""An MkDocs hook: CONTRIBUTING.md and CHANGELOG.md, from the repository root, as site pages.

docs/contributing.md and docs/changelog.md are placeholders; their content is the root file, as
GitHub shows it, read at build time (so there is one copy to edit). The root files link as the
repository's root sees it: ``docs/x.md`` becomes the site's page ``x.md``, anything else in the
repository (``README.md``, ``examples/...``) its GitHub address, so the strict build's link
check holds for them too. Lists nested by two spaces and the content of "1. " items indented
by three, as GitHub reads them, are indented to the four that Python-Markdown needs.
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

ROOT_PAGES = {"contributing.md": "CONTRIBUTING.md", "changelog.md": "CHANGELOG.md"}
_LINK = re.compile(r"\]\((?!https?://|mailto:|#)([^)\s]+)\)")
_NESTED_ITEM = re.compile(r"  (?:[-*+]|\d+\.) ")
_ORDERED_ITEM = re.compile(r"\d\. ")


def _nest_lists(text: str) -> str:
    lines, nested, fenced = [], False, False
    for line in text.split("\n"):
        if line.lstrip().startswith("```"):
            fenced = not fenced
        if not fenced and _NESTED_ITEM.match(line):
            nested = True  # an item two spaces in, and its continuation lines below it
        elif not line.startswith("    "):
            nested = False
        lines.append("  " + line if nested else line)
    return "\n".join(lines)


def _ordered_items(text: str) -> str:
    lines: list[str] = []
    inside = loose = False
    for line in text.split("\n"):
        if _ORDERED_ITEM.match(line):
            if loose and lines and lines[-1].strip():
                # The item before held blocks (a code block): Python-Markdown would read this
                # one as its continuation without a blank line between them.
                lines.append("")
            inside, loose = True, False  # "4. Build..." and the lines indented under it
        elif line.strip() and not line.startswith(" "):
            inside = loose = False
        elif inside and not line.strip():
            loose = True
        lines.append(" " + line if inside and line.startswith("   ") else line)
    return "\n".join(lines)


def _rewrite_link(target: str, docs: Path, blob: str) -> str:
    path = target.partition("#")[0]
    if path.startswith("docs/") and (docs / path.removeprefix("docs/")).is_file():
        return target.removeprefix("docs/")
    return f"{blob}/{target}"


def site_markdown(text: str, docs: Path, repo: str) -> str:
    """A root file's Markdown as a page of the site whose pages are in ``docs``."""
    text = _ordered_items(_nest_lists(text))
    blob = repo.rstrip("/") + "/blob/main"
    return _LINK.sub(lambda match: f"]({_rewrite_link(match.group(1), docs, blob)})", text)


def on_page_markdown(markdown: str, page: Any, config: Any, **kwargs: Any) -> str:
    """Replace a placeholder page's Markdown with its root file's."""
    name = ROOT_PAGES.get(page.file.src_uri)
    if name is None:
        return markdown
    docs = Path(config["docs_dir"])
    repo = str(config["repo_url"]).rstrip("/")
    page.edit_url = f"{repo}/edit/main/{name}"
    return site_markdown((docs.parent / name).read_text(encoding="utf-8"), docs, repo)

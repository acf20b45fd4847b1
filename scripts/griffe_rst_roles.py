"""A griffe extension for the API reference: our docstrings' reStructuredText, read as Markdown.

The docstrings are written for ``help()`` and editors, in the reStructuredText habits of the
Python world: roles (``:class:`Translator```) and literal blocks introduced by ``::``. Markdown
has neither, so mkdocstrings would show ``:class:`` and ``::`` verbatim. This extension rewrites
them in the loaded docstrings (never in the source): a role becomes inline code of its target
(``~a.b.C`` shows ``C``, as in Sphinx), a paragraph's closing ``::`` becomes ``:`` (the
indented block after it is already a Markdown code block), and a two-column simple table
(``=== ===`` borders) becomes a list of "first column: second column" items. ``:param x:``
fields are read by griffe's Sphinx parser (``docstring_style: sphinx`` in mkdocs.yml).
"""

from __future__ import annotations

import re
from typing import Any

import griffe

_ROLE = re.compile(r":(?:py:)?(?:class|mod|func|meth|attr|exc|data|obj|const):`(~?)([^`]+)`")
_LITERAL_MARKER = re.compile(r"(\S)::$|\s*::$", re.M)
_BORDER = re.compile(r"(=+) +=+ *")


def _role(match: re.Match[str]) -> str:
    short, target = match.groups()
    return f"`{target.rpartition('.')[2] if short else target}`"


def _literal(match: re.Match[str]) -> str:
    # "Example::" reads "Example:"; a lone "::" (after a space, or on its own line) disappears.
    return f"{match.group(1)}:" if match.group(1) else ""


def _simple_tables(text: str) -> str:
    out: list[str] = []
    table: list[tuple[str, list[str]]] | None = None
    split = 0
    for line in text.split("\n"):
        border = _BORDER.fullmatch(line)
        if border and table is None:
            table, split = [], len(border.group(1)) + 1
        elif border and table is not None:
            out.extend(f"- {name}: {' '.join(what)}" for name, what in table)
            table = None
        elif table is not None and line[:split].strip():
            table.append((line[:split].strip(), [line[split:].strip()]))
        elif table is not None and table:
            table[-1][1].append(line.strip())
        else:
            out.append(line)
    return "\n".join(out)


def markdown_of(text: str) -> str:
    """The docstring ``text`` with its reStructuredText roles, tables and ``::`` as Markdown."""
    return _LITERAL_MARKER.sub(_literal, _ROLE.sub(_role, _simple_tables(text)))


class RstRoles(griffe.Extension):
    """Rewrite each loaded docstring with :func:`markdown_of`."""

    def on_instance(self, *, obj: griffe.Object, **kwargs: Any) -> None:
        """Called by griffe for every object it loads."""
        if obj.docstring is not None:
            obj.docstring.value = markdown_of(obj.docstring.value)

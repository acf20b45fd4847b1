"""A griffe extension for the API reference: our docstrings' reStructuredText, read as Markdown.

The docstrings are written for ``help()`` and editors, in the reStructuredText habits of the
Python world: roles (``:class:`Translator```) and literal blocks introduced by ``::``. Markdown
has neither, so mkdocstrings would show ``:class:`` and ``::`` verbatim. This extension rewrites
them in the loaded docstrings (never in the source): a role becomes inline code of its target
(``~a.b.C`` shows ``C``, as in Sphinx), linked to the target's reference entry when griffe can
resolve the name from where the docstring is (an autorefs cross-reference marked optional: a
name that is not on any page stays plain code, without a warning), a paragraph's closing ``::``
becomes ``:`` (the
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


def _target_path(obj: griffe.Object, target: str) -> str | None:
    # "Translator.translate" resolves "Translator" where the docstring is, then adds the rest.
    first, dot, rest = target.partition(".")
    try:
        path = obj.resolve(first)
    except griffe.NameResolutionError:
        return None if not target.startswith("gatewayerrors.") else target
    return path + dot + rest


def _roles(text: str, obj: griffe.Object | None) -> str:
    def role(match: re.Match[str]) -> str:
        short, target = match.groups()
        title = target.rpartition(".")[2] if short else target
        path = _target_path(obj, target) if obj is not None else None
        if path is None:
            return f"`{title}`"
        return f'<autoref identifier="{path}" optional><code>{title}</code></autoref>'

    return _ROLE.sub(role, text)


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


def markdown_of(text: str, obj: griffe.Object | None = None) -> str:
    """The docstring ``text`` of ``obj`` with its reStructuredText roles, simple tables and
    ``::`` markers as Markdown."""
    return _LITERAL_MARKER.sub(_literal, _roles(_simple_tables(text), obj))


def _rewrite(obj: griffe.Object) -> None:
    if obj.docstring is not None:
        obj.docstring.value = markdown_of(obj.docstring.value, obj)
    for member in obj.members.values():
        if not member.is_alias and isinstance(member, griffe.Object):
            _rewrite(member)


class RstRoles(griffe.Extension):
    """Rewrite every docstring of the package with :func:`markdown_of`, once it is loaded (names
    resolve only then)."""

    def on_package(self, *, pkg: griffe.Module, **kwargs: Any) -> None:
        """Called by griffe when the whole package is loaded."""
        _rewrite(pkg)

    # The same event under its older griffe name; a griffe that calls both rewrites twice,
    # which changes nothing (the rewrite is idempotent).
    on_package_loaded = on_package

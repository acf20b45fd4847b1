"""A directory of user page templates: Jinja2 when installed, else the ``{{ name }}`` subset.

Lookup for an error: ``<code>.html`` → ``<status>.html`` → ``error.html`` → the built-in page.
Templates are read and compiled once, when the Translator is built (restart to pick up edits;
``python -m gatewayerrors preview --templates DIR`` renders them all without a server).

Without Jinja2 installed, a template may only use ``{{ name }}`` placeholders (a subset of Jinja's
syntax, so the same file renders the same way with Jinja2); one that uses more (``{% if %}``,
filters) is reported at startup and the built-in page is used in its place.
"""

from __future__ import annotations

import copy
import html
import logging
import operator
import os
import re
from collections.abc import Callable, Mapping, Sequence
from pathlib import Path
from typing import Any, Protocol

from ._types import PageContext

__all__ = [
    "MARKUP_KEYS",
    "PageTemplate",
    "PlaceholderTemplate",
    "TemplateDirectory",
    "jinja_available",
]

MARKUP_KEYS = frozenset({"problem_json", "problem_script", "refresh_meta"})
"""Context values that are markup already and are inserted without escaping."""

_PLACEHOLDER = re.compile(r"\{\{\s*([A-Za-z_][A-Za-z0-9_]*)\s*\}\}")
_JINJA_SYNTAX = re.compile(r"\{\{|\{%|\{#")


class PageTemplate(Protocol):
    """A loaded template: ``render(context) -> str``."""

    name: str

    def render(self, context: PageContext) -> str:
        """The page for this context (may raise: the caller falls back to the built-in page)."""
        ...


def jinja_available() -> bool:
    """True when Jinja2 can be imported (checked lazily, only when templates are configured)."""
    try:
        import jinja2  # noqa: F401
    except ImportError:
        return False
    return True


def _text(value: object) -> str:
    return "" if value is None else str(value)


class _BrokenTemplate:
    """A template that failed to load: rendering it raises, so the built-in page is used."""

    def __init__(self, name: str, reason: str) -> None:
        self.name = name
        self.reason = reason

    def render(self, context: PageContext) -> str:
        raise RuntimeError(f"template {self.name} could not be loaded: {self.reason}")


class PlaceholderTemplate:
    """``{{ name }}`` substitution with every value HTML-escaped (except :data:`MARKUP_KEYS`).

    The one engine for templates without Jinja2: users' template files and the built-in page
    (``gatewayerrors/page/*.html``) are parsed and checked here alike. The built-in page also
    uses :meth:`bind` (fill the constant placeholders once) and :meth:`bytes_renderer` (fill the
    rest with escaped bytes, one C-level call over pre-encoded text).
    """

    def __init__(self, name: str, source: str, known: frozenset[str]) -> None:
        self.name = name
        pieces = _PLACEHOLDER.split(source)
        self._literals = pieces[0::2]
        self._keys = pieces[1::2]
        for literal in self._literals:
            if _JINJA_SYNTAX.search(literal):
                raise ValueError(
                    "uses Jinja syntax beyond {{ name }}: install Jinja2 "
                    "(pip install 'gatewayerrors[jinja]') or use only {{ name }} placeholders"
                )
        unknown = sorted(set(self._keys) - known)
        if unknown:
            raise ValueError(f"unknown placeholders {unknown}")
        self._known = known

    @property
    def keys(self) -> frozenset[str]:
        """The names of the placeholders still to fill."""
        return frozenset(self._keys)

    def render(self, context: Mapping[str, Any]) -> str:
        """The text with every placeholder filled from ``context``."""
        values: Mapping[str, Any] = context
        literals = self._literals
        out = [literals[0]]
        for index, key in enumerate(self._keys, 1):
            value = _text(values[key])
            out.append(value if key in MARKUP_KEYS else html.escape(value))
            out.append(literals[index])
        return "".join(out)

    def bind(
        self, values: Mapping[str, object], *, markup: frozenset[str] = MARKUP_KEYS
    ) -> PlaceholderTemplate:
        """A template with the placeholders named in ``values`` filled now, the others kept.

        Values are escaped as :meth:`render` does, except the names in ``markup``.
        """
        literals, keys = [self._literals[0]], []
        for index, key in enumerate(self._keys, 1):
            literal = self._literals[index]
            if key in values:
                value = _text(values[key])
                # Not parsed again: a bound value ("{" in CSS, say) is text, not template.
                literals[-1] += (value if key in markup else html.escape(value)) + literal
            else:
                keys.append(key)
                literals.append(literal)
        bound = copy.copy(self)
        bound._literals, bound._keys = literals, keys
        return bound

    def bytes_renderer(self, names: Sequence[str]) -> Callable[[tuple[bytes, ...]], bytes]:
        """``render(values) -> bytes``: ``values[i]`` fills the placeholder ``names[i]``.

        Values are bytes of markup (escaped already), given in the order of ``names``, which
        may list more names than the template uses; the template may use each any number of
        times and in any order. The literals are encoded once here, and a render is one
        ``bytes % tuple``: C code from end to end (measured against a dict of values: ~0.5 µs
        less for the built-in page, where building the dict was the largest cost).
        """
        missing = sorted(set(self._keys) - set(names))
        if missing:
            raise ValueError(f"{self.name}: no value for placeholders {missing}")
        keys = self._keys
        if not keys:
            constant = self._literals[0].encode()
            return lambda values: constant
        format_ = "%s".join(literal.replace("%", "%%") for literal in self._literals).encode()
        positions = [list(names).index(key) for key in keys]
        if len(positions) == 1:
            (position,) = positions
            return lambda values: format_ % (values[position],)
        get = operator.itemgetter(*positions)
        return lambda values: format_ % get(values)


class _JinjaTemplate:
    def __init__(self, name: str, template: Any, markup: Any) -> None:
        self.name = name
        self._template = template
        self._markup = markup

    def render(self, context: PageContext) -> str:
        values = dict(context)
        for key in MARKUP_KEYS:
            values[key] = self._markup(values[key])
        result: str = self._template.render(values)
        return result


class TemplateDirectory:
    """The templates found in one directory, loaded once; :meth:`find` picks one per error.

    ``engine`` is ``"jinja2"``, ``"placeholders"``, or None for Jinja2 when it is installed.
    """

    def __init__(
        self,
        directory: str | os.PathLike[str],
        logger: logging.Logger,
        engine: str | None = None,
    ) -> None:
        path = Path(directory)
        if not path.is_dir():
            raise ValueError(f"templates: {str(directory)!r} is not a directory")
        if engine is None:
            engine = "jinja2" if jinja_available() else "placeholders"
        elif engine not in ("jinja2", "placeholders"):
            raise ValueError(f"template engine must be 'jinja2' or 'placeholders', not {engine!r}")
        self.path = path
        self.engine = engine
        sources = {entry.name: entry for entry in path.iterdir() if entry.suffix == ".html"}
        self._templates: dict[str, PageTemplate] = {}
        load = self._jinja_loader() if self.engine == "jinja2" else self._placeholder_loader()
        for name, file in sorted(sources.items()):
            try:
                self._templates[name] = load(name, file)
            except Exception as exc:
                logger.error(
                    "template %s could not be loaded (%s); the built-in page is used in its place",
                    file,
                    exc,
                )
                self._templates[name] = _BrokenTemplate(name, str(exc))

    @property
    def names(self) -> list[str]:
        """The template files found, sorted."""
        return sorted(self._templates)

    def find(self, code: str, status: int) -> PageTemplate | None:
        """The template for this code and status, or None for the built-in page."""
        templates = self._templates
        template = (
            templates.get(code + ".html")
            or templates.get(f"{status}.html")
            or templates.get("error.html")
        )
        # A template that failed to load was reported once, at startup: not again per error.
        return None if isinstance(template, _BrokenTemplate) else template

    def _placeholder_loader(self) -> Any:
        known = frozenset(PageContext.__annotations__)

        def load(name: str, file: Path) -> PageTemplate:
            return PlaceholderTemplate(name, file.read_text("utf-8"), known)

        return load

    def _jinja_loader(self) -> Any:
        import jinja2
        import markupsafe

        environment = jinja2.Environment(
            loader=jinja2.FileSystemLoader(self.path),
            autoescape=True,
            auto_reload=False,
            undefined=jinja2.StrictUndefined,
            # None renders as "" (as with the placeholder engine), not as "None".
            finalize=lambda value: "" if value is None else value,
        )

        def load(name: str, file: Path) -> PageTemplate:
            return _JinjaTemplate(name, environment.get_template(name), markupsafe.Markup)

        return load

"""The marker for translatable text: a leaf module, imported by the catalog and the page.

``N_("text")`` returns ``text`` unchanged; ``pybabel extract`` (see ``babel.cfg``) finds the
marked literals and writes them to ``gatewayerrors/locale/gatewayerrors.pot``. The text is
translated where it is shown (:mod:`._locale`), never where it is defined: the catalog keeps
its English, which JSON, XML, plain text and the log send unchanged.
"""

from __future__ import annotations

__all__ = ["N_", "N_plural"]


def N_(message: str) -> str:
    """Mark ``message`` for the message catalogs; return it as it is."""
    return message


def N_plural(singular: str, plural: str) -> tuple[str, str]:
    """Mark a singular/plural pair for the message catalogs; return both."""
    return singular, plural

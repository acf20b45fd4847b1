"""Choose the page's language from the request's ``Accept-Language`` header.

RFC 9110 §12.5.4: a list of language ranges (RFC 4647 §2.1) with q-values; ``q=0`` means "not
acceptable", ``*`` any language. The choice is RFC 4647 §3.4 *lookup*, in the client's order of
preference: each range, most wanted first, is truncated from the end until it names an offered
language (``de-AT`` → ``de``, ``pt-BR`` → ``pt``); the first that does wins, and when none does
the default language answers (an error page never says "not acceptable").

Chinese is the one language whose script matters more than its region: ``zh-CN``, ``zh-SG``,
``zh-Hans-CN`` and a bare ``zh`` read Simplified Chinese (``zh-Hans``), while ``zh-TW``,
``zh-HK``, ``zh-MO`` and ``zh-Hant`` ask for Traditional Chinese, which is not bundled: such a
range matches nothing (it never falls back to Simplified) and the next range in the header
decides.

The header is the browser's, the same few values again and again: each is parsed once and its
answer cached, bounded (as :mod:`._negotiate` caches ``Accept``).
"""

from __future__ import annotations

import difflib
import re
from collections.abc import Iterable, Sequence

from werkzeug.datastructures import LanguageAccept
from werkzeug.http import parse_accept_header

__all__ = [
    "BUNDLED_LANGUAGES",
    "DEFAULT_LANGUAGE",
    "LanguageChooser",
    "canonical_language",
    "closest_language",
]

BUNDLED_LANGUAGES = ("en", "de", "fr", "es", "pt", "ja", "zh-Hans")
"""The languages whose texts ship with the package (``gatewayerrors/locale/``), as BCP 47 tags."""
DEFAULT_LANGUAGE = "en"
"""The language of the catalog's own texts (the message ids)."""

# RFC 4647 §2.1 language-range; "_" is read as "-" (Java and POSIX locales send "de_AT").
_RANGE = re.compile(r"\*|[a-z]{1,8}(?:-[a-z0-9]{1,8})*")
# Chinese by region or script: a range that names one of these asks for that script.
_HANS = ("hans", "cn", "sg", "my")
_HANT = ("hant", "tw", "hk", "mo")
_MAX_HEADER = 4096
_MAX_RANGES = 32
_CACHE_LIMIT = 512


def canonical_language(tag: str) -> str | None:
    """The bundled language ``tag`` names (case-insensitive, ``zh-hans`` → ``zh-Hans``), or None."""
    lowered = tag.strip().lower().replace("_", "-")
    for language in BUNDLED_LANGUAGES:
        if language.lower() == lowered:
            return language
    return None


def _lookup_keys(language_range: str) -> tuple[str, ...]:
    """The tags ``language_range`` stands for, most specific first (RFC 4647 §3.4).

    ``de-at-1996`` → ``de-at-1996``, ``de-at``, ``de``. A Chinese range becomes its script:
    ``zh-cn`` → ``zh-hans``; ``zh-tw`` → ``zh-hant`` (never truncated to ``zh``).
    """
    subtags = language_range.split("-")
    if subtags[0] == "zh":
        rest = subtags[1:]
        if any(subtag in _HANT for subtag in rest):
            return ("zh-hant",)
        return ("zh-hans",)  # a bare "zh" or zh-Hans/CN/SG: Simplified, by far the most used
    return tuple("-".join(subtags[:end]) for end in range(len(subtags), 0, -1))


def closest_language(tag: str, offered: Sequence[str]) -> str | None:
    """The one of ``offered`` that ``tag`` most likely meant, for a "did you mean": the one
    lookup finds (``de-AT`` → ``de``, ``zh-CN`` → ``zh-Hans``), else the closest spelling."""
    lowered = tag.strip().lower().replace("_", "-")
    by_key = {language.lower(): language for language in offered}
    if _RANGE.fullmatch(lowered) and lowered != "*":
        for key in _lookup_keys(lowered):
            if key in by_key:
                return by_key[key]
    close = difflib.get_close_matches(lowered, list(by_key), n=1)
    return by_key[close[0]] if close else None


class LanguageChooser:
    """``choose(header) -> language``: one of ``offered``, ``default`` when nothing matches."""

    __slots__ = ("_cache", "_default", "_offered", "offered")

    def __init__(self, offered: Iterable[str], default: str) -> None:
        self.offered = tuple(offered)
        if default not in self.offered:
            raise ValueError(f"the default language {default!r} is not offered")
        self._default = default
        self._offered = {language.lower(): language for language in self.offered}
        self._cache: dict[str, str] = {}

    def choose(self, header: str | None) -> str:
        """The language to answer in for this ``Accept-Language`` value (or None). Never raises."""
        if not header or len(self._offered) == 1:
            return self._default
        if len(header) > _MAX_HEADER:
            # A huge header is hostile or broken: judge it by its first ranges only, and never
            # keep it as a cache key.
            header = header[:_MAX_HEADER].rpartition(",")[0]
        found = self._cache.get(header)
        if found is None:
            try:
                found = self._lookup(header)
            except Exception:  # malformed beyond werkzeug's tolerance: the default, never fail
                found = self._default
            if len(self._cache) >= _CACHE_LIMIT:
                self._cache.clear()
            self._cache[header] = found
        return found

    def _lookup(self, header: str) -> str:
        wanted: list[str] = []
        refused: set[str] = set()
        if not header.isascii():
            # The grammar is ASCII (RFC 9110 §12.5.4); werkzeug reads some non-ASCII weights
            # ("q=\xff") as q=1, so an entry with any non-ASCII character is dropped first.
            header = ",".join(entry for entry in header.split(",") if entry.isascii())
        # werkzeug drops entries with an invalid q and orders the rest by q, stable for ties
        # (the header's order decides between equal q-values, as RFC 4647 §3.4 reads them).
        for value, quality in parse_accept_header(header, LanguageAccept)[:_MAX_RANGES]:
            language_range = value.partition(";")[0].strip().lower().replace("_", "-")
            if not _RANGE.fullmatch(language_range):
                continue  # not a language range: ignored, like an invalid q
            if quality > 0:
                wanted.append(language_range)
            else:
                refused.add(language_range)
        offered = self._offered
        for language_range in wanted:
            if language_range == "*":
                # Any language: ours, unless refused; else any other offered one not refused.
                for key in (self._default.lower(), *offered):
                    if key not in refused:
                        return offered[key]
                continue
            for key in _lookup_keys(language_range):
                if key in offered and key not in refused:
                    return offered[key]
        return self._default

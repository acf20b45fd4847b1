"""The built-in page's words in each bundled language: gettext catalogs, read once.

The catalogs are ``gatewayerrors/locale/<language>/LC_MESSAGES/gatewayerrors.mo``, compiled
from the ``.po`` beside them by Babel (``scripts/catalogs.py``; the ``.mo`` files are committed
and a test fails when one is stale) and read here with the standard library's :mod:`gettext`,
so Babel is never needed at run time. The message ids are the catalog's and the page's English
texts: English needs no catalog.

What is translated: the page's heading, the code's detail and hint, the page's own words
("What you can do", the countdown, the buttons and labels, the script's messages). What is
not: the problem ``title`` (machines and operators key on ``type`` and ``code`` and log the
title; it stays the catalog's English in every format), the reason phrase ("Bad Gateway", the
protocol's name for the status), and the JSON, XML and plain-text bodies (see docs/languages.md).
"""

from __future__ import annotations

import functools
import gettext
import re
from collections.abc import Callable, Mapping
from typing import Any, NamedTuple

from ._catalog import catalog
from ._languages import BUNDLED_LANGUAGES, DEFAULT_LANGUAGE
from ._messages import N_, N_plural
from ._render import clean_text

__all__ = [
    "PageTexts",
    "code_overrides",
    "duration_formats",
    "page_heading_message",
    "page_texts",
    "translations",
]

# The page's heading speaks to the person in the browser, who is rarely an engineer: what it
# means for them, calmly and truthfully. The problem's title ("Upstream refused the
# connection") stays as it is for machines and operators (JSON, XML, text, the log).
HEADINGS_BY_STATUS = {
    400: N_("This request could not be completed"),
    403: N_("This request is not allowed"),
    500: N_("Something went wrong on our side"),
    502: N_("Something went wrong on our side"),
    503: N_("This service is taking a short break"),
    504: N_("This took too long"),
}
HEADINGS_BY_CODE = {
    "maintenance": N_("We'll be back soon"),
    "upstream_overloaded": N_("This service is very busy right now"),
    "connection_limit_reached": N_("This service is very busy right now"),
}
DEFAULT_HEADING = N_("Something went wrong")

# The page's own words, by the page.html / parts.html placeholder that shows them.
LABELS = {
    "text_what_you_can_do": N_("What you can do"),
    "text_error_code": N_("Error code"),
    "text_service": N_("Service"),
    "text_request_id": N_("Request ID"),
    "text_copy": N_("Copy"),
    "text_try_again_now": N_("Try again now"),
    "text_unsafe_note": N_(
        "This page won\u2019t resend your request by itself. If you submitted a form, check "
        "whether it went through before you send it again."
    ),
    "text_request_id_note": N_(
        "If you contact support, include the request ID: it lets them find exactly what happened."
    ),
    "text_debug": N_("Exception (debug mode)"),
}
# %(duration)s is the countdown element ("30 seconds", ticking down).
COUNTDOWN_AUTO = N_("This page will try again in %(duration)s.")
COUNTDOWN_MANUAL = N_("You can try again in %(duration)s.")
# Added to the maintenance detail when a shared maintenance window has an end (%(end)s is
# "2026-12-24 03:00", UTC): the JSON/XML/text detail keeps the English, the page shows its own.
WINDOW_END = N_("It is planned to end at %(end)s UTC.")
SECONDS = N_plural("%(seconds)s second", "%(seconds)s seconds")
MINUTES = N_("%(minutes)s min")
MINUTES_SECONDS = N_("%(minutes)s min %(seconds)s s")
# The script's messages, by the JavaScript string literal page.js writes them as.
SCRIPT_MESSAGES = {
    '"Copied"': N_("Copied"),
    '"Trying again\\u2026"': N_("Trying again\u2026"),
    '"Still not working. Please try again later."': N_(
        "Still not working. Please try again later."
    ),
    '"You can try again now."': N_("You can try again now."),
}


def _directory(language: str) -> str:
    return language.replace("-", "_")  # gettext's and Babel's locale directory names: zh_Hans


@functools.cache
def translations(language: str) -> gettext.NullTranslations:
    """The catalog of a bundled language (English: the message ids themselves)."""
    if language == DEFAULT_LANGUAGE:
        return gettext.NullTranslations()
    if language not in BUNDLED_LANGUAGES:
        raise ValueError(f"no bundled catalog for {language!r}")
    # Imported here: `import gatewayerrors` need not pay for it.
    from importlib import resources

    path = resources.files(__package__) / "locale" / _directory(language) / "LC_MESSAGES"
    with (path / "gatewayerrors.mo").open("rb") as file:
        return gettext.GNUTranslations(file)


def page_heading_message(status: int, code: str) -> str:
    """The built-in heading for a code, in English (the message id)."""
    return HEADINGS_BY_CODE.get(code) or HEADINGS_BY_STATUS.get(status) or DEFAULT_HEADING


def code_overrides(
    overrides: Mapping[str, Mapping[str, Any]], code: str, language: str | None = None
) -> dict[str, str]:
    """The ``overrides`` texts of ``code`` for ``language``: its own entry wins key by key
    over the plain ones (the app's words for every language); None: the plain ones only."""
    entry = overrides.get(code) or {}
    texts = {key: value for key, value in entry.items() if isinstance(value, str)}
    if language is not None:
        localized = entry.get(language)
        if isinstance(localized, Mapping):
            texts.update(localized)
    return texts


class PageTexts(NamedTuple):
    """Everything the page says in one language, the ``overrides`` applied."""

    language: str
    """The BCP 47 tag, for ``lang=`` and ``Content-Language``."""
    headings: dict[str, str]
    """The heading per code."""
    details: dict[str, str]
    """The code's detail per code (a detail given per error is shown as given)."""
    hints: dict[str, str]
    """The code's hint per code."""
    labels: dict[str, str]
    """The page's own words, by placeholder name (:data:`LABELS`)."""
    countdown_auto: str
    """"This page will try again in %(duration)s." """
    countdown_manual: str
    """"You can try again in %(duration)s." """
    duration: Callable[[int], str]
    """``duration(seconds)``: "1 second", "45 seconds", "5 min", "2 min 30 s"."""
    script_messages: dict[str, str]
    """The script's messages, by the string literal page.js writes in English."""
    window_end: str
    """:data:`WINDOW_END` in this language."""


def duration_formats(language: str) -> tuple[str, str, str, str]:
    """The duration texts of ``language``: one second, n seconds, minutes, minutes and seconds
    (``%(seconds)s`` / ``%(minutes)s`` placeholders)."""
    catalog_ = translations(language)
    return (
        catalog_.ngettext(*SECONDS, 1),
        catalog_.ngettext(*SECONDS, 2),
        catalog_.gettext(MINUTES),
        catalog_.gettext(MINUTES_SECONDS),
    )


def page_texts(language: str, overrides: Mapping[str, Mapping[str, Any]]) -> PageTexts:
    """The page's texts in ``language`` (a bundled one), with the app's ``overrides``.

    Per code, the language's own ``overrides`` entry wins, then the plain ``overrides`` (the
    app's words, whatever the language), then the catalog's text in that language. An
    overridden ``title`` is the heading unless a ``heading`` is given (as before languages).
    """
    if not overrides:
        return _plain_page_texts(language)
    return _page_texts(language, overrides)


@functools.cache
def _plain_page_texts(language: str) -> PageTexts:
    return _page_texts(language, {})


def _page_texts(language: str, overrides: Mapping[str, Mapping[str, Any]]) -> PageTexts:
    catalog_ = translations(language)
    gettext_ = catalog_.gettext
    headings, details, hints = {}, {}, {}
    for code, kind in catalog.items():
        plain = code_overrides(overrides, code)
        texts = code_overrides(overrides, code, language)
        entry = overrides.get(code) or {}
        localized = entry.get(language)
        own = localized if isinstance(localized, Mapping) else {}
        # The language's own heading or title first, then the plain ones, then ours.
        heading = own.get("heading") or own.get("title") or plain.get("heading")
        heading = heading or plain.get("title")
        headings[code] = (
            clean_text(heading) if heading else gettext_(page_heading_message(kind.status, code))
        )
        details[code] = (
            clean_text(texts["detail"]) if "detail" in texts else gettext_(kind.description)
        )
        hints[code] = clean_text(texts["hint"]) if "hint" in texts else gettext_(kind.hint)
    one, many, minutes, minutes_seconds = duration_formats(language)

    def duration(seconds: int) -> str:
        if seconds < 60:
            return (one if seconds == 1 else many) % {"seconds": seconds}
        whole, rest = divmod(seconds, 60)
        if rest:
            return minutes_seconds % {"minutes": whole, "seconds": rest}
        return minutes % {"minutes": whole}

    return PageTexts(
        language,
        headings,
        details,
        hints,
        {name: gettext_(message) for name, message in LABELS.items()},
        gettext_(COUNTDOWN_AUTO),
        gettext_(COUNTDOWN_MANUAL),
        duration,
        {literal: gettext_(message) for literal, message in SCRIPT_MESSAGES.items()},
        gettext_(WINDOW_END),
    )


_WINDOW_HEAD, _, _WINDOW_TAIL = WINDOW_END.partition("%(end)s")
_WINDOW_END_TIME = re.compile(r"\d{4}-\d{2}-\d{2} \d{2}:\d{2}")


def window_detail(detail: str, reference: str) -> str | None:
    """The end time in ``detail`` when it is ``reference`` (the code's own detail) followed by
    :data:`WINDOW_END`, as the translator writes it for a maintenance window; else None."""
    head = f"{reference} {_WINDOW_HEAD}"
    if not (detail.startswith(head) and detail.endswith(_WINDOW_TAIL)):
        return None
    end = detail[len(head) : len(detail) - len(_WINDOW_TAIL)]
    return end if _WINDOW_END_TIME.fullmatch(end) else None


def localized_detail(detail: str, reference: str, texts: PageTexts, code: str) -> str:
    """``detail`` as the page shows it in ``texts``' language: the code's own detail (with a
    window's end) translated, a detail given for one error as it is."""
    if detail == reference:
        return texts.details[code]
    end = window_detail(detail, reference)
    if end is None:
        return detail
    return f"{texts.details[code]} {texts.window_end % {'end': end}}"

"""The message catalogs (gatewayerrors/locale/) and the page in every bundled language.

The ``.mo`` files are committed, compiled from the ``.po`` beside them (scripts/catalogs.py):
these tests compile every ``.po`` again with Babel and fail when a committed ``.mo`` differs,
when the ``.pot`` misses a message the code marks, or when a language leaves a message
untranslated or drops a placeholder.
"""

from __future__ import annotations

import gettext
import io
import re
import shutil
import subprocess
from pathlib import Path
from typing import Any

import pytest
from babel.messages.catalog import Catalog
from babel.messages.extract import extract_from_dir
from babel.messages.mofile import write_mo
from babel.messages.pofile import read_po

from gatewayerrors import catalog
from gatewayerrors._languages import BUNDLED_LANGUAGES, DEFAULT_LANGUAGE
from gatewayerrors._locale import translations
from gatewayerrors._pages import localized_script, page_assets
from gatewayerrors.core import Evidence, RequestInfo, Translator, page_context

PACKAGE = Path(__file__).resolve().parents[2] / "gatewayerrors"
LOCALE = PACKAGE / "locale"
TRANSLATED = [language for language in BUNDLED_LANGUAGES if language != DEFAULT_LANGUAGE]
PLACEHOLDER = re.compile(r"%\((\w+)\)s")
NODE = shutil.which("node")


def po_file(language: str) -> Path:
    return LOCALE / language.replace("-", "_") / "LC_MESSAGES" / "gatewayerrors.po"


def read_catalog(path: Path) -> Catalog:
    with path.open("rb") as file:
        return read_po(file)


def messages(mo: bytes) -> dict[Any, str]:
    """A compiled catalog's messages, its header (which names the Babel version) left out."""
    found = dict(gettext.GNUTranslations(io.BytesIO(mo))._catalog)  # type: ignore[attr-defined]
    found.pop("", None)
    return found


def test_every_bundled_language_has_a_catalog() -> None:
    folders = {path.name for path in LOCALE.iterdir() if path.is_dir()}
    assert folders == {language.replace("-", "_") for language in TRANSLATED}


def test_the_template_holds_every_marked_message() -> None:
    marked = {
        message[2] if isinstance(message[2], str) else message[2][0]
        for message in extract_from_dir(
            str(PACKAGE),
            method_map=[("**.py", "python")],
            keywords={"N_": None, "N_plural": (1, 2)},
        )
    }
    template = {
        message.id if isinstance(message.id, str) else message.id[0]
        for message in read_catalog(LOCALE / "gatewayerrors.pot")
        if message.id
    }
    assert template == marked, "run: python scripts/catalogs.py all"
    # The catalog's details and hints are all marked.
    for kind in catalog.values():
        assert kind.description in marked
        assert kind.hint in marked


@pytest.mark.parametrize("language", TRANSLATED)
def test_every_message_is_translated_with_its_placeholders(language: str) -> None:
    template = {message.id for message in read_catalog(LOCALE / "gatewayerrors.pot") if message.id}
    po = read_catalog(po_file(language))
    assert {message.id for message in po if message.id} == template, "run scripts/catalogs.py"
    for message in po:
        if not message.id:
            continue
        assert not message.fuzzy, message.id
        ids = [message.id] if isinstance(message.id, str) else list(message.id)
        strings = (
            [message.string] if isinstance(message.string, str) else list(message.string or ())
        )
        assert len(strings) == (1 if isinstance(message.id, str) else po.num_plurals), message.id
        for string in strings:
            assert string.strip(), f"{language}: {message.id!r} is not translated"
            assert set(PLACEHOLDER.findall(string)) == set(PLACEHOLDER.findall(ids[-1])), string
            assert "%" not in PLACEHOLDER.sub("", string), string  # no stray format characters


@pytest.mark.parametrize("language", TRANSLATED)
def test_the_committed_mo_is_the_compiled_po(language: str) -> None:
    po = po_file(language)
    committed = po.with_suffix(".mo").read_bytes()
    compiled = io.BytesIO()
    write_mo(compiled, read_catalog(po))
    # The header names the Babel version that compiled it: compared apart from the messages,
    # so another Babel version does not fail the test, while any stale message does.
    assert messages(committed) == messages(compiled.getvalue()), (
        f"{po.with_suffix('.mo')} is stale: run python scripts/catalogs.py compile"
    )


@pytest.mark.parametrize("language", TRANSLATED)
def test_the_runtime_reads_the_catalog_with_the_standard_library(language: str) -> None:
    found = translations(language)
    assert isinstance(found, gettext.GNUTranslations)
    assert found.gettext("What you can do") != "What you can do"
    assert translations(language) is found  # read once


@pytest.mark.parametrize("language", BUNDLED_LANGUAGES)
def test_every_code_renders_in_every_language(language: str) -> None:
    translator = Translator()
    for code in catalog:
        for method in ("GET", "POST"):
            request = RequestInfo(
                method=method, accept="text/html", accept_language=language, request_id="rid-9"
            )
            error = translator.failure(Evidence(code, 0, 45), request)
            response = translator.respond(error, request)
            body = response.body.decode("utf-8")
            assert dict(response.headers)["content-language"] == language
            assert f'<html lang="{language}">' in body
            if language != DEFAULT_LANGUAGE:
                # None of the page's own English words is left.
                for english in ("What you can do", "Error code", "Request ID", "try again in"):
                    assert english not in body, (language, code, english)


@pytest.mark.parametrize("language", TRANSLATED)
def test_the_script_speaks_the_language(language: str) -> None:
    script = localized_script(page_assets().script, language)
    assert '"Copied"' not in script
    assert '" seconds"' not in script
    assert "</script" not in script.lower()
    if NODE is None:
        pytest.skip("node is not installed")
    # The localized duration function, run: the same words the server writes.
    function = script[script.index("function f(n){") : script.index("var i = setInterval")]
    program = function + "console.log([1, 2, 45, 60, 150].map(f).join('|'))"
    result = subprocess.run(
        [NODE, "-e", program], capture_output=True, text=True, timeout=30, check=True
    )
    from gatewayerrors._pages import duration_text

    assert result.stdout.strip() == "|".join(
        duration_text(seconds, language) for seconds in (1, 2, 45, 60, 150)
    )


def test_the_english_script_is_served_as_written() -> None:
    script = page_assets().script
    assert localized_script(script, "en") is script


def test_an_edited_page_script_is_caught() -> None:
    with pytest.raises(RuntimeError, match="Copied"):
        localized_script("(function(){})();", "de")
    script = page_assets().script.replace('" seconds"', '" secs"')
    with pytest.raises(RuntimeError, match="duration function"):
        localized_script(script, "de")


def test_only_bundled_catalogs_are_read() -> None:
    with pytest.raises(ValueError, match="no bundled catalog for 'it'"):
        translations("it")


@pytest.mark.parametrize(
    ("language", "texts"),
    [
        ("en", ["1 second", "45 seconds", "1 min", "2 min 30 s"]),
        ("de", ["1 Sekunde", "45 Sekunden", "1 Min.", "2 Min. 30 s"]),
        ("fr", ["1 seconde", "45 secondes", "1 min", "2 min 30 s"]),
        ("ja", ["1秒", "45秒", "1分", "2分30秒"]),
        ("zh-Hans", ["1秒", "45秒", "1分钟", "2分30秒"]),
    ],
)
def test_durations(language: str, texts: list[str]) -> None:
    from gatewayerrors._pages import duration_text

    assert [duration_text(seconds, language) for seconds in (1, 45, 60, 150)] == texts


def test_page_context_chooses_a_bundled_language() -> None:
    translator = Translator()
    request = RequestInfo(accept="text/html", accept_language="es-MX,es;q=0.9")
    error = translator.failure(Evidence("maintenance"), request)
    context = page_context(error, request)
    assert context["language"] == "es"
    assert context["heading"] == "Volveremos pronto"
    assert context["detail"] == "El servicio no está disponible por un mantenimiento programado."
    assert context["title"] == "Down for maintenance"  # for machines: the catalog's English
    assert page_context(error, request, language="ZH-hans")["language"] == "zh-Hans"
    assert page_context(error, RequestInfo())["language"] == "en"
    with pytest.raises(ValueError, match="language must be a bundled one"):
        page_context(error, request, language="it")

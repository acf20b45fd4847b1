"""Choosing the page's language from Accept-Language (RFC 9110 §12.5.4, RFC 4647 §3.4 lookup),
and what the choice changes on the response: the page's words, ``lang=``, ``Content-Language``
and ``Vary`` — and what it does not change (problem details, text, an English visitor's bytes)."""

from __future__ import annotations

import re
import sys
from pathlib import Path
from typing import Any, NamedTuple

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from page_parsing import parse_page, problem_script

from gatewayerrors import Settings, SettingsError, UpstreamFailure, catalog
from gatewayerrors._languages import (
    _CACHE_LIMIT,
    _MAX_HEADER,
    BUNDLED_LANGUAGES,
    LanguageChooser,
    closest_language,
)
from gatewayerrors.core import ErrorResponse, Evidence, PageContext, RequestInfo, Translator

GERMAN_BROWSER = "de-AT,de;q=0.9,en;q=0.5"


class Page(NamedTuple):
    heading: str
    lead: str
    problem: dict[str, Any]


def read_page(body: bytes) -> Page:
    page = parse_page(body)
    lead = page.find("p", **{"class": "lead"})
    return Page(page.find("h1").text(), lead.text(), problem_script(page))


def choose(header: str | None, offered: tuple[str, ...] = BUNDLED_LANGUAGES) -> str:
    return LanguageChooser(offered, offered[0]).choose(header)


@pytest.mark.parametrize(
    ("header", "language"),
    [
        (None, "en"),
        ("", "en"),
        ("de", "de"),
        ("DE", "de"),
        (GERMAN_BROWSER, "de"),
        ("de-AT", "de"),
        ("de-CH-1996", "de"),
        ("de_AT", "de"),  # Java and POSIX locales
        ("pt-BR", "pt"),
        ("pt-PT,pt;q=0.9", "pt"),
        ("fr-CA;q=0.8, es;q=0.9", "es"),  # the q-values decide, not the order
        ("fr;q=0.5, es;q=0.5", "fr"),  # equal q: the header's order decides
        ("ja-JP", "ja"),
        ("zh-CN", "zh-Hans"),
        ("zh-Hans-CN", "zh-Hans"),
        ("zh-SG", "zh-Hans"),
        ("zh-hans", "zh-Hans"),
        ("zh", "zh-Hans"),  # a bare zh: Simplified Chinese, by far the most read
        ("zh-TW", "en"),  # Traditional Chinese is not bundled: never Simplified instead
        ("zh-Hant", "en"),
        ("zh-HK,ja;q=0.5", "ja"),  # ... the next range decides
        ("zh-Hant-TW,zh;q=0.8", "zh-Hans"),  # unless the visitor accepts any Chinese
        ("it, de;q=0.3", "de"),
        ("it", "en"),  # nothing offered: the default
        ("*", "en"),
        ("it, *;q=0.1", "en"),
        ("de;q=0, *", "en"),
        ("en;q=0, *", "de"),  # any language but English: the first other offered
        ("de-AT, de;q=0", "en"),  # q=0 refuses de, including as de-AT's fallback
        ("fr;q=0", "en"),
        ("de;q=2, fr", "fr"),  # an invalid q drops its entry (RFC 9110 §12.4.2)
        ("de;q=abc, ja", "ja"),
        ("de;q=\xff, fr", "fr"),
        ("de;Q=0.5x, fr;q=0.1", "fr"),
        ("<script>, fr", "fr"),  # not a language range: ignored
        ("  ,,, ;q=1", "en"),
        ("\x00\xff", "en"),
    ],
)
def test_lookup(header: str | None, language: str) -> None:
    assert choose(header) == language


def test_a_default_that_is_not_offered_is_a_bug() -> None:
    with pytest.raises(ValueError, match="not offered"):
        LanguageChooser(("de",), "en")


def test_any_language_when_every_offered_one_is_refused_gives_the_default() -> None:
    assert choose("*, en;q=0, de;q=0", ("en", "de")) == "en"
    assert choose("*, en;q=0", ("en", "de")) == "de"


def test_a_header_werkzeug_cannot_parse_gives_the_default(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    import gatewayerrors._languages as languages

    def broken(*args: object) -> object:
        raise RuntimeError("a parser bug")

    monkeypatch.setattr(languages, "parse_accept_header", broken)
    assert choose("de") == "en"


def test_only_the_offered_languages_are_chosen() -> None:
    assert choose(GERMAN_BROWSER, ("en", "fr")) == "en"
    assert choose("ja, fr;q=0.5", ("en", "fr")) == "fr"
    assert choose("fr", ("de",)) == "de"  # one language: nothing to choose


def test_a_huge_header_is_judged_by_its_start_and_never_cached() -> None:
    chooser = LanguageChooser(BUNDLED_LANGUAGES, "en")
    huge = "ja, " + "x-" * 100_000 + "y"
    assert len(huge) > _MAX_HEADER
    assert chooser.choose(huge) == "ja"
    assert all(len(key) <= _MAX_HEADER for key in chooser._cache)


def test_the_cache_is_bounded() -> None:
    chooser = LanguageChooser(BUNDLED_LANGUAGES, "en")
    for index in range(_CACHE_LIMIT * 3):
        assert chooser.choose(f"x-{index}, fr;q=0.5") == "fr"
        assert len(chooser._cache) <= _CACHE_LIMIT
    assert chooser.choose("de") == "de"
    assert chooser._cache["de"] == "de"  # and used


@settings(max_examples=300, deadline=None)
@given(st.text(max_size=200) | st.from_regex(r"[a-zA-Z*_;=,.\- 0-9]{0,80}", fullmatch=True))
def test_any_header_gives_an_offered_language_and_never_raises(header: str) -> None:
    for offered in (BUNDLED_LANGUAGES, ("fr", "en"), ("ja",)):
        assert choose(header, offered) in offered


@settings(max_examples=100, deadline=None)
@given(
    st.lists(
        st.tuples(
            st.sampled_from(["de", "de-AT", "fr", "zh-CN", "zh-TW", "pt-BR", "it", "*", "ja"]),
            st.sampled_from(["", ";q=0", ";q=0.3", ";q=0.7", ";q=1"]),
        ),
        max_size=6,
    )
)
def test_the_choice_is_acceptable_to_the_visitor_or_the_default(
    entries: list[tuple[str, str]],
) -> None:
    header = ", ".join(tag + q for tag, q in entries)
    language = choose(header)
    refused = {tag.lower() for tag, q in entries if q == ";q=0"}
    if language != "en":
        assert language.lower() not in refused
        wanted = [tag.lower() for tag, q in entries if q != ";q=0"]
        primary = {"zh-hans": "zh"}.get(language.lower(), language.lower())
        assert any(tag == "*" or tag.split("-")[0] == primary for tag in wanted)


def test_closest_language_for_did_you_mean() -> None:
    assert closest_language("de-AT", BUNDLED_LANGUAGES) == "de"
    assert closest_language("zh-CN", BUNDLED_LANGUAGES) == "zh-Hans"
    assert closest_language("fra", BUNDLED_LANGUAGES) == "fr"
    assert closest_language("klingon", BUNDLED_LANGUAGES) is None


# -- the response --------------------------------------------------------------------------


def respond(
    accept: str, accept_language: str | None, code: str = "connection_refused", **options: object
) -> ErrorResponse:
    translator = Translator(**options)  # type: ignore[arg-type]
    request = RequestInfo(
        accept=accept, accept_language=accept_language, path="/orders", request_id="rid-1"
    )
    return translator.respond(translator.failure(Evidence(code, 0, 30), request), request)


def headers(response: ErrorResponse) -> dict[str, str]:
    return dict(response.headers)


def test_a_german_browser_gets_the_german_page() -> None:
    response = respond("text/html", GERMAN_BROWSER)
    page = read_page(response.body)
    assert headers(response)["content-language"] == "de"
    assert headers(response)["vary"] == "Accept, Accept-Language"
    assert re.search(rb'<html lang="de">', response.body)
    assert page.heading == "Bei uns ist etwas schiefgelaufen"
    assert "nimmt keine Verbindungen an" in page.lead
    assert "Was Sie tun können" in response.body.decode()
    assert "Diese Seite versucht es in" in response.body.decode()
    assert "30 Sekunden" in response.body.decode()
    assert "Anfrage-ID" in response.body.decode()
    # The embedded problem details are the JSON body's: the catalog's English.
    assert page.problem["title"] == "Upstream refused the connection"
    assert page.problem["detail"] == catalog["connection_refused"].description


@pytest.mark.parametrize(
    "fmt", ["application/problem+json", "application/problem+xml", "text/plain"]
)
def test_problem_details_and_text_do_not_depend_on_the_language(fmt: str) -> None:
    english = respond(fmt, None)
    german = respond(fmt, GERMAN_BROWSER)
    assert german.body == english.body
    assert german.headers == english.headers
    assert headers(german)["vary"] == "Accept"
    assert "content-language" not in headers(german)


@pytest.mark.parametrize("accept_language", [None, "en", "en-US,en;q=0.9", "it", "*"])
def test_an_english_page_is_the_page_as_before_plus_content_language(
    accept_language: str | None,
) -> None:
    response = respond("text/html", accept_language)
    assert headers(response)["content-language"] == "en"
    assert headers(response)["vary"] == "Accept, Accept-Language"
    assert response.body == respond("text/html", None, languages=()).body
    assert b'<html lang="en">' in response.body
    assert response.body.isascii()


def test_one_language_offered_does_not_vary_on_accept_language() -> None:
    response = respond("text/html", GERMAN_BROWSER, languages=())
    assert headers(response)["vary"] == "Accept"
    assert headers(response)["content-language"] == "en"
    german_only = respond("text/html", "en", languages=(), default_language="de")
    assert headers(german_only)["content-language"] == "de"
    assert b'<html lang="de">' in german_only.body


def test_restricted_languages_fall_back_to_the_default() -> None:
    response = respond("text/html", GERMAN_BROWSER, languages=("fr",))
    assert headers(response)["content-language"] == "en"
    french = respond("text/html", "fr-CA", languages=("fr",), default_language="de")
    assert headers(french)["content-language"] == "fr"
    other = respond("text/html", "ja", languages=("fr",), default_language="de")
    assert headers(other)["content-language"] == "de"


def test_head_gets_the_same_language_headers_and_no_body() -> None:
    translator = Translator()
    request = RequestInfo(method="HEAD", accept="text/html", accept_language="ja")
    response = translator.respond(translator.failure(Evidence("maintenance"), request), request)
    assert response.body == b""
    assert headers(response)["content-language"] == "ja"


def test_a_detail_given_for_one_error_is_shown_as_given() -> None:
    translator = Translator()
    request = RequestInfo(accept="text/html", accept_language="fr")
    evidence = Evidence("connection_refused", 0, None, None, "Le service de paiement dort.")
    response = translator.respond(translator.failure(evidence, request), request)
    page = read_page(response.body)
    assert page.lead == "Le service de paiement dort."
    assert page.heading == "Une erreur s\u2019est produite de notre côté"


# -- settings --------------------------------------------------------------------------------


def test_languages_setting_is_checked_at_startup() -> None:
    assert Settings().page_languages == BUNDLED_LANGUAGES
    assert Settings(languages=()).page_languages == ("en",)
    assert Settings(languages=("ZH-hans", "de"), default_language="DE").page_languages == (
        "de",
        "zh-Hans",
    )
    with pytest.raises(SettingsError, match=r"languages has 'zh-CN'.*did you mean 'zh-Hans'"):
        Settings(languages=("zh-CN",))
    with pytest.raises(SettingsError, match=r"languages has 'de-AT'.*did you mean 'de'"):
        Settings(languages=("de-AT",))
    with pytest.raises(SettingsError, match="languages must be None or a tuple"):
        Settings(languages="de")  # a str is a Sequence[str]: only the check catches it
    with pytest.raises(SettingsError, match=r"languages has 3"):
        Settings(languages=(3,))  # type: ignore[arg-type]
    with pytest.raises(SettingsError, match=r"default_language is 'it', which is not one of"):
        Settings(default_language="it")
    with pytest.raises(SettingsError) as raised:
        Settings.from_mapping({"default_language": "fra"}, name=lambda o: f"GE_{o.upper()}")
    assert str(raised.value).startswith("GE_DEFAULT_LANGUAGE is 'fra'")
    assert "did you mean 'fr'" in str(raised.value)


def test_per_language_overrides() -> None:
    overrides = {
        "maintenance": {
            "detail": "We're upgrading the shop.",
            "de": {"heading": "Gleich wieder da", "detail": "Wir bauen den Shop um."},
            "ja": {"title": "メンテナンス中"},
        }
    }
    german = read_page(respond("text/html", "de", "maintenance", overrides=overrides).body)
    assert german.heading == "Gleich wieder da"
    assert german.lead == "Wir bauen den Shop um."
    assert german.problem["detail"] == "We're upgrading the shop."  # problem details: plain
    japanese = read_page(respond("text/html", "ja", "maintenance", overrides=overrides).body)
    assert japanese.heading == "メンテナンス中"  # a language's title is its heading
    assert japanese.lead == "We're upgrading the shop."  # the plain override, for every language
    french = read_page(respond("text/html", "fr", "maintenance", overrides=overrides).body)
    assert french.heading == "Nous revenons bientôt"
    assert french.lead == "We're upgrading the shop."
    english = read_page(respond("text/html", None, "maintenance", overrides=overrides).body)
    assert english.heading == "We'll be back soon"
    assert english.lead == "We're upgrading the shop."


@pytest.mark.parametrize(
    ("overrides", "message"),
    [
        ({"maintenance": {"dee": {"detail": "x"}}}, r"unknown key 'dee'.*did you mean 'de'"),
        ({"maintenance": {"zh-CN": {"detail": "x"}}}, r"unknown key 'zh-CN'.*'zh-Hans'"),
        ({"maintenance": {"de": "Wartung"}}, r"overrides\['maintenance'\]\['de'\] must be a map"),
        ({"maintenance": {"de": {"titel": "x"}}}, r"\['de'\] has an unknown key 'titel'"),
        ({"maintenance": {"de": {"detail": 3}}}, r"\['de'\]\['detail'\] must be UTF-8 text"),
        ({"maintenance": {"de": {"hint": "a\x1bb"}}}, r"\['hint'\] must not contain control"),
    ],
)
def test_bad_per_language_overrides_fail_at_startup(overrides: object, message: str) -> None:
    with pytest.raises(SettingsError, match=message):
        Settings(overrides=overrides)  # type: ignore[arg-type]


def test_overrides_for_a_language_not_offered_fail_at_startup() -> None:
    with pytest.raises(SettingsError, match=r"texts for 'fr', which is not in languages"):
        Settings(languages=("de",), overrides={"maintenance": {"fr": {"detail": "x"}}})


def test_language_keys_are_stored_canonical() -> None:
    found = Settings(overrides={"maintenance": {"ZH-HANS": {"detail": "维护"}}}).overrides
    assert found == {"maintenance": {"zh-Hans": {"detail": "维护"}}}


# -- templates get the language ----------------------------------------------------------------


@pytest.mark.parametrize("engine", ["jinja2", "placeholders"])
def test_a_template_directory_gets_the_language(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, engine: str
) -> None:
    if engine == "placeholders":
        monkeypatch.setitem(sys.modules, "jinja2", None)  # import jinja2 -> ImportError
    (tmp_path / "error.html").write_text(
        '<html lang="{{ language }}"><h1>{{ heading }}</h1><p>{{ detail }}</p>', "utf-8"
    )
    translator = Translator(templates=tmp_path)
    request = RequestInfo(accept="text/html", accept_language="fr-FR,fr;q=0.9")
    response = translator.respond(translator.failure(Evidence("maintenance"), request), request)
    assert (
        response.body
        == (
            '<html lang="fr"><h1>Nous revenons bientôt</h1>'
            "<p>Le service est indisponible pour cause de maintenance programmée.</p>"
        ).encode()
    )
    assert headers(response)["content-language"] == "fr"


def test_a_jinja_template_can_branch_on_the_language(tmp_path: Path) -> None:
    (tmp_path / "503.html").write_text(
        "{% if language == 'de' %}Wartung{% else %}{{ heading }}{% endif %}", "utf-8"
    )
    translator = Translator(
        templates=tmp_path, overrides={"maintenance": {"ja": {"heading": "休"}}}
    )
    for accept_language, page in (
        ("de", "Wartung"),
        ("ja", "休"),
        (None, "We&#39;ll be back soon"),
    ):
        request = RequestInfo(accept="text/html", accept_language=accept_language)
        response = translator.respond(translator.failure(Evidence("maintenance"), request), request)
        assert response.body.decode() == page


def test_a_template_callable_with_a_context_parameter_gets_the_context() -> None:
    seen: list[PageContext] = []

    def page(error: UpstreamFailure, request: RequestInfo, context: PageContext) -> str:
        seen.append(context)
        return f"{context['language']}: {context['heading']}"

    translator = Translator(templates=page, languages=("de", "ja"))
    request = RequestInfo(accept="text/html", accept_language="ja, de;q=0.5")
    response = translator.respond(translator.failure(Evidence("circuit_open"), request), request)
    assert response.body.decode() == "ja: このサービスは少しの間お休みしています"
    assert seen[0]["hint"] == "しばらく待ってから、もう一度お試しください。"
    assert headers(response)["content-language"] == "ja"


def test_a_template_callable_without_a_context_parameter_is_called_as_before() -> None:
    calls: list[tuple[UpstreamFailure, RequestInfo]] = []

    def page(error: UpstreamFailure, request: RequestInfo) -> str:
        calls.append((error, request))
        return "custom"

    translator = Translator(templates=page)
    request = RequestInfo(accept="text/html", accept_language="de")
    response = translator.respond(translator.failure(Evidence("circuit_open"), request), request)
    assert response.body == b"custom"
    assert calls[0][1].accept_language == "de"
    assert headers(response)["content-language"] == "de"


def test_a_failing_template_falls_back_to_the_built_in_page_in_the_language() -> None:
    def page(error: UpstreamFailure, request: RequestInfo, context: PageContext) -> str:
        raise RuntimeError("broken")

    translator = Translator(templates=page)
    request = RequestInfo(accept="text/html", accept_language="pt-BR")
    response = translator.respond(translator.failure(Evidence("maintenance"), request), request)
    assert read_page(response.body).heading == "Voltamos em breve"


def test_a_template_callable_without_a_signature_is_called_as_before() -> None:
    class Page:
        __signature__ = property(lambda self: (_ for _ in ()).throw(ValueError("none")))

        def __call__(self, error: UpstreamFailure, request: RequestInfo) -> str:
            return "<p>plain</p>"

    translator = Translator(templates=Page())
    request = RequestInfo(accept="text/html", accept_language="de")
    response = translator.respond(translator.failure(Evidence("circuit_open"), request), request)
    assert response.body == b"<p>plain</p>"

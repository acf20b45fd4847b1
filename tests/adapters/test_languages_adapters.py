"""Pages in the visitor's language through every adapter, on real servers.

The shared app runs under each adapter (the ASGI middleware under uvicorn; the WSGI middleware,
the Flask extension and the Django middleware under waitress) and calls a real failing loopback
upstream; a real browser-like client sends Accept-Language. The language choice itself is
tested at the core (tests/core/test_languages.py); this module checks that each adapter hands
the header through and sends the headers that go with it, the same bytes from all four.
"""

from __future__ import annotations

import httpx
import pytest
from adapter_servers import ADAPTERS, HTML, JSON, REQUEST_ID, Adapter
from page_parsing import parse_page, problem_script

pytestmark = pytest.mark.server

GERMAN_BROWSER = "de-AT,de;q=0.9,en;q=0.5"
BROWSER_ACCEPT = "text/html,application/xhtml+xml,application/xml;q=0.9,*/*;q=0.8"


def get(
    client: httpx.Client, adapter: Adapter, path: str, accept: str, language: str | None
) -> httpx.Response:
    headers = {"Accept": accept, "X-Request-ID": REQUEST_ID}
    if language is not None:
        headers["Accept-Language"] = language
    return client.get(adapter.url + path, headers=headers)


def test_a_german_browser_gets_the_page_in_german(adapter: Adapter, client: httpx.Client) -> None:
    with adapter.configure():
        response = get(client, adapter, "/fault/refused", BROWSER_ACCEPT, GERMAN_BROWSER)
    assert response.status_code == 502
    assert response.headers["content-type"] == "text/html; charset=utf-8"
    assert response.headers["content-language"] == "de"
    vary = [field.strip().lower() for field in response.headers["vary"].split(",")]
    assert vary == ["accept", "accept-language"]
    page = parse_page(response.content)
    assert page.find("html").attrs["lang"] == "de"
    assert page.find("h1").text() == "Bei uns ist etwas schiefgelaufen"
    assert page.find("h2").text() == "Was Sie tun können"
    assert "nimmt keine Verbindungen an" in response.text
    assert page.find("a", **{"class": "btn"}).text() == "Jetzt erneut versuchen"
    # The embedded problem details stay the JSON body's English.
    assert problem_script(page)["title"] == "Upstream refused the connection"


def test_a_german_api_client_gets_the_same_problem_details(
    adapter: Adapter, client: httpx.Client
) -> None:
    with adapter.configure():
        english = get(client, adapter, "/fault/refused", JSON, None)
        german = get(client, adapter, "/fault/refused", JSON, GERMAN_BROWSER)
    assert german.content == english.content
    assert german.headers["vary"] == "Accept"
    assert "content-language" not in german.headers


def test_per_language_overrides_through_the_adapter(adapter: Adapter, client: httpx.Client) -> None:
    overrides = {"connection_refused": {"fr": {"heading": "Le paiement est en panne"}}}
    with adapter.configure(overrides=overrides):
        french = get(client, adapter, "/fault/refused", HTML, "fr-CH, fr;q=0.9")
        english = get(client, adapter, "/fault/refused", HTML, "en-GB")
    assert parse_page(french.content).find("h1").text() == "Le paiement est en panne"
    assert french.headers["content-language"] == "fr"
    assert parse_page(english.content).find("h1").text() == "Something went wrong on our side"


@pytest.mark.parametrize(
    "language",
    # "huge": past our 4 KB bound, under every server's header limit (aiohttp's is 8 KB).
    [", ".join(["xx"] * 1500), "de;q=\u00ff, \u00fc\u00fc", ";;;,,,=", "zh-TW", "*;q=0"],
    ids=["huge", "latin-1", "garbage", "not-bundled", "nothing-acceptable"],
)
def test_a_hostile_or_unknown_header_gets_the_english_page(
    adapter: Adapter, client: httpx.Client, language: str
) -> None:
    with adapter.configure():
        response = client.get(
            adapter.url + "/fault/refused",
            headers=[(b"Accept", HTML.encode()), (b"Accept-Language", language.encode("latin-1"))],
        )
    assert response.status_code == 502
    assert response.headers["content-language"] == "en"
    assert parse_page(response.content).find("html").attrs["lang"] == "en"


def test_a_restricted_language_list_is_honoured(adapter: Adapter, client: httpx.Client) -> None:
    with adapter.configure(languages=("ja",), default_language="ja"):
        response = get(client, adapter, "/fault/timeout", HTML, GERMAN_BROWSER)
    assert response.status_code == 504
    assert response.headers["content-language"] == "ja"
    assert response.headers["vary"] == "Accept"  # one language: nothing to choose
    assert parse_page(response.content).find("h1").text() == "時間がかかりすぎました"


def test_every_adapter_sends_the_same_german_page(
    client: httpx.Client, request: pytest.FixtureRequest
) -> None:
    pages = {}
    for name in ADAPTERS:
        adapter: Adapter = request.getfixturevalue(f"{name}_adapter")
        with adapter.configure():
            response = get(client, adapter, "/fault/refused", HTML, "de")
        pages[name] = (response.status_code, response.headers["content-language"], response.content)
    assert len(set(pages.values())) == 1, {name: page[:2] for name, page in pages.items()}

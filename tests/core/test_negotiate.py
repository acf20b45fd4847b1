"""Content negotiation: real clients' Accept headers, RFC 9110 rules, hostile input."""

from __future__ import annotations

import html.parser
import xml.etree.ElementTree as ET

import orjson
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from gatewayerrors import _negotiate
from gatewayerrors.core import Format, RequestInfo, Translator, negotiate

CHROME = (
    "text/html,application/xhtml+xml,application/xml;q=0.9,image/avif,image/webp,"
    "image/apng,*/*;q=0.8,application/signed-exchange;v=b3;q=0.7"
)

# Accept headers as real clients send them (document requests for browsers).
REAL_CLIENTS = [
    ("Chrome 120+ document", CHROME, Format.HTML),
    ("Edge document", CHROME, Format.HTML),
    (
        "Firefox 128 document",
        "text/html,application/xhtml+xml,application/xml;q=0.9,*/*;q=0.8",
        Format.HTML,
    ),
    (
        "Firefox 92-127 document",
        "text/html,application/xhtml+xml,application/xml;q=0.9,image/avif,image/webp,*/*;q=0.8",
        Format.HTML,
    ),
    (
        "Safari document",
        "text/html,application/xhtml+xml,application/xml;q=0.9,*/*;q=0.8",
        Format.HTML,
    ),
    ("Chrome image request", "image/avif,image/webp,image/apng,image/*,*/*;q=0.8", Format.JSON),
    ("curl", "*/*", Format.JSON),
    ("wget", "*/*", Format.JSON),
    ("fetch() default", "*/*", Format.JSON),
    ("requests", "*/*", Format.JSON),
    ("httpx", "*/*", Format.JSON),
    ("Postman", "*/*", Format.JSON),
    ("axios", "application/json, text/plain, */*", Format.JSON),
    ("jQuery ajax dataType=json", "application/json, text/javascript, */*; q=0.01", Format.JSON),
    ("jQuery ajax dataType=xml", "application/xml, text/xml, */*; q=0.01", Format.XML),
    ("jQuery ajax dataType=text", "text/plain, */*; q=0.01", Format.TEXT),
    ("jQuery ajax dataType=html", "text/html, */*; q=0.01", Format.HTML),
    ("Spring RestTemplate json", "application/json, application/*+json", Format.JSON),
    # java.net.HttpURLConnection's default asks for HTML first; java.net.http.HttpClient,
    # Go's net/http, .NET HttpClient and Python's urllib send no Accept at all.
    ("Java HttpURLConnection", "text/html, image/gif, image/jpeg, *; q=.2, */*; q=.2", Format.HTML),
    ("Java HttpClient / Go / .NET / urllib (none)", None, Format.JSON),
    ("empty header", "", Format.JSON),
    ("JSON:API client", "application/vnd.api+json", Format.JSON),
    ("HAL client", "application/hal+json", Format.JSON),
    ("problem+json client", "application/problem+json", Format.JSON),
    ("problem+xml client", "application/problem+xml", Format.XML),
    ("XML client", "application/xml", Format.XML),
    ("legacy XML client", "text/xml", Format.XML),
    ("Atom client", "application/atom+xml", Format.XML),
    ("SOAP 1.2 client", "application/soap+xml", Format.XML),
    ("XHTML-only client", "application/xhtml+xml", Format.HTML),
    ("plain text client", "text/plain", Format.TEXT),
]


@pytest.mark.parametrize(("client", "accept", "expected"), REAL_CLIENTS)
def test_real_clients(client: str, accept: str | None, expected: Format) -> None:
    assert negotiate(accept) is expected


@pytest.mark.parametrize(
    ("accept", "expected"),
    [
        # q-values decide between explicit types.
        ("text/html;q=0.5, application/json", Format.JSON),
        ("text/html, application/json;q=0.9", Format.HTML),
        ("application/xml;q=0.9, text/plain", Format.TEXT),
        ("application/json;q=0.1, application/xml;q=0.2", Format.XML),
        ("text/plain;q=0.001, text/html;q=0", Format.TEXT),
        # Equal quality: the server's preference, JSON > XML > HTML > text.
        ("text/html, application/json", Format.JSON),
        ("text/plain, text/html", Format.HTML),
        ("application/xml, text/html", Format.XML),
        # Specificity (RFC 9110 §12.5.1): the most specific range decides for a type.
        ("text/html;q=0.1, text/*", Format.TEXT),
        ("text/*;q=0.5, text/plain;q=0.1", Format.HTML),
        ("text/*, */*;q=0.1", Format.TEXT),
        ("application/*;q=0.2, text/*;q=0.3", Format.TEXT),
        ("application/*", Format.JSON),
        # A range matches the type sent, never an alias: text/* must not get problem+xml.
        # A text-only client (text/* and no text type named) gets plain text, not a page.
        ("text/*", Format.TEXT),
        ("text/*;q=0.8", Format.TEXT),
        ("text/*, text/html", Format.HTML),
        ("text/*, application/xhtml+xml", Format.HTML),
        ("text/*;q=0.5, text/html;q=0.5", Format.HTML),
        ("text/*;q=0.5, */*", Format.JSON),
        ("text/*;q=0.9, application/json;q=0.5", Format.TEXT),
        # q=0 excludes.
        ("text/html;q=0, */*", Format.JSON),
        ("application/json;q=0, */*", Format.XML),
        ("application/problem+json;q=0, */*", Format.XML),
        ("application/problem+json;q=0, application/json, application/xml;q=0.5", Format.XML),
        ("*/*;q=0, text/plain", Format.TEXT),
        # Nothing acceptable: never 406 for an error, answer JSON.
        ("*/*;q=0", Format.JSON),
        ("image/png", Format.JSON),
        ("image/svg+xml", Format.JSON),
        ("text/html;q=0, application/json;q=0, application/problem+json;q=0", Format.JSON),
        # Structured-syntax suffixes.
        ("application/vnd.github+json", Format.JSON),
        ("application/merge-patch+json;q=0.8, text/html;q=0.5", Format.JSON),
        ("application/rss+xml", Format.XML),
        # Media type parameters do not stop a match.
        ("application/json;charset=utf-8", Format.JSON),
        ("application/json; charset=UTF-8; q=0.9, text/html; q=0.8", Format.JSON),
        ('text/html;level=1;foo="a,b", */*;q=0.1', Format.HTML),
        (
            "application/json;charset=utf-8;q=0.1, application/problem+json, text/html;q=0.5",
            Format.JSON,
        ),
        # Case-insensitive (RFC 9110 §8.3.1).
        ("APPLICATION/JSON", Format.JSON),
        ("Text/HTML", Format.HTML),
        ("Application/Problem+XML", Format.XML),
        ("TEXT/*", Format.TEXT),
        # Whitespace.
        ("  text/plain  ,  ", Format.TEXT),
        ("\ttext/html\t;\tq=1", Format.HTML),
    ],
)
def test_rfc9110_rules(accept: str, expected: Format) -> None:
    assert negotiate(accept) is expected


@pytest.mark.parametrize(
    "accept",
    [
        "garbage",
        ",,,,",
        ";;;",
        "=",
        "/",
        "*",
        "text/",
        "/html",
        "text/html;q=abc",
        "text/html;q=2",
        "text/html;q=-1",
        "text/html;q=0.5.5",
        "text/html;q=1e3",
        "text/html;q=nan",
        "text/html;q=inf",
        'text/html;foo="unterminated',
        "\x00",
        "text/html\x00",
        "application/json\r\n",
        "\r\nX-Injected: 1",
        "téxt/html, 应用/json",
        "\ud800",
        "\U0001f600/\U0001f600",
        "a" * 5000,
    ],
)
def test_malformed_headers_get_the_default_format(accept: str) -> None:
    # Nothing readable asks for a format we serve (an invalid q drops its entry, RFC 9110
    # section 12.4.2): the answer is the default, problem+json, never an error or a 406.
    assert negotiate(accept) is Format.JSON


@pytest.mark.parametrize("accept", ["text/html;q=", "text/html;;;q=0.5;;", "text/html," * 50])
def test_malformed_headers_keep_their_readable_entry(accept: str) -> None:
    assert negotiate(accept) is Format.HTML


def test_invalid_q_entries_are_skipped_not_trusted() -> None:
    # q=2 is invalid (RFC 9110 §12.4.2): the entry is ignored, so text/plain wins.
    assert negotiate("text/html;q=2, text/plain;q=0.5") is Format.TEXT
    assert negotiate("text/html;q=abc, application/xml") is Format.XML


HUGE_HEADERS = {
    "letters": ("a" * 1_000_000, Format.JSON),
    "html-list": ("text/html," * 100_000, Format.HTML),
    "wildcards": ("*/*;q=0.5, " * 90_000, Format.JSON),
    "quotes": ('"' * 1_000_000, Format.JSON),
    "semicolons": (";" * 1_000_000, Format.JSON),
    "commas": ("," * 1_000_000, Format.JSON),
    # Cut at the bound, the first entry is incomplete: nothing usable, so the default.
    "params": ("text/html;" + "a=b;" * 250_000, Format.JSON),
    "nul": ("\x00" * 1_000_000, Format.JSON),
    "unicode": ("é" * 1_000_000, Format.JSON),
}


@pytest.mark.parametrize(("accept", "expected"), HUGE_HEADERS.values(), ids=list(HUGE_HEADERS))
def test_huge_headers_get_an_answer_and_are_not_kept(accept: str, expected: Format) -> None:
    assert negotiate(accept) is expected
    # A huge header must not become a cache key (512 of them would be 512 MB).
    assert max(map(len, _negotiate._cache), default=0) <= _negotiate._MAX_HEADER


def test_only_the_start_of_a_huge_header_is_read() -> None:
    # The work per header is bounded: what lies past the first _MAX_HEADER characters is
    # never parsed, so a wanted type there does not count.
    filler = "x/y,"
    assert negotiate(filler * 10 + "text/html") is Format.HTML
    beyond = filler * (_negotiate._MAX_HEADER // len(filler) + 1)
    assert negotiate(beyond + "text/html") is Format.JSON


def test_huge_header_is_judged_by_its_first_entries() -> None:
    assert negotiate("text/plain, " + "image/png, " * 100_000) is Format.TEXT


def test_cache_is_bounded() -> None:
    for i in range(3 * _negotiate._CACHE_LIMIT):
        negotiate(f"application/x-{i}, text/plain")
    assert len(_negotiate._cache) <= _negotiate._CACHE_LIMIT
    assert negotiate("text/plain, application/x-1") is Format.TEXT


# What in a header can select each format other than the default (a wildcard can select any).
SELECTORS = {
    Format.HTML: ("html",),
    Format.TEXT: ("text/plain", "text/*"),
    Format.XML: ("xml",),
}


def assert_asked_for_or_default(accept: str) -> None:
    """Negotiation never fails, answers the same twice, and picks a format other than the
    default (problem+json) only when the header names it or a wildcard."""
    fmt = negotiate(accept)
    assert negotiate(accept) is fmt
    if fmt is not Format.JSON:
        lowered = accept.lower()
        assert "*" in lowered or any(name in lowered for name in SELECTORS[fmt]), (accept, fmt)


@settings(max_examples=200, deadline=None)
@given(st.text(max_size=300))
def test_any_text_gives_a_format_it_asked_for_or_the_default(accept: str) -> None:
    assert_asked_for_or_default(accept)


ACCEPT_PIECES = st.sampled_from(
    [
        "text/html",
        "text/plain",
        "text/*",
        "*/*",
        "application/json",
        "application/xml",
        "application/problem+json",
        "application/problem+xml",
        "application/vnd.x+json",
        "application/xhtml+xml",
        "text/xml",
        "image/*",
        ",",
        ", ",
        ";",
        "; ",
        "q=",
        "q=0",
        "q=0.5",
        "q=1",
        "q=1.000",
        "q=x",
        "=",
        '"',
        "level=1",
        " ",
        "\t",
        "\x00",
        "é",
        "*",
    ]
)
ACCEPT_LIKE = st.lists(ACCEPT_PIECES, max_size=25).map("".join)


@settings(max_examples=200, deadline=None)
@given(ACCEPT_LIKE)
def test_accept_like_text_gives_a_format_it_asked_for_or_the_default(accept: str) -> None:
    assert_asked_for_or_default(accept)


class _TagCollector(html.parser.HTMLParser):
    def __init__(self) -> None:
        super().__init__()
        self.tags: list[str] = []

    def handle_starttag(self, tag: str, attrs: object) -> None:
        self.tags.append(tag)


def assert_body_parses(content_type: str, body: bytes) -> None:
    """The body is well-formed in the media type the content-type header names."""
    media_type = content_type.partition(";")[0]
    if media_type == "application/problem+json":
        assert isinstance(orjson.loads(body), dict)
    elif media_type == "application/problem+xml":
        assert ET.fromstring(body).tag == "{urn:ietf:rfc:7807}problem"
    elif media_type == "text/html":
        parser = _TagCollector()
        parser.feed(body.decode("utf-8"))
        parser.close()
        assert parser.tags[:1] == ["html"]
    elif media_type == "text/plain":
        assert body.decode("utf-8")
    else:  # pragma: no cover - a new format needs a parser here
        raise AssertionError(f"unexpected content type {content_type}")


TRANSLATOR = Translator()


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.one_of(st.none(), st.text(max_size=200), ACCEPT_LIKE))
def test_any_accept_gives_a_valid_response(accept: str | None) -> None:
    exc = ConnectionRefusedError(111, "Connection refused")
    response = TRANSLATOR.translate(exc, RequestInfo(accept=accept))
    assert response is not None
    assert response.status == 502
    headers = dict(response.headers)
    assert headers["content-type"] in {
        "application/problem+json",
        "application/problem+xml",
        "text/html; charset=utf-8",
        "text/plain; charset=utf-8",
    }
    assert headers["content-length"] == str(len(response.body))
    assert_body_parses(headers["content-type"], response.body)


# -- format parameter and path suffix (Twitter API style; off by default) --------------------


def test_format_parameter_and_path_suffix_are_off_by_default() -> None:
    translator = Translator()
    request = RequestInfo(path="/users.xml", query="format=text", accept="text/html")
    assert translator.choose_format(request) is Format.HTML


@pytest.mark.parametrize(
    ("query", "expected"),
    [
        ("format=json", Format.JSON),
        ("format=xml", Format.XML),
        ("format=XML", Format.XML),
        ("format=html", Format.HTML),
        ("format=text", Format.TEXT),
        ("format=txt", Format.TEXT),
        ("a=1&format=xml&b=2", Format.XML),
        ("format=yaml", Format.HTML),  # unknown value: Accept decides
        ("format=", Format.HTML),
        ("formats=xml", Format.HTML),
        ("xformat=xml", Format.HTML),
        ("", Format.HTML),
    ],
)
def test_format_parameter_when_enabled(query: str, expected: Format) -> None:
    translator = Translator(format_param="format")
    request = RequestInfo(query=query, accept="text/html")
    assert translator.choose_format(request) is expected


@pytest.mark.parametrize(
    ("path", "expected"),
    [
        ("/statuses/home_timeline.json", Format.JSON),
        ("/statuses/home_timeline.xml", Format.XML),
        ("/statuses/home_timeline", Format.HTML),
        ("/file.xml.txt", Format.HTML),
    ],
)
def test_path_suffix_when_enabled(path: str, expected: Format) -> None:
    translator = Translator(path_suffix=True)
    assert translator.choose_format(RequestInfo(path=path, accept="text/html")) is expected


def test_format_parameter_wins_over_path_suffix_and_accept() -> None:
    translator = Translator(format_param="format", path_suffix=True)
    request = RequestInfo(path="/a.json", query="format=xml", accept="text/html")
    assert translator.choose_format(request) is Format.XML
    response = translator.translate(ConnectionResetError(), request)
    assert response is not None
    assert dict(response.headers)["content-type"] == "application/problem+xml"

"""Rendering: RFC 9457 problem JSON/XML, plain text and minimal HTML, escaped for any input."""

from __future__ import annotations

import html
import html.parser
import re
import xml.etree.ElementTree as ET

import orjson
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from gatewayerrors import GatewayTimeout, ServiceUnavailable, catalog
from gatewayerrors._render import (
    PROBLEM_XML_NAMESPACE,
    instance_path,
    reason_phrase,
    uri_reference,
    xml_text,
)
from gatewayerrors.core import ErrorResponse, RequestInfo, Translator

NS = "{urn:ietf:rfc:7807}"
ACCEPT = {
    "json": "application/problem+json",
    "xml": "application/problem+xml",
    "html": "text/html",
    "text": "text/plain",
}
CONTENT_TYPE = {
    "json": "application/problem+json",
    "xml": "application/problem+xml",
    "html": "text/html; charset=utf-8",
    "text": "text/plain; charset=utf-8",
}
REQUEST_ID = "req-1234"
# XML 1.0 §2.2 Char production, complemented: what must never reach an XML body.
XML_FORBIDDEN = re.compile("[^\t\n\r\x20-\ud7ff\ue000-\ufffd\U00010000-\U0010ffff]")
# RFC 3986 path characters (pchar and "/"), with %XX escapes.
URI_PATH = re.compile(r"(?:[A-Za-z0-9\-._~!$&'()*+,;=:@/]|%[0-9A-F]{2})*")


def _page_tags() -> set[str]:
    """Every tag the built-in page uses, from a benign page with every feature on."""
    exc = ServiceUnavailable(detail="detail", upstream="search", retry_after=5)
    request = RequestInfo(path="/", accept="text/html", request_id="req-1")
    response = Translator(debug=True).translate(exc, request)
    assert response is not None
    parser = _TagCollector()
    parser.feed(response.body.decode())
    return parser.tags


class _TagCollector(html.parser.HTMLParser):
    def __init__(self) -> None:
        super().__init__()
        self.tags: set[str] = set()

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self.tags.add(tag)


HTML_PAGE_TAGS = _page_tags()


def translate(
    exc: BaseException,
    fmt: str,
    translator: Translator | None = None,
    *,
    method: str = "GET",
    path: str = "/orders/42",
    request_id: str | None = REQUEST_ID,
) -> ErrorResponse:
    request = RequestInfo(method, path, "", ACCEPT[fmt], request_id)
    response = (translator or Translator()).translate(exc, request)
    assert response is not None
    return response


def xml_members(body: bytes) -> dict[str, str]:
    root = ET.fromstring(body)
    assert root.tag == NS + "problem"
    members = {}
    for child in root:
        assert child.tag.startswith(NS), child.tag
        assert len(child) == 0
        members[child.tag[len(NS) :]] = child.text or ""
    return members


class _Page(html.parser.HTMLParser):
    def __init__(self, body: bytes) -> None:
        super().__init__(convert_charrefs=True)
        self.tags: list[str] = []
        self.text: list[str] = []
        self.feed(body.decode("utf-8"))
        self.close()

    def handle_starttag(self, tag: str, attrs: object) -> None:
        self.tags.append(tag)

    def handle_data(self, data: str) -> None:
        self.text.append(data)


def safe(text: str) -> str:
    """What the core makes of client-supplied text: lone surrogates become "?"."""
    return text.encode("utf-8", "replace").decode("utf-8")


def clean(text: str) -> str:
    """What the core makes of the app's text: CR and CRLF become LF, controls go (issue 9.9)."""
    text = text.replace("\r\n", "\n").replace("\r", "\n")
    return safe(re.sub("[\x00-\x08\x0b-\x1f\x7f-\x9f]", "", text))


# -- RFC 9457 members --------------------------------------------------------------------------


def test_problem_json_members_for_a_plain_failure() -> None:
    response = translate(ConnectionRefusedError(111, "Connection refused"), "json")
    kind = catalog["connection_refused"]
    body = orjson.loads(response.body)
    assert list(body)[:4] == ["type", "title", "status", "detail"]
    assert body == {
        "type": "urn:gatewayerrors:connection_refused",
        "title": kind.title,
        "status": 502,
        "detail": kind.description,
        "instance": "/orders/42",
        "code": "connection_refused",
        "request_id": REQUEST_ID,
    }
    assert body["status"] == response.status


def test_problem_json_optional_members_when_known() -> None:
    exc = ServiceUnavailable(
        detail="Payments are paused.", code="circuit_open", retry_after=12, upstream="payments"
    )
    body = orjson.loads(translate(exc, "json").body)
    assert body["status"] == 503
    assert body["code"] == "circuit_open"
    assert body["detail"] == "Payments are paused."
    assert body["retry_after"] == 12
    assert body["upstream"] == "payments"
    assert body["request_id"] == REQUEST_ID
    assert "exception" not in body


def test_no_upstream_or_retry_after_members_when_unknown() -> None:
    body = orjson.loads(translate(GatewayTimeout(), "json").body)
    assert "retry_after" not in body
    assert "upstream" not in body


def test_no_instance_without_a_path() -> None:
    body = orjson.loads(translate(GatewayTimeout(), "json", path="").body)
    assert "instance" not in body


def test_type_base_is_configurable() -> None:
    translator = Translator(type_base="https://errors.example.com/")
    body = orjson.loads(translate(GatewayTimeout(), "json", translator).body)
    assert body["type"] == "https://errors.example.com/upstream_timeout"


@pytest.mark.parametrize("code", list(catalog))
def test_status_member_equals_the_real_status_in_every_format(code: str) -> None:
    translator = Translator()
    status = catalog[code].status
    for fmt in ACCEPT:
        request = RequestInfo(accept=ACCEPT[fmt], request_id=REQUEST_ID)
        response = translator.response_for(code, request)
        assert response.status == status
        if fmt == "json":
            body = orjson.loads(response.body)
            assert body["status"] == status
            assert body["code"] == code
        elif fmt == "xml":
            members = xml_members(response.body)
            assert members["status"] == str(status)
            assert members["code"] == code
        elif fmt == "text":
            assert response.body.decode().startswith(f"{status} ")
        else:
            text = "".join(_Page(response.body).text)
            assert str(status) in text
            assert reason_phrase(status) in text


def test_problem_xml_follows_rfc9457_appendix_b() -> None:
    exc = ServiceUnavailable(code="upstream_overloaded", retry_after=7, upstream="search")
    json_body = orjson.loads(translate(exc, "json").body)
    response = translate(exc, "xml")
    assert response.body.startswith(b'<?xml version="1.0" encoding="UTF-8"?>')
    assert PROBLEM_XML_NAMESPACE == "urn:ietf:rfc:7807"
    members = xml_members(response.body)
    assert list(members) == list(json_body)
    assert members == {name: str(value) for name, value in json_body.items()}


def test_text_says_status_title_detail_hint_code_and_request_id() -> None:
    exc = ServiceUnavailable(code="maintenance", retry_after=60)
    kind = catalog["maintenance"]
    text = translate(exc, "text").body.decode("utf-8")
    lines = text.splitlines()
    assert lines[0] == f"503 Service Unavailable: {kind.title}"
    assert kind.description in lines
    assert kind.hint in lines
    assert "Retry after: 60 seconds" in lines
    assert "Error code: maintenance" in lines
    assert f"Request ID: {REQUEST_ID}" in lines
    assert text.endswith("\n")


def test_html_says_status_title_detail_hint_and_request_id() -> None:
    kind = catalog["upstream_timeout"]
    body = translate(TimeoutError(), "html", path="/").body
    page = _Page(body)
    text = "".join(page.text)
    assert body.startswith(b"<!doctype html>")
    assert "504" in text
    assert "Gateway Timeout" in text
    for part in (kind.title, kind.description, kind.hint, REQUEST_ID):
        assert part in text
    assert set(page.tags) <= HTML_PAGE_TAGS


# -- escaping ----------------------------------------------------------------------------------

HOSTILE = '<script>alert("x")</script> & \' ]]> <!-- --> &amp; \x00\x1b[31m\r\n\u2028é\ud800'


@pytest.mark.parametrize("fmt", list(ACCEPT))
def test_hostile_text_is_escaped_in_every_format(fmt: str) -> None:
    exc = ServiceUnavailable(detail=HOSTILE, upstream=HOSTILE)
    translator = Translator(debug=True)
    response = translate(exc, fmt, translator, path="/" + HOSTILE)
    assert dict(response.headers)["content-type"] == CONTENT_TYPE[fmt]
    expected = clean(HOSTILE)
    if fmt == "json":
        body = orjson.loads(response.body)
        assert body["detail"] == expected
        assert body["upstream"] == expected
        # Debug text loses the same control characters (terminal escapes).
        assert body["exception"] == f"ServiceUnavailable: {expected}"
        assert URI_PATH.fullmatch(body["instance"])
    elif fmt == "xml":
        members = xml_members(response.body)
        assert members["detail"] == XML_FORBIDDEN.sub("", expected)
        assert members["upstream"] == XML_FORBIDDEN.sub("", expected)
        assert URI_PATH.fullmatch(members["instance"])
    elif fmt == "html":
        assert b"<script>alert" not in response.body
        assert html.escape(expected).encode() in response.body
        assert set(_Page(response.body).tags) <= HTML_PAGE_TAGS
    else:
        assert expected in response.body.decode("utf-8")


TEXT = st.text(st.characters(codec=None, exclude_categories=()), max_size=80)


@settings(max_examples=120, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    detail=TEXT,
    upstream=TEXT,
    path=TEXT,
    message=TEXT,
    request_id=TEXT,
    fmt=st.sampled_from(list(ACCEPT)),
)
def test_any_text_renders_well_formed(
    detail: str, upstream: str, path: str, message: str, request_id: str, fmt: str
) -> None:
    exc = ServiceUnavailable(detail=detail, upstream=upstream)
    exc.__cause__ = ConnectionResetError(message)
    response = translate(exc, fmt, DEBUG_TRANSLATOR, path="/" + path, request_id=request_id)
    assert response.status == 503
    headers = dict(response.headers)
    assert headers["content-type"] == CONTENT_TYPE[fmt]
    assert headers["content-length"] == str(len(response.body))
    if fmt == "json":
        body = orjson.loads(response.body)
        assert body["detail"] == clean(detail or catalog["destination_unavailable"].description)
        assert body.get("upstream") == (clean(upstream) if upstream else None)
        assert URI_PATH.fullmatch(body["instance"])
    elif fmt == "xml":
        members = xml_members(response.body)
        expected = clean(detail or catalog["destination_unavailable"].description)
        assert members["detail"] == XML_FORBIDDEN.sub("", expected)
        expected_upstream = XML_FORBIDDEN.sub("", clean(upstream)) if upstream else None
        assert members.get("upstream") == expected_upstream
        assert not XML_FORBIDDEN.search(response.body.decode("utf-8"))
    elif fmt == "html":
        assert set(_Page(response.body).tags) <= HTML_PAGE_TAGS
    else:
        assert response.body.decode("utf-8").startswith("503 Service Unavailable: ")


DEBUG_TRANSLATOR = Translator(debug=True)


def test_xml_drops_forbidden_characters_and_keeps_allowed_ones() -> None:
    text = "a\x00b\x08c\x0bd\x0ce\x1ff\ufffeg\uffffh\ud800i\tj\nk\rl\U0001f600"
    root = ET.fromstring(f"<x>{xml_text(text)}</x>")
    assert root.text == "abcdefghi\tj\nk\rl\U0001f600"


def test_instance_is_a_uri_reference() -> None:
    # A decoded path: its "%" is a literal one, escaped like every other character.
    body = orjson.loads(translate(GatewayTimeout(), "json", path="/a b/é/100%/ok%2F").body)
    assert body["instance"] == "/a%20b/%C3%A9/100%25/ok%252F"


@pytest.mark.parametrize(
    ("path", "raw_path", "instance"),
    [
        ("/a/%XX", "/a/%25XX", "/a/%25XX"),  # the raw path is the exact one
        ("/a/b", "/a%2Fb", "/a%2Fb"),
        ("/a/\ufffd", "/a/%FF", "/a/%FF"),  # not UTF-8: decoded as servers do
        ("/café", "/caf%C3%A9", "/caf%C3%A9"),
        ("/café", "/café", "/caf%C3%A9"),  # a raw path that is not ASCII is escaped
        ("/app/a b", "/a%20b", "/app/a%20b"),  # a prefix the server added (root_path)
        ("/x/%XX", "/elsewhere", "/x/%25XX"),  # no match: the decoded path, encoded
        ("/x/%XX", None, "/x/%25XX"),
        ("/x", "", "/x"),
    ],
)
def test_instance_path_prefers_the_raw_path(path: str, raw_path: str | None, instance: str) -> None:
    assert instance_path(path, raw_path) == instance
    response = Translator().translate(GatewayTimeout(), RequestInfo(path=path, raw_path=raw_path))
    assert response is not None
    assert orjson.loads(response.body)["instance"] == instance


def test_lone_surrogate_in_path_still_gets_problem_json() -> None:
    response = translate(GatewayTimeout(), "json", path="/a\ud800b")
    assert dict(response.headers)["content-type"] == "application/problem+json"
    assert orjson.loads(response.body)["instance"] == "/a%3Fb"


@settings(max_examples=100, deadline=None)
@given(st.text(max_size=60))
def test_instance_is_a_uri_path_for_any_path(path: str) -> None:
    response = translate(GatewayTimeout(), "json", path="/" + path)
    assert URI_PATH.fullmatch(orjson.loads(response.body)["instance"])


# -- debug -------------------------------------------------------------------------------------


def test_debug_text_drops_terminal_escapes_and_nul() -> None:
    exc = ConnectionResetError(104, "\x1b[31mred\x1b[0m\x00 gone\tnow\r\nnext")
    response = translate(exc, "text", Translator(debug=True))
    assert b"\x1b" not in response.body
    assert b"\x00" not in response.body
    assert b"[31mred[0m gone\tnow\nnext" in response.body


@pytest.mark.parametrize("fmt", list(ACCEPT))
def test_debug_adds_exception_type_and_message_escaped(fmt: str) -> None:
    exc = ConnectionResetError(104, "peer <b>reset</b> & gone")
    response = translate(exc, fmt, Translator(debug=True))
    debug = "ConnectionResetError: [Errno 104] peer <b>reset</b> & gone"
    if fmt == "json":
        assert orjson.loads(response.body)["exception"] == debug
    elif fmt == "xml":
        assert xml_members(response.body)["exception"] == debug
    elif fmt == "html":
        assert html.escape(debug).encode() in response.body
        assert b"<b>" not in response.body
    else:
        assert f"Exception: {debug}" in response.body.decode()


def test_debug_text_is_bounded() -> None:
    response = translate(ConnectionResetError("x" * 100_000), "json", Translator(debug=True))
    assert len(orjson.loads(response.body)["exception"]) <= 1000


# -- HEAD --------------------------------------------------------------------------------------


@pytest.mark.parametrize("fmt", list(ACCEPT))
def test_head_gets_the_same_headers_and_no_body(fmt: str) -> None:
    translator = Translator()
    exc = ServiceUnavailable(code="circuit_open", retry_after=5)
    get = translate(exc, fmt, translator)
    head = translate(exc, fmt, translator, method="HEAD")
    assert head.body == b""
    assert get.body
    assert head.status == get.status
    assert head.headers == get.headers
    assert dict(head.headers)["content-length"] == str(len(get.body))


# -- the Twitter style -------------------------------------------------------------------------


def test_twitter_style_json_and_xml() -> None:
    translator = Translator(style="twitter")
    kind = catalog["connection_refused"]
    exc = ConnectionRefusedError(111, "refused")
    json_response = translate(exc, "json", translator)
    assert dict(json_response.headers)["content-type"] == "application/json"
    assert orjson.loads(json_response.body) == {
        "errors": [{"message": kind.description, "code": kind.number}]
    }
    xml_response = translate(exc, "xml", translator)
    root = ET.fromstring(xml_response.body)
    assert root.tag == "errors"
    assert root[0].get("code") == str(kind.number)
    assert root[0].text == kind.description
    html_response = translate(exc, "html", translator)
    assert dict(html_response.headers)["content-type"] == "text/html; charset=utf-8"


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("a#b#c", "a#b%23c"),  # RFC 3986 §3.5: a fragment holds no "#"
        ("http://[v1.fe]/x", "http://[v1.fe]/x"),  # an IPvFuture literal
        ("http://[::1]/", "http://[::1]/"),
    ],
)
def test_uri_reference_mends_or_keeps(text: str, expected: str) -> None:
    assert uri_reference(text) == expected


@pytest.mark.parametrize(
    "text",
    [
        "http://[fe80::1%25eth0]/",  # a zone id: ipaddress takes it, RFC 3986 does not
        "http://[zz]/",
        "\ud800x y",  # a lone surrogate cannot be UTF-8 encoded
    ],
)
def test_uri_reference_refuses_what_encoding_cannot_mend(text: str) -> None:
    with pytest.raises(ValueError, match="not a URI reference"):
        uri_reference(text)


def test_reason_phrase_of_an_unregistered_status() -> None:
    assert (reason_phrase(502), reason_phrase(599)) == ("Bad Gateway", "Error")

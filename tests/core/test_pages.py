"""The built-in HTML error page: structure, retry behaviour, embedded problem details, safety.

Pages are rendered by a real Translator and parsed with html.parser into a small tree, so the
assertions are about the document a browser builds, not about substrings.
"""

from __future__ import annotations

import json
import re
import xml.etree.ElementTree as ET
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from page_parsing import REQUEST_ID, Node, parse_page, problem_script

from gatewayerrors import GatewayError, catalog
from gatewayerrors._pages import (
    AUTO_RETRY_MAX,
    AUTO_RETRY_MIN,
    build_builtin_page,
    duration_text,
    page_assets,
    page_context,
    page_heading,
    script_json,
)
from gatewayerrors._render import uri_path
from gatewayerrors.core import Evidence, RequestInfo, Translator

_CSS = page_assets().css  # as served: minified from gatewayerrors/page/page.css
PAGE_BUDGET = 7 * 1024
HTML = "text/html"


def html_request(method: str = "GET", **kwargs: Any) -> RequestInfo:
    return RequestInfo(method=method, accept=HTML, request_id=REQUEST_ID, **kwargs)


def page_for(
    code: str,
    *,
    method: str = "GET",
    retry_after: int | None = None,
    translator: Translator | None = None,
) -> tuple[bytes, Node]:
    translator = translator or Translator()
    # HEAD responses have no body: render the HEAD page through the renderer itself.
    response = translator.response_for(
        code, html_request("GET" if method == "HEAD" else method), retry_after=retry_after
    )
    body = response.body
    if method == "HEAD":
        body = build_builtin_page(translator.settings.type_base)(response.error, "HEAD")
    assert response.headers[0] == ("content-type", "text/html; charset=utf-8")
    return body, parse_page(body)


# -- structure -----------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("code", "status"),
    [("connection_refused", 502), ("maintenance", 503), ("connection_read_timeout", 504)],
)
def test_page_has_landmarks_heading_and_text_for_people(code: str, status: int) -> None:
    kind = catalog[code]
    _, page = page_for(code)
    html = page.find("html")
    assert html.attrs["lang"] == "en"
    head = page.find("head")
    assert head.find("meta", charset="utf-8")
    assert head.find("meta", name="viewport").attrs["content"] == (
        "width=device-width,initial-scale=1"
    )
    assert head.find("meta", name="color-scheme").attrs["content"] == "light dark"
    assert page_heading(kind) in head.find("title").text()
    assert str(status) in head.find("title").text()
    main = page.find("main")
    assert main.parent is page.find("body")
    assert page.find("body").attrs["class"] == f"s{status}"
    assert main.find("h1").text() == page_heading(kind)
    assert len(page.find_all("h1")) == 1
    assert main.find("span", **{"class": "badge"}).text() == str(status)
    assert main.find("p", **{"class": "lead"}).text() == kind.description
    section = main.find("section")
    heading = page.by_id(section.attrs["aria-labelledby"] or "")
    assert heading is not None
    assert heading.tag == "h2"
    assert heading.text() == "What you can do"
    assert kind.hint in section.text()
    codes = [node.text() for node in main.find_all("code")]
    assert code in codes
    assert f"({kind.number})" in main.text()


def test_request_id_is_shown_copyable_and_matches_the_header() -> None:
    response = Translator().response_for("connection_refused", html_request())
    page = parse_page(response.body)
    rid = page.by_id("rid")
    assert rid is not None
    assert rid.tag == "code"
    assert rid.text() == REQUEST_ID
    assert dict(response.headers)["x-request-id"] == REQUEST_ID
    button = page.by_id("copy")
    assert button is not None
    assert button.tag == "button"
    assert button.attrs["type"] == "button"
    # Without JavaScript the button stays hidden and the id is select-all on click instead.
    assert "hidden" in button.attrs
    assert "#rid{user-select:all" in _CSS
    script = [s for s in page.find_all("script") if "type" not in s.attrs]
    assert len(script) == 1
    assert 'getElementById("copy")' in script[0].text()


def test_page_is_ascii_for_catalog_text_and_within_budget() -> None:
    translator = Translator()
    for code in catalog:
        for method in ("GET", "POST"):
            retry = 300 if catalog[code].status == 503 else None
            response = translator.response_for(code, html_request(method), retry_after=retry)
            assert response.body.isascii(), code
            assert len(response.body) <= PAGE_BUDGET, (code, len(response.body))
            parse_page(response.body)


def test_debug_page_shows_the_escaped_exception_only_in_debug_mode() -> None:
    hostile = "boom </pre><script>alert(1)</script> & <b>"
    exc = ConnectionRefusedError(hostile)
    plain = Translator().translate(exc, html_request())
    assert plain is not None
    assert b"alert(1)" not in plain.body
    assert parse_page(plain.body).find_all("pre") == []
    debug = Translator(debug=True).translate(exc, html_request())
    assert debug is not None
    page = parse_page(debug.body)
    pre = page.find("pre")
    assert pre.text() == f"ConnectionRefusedError: {hostile}"
    assert pre.ancestors()[:2] == ["details", "main"]
    assert [s.attrs.get("type") for s in page.find_all("script")] == [
        "application/problem+json",
        None,
    ]
    assert problem_script(page)["exception"] == f"ConnectionRefusedError: {hostile}"


def test_upstream_name_is_shown_when_given() -> None:
    exc = GatewayError(code="connection_refused", upstream="payments <api>")
    response = Translator().translate(exc, html_request())
    assert response is not None
    page = parse_page(response.body)
    labels = [dt.text() for dt in page.find_all("dt")]
    assert labels == ["Service", "Error code", "Request ID"]
    assert page.find_all("dd")[0].text() == "payments <api>"


# -- retry: countdown and automatic reload -------------------------------------------------


def _refresh(page: Node) -> Node | None:
    found = [m for m in page.find_all("meta") if m.attrs.get("http-equiv") == "refresh"]
    assert len(found) <= 1
    return found[0] if found else None


def test_no_countdown_and_no_reload_without_retry_after() -> None:
    _, page = page_for("connection_refused")
    assert page.by_id("count") is None
    assert page.by_id("retry") is None
    assert page.find_all("div", **{"class": "bar"}) == []
    assert _refresh(page) is None
    # A manual retry link to this same URL (a GET) is offered.
    assert page.find("a", **{"class": "btn"}).attrs["href"] == ""


def test_countdown_with_retry_after_and_bounded_reload_for_get() -> None:
    body, page = page_for("maintenance", retry_after=300)
    count = page.by_id("count")
    assert count is not None
    assert count.attrs["data-seconds"] == "300"
    assert "data-auto" in count.attrs
    assert count.text() == "5 min"
    assert page.by_id("retry") is not None
    assert "This page will try again in 5 min." in page.by_id("retry").text()  # type: ignore[union-attr]
    refresh = _refresh(page)
    assert refresh is not None
    assert refresh.attrs["content"] == "300"
    # Inside <noscript> in <head>: with JavaScript the script reloads (and counts attempts).
    assert refresh.ancestors()[:2] == ["noscript", "head"]
    bar = page.find("div", **{"class": "bar"}).find("i")
    assert bar.attrs["style"] == "animation-duration:300s"
    assert b"location.reload()" in body


@pytest.mark.parametrize("method", ["GET", "HEAD"])
def test_safe_methods_reload(method: str) -> None:
    _, page = page_for("circuit_open", method=method, retry_after=30)
    refresh = _refresh(page)
    assert refresh is not None
    assert refresh.attrs["content"] == "30"


@pytest.mark.parametrize("method", ["POST", "PUT", "PATCH", "DELETE", "OPTIONS"])
def test_unsafe_methods_never_reload(method: str) -> None:
    _, page = page_for("circuit_open", method=method, retry_after=30)
    assert _refresh(page) is None
    count = page.by_id("count")
    assert count is not None
    assert "data-auto" not in count.attrs
    assert "You can try again in 30 seconds." in page.by_id("retry").text()  # type: ignore[union-attr]
    assert page.find_all("a", **{"class": "btn"}) == []
    assert "won\u2019t resend your request" in page.find("section").text()


@pytest.mark.parametrize(
    ("retry_after", "expected"),
    [
        (0, AUTO_RETRY_MIN),
        (1, AUTO_RETRY_MIN),
        (AUTO_RETRY_MIN, AUTO_RETRY_MIN),
        (60, 60),
        (AUTO_RETRY_MAX, AUTO_RETRY_MAX),
        (AUTO_RETRY_MAX + 1, None),
        (3600, None),
    ],
)
def test_reload_delay_is_bounded(retry_after: int, expected: int | None) -> None:
    _, page = page_for("upstream_overloaded", retry_after=retry_after)
    refresh = _refresh(page)
    count = page.by_id("count")
    assert count is not None
    if expected is None:
        assert refresh is None
        assert "data-auto" not in count.attrs
        assert count.attrs["data-seconds"] == str(retry_after)
    else:
        assert refresh is not None
        assert refresh.attrs["content"] == str(expected)
        assert count.attrs["data-seconds"] == str(expected)


def test_duration_text_matches_the_script() -> None:
    assert duration_text(1) == "1 second"
    assert duration_text(45) == "45 seconds"
    assert duration_text(60) == "1 min"
    assert duration_text(150) == "2 min 30 s"
    assert (
        'n + (n == 1 ? " second" : " seconds")'
        in parse_page(page_for("maintenance")[0]).find_all("script")[1].text()
    )


# -- embedded problem details --------------------------------------------------------------


@pytest.mark.parametrize("code", ["connection_refused", "maintenance", "upstream_timeout"])
def test_embedded_problem_equals_the_json_body(code: str) -> None:
    translator = Translator(type_base="https://docs.example.com/errors/")
    exc = GatewayError(code=code, retry_after=12, upstream="search")
    as_html = translator.translate(exc, html_request(path="/search"))
    as_json = translator.translate(
        exc, RequestInfo(path="/search", accept="application/json", request_id=REQUEST_ID)
    )
    assert as_html is not None
    assert as_json is not None
    embedded = problem_script(parse_page(as_html.body))
    assert embedded == json.loads(as_json.body)
    assert embedded["type"] == f"https://docs.example.com/errors/{code}"
    assert embedded["status"] == as_html.status
    assert embedded["request_id"] == REQUEST_ID
    assert embedded["retry_after"] == 12


def test_script_json_cannot_break_out_of_the_script_element() -> None:
    value = "</script><script>alert(1)</script><!-- & \u2028\u2029 >"
    text = script_json(json.dumps({"detail": value}, ensure_ascii=False).encode())
    assert "<" not in text
    assert ">" not in text
    assert "&" not in text
    assert "\u2028" not in text
    assert "\u2029" not in text
    assert json.loads(text) == {"detail": value}


# -- self-contained, dark mode, contrast ---------------------------------------------------

_REMOTE = re.compile(r"(?i)\b(?:https?:)?//")


def test_no_external_references() -> None:
    translator = Translator(type_base="https://docs.example.com/errors/")
    response = translator.response_for("maintenance", html_request(), retry_after=60)
    page = parse_page(response.body)
    for node in page.iter():
        for name, value in node.attrs.items():
            if name in ("src", "href", "action", "srcset", "poster", "data", "formaction"):
                assert not _REMOTE.search(value or ""), (node.tag, name, value)
        assert node.tag not in ("link", "img", "iframe", "object", "embed", "base", "form")
        if node.tag == "script":
            assert "src" not in node.attrs
    css = page.find("style").text()
    assert "@import" not in css
    assert "url(" not in css
    assert "@font-face" not in css
    script = page.find_all("script")[1].text()
    assert not _REMOTE.search(script)
    assert "fetch(" not in script
    assert "XMLHttpRequest" not in script


def _colors(block: str) -> dict[str, str]:
    found = dict(re.findall(r"--([a-z-]+):#([0-9a-f]{6}|[0-9a-f]{3})\b", block))
    return {
        name: "#" + (v if len(v) == 6 else "".join(c * 2 for c in v)) for name, v in found.items()
    }


def _luminance(color: str) -> float:
    channels = [int(color[i : i + 2], 16) / 255 for i in (1, 3, 5)]
    linear = [c / 12.92 if c <= 0.03928 else ((c + 0.055) / 1.055) ** 2.4 for c in channels]
    return 0.2126 * linear[0] + 0.7152 * linear[1] + 0.0722 * linear[2]


def _contrast(a: str, b: str) -> float:
    high, low = sorted((_luminance(a), _luminance(b)), reverse=True)
    return (high + 0.05) / (low + 0.05)


def test_dark_mode_and_text_contrast_meet_wcag_aa() -> None:
    light_root, dark_root = re.findall(r":root\{([^}]*)\}", _CSS)[:2]
    assert "@media (prefers-color-scheme:dark){:root{" in _CSS
    light, dark = _colors(light_root), _colors(dark_root)
    accents = {
        "502-light": {},
        "502-dark": {},
        "503-light": _colors(re.findall(r"\.s503\{([^}]*)\}", _CSS)[0]),
        "503-dark": _colors(re.findall(r"\.s503\{([^}]*)\}", _CSS)[1]),
        "504-light": _colors(re.findall(r"\.s504\{([^}]*)\}", _CSS)[0]),
        "504-dark": _colors(re.findall(r"\.s504\{([^}]*)\}", _CSS)[1]),
    }
    for name, accent in accents.items():
        scheme = {**(light if name.endswith("light") else dark), **accent}
        pairs = [
            ("fg", "card"),  # body text
            ("fg", "soft"),  # "What you can do" box
            ("muted", "card"),  # lead sentence, labels
            ("muted", "soft"),  # the box's heading
            ("accent", "accent-soft"),  # status badge
            ("on-accent", "accent"),  # "Try again" button
            ("fg", "bg"),
        ]
        for fg, bg in pairs:
            ratio = _contrast(scheme[fg], scheme[bg])
            assert ratio >= 4.5, (name, fg, bg, round(ratio, 2))


# -- hostile input, every format -----------------------------------------------------------

HOSTILE = st.one_of(
    st.text(max_size=60),
    st.sampled_from(
        [
            "</script><script>alert(1)</script>",
            "<!--",
            "]]><x/>",
            '"onmouseover="alert(1)',
            "&amp; &#x3c; &lt;",
            "\u2028\u2029",
            "\x00\x1b\x7f",
            "{{ title }}",
        ]
    ),
)


def _xml_members(body: bytes) -> dict[str, str]:
    root = ET.fromstring(body)
    return {child.tag.split("}")[1]: child.text or "" for child in root}


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(title=HOSTILE, detail=HOSTILE, hint=HOSTILE, path=HOSTILE, message=HOSTILE)
def test_hostile_text_is_escaped_in_html_xml_and_json(
    title: str, detail: str, hint: str, path: str, message: str
) -> None:
    # Overrides are configuration (title/hint): control characters there fail at startup
    # (tests/core/test_control_characters.py); detail comes from the app's own GatewayError; path
    # and exception text come from outside.
    title = re.sub("[\x00-\x1f\x7f-\x9f]", "", title) or "t"
    hint = re.sub("[\x00-\x1f\x7f-\x9f]", "", hint) or "h"
    translator = Translator(
        debug=True, overrides={"connection_refused": {"title": title, "hint": hint}}
    )
    exc = GatewayError(detail=detail or None, code="connection_refused")
    exc.__cause__ = ConnectionRefusedError(message)
    responses = {
        accept: translator.translate(
            exc, RequestInfo(path="/" + path, accept=accept, request_id=REQUEST_ID)
        )
        for accept in ("text/html", "application/json", "application/xml", "text/plain")
    }
    for response in responses.values():
        assert response is not None
        assert response.headers[0][1] != "text/plain; charset=utf-8" or response.body.startswith(
            b"502 Bad Gateway: "
        )
    as_json = json.loads(responses["application/json"].body)  # type: ignore[union-attr]
    assert as_json["title"] == title
    assert as_json["instance"] == uri_path("/" + path)
    page = parse_page(responses["text/html"].body)  # type: ignore[union-attr]
    assert page.find("h1").text() == title
    assert page.find("p", **{"class": "lead"}).text() == as_json["detail"]
    assert hint in page.find("section").text()
    if "exception" in as_json:
        assert page.find("pre").text() == as_json["exception"]
    assert problem_script(page) == as_json
    # Only the page's own elements: nothing injected.
    tags = {node.tag for node in page.iter()}
    assert tags <= {
        "#document", "html", "head", "meta", "title", "style", "script", "body", "main", "p",
        "span", "h1", "section", "h2", "a", "dl", "dt", "dd", "code", "button", "details",
        "summary", "pre",
    }  # fmt: skip
    xml = _xml_members(responses["application/xml"].body)  # type: ignore[union-attr]
    assert xml["status"] == "502"
    assert xml["code"] == "connection_refused"
    for name in ("title", "detail", "instance", "exception"):
        if name in as_json:
            expected = re.sub("[\x00-\x08\x0b\x0c\x0e-\x1f\ufffe\uffff]", "", as_json[name])
            assert xml[name] == expected, name  # CR is sent as &#13;, so it survives parsing


def test_builtin_renderer_escapes_an_evidence_detail() -> None:
    translator = Translator()
    request = html_request()
    error = translator.failure(Evidence("connection_refused", detail="<img src=x>"), request)
    page = parse_page(translator.respond(error, request).body)
    assert page.find("p", **{"class": "lead"}).text() == "<img src=x>"
    assert page.find_all("img") == []


# -- headings for people ---------------------------------------------------------------------

_JARGON = re.compile(r"(?i)upstream|gateway|tls|dns|proxy|connection|protocol|header|trailer")


@pytest.mark.parametrize("code", list(catalog))
def test_every_heading_speaks_to_a_person_and_the_title_stays_for_machines(code: str) -> None:
    kind = catalog[code]
    translator = Translator()
    _, page = page_for(code)
    heading = page.find("h1").text()
    assert heading == page_heading(kind)
    assert not _JARGON.search(heading), heading
    assert page.find("title").text().startswith(heading + " \u2013 ")
    # The problem's title is unchanged everywhere else, the embedded problem details included.
    assert problem_script(page)["title"] == kind.title
    request = RequestInfo(accept="application/json", request_id=REQUEST_ID)
    assert json.loads(translator.response_for(code, request).body)["title"] == kind.title
    text = translator.response_for(code, request._replace(accept="text/plain")).body.decode()
    assert text.splitlines()[0].endswith(f": {kind.title}")


def test_headings_follow_the_status_family() -> None:
    assert page_heading(catalog["connection_refused"]) == "Something went wrong on our side"
    assert page_heading(catalog["connection_read_timeout"]) == "This took too long"
    assert page_heading(catalog["circuit_open"]) == "This service is taking a short break"
    assert page_heading(catalog["upstream_overloaded"]) == "This service is very busy right now"
    assert page_heading(catalog["maintenance"]) == "We'll be back soon"


def test_overrides_heading_changes_the_page_only() -> None:
    translator = Translator(
        overrides={"connection_refused": {"heading": "Payments are <offline>", "hint": "Wait."}}
    )
    response = translator.response_for("connection_refused", html_request())
    page = parse_page(response.body)
    assert page.find("h1").text() == "Payments are <offline>"
    assert page.find("title").text() == "Payments are <offline> \u2013 502 Bad Gateway"
    assert problem_script(page)["title"] == catalog["connection_refused"].title
    as_json = translator.response_for("connection_refused", RequestInfo(accept="application/json"))
    assert json.loads(as_json.body)["title"] == catalog["connection_refused"].title
    # Other codes keep the built-in heading.
    other = parse_page(translator.response_for("connection_timeout", html_request()).body)
    assert other.find("h1").text() == "This took too long"


def test_an_overridden_title_stays_the_heading_unless_a_heading_is_given() -> None:
    translator = Translator(
        overrides={
            "maintenance": {"title": "We'll be right back"},
            "circuit_open": {"title": "Checkout paused", "heading": "Checkout is paused"},
        }
    )
    maintenance = parse_page(translator.response_for("maintenance", html_request()).body)
    assert maintenance.find("h1").text() == "We'll be right back"
    assert problem_script(maintenance)["title"] == "We'll be right back"
    circuit = parse_page(translator.response_for("circuit_open", html_request()).body)
    assert circuit.find("h1").text() == "Checkout is paused"
    assert problem_script(circuit)["title"] == "Checkout paused"


def test_templates_get_the_heading(tmp_path: Any) -> None:
    (tmp_path / "error.html").write_text("<h1>{{ heading }}</h1><p>{{ title }}</p>")
    translator = Translator(
        templates=tmp_path, overrides={"connection_timeout": {"heading": "Slow & steady"}}
    )
    refused = translator.response_for("connection_refused", html_request())
    assert (
        refused.body
        == b"<h1>Something went wrong on our side</h1><p>Upstream refused the connection</p>"
    )
    slow = translator.response_for("connection_timeout", html_request())
    assert slow.body.startswith(b"<h1>Slow &amp; steady</h1>")


def test_page_context_gives_the_builtin_heading_or_the_one_asked_for() -> None:
    error = Translator().failure(Evidence("connection_refused"), html_request())
    assert page_context(error, html_request())["heading"] == "Something went wrong on our side"
    assert page_context(error, html_request(), heading="Hi")["heading"] == "Hi"
    custom = Translator(overrides={"connection_refused": {"title": "Payments offline"}})
    error = custom.failure(Evidence("connection_refused"), html_request())
    assert page_context(error, html_request())["heading"] == "Payments offline"

"""Control characters in the app's own text never reach a body (issue 9, item 9).

``GatewayError(detail=..., upstream=...)`` text, exception messages in debug mode and
``overrides`` reach the HTML page and text/plain: NUL, ESC and BEL there make the Nu HTML
Checker reject the page and a terminal run the escapes. They are dropped where the error value
is built, so every format, template and hook sees the same clean text.
"""

from __future__ import annotations

import json
import re
import xml.etree.ElementTree as ET
from pathlib import Path
from typing import Any

import httpx
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from wsgi_servers import serve_wsgi

from gatewayerrors import GatewayError, GatewayErrorsWSGIMiddleware, Settings
from gatewayerrors.core import RequestInfo, Translator

# C0 controls other than tab and newline, DEL and C1: none may be in an HTML or text body.
FORBIDDEN = re.compile("[\x00-\x08\x0b-\x1f\x7f-\x9f]")
ACCEPTS = ("text/html", "text/plain", "application/json", "application/xml")
NASTY = "pay\x00ments \x1b[31mred\x1b[0m \x07bell\r\nnext\rover \x9bcsi \x7fdel\ttab\nline"

TEXT = st.one_of(
    st.text(max_size=40),
    st.text(alphabet=st.characters(max_codepoint=0xA0), max_size=40),
    st.sampled_from([NASTY, "\x00", "\r", "\r\n", "\x1b]0;title\x07", "\u0085\u009b"]),
)


def responses(translator: Translator, exc: BaseException) -> dict[str, Any]:
    found = {}
    for accept in ACCEPTS:
        response = translator.translate(exc, RequestInfo(accept=accept, request_id="req-1"))
        assert response is not None
        found[accept] = response
    return found


@settings(max_examples=80, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(detail=TEXT, upstream=TEXT, message=TEXT)
def test_no_html_or_text_body_carries_a_control_character(
    detail: str, upstream: str, message: str
) -> None:
    exc = GatewayError(detail=detail or None, upstream=upstream or None)
    exc.__cause__ = ConnectionRefusedError(message)
    for translator in (Translator(), Translator(debug=True)):
        found = responses(translator, exc)
        for accept in ("text/html", "text/plain"):
            body = found[accept].body.decode("utf-8")
            assert not FORBIDDEN.search(body), (accept, body)
        # The same clean words in the machine formats: one error value, every format.
        problem = json.loads(found["application/json"].body)
        for member in ("detail", "upstream", "exception"):
            if member in problem:
                assert not FORBIDDEN.search(problem[member]), member
        xml = {
            child.tag.split("}")[1]: child.text or ""
            for child in ET.fromstring(found["application/xml"].body)
        }
        assert xml["detail"] == problem["detail"]


def test_the_words_survive_and_line_breaks_become_newlines() -> None:
    exc = GatewayError(detail=NASTY, upstream="pay\x00ments\x1b[0m")
    found = responses(Translator(), exc)
    problem = json.loads(found["application/json"].body)
    assert problem["detail"] == "payments [31mred[0m bell\nnext\nover csi del\ttab\nline"
    assert problem["upstream"] == "payments[0m"
    text = found["text/plain"].body.decode()
    assert "payments [31mred[0m bell\nnext\nover csi del\ttab\nline\n" in text
    page = found["text/html"].body.decode()
    assert "<dt>Service</dt><dd>payments[0m</dd>" in page


def test_the_users_template_gets_the_clean_text_too(tmp_path: Path) -> None:
    (tmp_path / "error.html").write_text("<p>{{ detail }}</p><p>{{ upstream }}</p>")
    translator = Translator(templates=tmp_path)
    exc = GatewayError(detail="a\x00b\x07c", upstream="x\x1by")
    response = translator.translate(exc, RequestInfo(accept="text/html"))
    assert response is not None
    assert response.body == b"<p>abc</p><p>xy</p>"


@pytest.mark.server
def test_through_waitress_the_page_and_text_are_clean() -> None:
    def app(environ: dict[str, Any], start_response: Any) -> list[bytes]:
        raise GatewayError(detail="Card service said: \x1b[2J\x00gone\x07", upstream="cards\x00")

    with (
        serve_wsgi(GatewayErrorsWSGIMiddleware(app)) as base,
        httpx.Client(base_url=base) as client,
    ):
        html = client.get("/pay", headers={"Accept": "text/html"})
        text = client.get("/pay", headers={"Accept": "text/plain"})
    assert html.status_code == 502
    assert '<p class="lead">Card service said: [2Jgone</p>' in html.text
    assert not FORBIDDEN.search(html.text)
    assert text.status_code == 502
    assert "Card service said: [2Jgone\n" in text.text
    assert not FORBIDDEN.search(text.text)


@pytest.mark.parametrize("bad", ["\x00", "\x1b[31m", "\x07", "\x7f", "\x9b"])
def test_overrides_with_control_characters_fail_at_startup(bad: str) -> None:
    with pytest.raises(ValueError, match=r"overrides\['maintenance'\]\['hint'\].*control"):
        Settings(overrides={"maintenance": {"hint": f"Back soon{bad}"}})


def test_overrides_may_use_tab_newline_and_crlf() -> None:
    translator = Translator(overrides={"maintenance": {"hint": "Back soon.\r\nSee\tstatus."}})
    response = translator.response_for("maintenance", RequestInfo(accept="text/plain"))
    assert "Back soon.\nSee\tstatus.\n" in response.body.decode()
    assert "\r" not in response.body.decode()


def test_a_heading_override_with_crlf_reaches_the_page_as_newline() -> None:
    translator = Translator(overrides={"maintenance": {"heading": "Back soon\r\nat 14:00"}})
    page = translator.response_for("maintenance", RequestInfo(accept="text/html")).body.decode()
    assert "<h1>Back soon\nat 14:00</h1>" in page
    assert not FORBIDDEN.search(page)

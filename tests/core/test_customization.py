"""Customization at the core: overrides, type_base, styles, suppress_response_codes, maintenance
mode, and user templates (directories with Jinja2 or without it, and callables).

Everything here goes through Translator.translate / respond / maintenance_response with a
RequestInfo, which is all an adapter does; the adapter suites check the same through servers.
"""

from __future__ import annotations

import json
import logging
import sys
import xml.etree.ElementTree as ET
from pathlib import Path
from typing import Any

import pytest
from page_parsing import REQUEST_ID, parse_page, problem_script

from gatewayerrors import (
    DEFAULT_MAINTENANCE_EXEMPT,
    GatewayError,
    ServiceUnavailable,
    Settings,
    UpstreamFailure,
    catalog,
)
from gatewayerrors._pages import PageContext, page_context, page_heading
from gatewayerrors._templates import TemplateDirectory
from gatewayerrors.core import Format, RequestInfo, Translator

JSON = "application/json"
XML = "application/xml"
HTML = "text/html"
TEXT = "text/plain"


def request(accept: str | None = JSON, **kwargs: Any) -> RequestInfo:
    kwargs.setdefault("request_id", REQUEST_ID)
    return RequestInfo(accept=accept, **kwargs)


def refused(translator: Translator, accept: str | None = JSON, **kwargs: Any) -> Any:
    response = translator.translate(
        ConnectionRefusedError(111, "refused"), request(accept, **kwargs)
    )
    assert response is not None
    return response


# -- overrides and type_base ---------------------------------------------------------------

OVERRIDES = {
    "connection_refused": {
        "title": "Payments are offline",
        "detail": "We can't reach our payment provider right now.",
        "hint": "Your card was not charged. Try again in a few minutes.",
    }
}


def test_overrides_reach_every_format() -> None:
    translator = Translator(overrides=OVERRIDES)
    texts = OVERRIDES["connection_refused"]
    problem = json.loads(refused(translator, JSON).body)
    assert problem["title"] == texts["title"]
    assert problem["detail"] == texts["detail"]
    root = ET.fromstring(refused(translator, XML).body)
    ns = "{urn:ietf:rfc:7807}"
    assert root.findtext(ns + "title") == texts["title"]
    assert root.findtext(ns + "detail") == texts["detail"]
    page = parse_page(refused(translator, HTML).body)
    assert page.find("h1").text() == texts["title"]
    assert page.find("p", **{"class": "lead"}).text() == texts["detail"]
    assert texts["hint"] in page.find("section").text()
    text = refused(translator, TEXT).body.decode()
    assert all(value in text for value in texts.values())
    # Other codes keep the catalog's text.
    other = translator.response_for("connection_read_timeout", request())
    assert json.loads(other.body)["title"] == catalog["connection_read_timeout"].title


def test_partial_override_keeps_the_rest() -> None:
    translator = Translator(overrides={"maintenance": {"hint": "Back at 14:00 UTC."}})
    response = translator.response_for("maintenance", request(TEXT))
    text = response.body.decode()
    assert "Back at 14:00 UTC." in text
    assert catalog["maintenance"].title in text


@pytest.mark.parametrize(
    ("overrides", "message"),
    [
        ({"no_such_code": {"title": "x"}}, "unknown gatewayerrors code"),
        ({"maintenance": {"titel": "x"}}, "unknown key"),
        ({"maintenance": {"title": None}}, "must be UTF-8 text"),
        ({"maintenance": {"title": "bad \udc80"}}, "must be UTF-8 text"),
    ],
)
def test_bad_overrides_fail_at_startup(overrides: Any, message: str) -> None:
    with pytest.raises(ValueError, match=message):
        Translator(overrides=overrides)


def test_type_base_points_problem_types_at_your_docs() -> None:
    base = "https://docs.example.com/errors#"
    translator = Translator(type_base=base)
    assert json.loads(refused(translator).body)["type"] == base + "connection_refused"
    root = ET.fromstring(refused(translator, XML).body)
    assert root.findtext("{urn:ietf:rfc:7807}type") == base + "connection_refused"
    page = parse_page(refused(translator, HTML).body)
    assert problem_script(page)["type"] == base + "connection_refused"


# -- styles --------------------------------------------------------------------------------


def test_twitter_style_envelopes() -> None:
    translator = Translator(style="twitter")
    as_json = refused(translator, JSON)
    assert dict(as_json.headers)["content-type"] == "application/json"
    assert json.loads(as_json.body) == {
        "errors": [{"message": catalog["connection_refused"].description, "code": 20}]
    }
    as_xml = refused(translator, XML)
    assert dict(as_xml.headers)["content-type"] == "application/xml"
    root = ET.fromstring(as_xml.body)
    assert root.tag == "errors"
    [error] = list(root)
    assert error.tag == "error"
    assert error.attrib == {"code": "20"}
    assert error.text == catalog["connection_refused"].description
    # People still get the page; headers are the same as with problem details.
    page = refused(translator, HTML)
    assert page.headers[0] == ("content-type", "text/html; charset=utf-8")
    assert parse_page(page.body).find("h1").text() == page_heading(catalog["connection_refused"])
    assert as_json.status == 502
    assert dict(as_json.headers)["proxy-status"] == "app; error=connection_refused"


def test_twitter_style_escapes_xml() -> None:
    translator = Translator(style="twitter")
    response = translator.translate(
        ServiceUnavailable(detail="<b>&</b>", code="circuit_open"), request(XML)
    )
    assert response is not None
    assert ET.fromstring(response.body)[0].text == "<b>&</b>"


def test_callable_style_can_cover_one_format() -> None:
    seen: list[tuple[str, Format, RequestInfo]] = []

    def style(error: UpstreamFailure, fmt: Format, req: RequestInfo) -> Any:
        seen.append((error.code, fmt, req))
        if fmt is Format.JSON:
            return "application/vnd.example+json", json.dumps({"oops": error.number})
        return None

    translator = Translator(style=style)
    as_json = refused(translator, JSON)
    assert dict(as_json.headers)["content-type"] == "application/vnd.example+json"
    assert json.loads(as_json.body) == {"oops": 20}
    as_xml = refused(translator, XML)
    assert dict(as_xml.headers)["content-type"] == "application/problem+xml"
    assert seen[0][0] == "connection_refused"
    assert seen[0][2].request_id == REQUEST_ID


def test_failing_style_still_answers_with_the_right_status(
    caplog: pytest.LogCaptureFixture,
) -> None:
    def style(error: UpstreamFailure, fmt: Format, req: RequestInfo) -> Any:
        raise RuntimeError("style bug")

    with caplog.at_level(logging.ERROR, logger="gatewayerrors"):
        response = refused(Translator(style=style), JSON)
    assert response.status == 502
    assert response.body == b"502 Bad Gateway\n"
    assert "rendering failed" in caplog.text


def test_unknown_style_is_rejected() -> None:
    with pytest.raises(ValueError, match="style must be"):
        Translator(style="xml-rpc")


# -- suppress_response_codes ---------------------------------------------------------------


def test_suppress_response_codes_answers_200_with_the_same_body_and_headers() -> None:
    translator = Translator(suppress_response_codes="suppress_response_codes")
    normal = refused(translator, JSON, query="page=2")
    for query in (
        "suppress_response_codes",
        "suppress_response_codes=1",
        "a=1&suppress_response_codes=true",
    ):
        suppressed = refused(translator, JSON, query=query)
        assert suppressed.status == 200
        assert suppressed.body == normal.body
        assert suppressed.headers == normal.headers
        assert json.loads(suppressed.body)["status"] == 502
    for query in ("suppress_response_codes=false", "suppress_response_codes=0", "other=1"):
        assert refused(translator, JSON, query=query).status == 502


def test_suppress_response_codes_is_off_by_default_and_keeps_head_empty() -> None:
    assert refused(Translator(), JSON, query="suppress_response_codes=1").status == 502
    translator = Translator(suppress_response_codes="suppress_response_codes")
    head = refused(translator, JSON, method="HEAD", query="suppress_response_codes")
    assert head.status == 200
    assert head.body == b""


def test_suppress_applies_to_maintenance_too() -> None:
    translator = Translator(maintenance=True, suppress_response_codes="quiet")
    response = translator.maintenance_response(request(query="quiet"))
    assert response is not None
    assert response.status == 200
    assert json.loads(response.body)["code"] == "maintenance"


# -- maintenance mode ----------------------------------------------------------------------


def test_maintenance_off_costs_nothing() -> None:
    translator = Translator()
    assert translator.maintenance_check is None
    assert translator.maintenance_response(request()) is None


def test_maintenance_flag_answers_503_with_retry_after_except_exempt_paths() -> None:
    translator = Translator(maintenance=True, maintenance_retry_after=600)
    response = translator.maintenance_response(request(path="/orders"))
    assert response is not None
    assert response.status == 503
    headers = dict(response.headers)
    assert headers["retry-after"] == "600"
    assert headers["cache-control"] == "no-store"
    assert "proxy-status" not in headers  # ``maintenance`` is not an RFC 9209 error type
    problem = json.loads(response.body)
    assert problem["code"] == "maintenance"
    assert problem["retry_after"] == 600
    for path in ("/health", "/healthz", "/livez", "/readyz"):
        assert translator.maintenance_response(request(path=path)) is None
    assert translator.maintenance_response(request(path="/healthy")) is not None


def test_maintenance_exempt_prefixes() -> None:
    translator = Translator(maintenance=True, maintenance_exempt=("/status", "/admin/"))
    assert translator.maintenance_response(request(path="/status")) is None
    assert translator.maintenance_response(request(path="/admin/users")) is None
    assert translator.maintenance_response(request(path="/status/x")) is not None
    assert translator.maintenance_response(request(path="/admin")) is not None


def test_maintenance_exempt_extra_adds_to_the_health_check_defaults() -> None:
    translator = Translator(maintenance=True, maintenance_exempt_extra=("/admin/",))
    for path in ("/health", "/healthz", "/livez", "/readyz", "/admin/users"):
        assert translator.maintenance_response(request(path=path)) is None, path
    assert translator.maintenance_response(request(path="/orders")) is not None
    assert translator.settings.exempt_paths == (*DEFAULT_MAINTENANCE_EXEMPT, "/admin/")
    with pytest.raises(ValueError, match="maintenance_exempt_extra"):
        Translator(maintenance_exempt_extra="/admin/")  # type: ignore[arg-type]


def test_maintenance_callable_is_checked_per_request() -> None:
    state = {"on": False}
    translator = Translator(maintenance=lambda: state["on"])
    assert translator.maintenance_check is not None
    assert translator.maintenance_response(request()) is None
    state["on"] = True
    response = translator.maintenance_response(request())
    assert response is not None
    assert response.status == 503
    state["on"] = False
    assert translator.maintenance_response(request()) is None


def test_failing_maintenance_callable_means_off(caplog: pytest.LogCaptureFixture) -> None:
    def broken() -> bool:
        raise OSError("flag store down")

    translator = Translator(maintenance=broken)
    with caplog.at_level(logging.ERROR, logger="gatewayerrors"):
        assert translator.maintenance_response(request()) is None
    assert "maintenance check failed" in caplog.text


@pytest.mark.parametrize(
    ("value", "on"), [("1", True), ("true", True), ("on", True), ("0", False), ("off", False)]
)
def test_maintenance_environment_variable(
    monkeypatch: pytest.MonkeyPatch, value: str, on: bool
) -> None:
    monkeypatch.setenv("MYAPP_MAINTENANCE", value)
    translator = Translator(maintenance_env="MYAPP_MAINTENANCE")
    assert (translator.maintenance_response(request()) is not None) is on


def test_maintenance_page_counts_down_and_reloads_only_safe_requests() -> None:
    translator = Translator(maintenance=True, maintenance_retry_after=120)
    get = translator.maintenance_response(request(HTML))
    assert get is not None
    page = parse_page(get.body)
    assert page.find("h1").text() == "We'll be back soon"
    count = page.by_id("count")
    assert count is not None
    assert count.attrs["data-seconds"] == "120"
    assert "data-auto" in count.attrs
    post = translator.maintenance_response(request(HTML, method="POST"))
    assert post is not None
    count = parse_page(post.body).by_id("count")
    assert count is not None
    assert "data-auto" not in count.attrs
    assert b'http-equiv="refresh"' not in post.body


def test_negative_maintenance_retry_after_is_rejected() -> None:
    with pytest.raises(ValueError, match="negative"):
        Settings(maintenance_retry_after=-1)


# -- templates: directories ----------------------------------------------------------------

JINJA_503 = """<!doctype html><html lang="en"><head><title>{{ title }}</title>
{{ refresh_meta }}{{ problem_script }}</head><body><main>
<h1>{{ status }} {{ reason }}: {{ title }}</h1><p id="detail">{{ detail }}</p>
{% if retry_after %}<p id="wait">{{ retry_after }}</p>{% endif %}
<p id="rid">{{ request_id }}</p><p id="upstream">{{ upstream }}</p></main></body></html>"""

PLACEHOLDER_PAGE = """<!doctype html><html lang="{{lang}}"><head><title>{{ title }}</title>
{{ refresh_meta }}{{ problem_script }}</head><body><main>
<h1 id="which">{{ name }}</h1><p id="detail">{{ detail }}</p><p id="code">{{ code }}</p>
<p id="auto">{{ auto_retry }}</p><p id="rid">{{ request_id }}</p></main></body></html>"""


def write_templates(folder: Path, files: dict[str, str]) -> Path:
    folder.mkdir(exist_ok=True)
    for name, text in files.items():
        (folder / name).write_text(text, "utf-8")
    return folder


def placeholder_page(name: str) -> str:
    return PLACEHOLDER_PAGE.replace("{{lang}}", "en").replace("{{ name }}", name)


def test_lookup_order_code_then_status_then_error_then_builtin(tmp_path: Path) -> None:
    folder = write_templates(
        tmp_path / "t",
        {
            "circuit_open.html": placeholder_page("circuit_open.html"),
            "503.html": placeholder_page("503.html"),
            "error.html": placeholder_page("error.html"),
        },
    )
    translator = Translator(templates=folder)

    def which(code: str) -> str | None:
        page = parse_page(translator.response_for(code, request(HTML)).body)
        node = page.by_id("which")
        return None if node is None else node.text()

    assert which("circuit_open") == "circuit_open.html"
    assert which("maintenance") == "503.html"
    assert which("connection_refused") == "error.html"
    (folder / "error.html").unlink()
    assert which("connection_refused") == "error.html"  # loaded once, at startup
    assert which("connection_refused") is not None
    fresh = Translator(templates=folder)
    page = parse_page(fresh.response_for("connection_refused", request(HTML)).body)
    assert page.by_id("which") is None
    assert page.find("h1").text() == page_heading(catalog["connection_refused"])  # built-in


def test_jinja_template_gets_an_escaped_context(tmp_path: Path) -> None:
    pytest.importorskip("jinja2")
    folder = write_templates(tmp_path / "t", {"503.html": JINJA_503})
    translator = Translator(
        templates=folder, overrides={"circuit_open": {"title": "<script>x</script> & co"}}
    )
    exc = ServiceUnavailable(
        detail='"><img src=x>', code="circuit_open", retry_after=9, upstream="<u>"
    )
    response = translator.translate(exc, request(HTML))
    assert response is not None
    assert b"<script>x</script>" not in response.body
    assert b"<img" not in response.body
    page = parse_page(response.body)
    assert page.find("h1").text() == "503 Service Unavailable: <script>x</script> & co"
    assert page.by_id("detail").text() == '"><img src=x>'  # type: ignore[union-attr]
    assert page.by_id("wait").text() == "9"  # type: ignore[union-attr]
    assert page.by_id("rid").text() == REQUEST_ID  # type: ignore[union-attr]
    assert page.by_id("upstream").text() == "<u>"  # type: ignore[union-attr]
    as_json = translator.translate(exc, request(JSON))
    assert as_json is not None
    assert problem_script(page) == json.loads(as_json.body)
    refresh = [m for m in page.find_all("meta") if m.attrs.get("http-equiv") == "refresh"]
    assert [m.attrs["content"] for m in refresh] == ["9"]


def test_jinja_renders_none_as_empty(tmp_path: Path) -> None:
    pytest.importorskip("jinja2")
    folder = write_templates(tmp_path / "t", {"error.html": JINJA_503})
    translator = Translator(templates=folder)
    page = parse_page(refused(translator, HTML).body)
    assert page.by_id("wait") is None
    assert page.by_id("upstream").text() == ""  # type: ignore[union-attr]


def test_placeholder_engine_without_jinja2(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setitem(sys.modules, "jinja2", None)  # import jinja2 -> ImportError
    folder = write_templates(tmp_path / "t", {"error.html": placeholder_page("plain")})
    translator = Translator(
        templates=folder, overrides={"connection_refused": {"detail": 'a < b & "c"'}}
    )
    response = refused(translator, HTML)
    page = parse_page(response.body)
    assert page.by_id("which").text() == "plain"  # type: ignore[union-attr]
    assert page.by_id("detail").text() == 'a < b & "c"'  # type: ignore[union-attr]
    assert b"a &lt; b &amp; &quot;c&quot;" in response.body
    assert page.by_id("code").text() == "connection_refused"  # type: ignore[union-attr]
    assert page.by_id("auto").text() == "False"  # type: ignore[union-attr]
    assert problem_script(page)["code"] == "connection_refused"


def test_placeholder_and_jinja_engines_render_the_same_page(tmp_path: Path) -> None:
    pytest.importorskip("jinja2")
    folder = write_templates(tmp_path / "t", {"error.html": placeholder_page("same")})
    logger = logging.getLogger("test")
    translator = Translator()
    req = request(HTML, path="/x")
    error = translator.failure(translator.classify(ConnectionRefusedError()), req)  # type: ignore[arg-type]
    context = page_context(error, req)
    pages = [
        TemplateDirectory(folder, logger, engine).find("x", 502).render(context)  # type: ignore[union-attr]
        for engine in ("jinja2", "placeholders")
    ]
    assert parse_page(pages[0].encode()).find("p", id="detail").text() == error.detail
    assert pages[0].replace("&#34;", "&quot;").replace("&#39;", "&#x27;") == pages[1]


def test_jinja_only_syntax_without_jinja2_falls_back(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    monkeypatch.setitem(sys.modules, "jinja2", None)
    folder = write_templates(tmp_path / "t", {"error.html": JINJA_503})
    with caplog.at_level(logging.ERROR, logger="gatewayerrors"):
        translator = Translator(templates=folder)
    assert "install Jinja2" in caplog.text
    page = parse_page(refused(translator, HTML).body)
    assert page.find("h1").text() == page_heading(catalog["connection_refused"])


def test_a_template_that_needs_jinja2_is_reported_once_not_per_error(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    monkeypatch.setitem(sys.modules, "jinja2", None)
    folder = write_templates(tmp_path / "t", {"error.html": JINJA_503})
    with caplog.at_level(logging.DEBUG, logger="gatewayerrors"):
        translator = Translator(templates=folder)
        startup = [r for r in caplog.records if r.name == "gatewayerrors"]
        caplog.clear()
        bodies = {refused(translator, HTML).body.count(b"<h1>") for _ in range(20)}
    assert len(startup) == 1
    assert startup[0].levelno == logging.ERROR
    assert startup[0].exc_info is None
    assert bodies == {1}  # the built-in page each time
    assert [r for r in caplog.records if r.name == "gatewayerrors"] == []


@pytest.mark.parametrize(
    "source",
    [
        "{% if %}",  # syntax error
        "{{ no_such_variable }}",  # undefined at render time (StrictUndefined)
        "{{ status + 'x' }}",  # type error at render time
        "{% include 'missing.html' %}",
    ],
)
def test_broken_jinja_template_falls_back_and_logs(
    tmp_path: Path, caplog: pytest.LogCaptureFixture, source: str
) -> None:
    pytest.importorskip("jinja2")
    folder = write_templates(tmp_path / "t", {"502.html": source})
    with caplog.at_level(logging.ERROR, logger="gatewayerrors"):
        translator = Translator(templates=folder)
        response = refused(translator, HTML)
    assert response.status == 502
    page = parse_page(response.body)
    assert page.find("h1").text() == page_heading(catalog["connection_refused"])
    assert "502.html" in caplog.text
    assert "built-in page" in caplog.text


def test_unknown_placeholder_is_reported_at_startup(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    monkeypatch.setitem(sys.modules, "jinja2", None)
    folder = write_templates(tmp_path / "t", {"error.html": "<p>{{ tittle }}</p>"})
    with caplog.at_level(logging.ERROR, logger="gatewayerrors"):
        translator = Translator(templates=folder)
    assert "tittle" in caplog.text
    assert b"<h1>" in refused(translator, HTML).body


def test_templates_must_be_a_directory(tmp_path: Path) -> None:
    with pytest.raises(ValueError, match="not a directory"):
        Translator(templates=tmp_path / "missing")


def test_templates_apply_to_html_only(tmp_path: Path) -> None:
    folder = write_templates(tmp_path / "t", {"error.html": placeholder_page("html only")})
    translator = Translator(templates=folder)
    assert json.loads(refused(translator, JSON).body)["code"] == "connection_refused"
    assert refused(translator, TEXT).body.startswith(b"502 Bad Gateway: ")


# -- templates: callables ------------------------------------------------------------------


def test_callable_template_gets_the_error_and_request() -> None:
    calls: list[tuple[UpstreamFailure, RequestInfo]] = []

    def template(error: UpstreamFailure, req: RequestInfo) -> str:
        calls.append((error, req))
        return f"<!doctype html><html lang=en><title>{error.status}</title><p>{error.code}</p>"

    translator = Translator(templates=template)
    response = refused(translator, HTML, path="/cart", native={"framework": "object"})
    assert response.body.endswith(b"<p>connection_refused</p>")
    assert dict(response.headers)["content-length"] == str(len(response.body))
    error, req = calls[0]
    assert error.status == 502
    assert req.path == "/cart"
    assert req.native == {"framework": "object"}


@pytest.mark.parametrize("result", [RuntimeError("template bug"), None, 42])
def test_failing_callable_template_falls_back_to_the_builtin_page(
    caplog: pytest.LogCaptureFixture, result: object
) -> None:
    def template(error: UpstreamFailure, req: RequestInfo) -> Any:
        if isinstance(result, Exception):
            raise result
        return result

    with caplog.at_level(logging.ERROR, logger="gatewayerrors"):
        response = refused(Translator(templates=template), HTML)
    assert response.status == 502
    assert parse_page(response.body).find("h1").text() == page_heading(
        catalog["connection_refused"]
    )
    assert "template callable failed" in caplog.text


# -- the template context ------------------------------------------------------------------


def test_page_context_is_complete_and_typed() -> None:
    translator = Translator()
    req = request(HTML, method="GET", path="/a")
    exc = GatewayError(code="upstream_overloaded", retry_after=20, upstream="search")
    response = translator.translate(exc, req)
    assert response is not None
    context = page_context(response.error, req)
    assert set(context) == set(PageContext.__annotations__)
    assert context["status"] == 503
    assert context["reason"] == "Service Unavailable"
    assert context["code"] == "upstream_overloaded"
    assert context["number"] == 71
    assert context["retry_after"] == 20
    assert context["auto_retry"] is True
    assert context["refresh_seconds"] == 20
    assert context["refresh_meta"] == (
        '<noscript><meta http-equiv="refresh" content="20"></noscript>'
    )
    assert context["upstream"] == "search"
    assert context["instance"] == "/a"
    assert context["debug"] is None
    assert json.loads(context["problem_json"])["retry_after"] == 20
    assert context["problem_script"].startswith('<script type="application/problem+json">{')
    post = page_context(response.error, req._replace(method="POST"))
    assert post["auto_retry"] is False
    assert post["refresh_meta"] == ""


def test_docs_describe_every_context_key() -> None:
    docs = Path(__file__).resolve().parents[2] / "docs" / "pages.md"
    if not docs.exists():
        pytest.skip("docs/ not present (installed package test run)")
    text = docs.read_text("utf-8")
    for key in PageContext.__annotations__:
        assert f"`{key}`" in text, key

"""Pages, templates, styles, suppress_response_codes and maintenance mode through every adapter.

The same small app (``/ok``, ``/health``, ``/fault/<name>[/anything]``) runs under each adapter on a
real server: the ASGI middleware under uvicorn; the WSGI middleware, the Flask extension and the
Django middleware under waitress; the aiohttp middleware under aiohttp. A fault view calls a real
failing loopback upstream with requests. ``Adapter.configure(**options)`` swaps in the adapter built
with those options (Django: ``override_settings(GATEWAYERRORS=...)``), so one server per adapter
serves every test.

The customization itself is tested at the core in test_customization.py and test_pages.py; this
module checks that each adapter hands it through unchanged, and that they all give the same
bytes for the same failure.
"""

from __future__ import annotations

import contextlib
import json
import logging
import threading
import xml.etree.ElementTree as ET
from pathlib import Path
from typing import Any

import aiohttp.web
import flask
import httpx
import pytest
from adapter_servers import (
    ADAPTERS,
    HOSTILE_DETAIL,
    HOSTILE_INSTANCE,
    HOSTILE_PATH,
    HTML,
    JSON,
    REQUEST_ID,
    RETRY_AFTER,
    TEXT,
    XML,
    Adapter,
    error_headers,
    fetch,
)
from page_parsing import Node, parse_page, problem_script

from gatewayerrors import (
    UpstreamFailure,
    catalog,
)
from gatewayerrors._pages import page_heading
from gatewayerrors.core import Format, RequestInfo

pytestmark = pytest.mark.server


def refresh_metas(page: Node) -> list[Node]:
    return [m for m in page.find_all("meta") if m.attrs.get("http-equiv") == "refresh"]


# -- the built-in page -----------------------------------------------------------------------


def test_page_embeds_the_problem_and_reloads_only_get(
    adapter: Adapter, client: httpx.Client
) -> None:
    with adapter.configure():
        refused = fetch(client, adapter, "/fault/refused", HTML)
        refused_json = fetch(client, adapter, "/fault/refused", JSON).json()
        get = fetch(client, adapter, "/fault/unavailable", HTML)
        post = fetch(client, adapter, "/fault/unavailable", HTML, "POST")
        unavailable_json = fetch(client, adapter, "/fault/unavailable", JSON).json()

    assert refused.status_code == 502
    assert refused.headers["content-type"] == "text/html; charset=utf-8"
    page = parse_page(refused.content)
    assert page.find("h1").text() == page_heading(catalog["connection_refused"])
    assert page.find("span", **{"class": "badge"}).text() == "502"
    assert page.by_id("rid").text() == REQUEST_ID  # type: ignore[union-attr]
    assert problem_script(page) == refused_json
    assert page.by_id("count") is None  # no Retry-After: no countdown, no reload
    assert refresh_metas(page) == []

    for response in (get, post):
        assert response.status_code == 503
        assert response.headers["retry-after"] == RETRY_AFTER
        assert problem_script(parse_page(response.content)) == unavailable_json
    get_page = parse_page(get.content)
    assert [m.attrs["content"] for m in refresh_metas(get_page)] == [RETRY_AFTER]
    count = get_page.by_id("count")
    assert count is not None
    assert (count.attrs["data-seconds"], "data-auto" in count.attrs) == (RETRY_AFTER, True)
    post_page = parse_page(post.content)
    assert refresh_metas(post_page) == []
    count = post_page.by_id("count")
    assert count is not None  # the countdown is shown, but the page will not resend a POST
    assert (count.attrs["data-seconds"], "data-auto" in count.attrs) == (RETRY_AFTER, False)


# -- templates -------------------------------------------------------------------------------

PAGE_TEMPLATE = """<!doctype html><html lang="en"><head><title>{{ title }}</title>
{{ refresh_meta }}{{ problem_script }}</head><body><main><h1 id="which">NAME</h1>
<p id="detail">{{ detail }}</p><p id="instance">{{ instance }}</p><p id="rid">{{ request_id }}</p>
{% if auto_retry %}<p id="auto">{{ refresh_seconds }}</p>{% endif %}</main></body></html>"""


def write_templates(folder: Path, files: dict[str, str]) -> Path:
    folder.mkdir()
    for name, text in files.items():
        (folder / name).write_text(text, "utf-8")
    return folder


def test_template_directory_is_used_with_hostile_values_escaped(
    adapter: Adapter, client: httpx.Client, tmp_path: Path
) -> None:
    pytest.importorskip("jinja2")
    folder = write_templates(
        tmp_path / "templates",
        {
            "502.html": PAGE_TEMPLATE.replace("NAME", "502.html"),
            "error.html": PAGE_TEMPLATE.replace("NAME", "error.html"),
        },
    )
    overrides = {"connection_refused": {"detail": HOSTILE_DETAIL}}
    with adapter.configure(templates=folder, overrides=overrides):
        hostile = fetch(client, adapter, HOSTILE_PATH, HTML)
        hostile_json = fetch(client, adapter, HOSTILE_PATH, JSON).json()
        unavailable = fetch(client, adapter, "/fault/unavailable", HTML)

    assert hostile.status_code == 502
    assert hostile.headers["content-type"] == "text/html; charset=utf-8"
    assert b"<script>alert" not in hostile.content
    assert b"<img" not in hostile.content
    page = parse_page(hostile.content)
    assert page.by_id("which").text() == "502.html"  # type: ignore[union-attr]
    assert page.by_id("detail").text() == HOSTILE_DETAIL  # type: ignore[union-attr]
    assert page.by_id("instance").text() == HOSTILE_INSTANCE  # type: ignore[union-attr]
    assert page.by_id("rid").text() == REQUEST_ID  # type: ignore[union-attr]
    assert problem_script(page) == hostile_json
    assert hostile_json["detail"] == HOSTILE_DETAIL

    assert unavailable.status_code == 503  # no 503.html, no upstream_overloaded.html
    page = parse_page(unavailable.content)
    assert page.by_id("which").text() == "error.html"  # type: ignore[union-attr]
    assert page.by_id("auto").text() == RETRY_AFTER  # type: ignore[union-attr]
    assert [m.attrs["content"] for m in refresh_metas(page)] == [RETRY_AFTER]


def test_failing_template_falls_back_to_the_builtin_page(
    adapter: Adapter, client: httpx.Client, tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    pytest.importorskip("jinja2")
    folder = write_templates(tmp_path / "templates", {"502.html": "{{ status + 'x' }}"})
    with (
        caplog.at_level(logging.ERROR, logger="gatewayerrors"),
        adapter.configure(templates=folder),
    ):
        response = fetch(client, adapter, "/fault/refused", HTML)
    assert response.status_code == 502
    page = parse_page(response.content)
    assert page.find("h1").text() == page_heading(catalog["connection_refused"])
    assert page.by_id("rid").text() == REQUEST_ID  # type: ignore[union-attr]
    assert any("template 502.html failed" in r.getMessage() and r.exc_info for r in caplog.records)


def native_kind(native: Any) -> str:
    """Which framework's request object a template callable was given."""
    if isinstance(native, flask.Request):
        return "flask"
    if type(native).__module__.startswith("django."):
        return "django"
    if isinstance(native, aiohttp.web.Request):
        return "aiohttp"
    if isinstance(native, dict) and native.get("type") == "http":
        return "asgi"
    if isinstance(native, dict) and "wsgi.version" in native:
        return "wsgi"
    return repr(type(native))


def test_template_callable_gets_the_error_and_the_native_request(
    adapter: Adapter, client: httpx.Client
) -> None:
    seen: list[tuple[str, str, str]] = []

    def template(error: UpstreamFailure, request: RequestInfo) -> str:
        seen.append((error.code, request.method, native_kind(request.native)))
        return f"<!doctype html><title>{error.status}</title><p id=code>{error.code}</p>"

    with adapter.configure(templates=template):
        response = fetch(client, adapter, "/fault/refused", HTML, "POST")
    assert response.status_code == 502
    assert response.text == "<!doctype html><title>502</title><p id=code>connection_refused</p>"
    assert response.headers["content-length"] == str(len(response.content))
    assert seen == [("connection_refused", "POST", adapter.name)]

    def broken(error: UpstreamFailure, request: RequestInfo) -> str:
        raise RuntimeError("template bug")

    with adapter.configure(templates=broken):
        response = fetch(client, adapter, "/fault/refused", HTML)
    assert response.status_code == 502
    assert parse_page(response.content).find("h1").text() == page_heading(
        catalog["connection_refused"]
    )


# -- styles ----------------------------------------------------------------------------------


def test_twitter_style(adapter: Adapter, client: httpx.Client) -> None:
    kind = catalog["connection_refused"]
    with adapter.configure(style="twitter"):
        as_json = fetch(client, adapter, "/fault/refused", JSON)
        as_xml = fetch(client, adapter, "/fault/refused", XML)
        as_html = fetch(client, adapter, "/fault/refused", HTML)
    assert as_json.status_code == as_xml.status_code == as_html.status_code == 502
    assert as_json.headers["content-type"] == "application/json"
    assert as_json.json() == {"errors": [{"message": kind.description, "code": kind.number}]}
    assert as_xml.headers["content-type"] == "application/xml"
    root = ET.fromstring(as_xml.content)
    assert root.tag == "errors"
    assert [(e.tag, e.attrib, e.text) for e in root] == [
        ("error", {"code": str(kind.number)}, kind.description)
    ]
    # The style has no HTML form: the page stays the built-in one.
    assert parse_page(as_html.content).find("h1").text() == page_heading(kind)


def test_style_callable(adapter: Adapter, client: httpx.Client) -> None:
    formats: list[Format] = []

    def style(error: UpstreamFailure, fmt: Format, request: RequestInfo) -> Any:
        formats.append(fmt)
        if fmt is not Format.JSON:
            return None  # the default renderer for the other formats
        return "application/vnd.shop.error+json", json.dumps({"oops": error.code})

    with adapter.configure(style=style):
        as_json = fetch(client, adapter, "/fault/refused", JSON)
        as_xml = fetch(client, adapter, "/fault/refused", XML)
    assert formats == [Format.JSON, Format.XML]
    assert as_json.status_code == 502
    assert as_json.headers["content-type"] == "application/vnd.shop.error+json"
    assert as_json.json() == {"oops": "connection_refused"}
    assert as_xml.headers["content-type"] == "application/problem+xml"
    assert ET.fromstring(as_xml.content).tag == "{urn:ietf:rfc:7807}problem"


# -- overrides and type_base -----------------------------------------------------------------


def test_overrides_and_type_base(adapter: Adapter, client: httpx.Client) -> None:
    texts = {
        "title": "Payments are offline",
        "detail": "We can't reach our payment provider right now.",
        "hint": "Your card was not charged. Try again in a few minutes.",
    }
    base = "https://docs.shop.example/errors/"
    with adapter.configure(overrides={"connection_refused": texts}, type_base=base):
        as_json = fetch(client, adapter, "/fault/refused", JSON).json()
        as_html = fetch(client, adapter, "/fault/refused", HTML)
        other = fetch(client, adapter, "/fault/unavailable", JSON).json()
    assert as_json["type"] == base + "connection_refused"
    assert (as_json["title"], as_json["detail"]) == (texts["title"], texts["detail"])
    page = parse_page(as_html.content)
    assert page.find("h1").text() == texts["title"]
    assert page.find("p", **{"class": "lead"}).text() == texts["detail"]
    assert texts["hint"] in page.find("section").text()
    assert problem_script(page)["type"] == base + "connection_refused"
    # Codes without overrides keep the catalog's text, under the same type base.
    assert other["type"] == base + "upstream_overloaded"
    assert other["title"] == catalog["upstream_overloaded"].title


# -- suppress_response_codes -----------------------------------------------------------------


def test_suppress_response_codes(adapter: Adapter, client: httpx.Client) -> None:
    with adapter.configure(suppress_response_codes="suppress_response_codes"):
        for path in ("/fault/refused", "/fault/unavailable"):
            normal = fetch(client, adapter, f"{path}?suppress_response_codes=false", JSON)
            suppressed = fetch(client, adapter, f"{path}?suppress_response_codes=true", JSON)
            assert normal.status_code in (502, 503)
            assert suppressed.status_code == 200
            assert suppressed.content == normal.content
            assert error_headers(suppressed) == error_headers(normal)
            assert suppressed.json()["status"] == normal.status_code
        assert fetch(client, adapter, "/fault/refused").status_code == 502


# -- maintenance mode ------------------------------------------------------------------------

MAINTENANCE_REQUESTS = [
    ("GET", "/ok"),
    ("POST", "/ok"),
    ("GET", "/fault/refused"),
    ("GET", "/nowhere"),
]


def assert_in_maintenance(client: httpx.Client, adapter: Adapter) -> None:
    for method, path in MAINTENANCE_REQUESTS:
        response = fetch(client, adapter, path, JSON, method)
        assert response.status_code == 503, (method, path)
        assert response.headers["retry-after"] == "300"
        assert response.json()["code"] == "maintenance"
        assert response.headers["x-request-id"] == REQUEST_ID
    page = parse_page(fetch(client, adapter, "/ok", HTML).content)
    assert page.find("h1").text() == page_heading(catalog["maintenance"])
    assert [m.attrs["content"] for m in refresh_metas(page)] == ["300"]
    health = fetch(client, adapter, "/health")
    assert (health.status_code, health.text) == (200, "hello")


def test_maintenance_flag(adapter: Adapter, client: httpx.Client) -> None:
    with adapter.configure(maintenance=True):
        assert_in_maintenance(client, adapter)
    assert fetch(client, adapter, "/ok").status_code == 200


def test_maintenance_callable_toggled_at_runtime(adapter: Adapter, client: httpx.Client) -> None:
    switch = threading.Event()
    with adapter.configure(maintenance=switch.is_set):
        assert fetch(client, adapter, "/ok").status_code == 200
        switch.set()
        assert_in_maintenance(client, adapter)
        switch.clear()
        assert fetch(client, adapter, "/ok").text == "hello"
        assert fetch(client, adapter, "/fault/refused").status_code == 502


def test_maintenance_exempt_extra_keeps_the_health_checks(
    adapter: Adapter, client: httpx.Client
) -> None:
    with adapter.configure(maintenance=True, maintenance_exempt_extra=("/ok",)):
        assert fetch(client, adapter, "/ok").text == "hello"
        assert fetch(client, adapter, "/health").text == "hello"
        assert fetch(client, adapter, "/fault/refused").status_code == 503


# -- the same bytes everywhere ---------------------------------------------------------------


def test_adapters_answer_byte_identical_bodies(
    request: pytest.FixtureRequest, client: httpx.Client
) -> None:
    adapters = [request.getfixturevalue(f"{name}_adapter") for name in ADAPTERS]
    with contextlib.ExitStack() as stack:
        for each in adapters:
            stack.enter_context(each.configure())
        for path in ("/fault/refused", "/fault/unavailable", HOSTILE_PATH):
            for accept in (HTML, JSON, XML, TEXT):
                for method in ("GET", "POST"):
                    answers = {
                        each.name: fetch(client, each, path, accept, method) for each in adapters
                    }
                    seen = {
                        (r.status_code, r.content, tuple(error_headers(r).items()))
                        for r in answers.values()
                    }
                    assert len(seen) == 1, (path, accept, method, answers)

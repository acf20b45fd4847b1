"""The built-in page's package data files and the engine pieces that render them."""

from __future__ import annotations

import shutil
import subprocess
from importlib import resources

import pytest

from gatewayerrors._pages import minify_css, page_assets, strip_script
from gatewayerrors._templates import PlaceholderTemplate

NODE = shutil.which("node")


def test_the_files_are_package_data_read_through_importlib_resources() -> None:
    folder = resources.files("gatewayerrors") / "page"
    names = {entry.name for entry in folder.iterdir()}
    assert {"page.html", "parts.html", "page.css", "page.js"} <= names
    assets = page_assets()
    assert assets is page_assets()  # read once
    assert set(assets.parts) == {
        "refresh", "countdown", "unsafe_note", "retry_button", "service", "request_id",
        "request_id_note", "debug",
    }  # fmt: skip
    # The readable sources are what is in the package; the served CSS is smaller.
    source = (folder / "page.css").read_text("utf-8")
    assert "/*" in source
    assert "\n  " in source
    assert len(assets.css) < len(source) * 0.75
    assert "/*" not in assets.css
    assert "\n" not in assets.css


def test_minify_css_keeps_strings_and_word_spaces() -> None:
    css = (
        '/* a comment with "quotes" and an apostrophe\'s */\n'
        'html {\n  font: 16px/1.5 system-ui, "Segoe  UI", sans-serif;\n'
        '  content: "a ; b { c } /* not a comment */";\n}\n'
        "@media (max-width: 600px) {\n  .do p+p {\n    margin: 0 auto;\n  }\n}\n"
    )
    assert minify_css(css) == (
        'html{font:16px/1.5 system-ui,"Segoe  UI",sans-serif;'
        'content:"a ; b { c } /* not a comment */"}'
        "@media (max-width:600px){.do p+p{margin:0 auto}}"
    )


def test_strip_script_drops_comment_lines_and_indentation_only() -> None:
    script = "// about\n(function(){\n  // why\n  var a = 1;\n\n  return a\n})();\n"
    assert strip_script(script) == "(function(){\nvar a = 1;\nreturn a\n})();"


@pytest.mark.skipif(NODE is None, reason="node is not installed")
def test_served_script_is_valid_javascript() -> None:
    result = subprocess.run(
        [NODE or "node", "--check", "-"],
        input=page_assets().script.encode(),
        capture_output=True,
        timeout=30,
        check=False,
    )
    assert result.returncode == 0, result.stderr.decode()


def test_bind_fills_some_placeholders_and_never_parses_a_value() -> None:
    source = "<style>{{ css }}</style><h1>{{ title }}</h1>{{ css }}"
    template = PlaceholderTemplate("t.html", source, frozenset({"css", "title"}))
    bound = template.bind({"css": "a{b:c} {{ title }} {%"}, markup=frozenset({"css"}))
    assert bound.keys == frozenset({"title"})
    render = bound.bytes_renderer(("unused", "title"))
    assert render((b"-", b"T &amp; U")) == (
        b"<style>a{b:c} {{ title }} {%</style><h1>T &amp; U</h1>a{b:c} {{ title }} {%"
    )
    # Text bound without being markup is escaped, as render() escapes it.
    assert template.bind({"css": "<x>", "title": "&"}).bytes_renderer(())(()) == (
        b"<style>&lt;x&gt;</style><h1>&amp;</h1>&lt;x&gt;"
    )


def test_bytes_renderer_keeps_literal_percent_signs() -> None:
    template = PlaceholderTemplate("t.html", "100% {{ a }} %s %(b)s {{ a }}", frozenset({"a"}))
    assert template.bytes_renderer(("a",))((b"x",)) == b"100% x %s %(b)s x"
    assert PlaceholderTemplate("t", "50%", frozenset()).bytes_renderer(())(()) == b"50%"


def test_bytes_renderer_needs_a_value_for_every_placeholder() -> None:
    template = PlaceholderTemplate("t.html", "{{ a }}{{ b }}", frozenset({"a", "b"}))
    with pytest.raises(ValueError, match=r"t.html: no value for placeholders \['b'\]"):
        template.bytes_renderer(("a",))
    assert template.bytes_renderer(("b", "a"))((b"2", b"1")) == b"12"


def test_page_html_renders_the_same_under_jinja2() -> None:
    # page.html uses only the {{ name }} subset, so it is a valid Jinja2 template too and
    # renders to the same text: one template language for the built-in page and users' pages.
    jinja2 = pytest.importorskip("jinja2")
    markupsafe = pytest.importorskip("markupsafe")
    folder = resources.files("gatewayerrors") / "page"
    source = (folder / "page.html").read_text("utf-8")
    page = page_assets().page
    values = {key: f"<b>{key} &amp; 100%</b>" for key in page.keys}
    ours = page.bind(values, markup=frozenset(values)).bytes_renderer(())(()).decode()
    environment = jinja2.Environment(autoescape=True, keep_trailing_newline=True)
    theirs = environment.from_string(source).render(
        {key: markupsafe.Markup(value) for key, value in values.items()}
    )
    assert ours == theirs
    assert "<b>heading &amp; 100%</b>" in ours

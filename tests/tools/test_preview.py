"""``python -m gatewayerrors preview``: every page and format, a gallery, customizations."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import xml.etree.ElementTree as ET
from pathlib import Path

import pytest
from page_parsing import parse_page, problem_script

import gatewayerrors
from gatewayerrors import catalog
from gatewayerrors._pages import page_heading
from gatewayerrors._tools import cli

FORMATS = ("html", "json", "xml", "txt", "post.html")


def preview(argv: list[str]) -> int:
    """``python -m gatewayerrors preview ARGV``, in this process."""
    return cli.main(["preview", *argv])


def test_preview_from_only_the_package(tmp_path: Path) -> None:
    # A fresh clone has the package and nothing else on the path: copy just the package.
    clone = tmp_path / "clone"
    shutil.copytree(
        Path(gatewayerrors.__file__).parent,
        clone / "gatewayerrors",
        ignore=shutil.ignore_patterns("__pycache__"),
    )
    out = tmp_path / "out"
    env = {k: v for k, v in os.environ.items() if not k.startswith("PYTHON")}
    env["PYTHONPATH"] = str(clone)
    where = subprocess.run(
        [sys.executable, "-c", "import gatewayerrors; print(gatewayerrors.__file__)"],
        cwd=clone, env=env, capture_output=True, text=True, timeout=60, check=True,
    )  # fmt: skip
    assert Path(where.stdout.strip()).parent == clone / "gatewayerrors"
    result = subprocess.run(
        [sys.executable, "-m", "gatewayerrors", "preview", "--out", str(out)],
        cwd=clone,
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert result.returncode == 0, result.stderr
    assert f"open {out / 'index.html'}" in result.stdout
    for code in catalog:
        for suffix in FORMATS:
            assert (out / f"{code}.{suffix}").stat().st_size > 0, (code, suffix)
        for suffix in ("json", "xml"):
            assert (out / "twitter" / f"{code}.{suffix}").exists()
    index = parse_page((out / "index.html").read_bytes())
    targets = [a.attrs["href"] for a in index.find_all("a")]
    targets += [frame.attrs["src"] for frame in index.find_all("iframe")]
    assert len(index.find_all("iframe")) == len(catalog)
    assert len(targets) == len(catalog) * 8
    for target in targets:
        assert target is not None
        assert (out / target).is_file(), target


def test_every_format_is_valid_and_consistent(tmp_path: Path) -> None:
    assert preview(["--out", str(tmp_path)]) == 0
    for code, kind in catalog.items():
        problem = json.loads((tmp_path / f"{code}.json").read_bytes())
        assert problem["code"] == code
        assert problem["status"] == kind.status
        root = ET.fromstring((tmp_path / f"{code}.xml").read_bytes())
        assert root.findtext("{urn:ietf:rfc:7807}code") == code
        page = parse_page((tmp_path / f"{code}.html").read_bytes())
        assert problem_script(page) == problem
        assert page.find("h1").text() == page_heading(kind)
        post = (tmp_path / f"{code}.post.html").read_bytes()
        assert b'http-equiv="refresh"' not in post
        text = (tmp_path / f"{code}.txt").read_text()
        assert text.startswith(f"{kind.status} ")
        twitter = json.loads((tmp_path / "twitter" / f"{code}.json").read_bytes())
        assert twitter == {"errors": [{"message": kind.description, "code": kind.number}]}
    maintenance = parse_page((tmp_path / "maintenance.html").read_bytes())
    count = maintenance.by_id("count")
    assert count is not None
    assert count.attrs["data-seconds"] == "300"


def test_preview_is_deterministic(tmp_path: Path) -> None:
    assert preview(["--out", str(tmp_path / "a")]) == 0
    assert preview(["--out", str(tmp_path / "b")]) == 0
    files = sorted(p.relative_to(tmp_path / "a") for p in (tmp_path / "a").rglob("*.*"))
    assert len(files) > len(catalog) * 5
    for file in files:
        assert (tmp_path / "a" / file).read_bytes() == (tmp_path / "b" / file).read_bytes(), file


def test_preview_with_templates_style_overrides_and_debug(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    templates = tmp_path / "templates"
    templates.mkdir()
    (templates / "503.html").write_text(
        '<!doctype html><html lang="en"><head><title>{{ title }}</title></head>'
        "<body><main><h1>Ours: {{ title }}</h1><pre>{{ debug }}</pre></main></body></html>"
    )
    overrides = tmp_path / "overrides.json"
    overrides.write_text(json.dumps({"maintenance": {"title": "Back soon <3"}}))
    out = tmp_path / "out"
    argv = ["--out", str(out), "--templates", str(templates), "--style", "twitter"]
    argv += ["--overrides", str(overrides), "--type-base", "https://x.example/e/", "--debug"]
    assert preview(argv) == 0
    assert "wrote" in capsys.readouterr().out
    page = parse_page((out / "maintenance.html").read_bytes())
    assert page.find("h1").text() == "Ours: Back soon <3"
    assert "sample exception for maintenance" in page.find("pre").text()
    builtin = parse_page((out / "connection_refused.html").read_bytes())
    assert builtin.find("h1").text() == page_heading(catalog["connection_refused"])
    assert json.loads((out / "maintenance.json").read_bytes()) == {
        "errors": [{"message": catalog["maintenance"].description, "code": 75}]
    }
    assert not (out / "twitter").exists()  # the style is already twitter
    index = (out / "index.html").read_text()
    assert "style=twitter" in index
    assert "overrides for 1 codes" in index
    # Inline JSON works too, and the problem type follows --type-base.
    out2 = tmp_path / "out2"
    assert preview(["--out", str(out2), "--type-base", "https://x.example/e/",
                 "--overrides", '{"maintenance": {"hint": "Tea break."}}']) == 0  # fmt: skip
    assert json.loads((out2 / "maintenance.json").read_bytes())["type"] == (
        "https://x.example/e/maintenance"
    )
    assert "Tea break." in (out2 / "maintenance.txt").read_text()


def test_preview_with_a_callable_style_and_template(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    (tmp_path / "team_pages.py").write_text(
        "def page(error, request):\n"
        "    return f'<!doctype html><html lang=\"en\"><main><h1>{error.code}</h1></main></html>'\n"
        "def style(error, fmt, request):\n"
        "    return ('application/json', '{\"ok\": false}') if fmt.name == 'JSON' else None\n"
    )
    monkeypatch.syspath_prepend(str(tmp_path))
    out = tmp_path / "out"
    argv = ["--out", str(out), "--templates", "team_pages:page", "--style", "team_pages:style"]
    assert preview(argv) == 0
    assert parse_page((out / "dns_error.html").read_bytes()).find("h1").text() == "dns_error"
    assert json.loads((out / "dns_error.json").read_bytes()) == {"ok": False}


def test_preview_in_a_language(tmp_path: Path) -> None:
    out = tmp_path / "out"
    assert preview(["--out", str(out), "--language", "de"]) == 0
    page = parse_page((out / "maintenance.html").read_bytes())
    assert page.find("html").attrs["lang"] == "de"
    assert page.find("h1").text() == "Wir sind bald wieder da"
    index = (out / "index.html").read_text("utf-8")
    assert "content-language: de" in index
    assert "language=de" in index
    # Problem details stay in English.
    assert json.loads((out / "maintenance.json").read_bytes())["title"] == "Down for maintenance"


@pytest.mark.parametrize(
    ("argv", "message"),
    [
        (["--templates", "/no/such/folder"], "not a directory"),
        (["--style", "no_such_module_xyz:fn"], "No module named"),
        (["--style", "nocolon"], "invalid choice: 'nocolon' (choose from 'problem', 'twitter'"),
        (["--overrides", '{"nope": {"title": "x"}}'], "unknown gatewayerrors code"),
        (["--language", "zh-CN"], "default_language is 'zh-CN'"),
    ],
)
def test_bad_settings_exit_2_with_a_message(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], argv: list[str], message: str
) -> None:
    assert preview(["--out", str(tmp_path), *argv]) == 2
    assert message in capsys.readouterr().err

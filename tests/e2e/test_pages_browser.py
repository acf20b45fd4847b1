"""The page's script in a real browser: headless Chromium, when installed (skipped otherwise).

Chromium's virtual time runs the countdown's timers without waiting for them; ``--dump-dom``
prints the document as the script left it.
"""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path

import pytest
from page_parsing import parse_page

from gatewayerrors.core import RequestInfo, Translator

CHROMIUM = shutil.which("chromium") or shutil.which("chromium-browser")
pytestmark = pytest.mark.skipif(CHROMIUM is None, reason="chromium is not installed")


def dom_after(page: bytes, folder: Path, virtual_ms: int) -> bytes:
    file = folder / "page.html"
    file.write_bytes(page)
    command = [
        CHROMIUM or "chromium",
        "--headless",
        "--no-sandbox",
        "--disable-gpu",
        "--disable-quic",
        "--no-first-run",
        "--disable-background-networking",
        "--disable-component-update",
        "--disable-sync",
        "--disable-extensions",
        f"--user-data-dir={folder / 'profile'}",
        f"--virtual-time-budget={virtual_ms}",
        "--dump-dom",
        file.as_uri(),
    ]
    result = subprocess.run(command, capture_output=True, timeout=60, check=True)
    return b"<!doctype html>" + result.stdout


def test_countdown_ticks_and_copy_button_appears(tmp_path: Path) -> None:
    response = Translator().response_for(
        "maintenance", RequestInfo(accept="text/html", request_id="rid-42"), retry_after=300
    )
    page = parse_page(dom_after(response.body, tmp_path, 3500))
    count = page.by_id("count")
    assert count is not None
    assert count.text() in ("4 min 57 s", "4 min 56 s")
    button = page.by_id("copy")
    assert button is not None
    assert "hidden" not in button.attrs


def test_unsafe_request_counts_down_without_reloading(tmp_path: Path) -> None:
    response = Translator().response_for(
        "circuit_open", RequestInfo(method="POST", accept="text/html"), retry_after=2
    )
    page = parse_page(dom_after(response.body, tmp_path, 4000))
    retry = page.by_id("retry")
    assert retry is not None
    assert retry.text() == "You can try again now."


@pytest.mark.parametrize(
    ("language", "ticking", "done"),
    [
        ("de", ("4 Min. 57 s", "4 Min. 56 s"), "Sie können es jetzt erneut versuchen."),
        ("ja", ("4分57秒", "4分56秒"), "今すぐ再試行できます。"),
    ],
    ids=["de", "ja"],
)
def test_the_script_counts_down_in_the_page_language(
    tmp_path: Path, language: str, ticking: tuple[str, ...], done: str
) -> None:
    translator = Translator()
    request = RequestInfo(accept="text/html", accept_language=language, request_id="rid-42")
    response = translator.response_for("maintenance", request, retry_after=300)
    page = parse_page(dom_after(response.body, tmp_path, 3500))
    count = page.by_id("count")
    assert count is not None
    assert count.text() in ticking
    post = RequestInfo(method="POST", accept="text/html", accept_language=language)
    finished = translator.response_for("circuit_open", post, retry_after=2)
    (tmp_path / "post").mkdir()
    retry = parse_page(dom_after(finished.body, tmp_path / "post", 4000)).by_id("retry")
    assert retry is not None
    assert retry.text() == done

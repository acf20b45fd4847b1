"""The built-in page's bytes, pinned: every catalog code, method and optional part.

``tests/core/golden/builtin_page.json`` holds one digest per code and method, over the pages for
every combination of Retry-After (none, 0, 300, 3600), the app's own text (an upstream name and
a detail, or none), a request id (or none) and debug text (or none), all rendered through the
real HTML renderer. A change to the page's markup therefore fails here until the golden file is
regenerated on purpose:

    python tests/core/test_page_golden.py --update

Inside ``<style>`` and the page's ``<script>``, whitespace that does not separate two words is
ignored (the CSS and JS are served minified from readable files; what matters is their tokens).
Everything else is compared byte for byte.
"""

from __future__ import annotations

import hashlib
import itertools
import json
import re
import sys
from pathlib import Path

from gatewayerrors import UpstreamFailure, catalog
from gatewayerrors.core import Evidence, RequestInfo, Translator

GOLDEN = Path(__file__).resolve().parent / "golden" / "builtin_page.json"
METHODS = ("GET", "POST", "HEAD")
RETRY_AFTER = (None, 0, 300, 3600)
APP_TEXT = (None, ("payments <api> & \u00fc", 'The card service said "no" <b>\u00fc</b>.'))
REQUEST_ID = (None, "req-1234abcd")
DEBUG = (None, "ConnectionRefusedError: [Errno 111] <refused> & \u00fc")

_CODE_BLOCK = re.compile(r"(<style>|<script>)(.*?)(</style>|</script>)", re.S)
_WORDISH = re.compile(r"[A-Za-z0-9_$#.\"']")


def _squeeze(code: str) -> str:
    def space(match: re.Match[str]) -> str:
        before = code[match.start() - 1 : match.start()]
        after = code[match.end() : match.end() + 1]
        return " " if _WORDISH.match(before) and _WORDISH.match(after) else ""

    return re.sub(r"\s+", space, code)


def normalized(page: bytes) -> bytes:
    """The page with insignificant whitespace in its CSS and JS removed (see the docstring)."""
    text = page.decode("utf-8")
    text = _CODE_BLOCK.sub(lambda m: m.group(1) + _squeeze(m.group(2)) + m.group(3), text)
    return text.encode("utf-8")


def pages(translator: Translator, code: str, method: str) -> list[tuple[str, bytes]]:
    """Every variant of ``code``'s page for ``method``: (label, page bytes)."""
    found = []
    for retry_after, app_text, request_id, debug in itertools.product(
        RETRY_AFTER, APP_TEXT, REQUEST_ID, DEBUG
    ):
        upstream, detail = app_text or (None, None)
        evidence = Evidence(code, 0, retry_after, None, detail, upstream)
        request = RequestInfo(method=method, path="/orders/42", accept="text/html")
        error: UpstreamFailure = translator.failure(
            evidence, request._replace(request_id="unused")
        )._replace(request_id=request_id, debug=debug)
        label = f"retry_after={retry_after} app_text={bool(app_text)} id={request_id} debug={debug}"
        found.append((label, translator._html(error, request)))
    return found


def digests() -> dict[str, str]:
    """``"<code> <method>"`` -> digest of all its variants' normalized pages."""
    translator = Translator()
    result = {}
    for code in catalog:
        for method in METHODS:
            digest = hashlib.sha256()
            for label, page in pages(translator, code, method):
                digest.update(label.encode() + b"\0" + normalized(page) + b"\0")
            result[f"{code} {method}"] = digest.hexdigest()[:24]
    return result


def test_every_page_matches_the_golden_digest() -> None:
    expected = json.loads(GOLDEN.read_text())
    actual = digests()
    assert sorted(actual) == sorted(expected)
    changed = [key for key in actual if actual[key] != expected[key]]
    assert changed == [], f"pages changed for {changed[:5]} (+{max(0, len(changed) - 5)} more)"


def test_normalization_keeps_words_apart_and_drops_the_rest() -> None:
    page = b"<p>a  b</p><style>\n.do p + p {\n  margin: 0 auto;\n}\n</style>"
    assert normalized(page) == b"<p>a  b</p><style>.do p+p{margin:0 auto;}</style>"


if __name__ == "__main__":
    if sys.argv[1:] != ["--update"]:
        raise SystemExit("usage: python tests/core/test_page_golden.py --update")
    GOLDEN.parent.mkdir(exist_ok=True)
    GOLDEN.write_text(json.dumps(digests(), indent=1, sort_keys=True) + "\n")
    print(f"wrote {GOLDEN}")

"""Response styles other than RFC 9457: the Twitter-style envelope, or a user callable.

A style is ``(error, format, request) -> (content_type, body) | None``; None falls back to the
default renderers for that format (so a style may cover JSON only, say).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING

import orjson

from ._error import UpstreamFailure
from ._headers import clean_header_value
from ._negotiate import Format
from ._render import xml_text
from ._types import RequestInfo, StyleFunction

if TYPE_CHECKING:
    from ._settings import Settings

__all__ = ["Style", "build_style", "render_twitter_json", "render_twitter_xml"]

Style = Callable[[UpstreamFailure, Format, RequestInfo], "tuple[str, bytes] | None"]
"""A style as the translator calls it: its body always bytes, its content type clean."""


def render_twitter_json(error: UpstreamFailure) -> bytes:
    """``{"errors": [{"message": ..., "code": <number>}]}`` as the Twitter API answered."""
    return orjson.dumps({"errors": [{"message": error.detail, "code": error.kind.number}]})


def render_twitter_xml(error: UpstreamFailure) -> bytes:
    """``<errors><error code="...">...</error></errors>`` as the Twitter API answered."""
    return (
        '<?xml version="1.0" encoding="UTF-8"?>\n'
        f'<errors><error code="{error.kind.number}">{xml_text(error.detail)}</error></errors>\n'
    ).encode()


def _twitter(error: UpstreamFailure, fmt: Format, request: RequestInfo) -> tuple[str, bytes] | None:
    if fmt is Format.JSON:
        return "application/json", render_twitter_json(error)
    if fmt is Format.XML:
        return "application/xml", render_twitter_xml(error)
    return None


def _user_style(style: StyleFunction) -> Style:
    def render(
        error: UpstreamFailure, fmt: Format, request: RequestInfo
    ) -> tuple[str, bytes] | None:
        result = style(error, fmt, request)
        if result is None:
            return None
        content_type, body = result
        if isinstance(body, str):
            body = body.encode("utf-8")
        if not isinstance(content_type, str) or not isinstance(body, bytes):
            raise TypeError("a style must return (content_type: str, body: bytes | str)")
        return clean_header_value(content_type), body

    return render


def build_style(settings: Settings) -> Style | None:
    """The style function for these settings; None for the default RFC 9457 problem details."""
    style = settings.style
    if style == "problem":
        return None
    if style == "twitter":
        return _twitter
    if callable(style):
        return _user_style(style)
    raise AssertionError(f"style {style!r} passed Settings validation")  # pragma: no cover

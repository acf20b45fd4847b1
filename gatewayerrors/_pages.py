"""HTML error pages: the built-in page, or the user's templates."""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from ._error import UpstreamFailure
from ._render import render_html_minimal

if TYPE_CHECKING:
    from ._settings import Settings

__all__ = ["HtmlRenderer", "build_html_renderer"]

HtmlRenderer = Callable[[UpstreamFailure, Any], bytes]


def build_html_renderer(settings: Settings) -> HtmlRenderer:
    """The HTML renderer for these settings, resolved once at construction."""

    def render(error: UpstreamFailure, request: Any) -> bytes:
        return render_html_minimal(error)

    return render

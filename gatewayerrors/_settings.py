"""Settings shared by every adapter: keyword arguments with safe defaults."""

from __future__ import annotations

import dataclasses
import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from os import PathLike
from typing import TYPE_CHECKING, Any, TypedDict

from ._catalog import catalog
from ._render import uri_reference

if TYPE_CHECKING:
    from ._classify import Classifier

__all__ = ["Settings", "SettingsOptions"]

_HEADER_NAME = re.compile(r"[!#$%&'*+\-.^_`|~0-9A-Za-z]+")


def _encodable(text: str) -> bool:
    try:
        text.encode("utf-8")
    except UnicodeEncodeError:
        return False
    return True


@dataclass(frozen=True)
class Settings:
    """Every setting, with the default a production app wants.

    Adapters take these as keyword arguments (``GatewayErrorsMiddleware(app, service="api")``).
    """

    service: str = "app"
    """Name of this intermediary in ``Proxy-Status`` (a token or a string)."""
    debug: bool = False
    """Add the exception's type and message to bodies and ``Proxy-Status`` details."""
    default_retry_after: int = 30
    """``Retry-After`` seconds for a 503 when nothing better is known."""
    max_retry_after: int = 3600
    """Upper bound for any ``Retry-After`` sent (an upstream's included)."""
    classifier: Classifier | None = None
    """A :class:`Classifier` of your own; None uses ``gatewayerrors.default_classifier``."""
    type_base: str = "urn:gatewayerrors:"
    """Prefix of the problem ``type`` member; the code is appended (point it at your docs).

    A URI reference; characters a URI cannot hold (non-ASCII, spaces) are percent-encoded."""
    format_param: str | None = None
    """Query parameter that picks the format (``?format=xml``); off when None."""
    path_suffix: bool = False
    """Let a ``.json`` / ``.xml`` path suffix pick the format, as the Twitter API allowed."""
    request_id_header: str = "x-request-id"
    """Header read for an incoming request id and set on every error response."""
    trust_request_id: bool = True
    """Reuse a valid incoming request id instead of generating one."""
    overrides: Mapping[str, Mapping[str, str]] = field(default_factory=dict)
    """Per-code ``title`` / ``detail`` / ``hint`` text: ``{"maintenance": {"hint": "..."}}``."""
    style: str | Callable[..., Any] = "problem"
    """``"problem"`` (RFC 9457), ``"twitter"`` (``{"errors": [...]}``) or a callable."""
    templates: str | PathLike[str] | Callable[..., str] | None = None
    """A directory of HTML templates, or a callable ``(error, request) -> str``."""
    suppress_response_codes: str | None = None
    """Query parameter that makes errors answer 200 (Twitter API style); off when None."""
    maintenance: bool | Callable[[], bool] = False
    """Answer every request with 503 ``maintenance``: a flag or a cheap callable."""
    maintenance_env: str | None = "GATEWAYERRORS_MAINTENANCE"
    """Environment variable that switches maintenance mode on ("1", "true", "on")."""
    maintenance_exempt: tuple[str, ...] = ("/health", "/healthz", "/livez", "/readyz")
    """Paths (exact, or prefixes ending in ``/``) that keep working during maintenance."""
    maintenance_retry_after: int = 300
    """``Retry-After`` seconds during maintenance."""
    on_error: Callable[..., Any] | None = None
    """Called as ``on_error(error, exception)`` after each translated error (may be async)."""
    logger_name: str = "gatewayerrors"
    """Logger that gets one record per translated error."""

    def __post_init__(self) -> None:
        for code, texts in self.overrides.items():
            if code not in catalog:
                raise ValueError(f"overrides: unknown gatewayerrors code {code!r}")
            for key, text in texts.items():
                if key not in ("title", "detail", "hint"):
                    raise ValueError(f"overrides[{code!r}]: unknown key {key!r}")
                # Checked here so that no renderer can fail on it later (lone surrogates).
                if not isinstance(text, str) or not _encodable(text):
                    raise ValueError(f"overrides[{code!r}][{key!r}] must be UTF-8 text")
        for name in ("default_retry_after", "max_retry_after", "maintenance_retry_after"):
            value = getattr(self, name)
            # Retry-After is delay-seconds, a non-negative integer (RFC 9110 §10.2.3): a float
            # or a bool here would be sent as "1.5" or "True".
            if not isinstance(value, int) or isinstance(value, bool):
                raise TypeError(f"{name} must be an int (seconds), not {value!r}")
            if value < 0:
                raise ValueError(f"{name} must not be negative")
        exempt = self.maintenance_exempt
        # A bare string ("/health", or ("/health") without its comma) would iterate as
        # characters, and "/" would exempt every path.
        if isinstance(exempt, str) or not all(
            isinstance(path, str) and path.startswith("/") for path in exempt
        ):
            raise ValueError(
                f"maintenance_exempt must be a tuple of paths starting with '/', not {exempt!r}"
            )
        object.__setattr__(self, "maintenance_exempt", tuple(exempt))
        if not (isinstance(self.maintenance, bool) or callable(self.maintenance)):
            raise TypeError(
                f"maintenance must be True, False or a callable, not {self.maintenance!r}"
            )
        if not isinstance(self.type_base, str):
            raise TypeError(f"type_base must be a string (a URI reference), not {self.type_base!r}")
        # RFC 9457 §3.1.1: ``type`` is a URI reference; non-ASCII is percent-encoded here, once.
        try:
            type_base = uri_reference(self.type_base)
            uri_reference(type_base + "upstream_error")  # with a code appended, still one
            object.__setattr__(self, "type_base", type_base)
        except ValueError as exc:
            raise ValueError(f"type_base: {exc}") from None
        if not _HEADER_NAME.fullmatch(self.request_id_header):
            raise ValueError(
                f"request_id_header is not a valid header name: {self.request_id_header!r}"
            )

    @classmethod
    def from_mapping(cls, values: Mapping[str, Any]) -> Settings:
        """Settings from a mapping such as Django's ``GATEWAYERRORS`` (unknown keys rejected)."""
        known = {f.name for f in dataclasses.fields(cls)}
        unknown = sorted(set(values) - known)
        if unknown:
            raise TypeError(f"unknown gatewayerrors settings: {', '.join(unknown)}")
        return cls(**values)


class SettingsOptions(TypedDict, total=False):
    """The :class:`Settings` fields as keyword arguments, for typing an adapter's ``**options``.

    ``def __init__(self, app, settings=None, **options: Unpack[SettingsOptions])`` lets type
    checkers and IDEs check each option, and lets Starlette's typed ``add_middleware`` accept
    the middleware (it rejects a bare ``**options: Any``).
    """

    service: str
    debug: bool
    default_retry_after: int
    max_retry_after: int
    classifier: Classifier | None
    type_base: str
    format_param: str | None
    path_suffix: bool
    request_id_header: str
    trust_request_id: bool
    overrides: Mapping[str, Mapping[str, str]]
    style: str | Callable[..., Any]
    templates: str | PathLike[str] | Callable[..., str] | None
    suppress_response_codes: str | None
    maintenance: bool | Callable[[], bool]
    maintenance_env: str | None
    maintenance_exempt: tuple[str, ...]
    maintenance_retry_after: int
    on_error: Callable[..., Any] | None
    logger_name: str

"""Settings shared by every adapter: keyword arguments with safe defaults, checked once.

Every option is validated when :class:`Settings` is built — type, value, callable-ness,
directories — so a misconfiguration fails at startup with a message that names the option as
the user wrote it (``service``, ``GATEWAYERRORS_SERVICE`` in Flask's config,
``GATEWAYERRORS["service"]`` in Django's settings), and suggests the closest valid name for a
typo. Nothing that was accepted can fail per request later.
"""

from __future__ import annotations

import dataclasses
import difflib
import ipaddress
import os
import re
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from os import PathLike
from typing import Any, TypedDict

from ._catalog import catalog
from ._classify import Classifier
from ._integrations import Integration
from ._languages import BUNDLED_LANGUAGES, canonical_language, closest_language
from ._logstorm import LOG_TRACEBACKS
from ._maintenance_state import MaintenanceStore
from ._render import uri_reference
from ._stores import check_store
from ._types import MaintenanceCheck, OnError, StyleFunction, TemplateFunction
from ._upstreams import normal_upstream_key

__all__ = [
    "DEFAULT_MAINTENANCE_EXEMPT",
    "STYLES",
    "Settings",
    "SettingsError",
    "SettingsOptions",
    "check_option_names",
    "resolve_settings",
]

_HEADER_NAME = re.compile(r"[!#$%&'*+\-.^_`|~0-9A-Za-z]+")
_QUERY_NAME = re.compile(r"[A-Za-z0-9._~-]+")
_UPSTREAM_NAME = re.compile(r"[A-Za-z0-9][A-Za-z0-9 ._:/-]{0,63}")
OVERRIDE_KEYS = ("title", "detail", "hint", "heading")
# NUL, ESC, BEL...: never meant in a page or a terminal (CR is accepted; it becomes LF).
_OVERRIDE_CONTROL = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f\x7f-\x9f]")
STYLES = ("problem", "twitter")
"""The built-in response styles (``style=`` also takes a callable)."""
DEFAULT_MAINTENANCE_EXEMPT = ("/health", "/healthz", "/livez", "/readyz")
"""Health-check paths that keep answering during maintenance, so load balancers keep the
instance in rotation. ``maintenance_exempt_extra`` adds to these; ``maintenance_exempt``
replaces them."""


class SettingsError(TypeError, ValueError):
    """A setting has a wrong type or value. Raised when the settings are built, never later.

    A subclass of both ``TypeError`` and ``ValueError`` so that either ``except`` catches it.
    ``option`` is the setting's name as :class:`Settings` spells it.
    """

    def __init__(self, option: str, problem: str) -> None:
        super().__init__(f"{option} {problem}")
        self.option = option
        self.problem = problem

    def renamed(self, name: str) -> SettingsError:
        """The same error, naming the option as the user wrote it (a config key)."""
        error = SettingsError(self.option, self.problem)
        error.args = (f"{name} {self.problem}",)
        return error


def _encodable(text: str) -> bool:
    try:
        text.encode("utf-8")
    except UnicodeEncodeError:
        return False
    return True


def _kind(value: object) -> str:
    return type(value).__name__


@dataclass(frozen=True)
class Settings:
    """Every setting, with the default a production app wants.

    Adapters take these as keyword arguments (``GatewayErrorsMiddleware(app, service="api")``)
    or as one ``Settings`` object. Invalid values raise :class:`SettingsError` here.
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
    """A :class:`Classifier` of your own; None uses the default one (``gatewayerrors.register``)."""
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
    forward_request_id: bool = False
    """Bind the request's id while the app runs, for ``gatewayerrors.client``'s outgoing-call
    hooks to send on (docs/chains.md); an error answer carries the same id."""
    overrides: Mapping[str, Mapping[str, str | Mapping[str, str]]] = field(default_factory=dict)
    """Per-code ``title`` / ``detail`` / ``hint`` / ``heading`` text: ``{"maintenance": {...}}``.

    ``heading`` is the HTML page's heading only (words for a person); the others apply to
    every format. A language's own texts for the page go under its tag:
    ``{"maintenance": {"detail": "...", "de": {"detail": "..."}}}`` (docs/languages.md).
    """
    languages: Sequence[str] | None = None
    """The languages pages are offered in, chosen by ``Accept-Language``: None for every
    bundled one (``en``, ``de``, ``fr``, ``es``, ``pt``, ``ja``, ``zh-Hans``); ``()`` for
    ``default_language`` only. ``default_language`` is always offered."""
    default_language: str = "en"
    """The page's language when ``Accept-Language`` names none of ``languages``."""
    style: str | StyleFunction = "problem"
    """``"problem"`` (RFC 9457), ``"twitter"`` (``{"errors": [...]}``) or a callable."""
    templates: str | PathLike[str] | TemplateFunction | None = None
    """A directory of HTML templates, or a callable ``(error, request) -> str``."""
    suppress_response_codes: str | None = None
    """Query parameter that makes errors answer 200 (Twitter API style); off when None."""
    maintenance: bool | MaintenanceCheck = False
    """Answer every request with 503 ``maintenance``: a flag or a cheap callable."""
    maintenance_env: str | None = "GATEWAYERRORS_MAINTENANCE"
    """Environment variable that switches maintenance mode on ("1", "true", "on")."""
    maintenance_exempt: tuple[str, ...] = DEFAULT_MAINTENANCE_EXEMPT
    """Paths (exact, or prefixes ending in ``/``) that keep working during maintenance.
    Setting it replaces the health-check defaults; ``maintenance_exempt_extra`` adds to them."""
    maintenance_exempt_extra: tuple[str, ...] = ()
    """More exempt paths, added to ``maintenance_exempt`` (``("/admin/",)``)."""
    maintenance_retry_after: int = 300
    """``Retry-After`` seconds during maintenance (a window's end, when known, comes first)."""
    maintenance_store: str | MaintenanceStore | None = None
    """Where replicas share maintenance mode: a URL (``"redis://127.0.0.1:6379/0"``,
    ``"file:///run/app/maintenance.json"``, ``"django-cache://default"``) or a store object.
    Read in the background, never per request (docs/fleet.md)."""
    maintenance_store_poll: float = 0.5
    """Seconds between two reads of ``maintenance_store`` (at most 10)."""
    maintenance_store_grace: int = 60
    """Seconds the last known state is kept while ``maintenance_store`` cannot be read."""
    maintenance_bypass_token: str | None = None
    """A secret (16 characters or more): requests with it in ``X-Maintenance-Bypass`` pass."""
    maintenance_bypass_ips: tuple[str, ...] = ()
    """Client networks (CIDRs) that pass during maintenance (``("10.0.0.0/8",)``)."""
    trusted_proxies: tuple[str, ...] = ()
    """Proxies (CIDRs) whose ``X-Forwarded-For`` is believed for ``maintenance_bypass_ips``."""
    on_error: OnError | None = None
    """Called as ``on_error(error, exception)`` after each translated error (may be async)."""
    logger_name: str = "gatewayerrors"
    """Logger that gets one record per translated error."""
    log_tracebacks: str = "first"
    """``"first"``: a traceback for the first failure of a kind in each ``log_window``, one
    compact line per repeat; ``"always"``: a traceback on every record; ``"never"``: none."""
    log_window: float = 60
    """Seconds a failure's traceback stands for its repeats (see ``log_tracebacks``)."""
    upstream_names: Mapping[str, str] = field(default_factory=dict)
    """Names for upstream hosts, ``{"orders.internal:8080": "orders"}`` (host or host:port):
    a named upstream appears in logs, ``on_error`` and the ``upstream`` member."""
    retry_after_jitter: float = 0.0
    """Spread every ``Retry-After`` up to this fraction above its value (0.2: +0-20%)."""
    integrations: Sequence[Integration] = ()
    """Observability integrations (:mod:`gatewayerrors.otel`, :mod:`gatewayerrors.prometheus`,
    :mod:`gatewayerrors.sentry`, or your own :class:`~gatewayerrors.core.Integration`)."""

    def __post_init__(self) -> None:
        if not isinstance(self.service, str):  # any text: Proxy-Status makes it an sf-string
            raise SettingsError("service", f"must be a string, not {_kind(self.service)}")
        for name in ("debug", "path_suffix", "trust_request_id", "forward_request_id"):
            _check_bool(name, getattr(self, name))
        for name in ("default_retry_after", "max_retry_after", "maintenance_retry_after"):
            _check_seconds(name, getattr(self, name))
        if self.classifier is not None and not isinstance(self.classifier, Classifier):
            raise SettingsError(
                "classifier",
                f"must be a gatewayerrors Classifier or None, not {_kind(self.classifier)}",
            )
        _check_text("type_base", self.type_base, empty=True)
        # RFC 9457 §3.1.1: ``type`` is a URI reference; non-ASCII is percent-encoded here, once.
        try:
            type_base = uri_reference(self.type_base)
            uri_reference(type_base + "upstream_error")  # with a code appended, still one
        except ValueError as exc:
            raise SettingsError("type_base", f"is {exc}") from None
        object.__setattr__(self, "type_base", type_base)
        for name in ("format_param", "suppress_response_codes"):
            value = getattr(self, name)
            # "" is off, like None (a config file cannot always say None).
            if (
                value is not None
                and not (isinstance(value, str) and _QUERY_NAME.fullmatch(value))
                and value != ""
            ):
                raise SettingsError(name, f"must be None or a query parameter name, not {value!r}")
        header = self.request_id_header
        if not isinstance(header, str) or not _HEADER_NAME.fullmatch(header):
            raise SettingsError("request_id_header", f"is not a valid header name: {header!r}")
        languages = _check_languages(self.languages, self.default_language)
        object.__setattr__(self, "default_language", languages[0])
        object.__setattr__(self, "languages", languages)
        object.__setattr__(self, "overrides", _check_overrides(self.overrides, languages))
        _check_style(self.style)
        _check_templates(self.templates)
        if not (isinstance(self.maintenance, bool) or callable(self.maintenance)):
            raise SettingsError(
                "maintenance", f"must be True, False or a callable, not {self.maintenance!r}"
            )
        if self.maintenance_env is not None:
            _check_text("maintenance_env", self.maintenance_env, empty=False)
        for name in ("maintenance_exempt", "maintenance_exempt_extra"):
            object.__setattr__(self, name, _check_paths(name, getattr(self, name)))
        self._check_fleet()
        if self.on_error is not None and not callable(self.on_error):
            raise SettingsError(
                "on_error", f"must be a callable or None, not {_kind(self.on_error)}"
            )
        _check_text("logger_name", self.logger_name, empty=False)
        _check_log_storm(self.log_tracebacks, self.log_window)
        object.__setattr__(self, "upstream_names", _check_upstream_names(self.upstream_names))
        _check_jitter(self.retry_after_jitter)
        object.__setattr__(self, "integrations", _check_integrations(self.integrations))

    def _check_fleet(self) -> None:
        problem = check_store(self.maintenance_store)
        if problem is not None:
            raise SettingsError("maintenance_store", problem)
        poll = self.maintenance_store_poll
        if not isinstance(poll, (int, float)) or isinstance(poll, bool) or not 0 < poll <= 10:
            raise SettingsError(
                "maintenance_store_poll", f"must be seconds above 0 and at most 10, not {poll!r}"
            )
        _check_seconds("maintenance_store_grace", self.maintenance_store_grace)
        token = self.maintenance_bypass_token
        if token is not None:
            _check_text("maintenance_bypass_token", token, empty=False)
            # A header value: visible ASCII only, and long enough not to be guessed.
            if len(token) < 16 or not token.isascii() or not token.isprintable() or " " in token:
                raise SettingsError(
                    "maintenance_bypass_token",
                    "must be at least 16 visible ASCII characters without spaces",
                )
        for name in ("maintenance_bypass_ips", "trusted_proxies"):
            object.__setattr__(self, name, _check_networks(name, getattr(self, name)))

    @property
    def page_languages(self) -> tuple[str, ...]:
        """Every language pages are offered in, ``default_language`` first."""
        return tuple(self.languages or (self.default_language,))

    @property
    def exempt_paths(self) -> tuple[str, ...]:
        """Every path that keeps working during maintenance."""
        return self.maintenance_exempt + self.maintenance_exempt_extra

    @classmethod
    def from_mapping(
        cls, values: Mapping[str, Any], *, name: Callable[[str], str] | None = None
    ) -> Settings:
        """Settings from a mapping such as Django's ``GATEWAYERRORS`` (unknown keys rejected).

        ``name(option)`` spells an option as the user wrote it, for error messages
        (``lambda option: f"GATEWAYERRORS_{option.upper()}"`` for Flask's config).
        """
        spell = name or (lambda option: option)
        check_option_names(values, name=spell)
        try:
            return cls(**values)
        except SettingsError as exc:
            raise exc.renamed(spell(exc.option)) from None


_FIELD_NAMES = tuple(f.name for f in dataclasses.fields(Settings))


def check_option_names(values: Iterable[str], *, name: Callable[[str], str] | None = None) -> None:
    """Raise ``TypeError`` for names that are not settings, suggesting the closest valid one."""
    unknown = sorted(set(values) - set(_FIELD_NAMES))
    if not unknown:
        return
    spell = name or (lambda option: option)
    parts = []
    for key in unknown:
        close = difflib.get_close_matches(key, _FIELD_NAMES, n=1)
        hint = f" (did you mean {spell(close[0])}?)" if close else ""
        parts.append(f"{spell(key)}{hint}")
    raise TypeError(f"unknown gatewayerrors settings: {', '.join(parts)}")


def resolve_settings(settings: Settings | None, options: Mapping[str, Any]) -> Settings:
    """The settings an adapter was given: a ``Settings`` object or keyword options, not both."""
    if settings is None:
        return Settings.from_mapping(options)
    if options:
        raise TypeError("pass either settings or keyword options, not both")
    if not isinstance(settings, Settings):
        raise TypeError(f"settings must be a gatewayerrors Settings, not {_kind(settings)}")
    return settings


def _check_text(name: str, value: object, *, empty: bool) -> None:
    if not isinstance(value, str):
        raise SettingsError(name, f"must be a string, not {_kind(value)}")
    if not empty and not value.strip():
        raise SettingsError(name, "must not be empty")
    if not _encodable(value):
        raise SettingsError(name, "must be UTF-8 text")


def _check_bool(name: str, value: object) -> None:
    if not isinstance(value, bool):
        raise SettingsError(name, f"must be True or False, not {value!r}")


def _check_seconds(name: str, value: object) -> None:
    # Retry-After is delay-seconds, a non-negative integer (RFC 9110 §10.2.3): a float or a
    # bool here would be sent as "1.5" or "True".
    if not isinstance(value, int) or isinstance(value, bool):
        raise SettingsError(name, f"must be an int (seconds), not {value!r}")
    if value < 0:
        raise SettingsError(name, "must not be negative")


def _language_problem(tag: object, offered: Sequence[str]) -> str:
    """Why ``tag`` is not one of ``offered``, with the closest one (did you mean)."""
    close = closest_language(tag, offered) if isinstance(tag, str) else None
    hint = f" (did you mean {close!r}?)" if close else ""
    return f"has {tag!r}, which is not one of {', '.join(offered)}{hint}"


def _check_languages(languages: object, default: object) -> tuple[str, ...]:
    """The languages offered, canonical tags, ``default`` first."""
    if not isinstance(default, str) or canonical_language(default) is None:
        problem = _language_problem(default, BUNDLED_LANGUAGES)
        raise SettingsError("default_language", "is" + problem.removeprefix("has"))
    default = canonical_language(default)
    if languages is None:
        found = list(BUNDLED_LANGUAGES)
    else:
        # A bare string ("de") would iterate as letters.
        if isinstance(languages, (str, bytes)) or not isinstance(languages, Iterable):
            raise SettingsError(
                "languages", f'must be None or a tuple of language tags ("de",), not {languages!r}'
            )
        found = []
        for tag in languages:
            language = canonical_language(tag) if isinstance(tag, str) else None
            if language is None:
                raise SettingsError("languages", _language_problem(tag, BUNDLED_LANGUAGES))
            found.append(language)
    assert default is not None
    ordered = [default, *(language for language in found if language != default)]
    return tuple(dict.fromkeys(ordered))


def _check_override_texts(where: str, texts: Mapping[Any, Any]) -> dict[str, str]:
    checked = {}
    for key, text in texts.items():
        if key not in OVERRIDE_KEYS:
            raise SettingsError(
                where, f"has an unknown key {key!r} (one of {', '.join(OVERRIDE_KEYS)})"
            )
        # Checked here so that no renderer can fail on it later (lone surrogates).
        if not isinstance(text, str) or not _encodable(text):
            raise SettingsError(f"{where}[{key!r}]", "must be UTF-8 text")
        if _OVERRIDE_CONTROL.search(text):
            raise SettingsError(
                f"{where}[{key!r}]",
                "must not contain control characters (tab and newline are fine)",
            )
        checked[key] = text
    return checked


def _check_overrides(
    overrides: object, languages: tuple[str, ...]
) -> dict[str, dict[str, str | dict[str, str]]]:
    """The overrides, checked, with each language entry under its canonical tag."""
    if not isinstance(overrides, Mapping):
        raise SettingsError("overrides", f"must be a mapping of codes, not {_kind(overrides)}")
    checked: dict[str, dict[str, str | dict[str, str]]] = {}
    for code, texts in overrides.items():
        if code not in catalog:
            close = difflib.get_close_matches(str(code), list(catalog), n=1)
            hint = f" (did you mean {close[0]!r}?)" if close else ""
            raise SettingsError("overrides", f"has an unknown gatewayerrors code {code!r}{hint}")
        if not isinstance(texts, Mapping):
            raise SettingsError(f"overrides[{code!r}]", f"must be a mapping, not {_kind(texts)}")
        plain = {key: text for key, text in texts.items() if key in OVERRIDE_KEYS}
        entry: dict[str, str | dict[str, str]] = dict(
            _check_override_texts(f"overrides[{code!r}]", plain)
        )
        for key, localized in texts.items():
            if key in OVERRIDE_KEYS:
                continue
            language = canonical_language(key) if isinstance(key, str) else None
            if language is None or not isinstance(localized, Mapping):
                keys = ", ".join(OVERRIDE_KEYS)
                if language is None:
                    guess = closest_language(str(key), languages) or next(
                        iter(difflib.get_close_matches(str(key), OVERRIDE_KEYS, n=1)), None
                    )
                    hint = f"; did you mean {guess!r}?" if guess else ""
                    raise SettingsError(
                        f"overrides[{code!r}]",
                        f"has an unknown key {key!r} (one of {keys}, or a language: "
                        f"{', '.join(languages)}{hint})",
                    )
                raise SettingsError(
                    f"overrides[{code!r}][{key!r}]",
                    f"must be a mapping of texts ({keys}), not {_kind(localized)}",
                )
            if language not in languages:
                raise SettingsError(
                    f"overrides[{code!r}]",
                    f"has texts for {key!r}, which is not in languages ({', '.join(languages)})",
                )
            entry[language] = _check_override_texts(f"overrides[{code!r}][{key!r}]", localized)
        checked[code] = entry
    return checked


def _check_style(style: object) -> None:
    if callable(style) or style in STYLES:
        return
    raise SettingsError(
        "style", f"must be {' or '.join(repr(s) for s in STYLES)} or a callable, not {style!r}"
    )


def _check_templates(templates: object) -> None:
    if templates is None or callable(templates):
        return
    if not isinstance(templates, (str, PathLike)):
        raise SettingsError(
            "templates", f"must be a directory, a callable or None, not {_kind(templates)}"
        )
    if not os.path.isdir(templates):
        where = os.path.abspath(templates)
        raise SettingsError(
            "templates", f"{os.fspath(templates)!r} is not a directory (looked in {where})"
        )


def _check_paths(name: str, paths: object) -> tuple[str, ...]:
    # A bare string ("/health", or ("/health") without its comma) would iterate as characters,
    # and "/" would exempt every path.
    if isinstance(paths, (str, bytes)) or not isinstance(paths, Iterable):
        raise SettingsError(name, f"must be a tuple of paths starting with '/', not {paths!r}")
    found = tuple(paths)
    if not all(isinstance(path, str) and path.startswith("/") for path in found):
        raise SettingsError(name, f"must be a tuple of paths starting with '/', not {paths!r}")
    return found


def _check_networks(name: str, values: object) -> tuple[str, ...]:
    # A bare string would iterate as characters, each an invalid network.
    if isinstance(values, (str, bytes)) or not isinstance(values, Iterable):
        raise SettingsError(name, f'must be a tuple of CIDRs ("10.0.0.0/8"), not {values!r}')
    found = tuple(values)
    for value in found:
        try:
            if not isinstance(value, str):
                raise ValueError
            ipaddress.ip_network(value.strip(), strict=False)
        except ValueError:
            raise SettingsError(name, f"has {value!r}, which is not a network (CIDR)") from None
    return found


def _check_log_storm(tracebacks: object, window: object) -> None:
    if tracebacks not in LOG_TRACEBACKS:
        choices = ", ".join(repr(mode) for mode in LOG_TRACEBACKS)
        raise SettingsError("log_tracebacks", f"must be one of {choices}, not {tracebacks!r}")
    if (
        not isinstance(window, (int, float))
        or isinstance(window, bool)
        or not 0 < window < float("inf")
    ):
        raise SettingsError("log_window", f"must be a positive number of seconds, not {window!r}")


def _check_upstream_names(names: object) -> dict[str, str]:
    """The mapping with normalised keys (lower-case host, ``host`` or ``host:port``)."""
    if not isinstance(names, Mapping):
        raise SettingsError("upstream_names", f"must be a mapping, not {_kind(names)}")
    checked: dict[str, str] = {}
    for key, name in names.items():
        normal = normal_upstream_key(key)
        if normal is None:
            raise SettingsError(
                "upstream_names",
                f"has a key that is not a host or host:port: {key!r}",
            )
        # The name is sent to clients (the ``upstream`` member) and logged: plain printable
        # text only, so that no renderer or log line can be broken by it.
        if not isinstance(name, str) or not _UPSTREAM_NAME.fullmatch(name):
            raise SettingsError(
                f"upstream_names[{key!r}]",
                f"must be a short printable name (letters, digits, ' ._:/-'), not {name!r}",
            )
        checked[normal] = name
    return checked


def _check_jitter(jitter: object) -> None:
    if not isinstance(jitter, (int, float)) or isinstance(jitter, bool) or not 0 <= jitter <= 1:
        raise SettingsError("retry_after_jitter", f"must be a fraction from 0 to 1, not {jitter!r}")


def _check_integrations(integrations: object) -> tuple[Integration, ...]:
    if isinstance(integrations, (str, bytes)) or not isinstance(integrations, Iterable):
        raise SettingsError(
            "integrations", f"must be a list of integrations, not {_kind(integrations)}"
        )
    found = tuple(integrations)
    for item in found:
        if not isinstance(item, Integration):
            raise SettingsError(
                "integrations",
                f"must hold gatewayerrors Integration objects (gatewayerrors.otel.OpenTelemetry"
                f"(), ...), not {_kind(item)}",
            )
    return found


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
    forward_request_id: bool
    overrides: Mapping[str, Mapping[str, str | Mapping[str, str]]]
    languages: Sequence[str] | None
    default_language: str
    style: str | StyleFunction
    templates: str | PathLike[str] | TemplateFunction | None
    suppress_response_codes: str | None
    maintenance: bool | MaintenanceCheck
    maintenance_env: str | None
    maintenance_exempt: tuple[str, ...]
    maintenance_exempt_extra: tuple[str, ...]
    maintenance_retry_after: int
    maintenance_store: str | MaintenanceStore | None
    maintenance_store_poll: float
    maintenance_store_grace: int
    maintenance_bypass_token: str | None
    maintenance_bypass_ips: tuple[str, ...]
    trusted_proxies: tuple[str, ...]
    on_error: OnError | None
    logger_name: str
    log_tracebacks: str
    log_window: float
    upstream_names: Mapping[str, str]
    retry_after_jitter: float
    integrations: Sequence[Integration]

"""The core: exception → classify → error value → negotiate → render → status, headers, body.

Adapters build a :class:`RequestInfo` from their framework's request, call
:meth:`Translator.translate`, and send the :class:`ErrorResponse` it returns (or re-raise when it
returns None: not an upstream failure). Everything constant is computed once, in ``__init__``.
"""

from __future__ import annotations

import contextlib
import inspect
import logging
import os
import re
import time
from collections.abc import Callable
from contextvars import Token
from random import getrandbits, random
from typing import TYPE_CHECKING, NamedTuple

if TYPE_CHECKING:
    from typing_extensions import Unpack

from ._bypass import Bypass
from ._catalog import ErrorKind, catalog
from ._classify import default_classifier
from ._error import Evidence, UpstreamFailure
from ._headers import clean_header_value, proxy_status, valid_request_id
from ._integrations import overrides
from ._languages import LanguageChooser
from ._locale import WINDOW_END, code_overrides
from ._logstorm import LogStorm, failure_signature, log_level
from ._maintenance import MaintenanceSwitch
from ._maintenance_state import MaintenanceState
from ._negotiate import Format, negotiate
from ._pages import build_html_renderer
from ._render import (
    clean_text,
    instance_path,
    reason_phrase,
    render_problem_json,
    render_problem_xml,
    render_text,
)
from ._request_context import bind_request_id, bound_request_id
from ._settings import Settings, SettingsOptions, resolve_settings
from ._stores import open_store
from ._styles import build_style
from ._types import ErrorResponse, RequestInfo
from ._upstreams import UpstreamNames

__all__ = ["ErrorResponse", "RequestInfo", "Translator", "websocket_close_code"]

_NO_STORE = ("cache-control", "no-store")
_VARY_ACCEPT = ("vary", "Accept")
# A page's words follow Accept-Language when more than one language is offered (RFC 9110
# §12.5.5: Vary lists what chose the representation); JSON, XML and text never do.
_VARY_ACCEPT_LANGUAGE = ("vary", "Accept, Accept-Language")
_JSON_TYPE = "application/problem+json"
_XML_TYPE = "application/problem+xml"
_HTML_TYPE = "text/html; charset=utf-8"
_TEXT_TYPE = "text/plain; charset=utf-8"
_PARAM_FORMATS = {
    "json": Format.JSON,
    "xml": Format.XML,
    "html": Format.HTML,
    "text": Format.TEXT,
    "txt": Format.TEXT,
}
_FALSE = ("", "0", "false", "no", "off")
_new_failure = _new_response = tuple.__new__
_MAX_DEBUG = 1000
# "scheme://user:password@" and the values of "?name=value&..." in debug text.
_USERINFO = re.compile(r"\b([A-Za-z][A-Za-z0-9+.\-]*://)[^/\s@?#'\"<>]*@")
_QUERY_VALUE = re.compile(r"([?&][^=&\s'\"<>#]+=)[^&\s'\"<>#()]*")


class _CodeText(NamedTuple):
    kind: ErrorKind
    title: str
    detail: str
    hint: str
    proxy_status: str | None


def websocket_close_code(error: UpstreamFailure) -> int:
    """WebSocket close code for an error after accept (IANA registry).

    1013 "try again later" for a 503, 1014 "bad gateway" for a 502 or 504, and 1011
    "internal error" for the few kinds with another status (e.g. proxy_internal_error, 500).
    """
    if error.status == 503:
        return 1013
    return 1014 if error.status in (502, 504) else 1011


def _query_value(query: str, name: str) -> str | None:
    if name not in query:
        return None
    for pair in query.split("&"):
        key, _, value = pair.partition("=")
        if key == name:
            return value
    return None


def _debug_text(exc: BaseException) -> str:
    try:
        message = str(exc)
    except Exception:
        message = "<unprintable>"
    text = f"{type(exc).__qualname__}: {message}" if message else type(exc).__qualname__
    # Control characters (terminal escapes, NUL) have no place in a body, even in debug.
    text = clean_text(text[:_MAX_DEBUG])
    # Client messages quote the URL they called: its password and API keys must not reach a
    # body or Proxy-Status (which proxies and CDNs log), even in debug.
    return _QUERY_VALUE.sub(r"\1***", _USERINFO.sub(r"\1***@", text))


def _safe_text(value: str) -> str:
    # Lone surrogates cannot be encoded by any renderer; replace them once, here.
    return value.encode("utf-8", "replace").decode("utf-8")


class Translator:
    """Turns exceptions into gateway error responses. One per app; safe to share across threads."""

    def __init__(
        self, settings: Settings | None = None, **options: Unpack[SettingsOptions]
    ) -> None:
        settings = resolve_settings(settings, options)
        self.settings = settings
        self.classifier = settings.classifier or default_classifier
        self.logger = logging.getLogger(settings.logger_name)
        self._type_base = settings.type_base
        self._max_retry = settings.max_retry_after
        self._request_id_header = settings.request_id_header.lower()
        self._trust_request_id = settings.trust_request_id
        self._forward_request_id = settings.forward_request_id
        self._debug = settings.debug
        self._suppress = settings.suppress_response_codes
        self._default_retry = min(settings.default_retry_after, settings.max_retry_after)
        self._format_options = bool(settings.format_param) or settings.path_suffix
        self._codes = {code: self._code_text(kind) for code, kind in catalog.items()}
        self._style = build_style(settings)
        self._html = build_html_renderer(settings)
        languages = settings.page_languages
        self._languages = LanguageChooser(languages, settings.default_language)
        self._vary_page = _VARY_ACCEPT_LANGUAGE if len(languages) > 1 else _VARY_ACCEPT
        self._content_languages = {
            language: ("content-language", language) for language in languages
        }
        self._exempt_paths = settings.exempt_paths
        self.maintenance_switch = self._build_maintenance_switch()
        bypass = Bypass(
            settings.maintenance_bypass_token,
            settings.maintenance_bypass_ips,
            settings.trusted_proxies,
        )
        self._bypass = bypass if bypass.enabled else None
        self.maintenance_check = self._build_maintenance_check()
        self._jitter = settings.retry_after_jitter
        self._upstream_names = UpstreamNames(settings.upstream_names) or None
        self._storm = LogStorm(settings.log_tracebacks, settings.log_window)
        self._log_levels = {code: log_level(kind) for code, kind in catalog.items()}
        integrations = settings.integrations
        # Only what an integration overrides is called: none listed costs one falsy test.
        self._request_id_sources = tuple(
            item.request_id for item in integrations if overrides(item, "request_id")
        )
        self._observers = tuple(item.observe for item in integrations if overrides(item, "observe"))

    @classmethod
    def for_adapter(
        cls,
        settings: Settings | None = None,
        translator: Translator | None = None,
        options: SettingsOptions | None = None,
    ) -> Translator:
        """The translator an adapter was given: a shared ``translator``, a ``Settings`` object,
        or keyword options — one of them (none: the defaults)."""
        if translator is None:
            return cls(settings, **(options or {}))
        if settings is not None or options:
            raise TypeError("pass a translator, settings or keyword options: only one of them")
        if not isinstance(translator, Translator):
            raise TypeError(f"translator must be a gatewayerrors Translator, not {translator!r}")
        return translator

    def bind_request_id(self, request_id: str | None) -> Token[list[str | None] | None] | None:
        """Bind this request's id for outgoing calls (``forward_request_id``), or None when off.

        Adapters call it before running the app and :func:`reset_request_id` after. An incoming
        id is bound only when it would be reused (valid and trusted).
        """
        if not self._forward_request_id:
            return None
        if request_id is not None and not (self._trust_request_id and valid_request_id(request_id)):
            request_id = None
        return bind_request_id(self._request_id_header, request_id)

    def _code_text(self, kind: ErrorKind) -> _CodeText:
        override = code_overrides(self.settings.overrides, kind.code)  # the plain texts
        status = None
        if kind.rfc9209:
            status = proxy_status(self.settings.service, kind.code)
        return _CodeText(
            kind,
            clean_text(override.get("title", kind.title)),
            clean_text(override.get("detail", kind.description)),
            clean_text(override.get("hint", kind.hint)),
            status,
        )

    def _build_maintenance_switch(self) -> MaintenanceSwitch | None:
        """The shared state's switch, refreshing in the background from now on; None: no store."""
        settings = self.settings
        if settings.maintenance_store is None:
            return None
        switch = MaintenanceSwitch(
            open_store(settings.maintenance_store),
            interval=settings.maintenance_store_poll,
            grace=settings.maintenance_store_grace,
            logger=self.logger,
        )
        switch.start()
        return switch

    def _build_maintenance_check(self) -> Callable[[], bool] | None:
        """A per-request check, or None when maintenance mode cannot be on (the usual case)."""
        flag = self.settings.maintenance
        env = self.settings.maintenance_env
        # The environment of a running process only changes from inside it, so read it once.
        if env and os.environ.get(env, "").strip().lower() not in _FALSE:
            flag = True
        if flag is True:
            return lambda: True
        switch = self.maintenance_switch
        if switch is not None:
            shared = switch.is_active  # memory only: the store is read in the background
            if callable(flag):
                user = flag
                return lambda: bool(user()) or shared()
            return shared
        if callable(flag):
            return flag
        return None

    # -- classification --------------------------------------------------------------------

    def classify(self, exc: BaseException) -> Evidence | None:
        """Evidence that ``exc`` is an upstream failure, or None ("not mine": re-raise it)."""
        return self.classifier.classify(exc)

    def failure(
        self,
        evidence: Evidence,
        request: RequestInfo,
        exc: BaseException | None = None,
    ) -> UpstreamFailure:
        """The one error value for this evidence and request."""
        text = self._codes[evidence.code]
        kind = text.kind
        status = kind.status
        retry_after = evidence.retry_after
        if retry_after is not None:
            retry_after = min(retry_after, self._max_retry)
        elif status == 503:
            retry_after = self._default_retry
        if self._jitter and retry_after:
            # Upward only: earlier than the upstream, breaker or window said would be wasted.
            spread = round(random() * retry_after * self._jitter)
            retry_after = min(retry_after + spread, self._max_retry)
        request_id = self._integration_request_id() if self._request_id_sources else None
        if request_id is None:
            request_id = request.request_id
            if request_id is not None and not (
                self._trust_request_id and valid_request_id(request_id)
            ):
                request_id = None
        if request_id is None and self._forward_request_id:
            request_id = bound_request_id()  # the id this request already sent upstream
        if request_id is None:
            # Correlation ids need uniqueness, not secrecy; random reseeds itself after fork().
            request_id = f"{getrandbits(128):032x}"
        detail = text.detail if evidence.detail is None else clean_text(evidence.detail)
        upstream = evidence.upstream
        if upstream is not None:
            upstream = clean_text(upstream)
        elif self._upstream_names is not None and exc is not None:
            upstream = self._upstream_names.name_for(exc)
        debug = _debug_text(exc) if self._debug and exc is not None else None
        instance = instance_path(request.path, request.raw_path) if request.path else None
        # tuple.__new__ skips NamedTuple's Python-level __new__: this runs on every error.
        return _new_failure(
            UpstreamFailure,
            (
                kind,
                status,
                text.title,
                detail,
                text.hint,
                retry_after,
                upstream,
                request_id,
                evidence.received_status,
                instance,
                debug,
                evidence.upstream_code,
                evidence.chain,
            ),
        )

    def _integration_request_id(self) -> str | None:
        """The first request id an integration gives (a trace id), or None."""
        for source in self._request_id_sources:
            try:
                request_id = source()
            except Exception:
                self.logger.exception("gatewayerrors: integration request_id failed")
                continue
            if request_id and valid_request_id(request_id):
                return request_id
        return None

    # -- the whole path --------------------------------------------------------------------

    def translate(self, exc: BaseException, request: RequestInfo) -> ErrorResponse | None:
        """The response for ``exc``, or None when it is not an upstream failure. Never raises."""
        try:
            evidence = self.classifier.classify(exc)
        except Exception:
            self._log_failure("classifier failed; treating as not mine")
            return None
        if evidence is None:
            return None
        try:
            error = self.failure(evidence, request, exc)
        except Exception:
            self._log_failure("could not build the error value")
            error = self._fallback_error(evidence.code)
        return self.respond(error, request)

    def response_for(
        self,
        code: str,
        request: RequestInfo,
        *,
        retry_after: int | None = None,
        detail: str | None = None,
        upstream: str | None = None,
    ) -> ErrorResponse:
        """A response for a catalog code directly (no exception), e.g. for maintenance mode."""
        evidence = Evidence(code, 0, retry_after, None, detail, upstream)
        return self.respond(self.failure(evidence, request), request)

    def maintenance_active(self) -> bool:
        """Whether maintenance mode is on right now. Cheap, and never raises.

        Adapters ask this before describing the request, so that a configured but inactive
        maintenance callable costs one call per request. A failing check is logged, and off.
        """
        check = self.maintenance_check
        if check is None:
            return False
        try:
            return bool(check())
        except Exception:
            self._log_failure("maintenance check failed; assuming off")
            return False

    def maintenance_answer(self, describe: Callable[[], RequestInfo]) -> ErrorResponse | None:
        """The 503 ``maintenance`` answer when maintenance mode is on for this request, else None.

        The one maintenance flow every adapter uses: ``describe()`` builds the request's
        :class:`RequestInfo`, and is only called when maintenance mode is on right now.
        """
        if self.maintenance_check is None or not self.maintenance_active():
            return None
        return self.maintenance_response(describe(), active=True)

    def maintenance_response(
        self, request: RequestInfo, *, active: bool | None = None
    ) -> ErrorResponse | None:
        """The 503 ``maintenance`` answer if maintenance mode is on for this request, else None.

        ``active`` is :meth:`maintenance_active`'s answer when the caller already asked.
        """
        if active is None:
            active = self.maintenance_active()
        if not active or self._exempt(request.path):
            return None
        if self._bypass is not None and self._bypass.allows(request):
            return None
        retry_after = self.settings.maintenance_retry_after
        detail = None
        switch = self.maintenance_switch
        state = None if switch is None else switch.active()
        if state is not None:
            retry_after, detail = self._window_answer(state)
        return self.response_for("maintenance", request, retry_after=retry_after, detail=detail)

    def _window_answer(self, state: MaintenanceState) -> tuple[int, str | None]:
        """``Retry-After`` and ``detail`` for a shared state: the operator's retry_after, else
        the seconds until the window ends, else ``maintenance_retry_after``; the operator's
        message, else the usual detail plus when the window ends."""
        left = state.seconds_left(time.time())
        retry_after = state.retry_after
        if retry_after is None:
            retry_after = self.settings.maintenance_retry_after if left is None else left
        detail = state.message
        if detail is None and state.end is not None:
            end = WINDOW_END % {"end": f"{state.end:%Y-%m-%d %H:%M}"}
            detail = f"{self._codes['maintenance'].detail} {end}"
        return retry_after, detail

    def _exempt(self, path: str) -> bool:
        for exempt in self._exempt_paths:
            if path == exempt or (exempt.endswith("/") and path.startswith(exempt)):
                return True
        return False

    def choose_format(self, request: RequestInfo) -> Format:
        """The response format: an enabled ``format`` parameter or path suffix, else Accept."""
        if not self._format_options:
            return negotiate(request.accept)
        settings = self.settings
        if settings.format_param and request.query:
            value = _query_value(request.query, settings.format_param)
            if value is not None and value.lower() in _PARAM_FORMATS:
                return _PARAM_FORMATS[value.lower()]
        if settings.path_suffix:
            if request.path.endswith(".json"):
                return Format.JSON
            if request.path.endswith(".xml"):
                return Format.XML
        return negotiate(request.accept)

    def respond(self, error: UpstreamFailure, request: RequestInfo) -> ErrorResponse:
        """Render ``error`` for ``request``: status, headers and body. Never raises."""
        try:
            fmt = self.choose_format(request)
            content_type, body, language = self._render(error, fmt, request)
            return self._complete(error, request, content_type, body, language)
        except Exception:
            self._log_failure("rendering failed; sending a minimal response")
            return self.minimal_response(error, request)

    def _render(
        self, error: UpstreamFailure, fmt: Format, request: RequestInfo
    ) -> tuple[str, bytes, str | None]:
        """Content type, body, and the page's language (None: a body that has none)."""
        styled = self._style(error, fmt, request) if self._style is not None else None
        if styled is not None:
            return (*styled, None)
        # Identity tests, not a dict keyed by Format: Enum.__hash__ is Python code.
        if fmt is Format.JSON:
            return _JSON_TYPE, render_problem_json(error, self._type_base), None
        if fmt is Format.HTML:
            # Only a page is in the visitor's language: problem details and text are read by
            # programs and operators, and keep the catalog's English (docs/languages.md).
            language = self._languages.choose(request.accept_language)
            return _HTML_TYPE, self._html(error, request, language), language
        if fmt is Format.XML:
            return _XML_TYPE, render_problem_xml(error, self._type_base), None
        return _TEXT_TYPE, render_text(error), None

    def _complete(
        self,
        error: UpstreamFailure,
        request: RequestInfo,
        content_type: str,
        body: bytes,
        language: str | None = None,
    ) -> ErrorResponse:
        if language is None:
            headers = [
                ("content-type", content_type),
                ("content-length", str(len(body))),
                _NO_STORE,
                _VARY_ACCEPT,
            ]
        else:
            headers = [
                ("content-type", content_type),
                ("content-length", str(len(body))),
                _NO_STORE,
                self._vary_page,
                self._content_languages[language],
            ]
        if error.retry_after is not None:
            headers.append(("retry-after", str(error.retry_after)))
        proxy = self._proxy_status(error)
        if proxy is not None:
            headers.append(("proxy-status", proxy))
        if error.request_id is not None:
            headers.append((self._request_id_header, error.request_id))
        status = error.status
        suppress = self._suppress
        if suppress and request.query:
            value = _query_value(request.query, suppress)
            if value is not None and value.lower() not in _FALSE[1:]:
                status = 200
        if request.method == "HEAD":
            body = b""
        return _new_response(ErrorResponse, (status, headers, body, error))

    def _proxy_status(self, error: UpstreamFailure) -> str | None:
        if error.received_status is None and error.debug is None and not error.chain:
            return self._codes[error.kind.code].proxy_status  # precomputed per code
        error_type = error.kind.code if error.kind.rfc9209 else None
        own = None
        if error_type is not None or error.received_status is not None:
            own = proxy_status(
                self.settings.service, error_type, error.received_status, error.debug
            )
        if error.chain:
            # RFC 9209 §2: the upstream's members first (validated by _chain), ours appended.
            return clean_header_value(", ".join((*error.chain, own) if own else error.chain))
        return None if own is None else clean_header_value(own)

    def _fallback_error(self, code: str) -> UpstreamFailure:
        kind = catalog[code] if code in catalog else catalog["proxy_internal_error"]
        retry = self._default_retry if kind.status == 503 else None
        return UpstreamFailure(
            kind, kind.status, kind.title, kind.description, kind.hint,
            retry, None, None, None, None, None,
        )  # fmt: skip

    def minimal_response(self, error: UpstreamFailure, request: RequestInfo) -> ErrorResponse:
        """A plain-text response with the right status: the last resort. Never raises."""
        status = error.status if isinstance(error.status, int) else 502
        body = f"{status} {reason_phrase(status)}\n".encode("ascii")
        headers = [
            ("content-type", "text/plain; charset=utf-8"),
            ("content-length", str(len(body))),
            ("cache-control", "no-store"),
            ("vary", "Accept"),
        ]
        if isinstance(error.retry_after, int):
            headers.append(("retry-after", str(error.retry_after)))
        if isinstance(error.request_id, str) and valid_request_id(error.request_id):
            headers.append((self._request_id_header, error.request_id))
        if request.method == "HEAD":
            body = b""
        return ErrorResponse(status, headers, body, error)

    # -- reporting -------------------------------------------------------------------------

    def log(
        self,
        response: ErrorResponse,
        exc: BaseException | None,
        *,
        response_started: bool = False,
    ) -> None:
        """The log record(s) for a translated error, as the log-storm policy decides.

        The first failure of its kind in ``log_window`` carries the exception (so the handler
        formats its traceback); repeats are one compact line each; a closed window is summed up
        in one line. ``response_started``: the app had already started its own response, so
        this error could not be sent and the adapter let the server abort the connection.
        """
        error = response.error
        try:
            self._log_records(error, exc, response_started)
        except Exception:
            # The exception's own code runs while its traceback is formatted (__str__,
            # __getattr__ for __notes__): if it raises, log what we know, without it.
            self._log_minimal(error.status, error.kind.code, error.request_id)

    def _log_records(
        self, error: UpstreamFailure, exc: BaseException | None, response_started: bool
    ) -> None:
        code = error.kind.code
        level = logging.ERROR if response_started else self._log_levels.get(code, logging.ERROR)
        logger = self.logger
        if not logger.isEnabledFor(level):
            return  # apps that silence this logger for on_error skip building the record
        storm = self._storm
        try:
            signature = failure_signature(code, error.upstream, response_started, exc)
        except Exception:  # a hostile exception object: group it by what we know
            signature = (code, error.upstream, response_started)
        decision = storm.decide(
            signature,
            code,
            error.status,
            error.upstream,
            level,
        )
        for summary in decision.summaries:
            logger.log(
                summary.level,
                "upstream failures: %s %s upstream=%s x %s in the last %g s "
                "(traceback logged for the first)",
                summary.status,
                summary.code,
                summary.upstream or "-",
                f"{summary.failures:,}",
                summary.seconds,
                extra={
                    "gatewayerrors_code": summary.code,
                    "gatewayerrors_status": summary.status,
                    "gatewayerrors_upstream": summary.upstream,
                    "gatewayerrors_summary_count": summary.failures,
                    "gatewayerrors_summary_seconds": summary.seconds,
                },
            )
        repeats = decision.repeats
        if repeats:
            message = (
                "upstream failure after the response started (connection aborted; repeat %d "
                "in %g s): %s %s upstream=%s request_id=%s"
                if response_started
                else "upstream failure (repeat %d in %g s): %s %s upstream=%s request_id=%s"
            )
            args: tuple[object, ...] = (repeats, storm.window)
        else:
            message = (
                "upstream failure after the response started (connection aborted): "
                "%s %s upstream=%s request_id=%s"
                if response_started
                else "upstream failure: %s %s upstream=%s request_id=%s"
            )
            args = ()
        logger.log(
            level,
            message,
            *args,
            error.status,
            code,
            error.upstream or "-",
            error.request_id or "-",
            exc_info=exc if decision.traceback else None,
            extra={
                "gatewayerrors_code": code,
                "gatewayerrors_status": error.status,
                "gatewayerrors_upstream": error.upstream,
                "gatewayerrors_request_id": error.request_id,
                "gatewayerrors_response_started": response_started,
                "gatewayerrors_repeats": repeats,
            },
        )

    def _guarded_log(
        self, response: ErrorResponse, exc: BaseException | None, response_started: bool
    ) -> None:
        try:
            self.log(response, exc, response_started=response_started)
        except Exception:  # a subclass's log(), or a handler that fails
            error = response.error
            self._log_minimal(error.status, error.kind.code, error.request_id)

    def _log_failure(self, message: str) -> None:
        """Log our own failure with its traceback, or without it if that fails. Never raises."""
        try:
            self.logger.exception(message)
        except Exception:  # its traceback chains to the exception being answered
            with contextlib.suppress(Exception):
                self.logger.error("%s (the traceback could not be logged)", message)

    def _log_minimal(self, status: object, code: object, request_id: object) -> None:
        """A log line that runs no code of the exception's; never raises."""
        with contextlib.suppress(Exception):  # a broken handler: still never raise
            self.logger.error(
                "upstream failure: %s %s request_id=%s (the exception could not be logged)",
                status,
                code,
                request_id or "-",
            )

    def observe(
        self, response: ErrorResponse, exc: BaseException | None, *, response_started: bool = False
    ) -> None:
        """Tell the ``integrations`` of a translated error. Never raises.

        :meth:`report` does it; an adapter calls it itself where the moment matters, then
        passes ``observed=True`` to :meth:`report`: ASGI instrumentations end their server span
        with the last body message, so the ASGI adapter calls it between the response start
        and the body.
        """
        for observe in self._observers:
            try:
                observe(response, exc, response_started)
            except Exception:
                self._log_failure(f"integration {observe!r} failed")

    def report(
        self,
        response: ErrorResponse,
        exc: BaseException | None,
        *,
        response_started: bool = False,
        observed: bool = False,
    ) -> None:
        """Tell the integrations (unless ``observed``: see :meth:`observe`), log, then call a
        synchronous ``on_error`` hook (async hooks need :meth:`areport`).

        Never raises: a failing integration, log or hook is logged (or dropped), not raised.
        """
        if self._observers and not observed:
            self.observe(response, exc, response_started=response_started)
        self._guarded_log(response, exc, response_started)
        hook = self.settings.on_error
        if hook is None:
            return
        try:
            result = hook(response.error, exc)
            if inspect.isawaitable(result):
                close = getattr(result, "close", None)
                if close is not None:
                    close()
                self.logger.warning("async on_error hook ignored in a sync app")
        except Exception:
            self._log_failure("on_error hook failed")

    async def areport(
        self,
        response: ErrorResponse,
        exc: BaseException | None,
        *,
        response_started: bool = False,
        observed: bool = False,
    ) -> None:
        """Tell the integrations (unless ``observed``), log, then call ``on_error`` (sync or
        async). A failing integration, log or hook is logged, not raised."""
        if self._observers and not observed:
            self.observe(response, exc, response_started=response_started)
        self._guarded_log(response, exc, response_started)
        hook = self.settings.on_error
        if hook is None:
            return
        try:
            result = hook(response.error, exc)
            if inspect.isawaitable(result):
                await result
        except Exception:
            self._log_failure("on_error hook failed")


def translates(translator: Translator, exc: BaseException) -> bool:
    """Whether ``translator`` answers ``exc`` (an upstream failure, however deep in its chain).

    For a framework's exception handler that hands upstream failures on to the middleware
    (re-raises them) and leaves everything else to the framework. Never raises: a failing
    classifier is logged and means "not ours", as in :meth:`Translator.translate`.
    """
    try:
        return translator.classifier.classify(exc) is not None
    except Exception:
        translator._log_failure("classifier failed; treating as not mine")  # as translate() does
        return False

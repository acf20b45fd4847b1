"""Django middleware: upstream failures in views become gateway error responses.

    # settings.py
    MIDDLEWARE = ["gatewayerrors.django.GatewayErrorsMiddleware", ...]
    GATEWAYERRORS = {"service": "catalog"}          # any Settings option, plus "template_name"

The middleware answers in ``process_exception``, the hook Django gives for exceptions raised by
a view (Django turns anything else into its own 500 before an outer wrapper could see it). It
is sync- and async-capable, so under ASGI it runs without a thread hop on the happy path. An
upstream failure is answered like every other adapter does, then reported:
``got_request_exception`` is sent (error trackers listen to it) and the ``gatewayerrors``
logger logs it once, under the log-storm policy (``log_tracebacks``); ``django.request`` does
not log it a second time. Anything else is left to Django (``None``). Detail follows ``DEBUG``
unless ``GATEWAYERRORS["debug"]`` is set.

Django REST framework handles a view's exceptions itself first; its default handler lets
unknown ones through to this middleware. To answer inside DRF (a custom catch-all handler,
``ATOMIC_REQUESTS`` rollback), set ``REST_FRAMEWORK["EXCEPTION_HANDLER"]`` to
``"gatewayerrors.django.drf_exception_handler"``.
"""

from __future__ import annotations

from .._optional import require

require("django", extra="django", needed_by="gatewayerrors.django", project="Django")

import contextlib
import dataclasses
import os
from collections.abc import Awaitable, Callable, Mapping
from contextvars import Token
from typing import TYPE_CHECKING, Any
from urllib.parse import unquote, unquote_to_bytes

from asgiref.sync import async_to_sync, iscoroutinefunction, markcoroutinefunction
from django.conf import settings as django_settings
from django.core.exceptions import (
    BadRequest,
    ImproperlyConfigured,
    PermissionDenied,
    SuspiciousOperation,
)
from django.core.signals import got_request_exception, setting_changed
from django.http import (
    Http404,
    HttpRequest,
    HttpResponse,
    HttpResponseBase,
)
from django.http.multipartparser import MultiPartParserError
from django.utils.encoding import repercent_broken_unicode
from django.utils.module_loading import import_string

from .._error import UpstreamFailure
from .._pages import page_context, page_headings
from .._request_context import reset_request_id
from .._settings import Settings, SettingsOptions
from .._translate import ErrorResponse, RequestInfo, Translator
from .._types import PageContext
from ..asgi import raw_path as asgi_raw_path
from ..wsgi import sent_path

if TYPE_CHECKING:
    from typing_extensions import Unpack

__all__ = [
    "SETTINGS_NAME",
    "GatewayErrorsMiddleware",
    "django_template",
    "drf_exception_handler",
    "get_translator",
    "response_for_exception",
]

SETTINGS_NAME = "GATEWAYERRORS"
"""The Django setting (a dict) that holds the options."""

_translator: Translator | None = None

# Exceptions that are Django's own answers (404, 403, 400): raised in an ``except`` block for an
# upstream failure, they still mean what the view said, not the failure in their context.
_DJANGO_ANSWERS = (Http404, PermissionDenied, BadRequest, SuspiciousOperation, MultiPartParserError)


def get_translator() -> Translator:
    """The translator built from ``settings.GATEWAYERRORS`` and ``DEBUG``, shared by every entry
    point (the middleware, the DRF handler, a WSGI wrapper); rebuilt when those settings change.
    """
    global _translator
    translator = _translator
    if translator is None:
        translator = _translator = Translator(_settings())
    return translator


def _settings() -> Settings:
    configured = getattr(django_settings, SETTINGS_NAME, None) or {}
    if not isinstance(configured, Mapping):
        raise ImproperlyConfigured(
            f"{SETTINGS_NAME} must be a dict, not {type(configured).__name__}"
        )
    values = dict(configured)
    template_name = values.pop("template_name", None)
    values.setdefault("debug", bool(django_settings.DEBUG))
    templates = values.get("templates")
    base_dir = getattr(django_settings, "BASE_DIR", None)
    if isinstance(templates, (str, os.PathLike)) and not os.path.isabs(templates) and base_dir:
        # Relative to the project (BASE_DIR), as Django's own settings are, not to the cwd.
        values["templates"] = os.path.join(base_dir, templates)
    on_error = values.get("on_error")
    try:
        if isinstance(on_error, str):  # a dotted path, the way Django settings name callables
            values["on_error"] = import_string(on_error)
        settings = Settings.from_mapping(values, name=lambda option: f'{SETTINGS_NAME}["{option}"]')
    except ImportError as exc:
        raise ImproperlyConfigured(
            f'{SETTINGS_NAME}["on_error"]: cannot import {on_error!r} ({exc})'
        ) from exc
    except (TypeError, ValueError) as exc:
        raise ImproperlyConfigured(str(exc)) from exc
    if template_name is not None:
        if settings.templates is not None:
            raise ImproperlyConfigured(f"{SETTINGS_NAME}: set template_name or templates, not both")
        settings = dataclasses.replace(
            settings,
            templates=django_template(
                template_name, type_base=settings.type_base, overrides=settings.overrides
            ),
        )
    return settings


def _forget_translator(*, setting: str, **kwargs: Any) -> None:
    global _translator
    if setting in (SETTINGS_NAME, "DEBUG"):
        old, _translator = _translator, None
        if old is not None and old.maintenance_switch is not None:
            old.maintenance_switch.stop()  # its refresher would poll on for nobody


setting_changed.connect(_forget_translator, dispatch_uid="gatewayerrors.django")


def request_info(request: HttpRequest, request_id_header: str) -> RequestInfo:
    """The core's view of a Django request (built only when an error is answered).

    Never raises: an odd ``META`` (a value that is not a ``str``, a key that breaks
    ``request.headers``) gives defaults, so the view's exception is what gets answered.
    """
    try:
        meta = request.META
        method = request.method
        query, accept = meta.get("QUERY_STRING"), meta.get("HTTP_ACCEPT")
        accept_language = meta.get("HTTP_ACCEPT_LANGUAGE")
        request_id = None
        with contextlib.suppress(Exception):  # request.headers parses every META key
            request_id = request.headers.get(request_id_header)
        path, raw = _request_path(request)
        client, forwarded, bypass = (
            meta.get("REMOTE_ADDR"),
            meta.get("HTTP_X_FORWARDED_FOR"),
            meta.get("HTTP_X_MAINTENANCE_BYPASS"),
        )
        return RequestInfo(
            method if isinstance(method, str) and method else "GET",
            path if isinstance(path, str) and path else "/",
            query if isinstance(query, str) else "",
            accept if isinstance(accept, str) else None,
            request_id if isinstance(request_id, str) else None,
            request,
            raw,
            client if isinstance(client, str) and client else None,
            forwarded if isinstance(forwarded, str) and forwarded else None,
            bypass if isinstance(bypass, str) and bypass else None,
            accept_language if isinstance(accept_language, str) else None,
        )
    except Exception:
        return RequestInfo(native=request)


def _request_path(request: HttpRequest) -> tuple[object, str | None]:
    """The path as the WSGI and ASGI adapters see it, so ``instance`` is the same everywhere.

    Not ``request.path``: Django re-percent-encodes bytes that are not UTF-8 (``%FF`` stays
    ``%FF`` where every other adapter decodes it).
    """
    scope = getattr(request, "scope", None)
    if isinstance(scope, dict):  # ASGIRequest: the scope as the ASGI adapter reads it
        return scope.get("path"), asgi_raw_path(scope)
    path = request.path
    raw = sent_path(request.META)  # WSGIRequest: Django rewrote PATH_INFO in the environ
    if raw is not None and isinstance(path, str):
        # Django's own reading of the path sent; it must match for the raw path to be trusted.
        as_django = repercent_broken_unicode(unquote_to_bytes(raw)).decode()
        if path.endswith(as_django):  # equal, or under a SCRIPT_NAME prefix
            return path[: len(path) - len(as_django)] + unquote(raw, errors="replace"), raw
    return path, None


def django_response(response: ErrorResponse) -> HttpResponse:
    """``response`` as an ``HttpResponse``, headers exactly as the core made them."""
    return HttpResponse(response.body, status=response.status, headers=dict(response.headers))


def response_for_exception(
    request: HttpRequest, exc: BaseException, *, translator: Translator | None = None
) -> HttpResponse | None:
    """The response for an upstream failure, signalled and logged once; else None.

    What the middleware and the DRF handler use: call it from your own exception handler.
    ``translator`` defaults to the one built from ``settings.GATEWAYERRORS``.
    """
    if isinstance(exc, _DJANGO_ANSWERS):
        return None
    if translator is None:
        translator = get_translator()
    settings = translator.settings
    response = translator.translate(exc, request_info(request, settings.request_id_header))
    if response is None:
        return None
    http_response = django_response(response)
    # One record per failure, from our logger, under its log-storm policy: django.request
    # would log the same traceback again (today's 9.5 KB per error) and, through
    # AdminEmailHandler, mail it once per request in an outage. Django's log_response skips a
    # response marked as logged, as it does for the 5xx it logged itself.
    http_response._has_been_logged = True
    if iscoroutinefunction(settings.on_error):
        async_to_sync(translator.areport)(response, exc)
    else:
        translator.report(response, exc)
    # After the report, so that an error tracker listening to the signal can tell a failure
    # that gatewayerrors.sentry has already reported (one event per window, not per request).
    got_request_exception.send(sender=None, request=request)
    return http_response


class GatewayErrorsMiddleware:
    """Answers upstream failures raised by views with 502/503/504 responses (and maintenance).

    Put it near the top of ``MIDDLEWARE`` so maintenance mode answers before other work.
    Django builds it with ``get_response`` alone: the settings then come from
    ``settings.GATEWAYERRORS`` and are checked here, when Django loads its middleware (at
    startup), so an invalid one stops the server with ``ImproperlyConfigured`` instead of
    failing every request. Like every adapter it also takes ``settings=``, keyword options or a
    shared ``translator=`` (for building a handler by hand).
    """

    sync_capable = True
    async_capable = True

    def __init__(
        self,
        get_response: Callable[[HttpRequest], HttpResponseBase | Awaitable[HttpResponseBase]],
        settings: Settings | None = None,
        *,
        translator: Translator | None = None,
        **options: Unpack[SettingsOptions],
    ) -> None:
        self.get_response = get_response
        self._translator = (
            Translator.for_adapter(settings, translator, options)
            if settings is not None or translator is not None or options
            else None
        )
        self.translator  # noqa: B018 -- builds (and so checks) the settings now, at startup
        self.async_mode = iscoroutinefunction(get_response)
        if self.async_mode:
            markcoroutinefunction(self)

    @property
    def translator(self) -> Translator:
        """This middleware's translator: its own, or the one from ``settings.GATEWAYERRORS``."""
        return self._translator or get_translator()

    def __call__(self, request: HttpRequest) -> Any:
        if self.async_mode:
            return self.__acall__(request)
        response = self._maintenance(request)
        if response is not None:
            return response
        bound = self._bind_request_id(request)
        try:
            return self.get_response(request)
        finally:
            if bound is not None:
                reset_request_id(bound)

    async def __acall__(self, request: HttpRequest) -> HttpResponseBase:
        response = self._maintenance(request)
        if response is not None:
            return response
        bound = self._bind_request_id(request)
        try:
            return await self.get_response(request)
        finally:
            if bound is not None:
                reset_request_id(bound)

    def _bind_request_id(self, request: HttpRequest) -> Token[list[str | None] | None] | None:
        """``forward_request_id``: bind the request's id for outgoing calls (off: nothing)."""
        translator = self.translator
        if not translator.settings.forward_request_id:
            return None
        incoming = None
        with contextlib.suppress(Exception):  # request.headers parses every META key
            incoming = request.headers.get(translator.settings.request_id_header)
        return translator.bind_request_id(incoming if isinstance(incoming, str) else None)

    def process_exception(self, request: HttpRequest, exception: Exception) -> HttpResponse | None:
        """Django's hook for a view's exception: our response, or None to let Django go on."""
        return response_for_exception(request, exception, translator=self._translator)

    def _maintenance(self, request: HttpRequest) -> HttpResponse | None:
        translator = self.translator
        if translator.maintenance_check is None:
            return None
        header = translator.settings.request_id_header
        response = translator.maintenance_answer(lambda: request_info(request, header))
        return None if response is None else django_response(response)


def drf_exception_handler(exc: Exception, context: dict[str, Any]) -> HttpResponseBase | None:
    """A Django REST framework ``EXCEPTION_HANDLER``: DRF's default handler first (its own
    exceptions stay its answers), then upstream failures, with the transaction marked for
    rollback as DRF does.
    """
    from rest_framework.views import exception_handler, set_rollback

    result: HttpResponseBase | None = exception_handler(exc, context)
    if result is not None:
        return result
    request = context.get("request")
    django_request = getattr(request, "_request", request)
    if not isinstance(django_request, HttpRequest):
        return None
    response = response_for_exception(django_request, exc)
    if response is not None:
        set_rollback()
    return response


def django_template(
    template_name: str,
    *,
    type_base: str = "urn:gatewayerrors:",
    overrides: Mapping[str, Mapping[str, str | Mapping[str, str]]] | None = None,
) -> Callable[[UpstreamFailure, RequestInfo], str]:
    """A ``Settings.templates`` callable that renders ``template_name`` with Django's engine.

    The context is the built-in page's (``status``, ``heading``, ``title``, ``detail``,
    ``hint``, ``code``, ``request_id``, ``retry_after``, ...) plus ``error``; context processors
    run with the request. ``overrides`` give the ``heading`` per code, as in the settings.
    ``GATEWAYERRORS["template_name"]`` sets this up for you. As a ``templates`` callable it is
    given the page's context (its ``language`` chosen from ``Accept-Language``, the texts in
    it); called by hand, it builds one from ``overrides``.
    """
    headings = page_headings(overrides or {})

    def render(
        error: UpstreamFailure, request: RequestInfo, context: PageContext | None = None
    ) -> str:
        from django.template.loader import render_to_string

        native = request.native
        values: dict[str, Any] = (
            _page_context(error, request, type_base, headings.get(error.kind.code))
            if context is None
            else dict(context, error=error)
        )
        page: str = render_to_string(
            template_name,
            values,
            request=native if isinstance(native, HttpRequest) else None,
        )
        return page

    return render


def _page_context(
    error: UpstreamFailure, request: RequestInfo, type_base: str, heading: str | None
) -> dict[str, Any]:
    context: dict[str, Any] = dict(
        page_context(error, request, type_base=type_base, heading=heading)
    )
    context["error"] = error
    return context

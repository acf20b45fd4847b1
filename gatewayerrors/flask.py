"""Flask extension: upstream failures in views become gateway error responses.

    from gatewayerrors.flask import GatewayErrors
    GatewayErrors(app, service="catalog")      # or: ext = GatewayErrors(); ext.init_app(app)

Settings come from keyword arguments or ``app.config["GATEWAYERRORS_<NAME>"]`` (keyword
arguments win). Three hooks, each the idiomatic one for what it covers:

- **Error handlers** for the library's :class:`~gatewayerrors.GatewayError` and for the client
  exception classes the classifier recognises, among the modules the app has already imported
  (nothing is imported for you). Not for ``Exception``, ``OSError`` or ``TimeoutError``, which
  are raised for much besides upstream calls. An exception one of our handlers declines (not an
  upstream failure) goes on to the handler Flask would have picked without us, or to Flask's
  unhandled path: ``HTTPException`` handling, ``got_request_exception``, error trackers and your
  own handlers see everything else as before, and your handler for a more specific class wins.
- **The unhandled-exception path** (``app.handle_exception``): an exception no handler took, but
  whose chain holds an upstream failure (``raise ServiceError() from httpx.ConnectError()``),
  or whose client was imported after ``init_app``, is answered the same way; anything else goes
  on to Flask's own handling (signal, log, 500).
- **The WSGI app** (``app.wsgi_app``): a streamed body (a generator) fails after the view
  returned; :class:`~gatewayerrors.GatewayErrorsWSGIMiddleware` catches that, and answers
  maintenance mode before Flask does any work.

Detail (the exception's type and message) follows ``app.debug`` unless ``debug`` is set.
"""

from __future__ import annotations

from ._optional import require

require("flask", extra="flask", needed_by="gatewayerrors.flask", project="Flask")

import dataclasses
import os
from collections.abc import Callable, Iterable
from typing import TYPE_CHECKING, Any

from flask import Flask, Response, current_app, request
from flask.typing import ResponseReturnValue
from werkzeug.utils import import_string

from ._exceptions import GatewayError
from ._settings import Settings, SettingsOptions, check_option_names
from ._translate import ErrorResponse, Translator
from .wsgi import GatewayErrorsWSGIMiddleware, request_id_key, request_info, status_line

if TYPE_CHECKING:
    from _typeshed.wsgi import WSGIApplication, WSGIEnvironment
    from typing_extensions import Unpack

__all__ = ["CONFIG_PREFIX", "GatewayErrors"]

CONFIG_PREFIX = "GATEWAYERRORS_"
"""``app.config`` keys ``GATEWAYERRORS_<SETTING>`` (``GATEWAYERRORS_SERVICE``) set options."""

_EXTENSION = "gatewayerrors"


class GatewayErrors:
    """The Flask extension. Takes :class:`~gatewayerrors.Settings` options as keyword arguments.

    One instance may serve several apps (``init_app`` each); every app gets its own settings
    from its config.
    """

    def __init__(
        self,
        app: Flask | None = None,
        settings: Settings | None = None,
        *,
        translator: Translator | None = None,
        **options: Unpack[SettingsOptions],
    ) -> None:
        if sum((settings is not None, translator is not None, bool(options))) > 1:
            raise TypeError("pass a translator, settings or keyword options: only one of them")
        self.settings = settings
        self.translator = translator
        self.options = options
        check_option_names(options)  # a misspelt option fails here, its value at init_app
        if app is not None:
            self.init_app(app)

    def init_app(self, app: Flask) -> None:
        """Install the error handlers and the WSGI wrapper on ``app``.

        Raises :class:`~gatewayerrors.SettingsError` (or ``TypeError`` for an unknown
        ``GATEWAYERRORS_*`` key) at once for invalid settings.
        """
        if self.translator is not None:
            state = _AppState(app, self.translator, follow_debug=False)
        else:
            settings, follow_debug = self._settings_for(app)
            state = _AppState(app, Translator(settings), follow_debug)
        app.extensions[_EXTENSION] = state
        registered = app.error_handler_spec[None][None]
        classes: list[type[BaseException]] = [
            GatewayError,
            *state.translator.classifier.known_exception_classes(),
        ]
        for cls in _outermost(cls for cls in classes if not _too_broad(cls)):
            if cls not in registered and issubclass(cls, Exception):
                app.register_error_handler(cls, state.handle)
        state.install_unhandled_hook()
        app.wsgi_app = _FlaskWSGIMiddleware(app.wsgi_app, state)  # type: ignore[method-assign]

    def handle_error(self, exc: Exception) -> ResponseReturnValue:
        """An error handler for your own exception classes that wrap upstream failures::

            app.register_error_handler(CatalogUnavailable, ext.handle_error)

        Answers like the built-in handlers; what is not an upstream failure goes on to the
        handler Flask would pick next (one for a base class), else to Flask's unhandled path.
        """
        state: _AppState = current_app.extensions[_EXTENSION]
        return state.handle(exc)

    def _settings_for(self, app: Flask) -> tuple[Settings, bool]:
        if self.settings is not None:
            return self.settings, False
        values: dict[str, Any] = {
            key[len(CONFIG_PREFIX) :].lower(): value
            for key, value in app.config.items()
            if key.startswith(CONFIG_PREFIX)
        }
        values.update(self.options)
        templates = values.get("templates")
        if isinstance(templates, (str, os.PathLike)) and not os.path.isabs(templates):
            # Like Flask's own template_folder: relative to the app, not the working directory.
            values["templates"] = os.path.join(app.root_path, templates)
        on_error = values.get("on_error")
        if isinstance(on_error, str):  # a dotted path, as a config file can only say
            values["on_error"] = import_string(on_error)

        def spell(option: str) -> str:
            return option if option in self.options else CONFIG_PREFIX + option.upper()

        return Settings.from_mapping(values, name=spell), "debug" not in values


def _too_broad(cls: type[BaseException]) -> bool:
    """A standard base raised for much besides upstream calls (a missing file, a lock that timed
    out). A handler there would come before the app's own handler for ``Exception`` and would
    make requests' exceptions (``OSError`` subclasses) go to an app's handler for ``OSError``.
    Such a failure that no handler takes is still answered on the unhandled path.
    """
    return cls is OSError or (
        cls.__name__ == "TimeoutError"
        and cls.__module__ in ("builtins", "asyncio.exceptions", "concurrent.futures._base")
    )


def _outermost(classes: Iterable[type[BaseException]]) -> list[type[BaseException]]:
    """The classes that no other one in ``classes`` is a base of (Flask walks the MRO)."""
    unique = list(dict.fromkeys(classes))
    return [
        cls
        for cls in unique
        if not any(other is not cls and issubclass(cls, other) for other in unique)
    ]


class _AppState:
    """One app's translators and hooks (``app.extensions["gatewayerrors"]``)."""

    def __init__(self, app: Flask, translator: Translator, follow_debug: bool) -> None:
        self.app = app
        self.translator = translator
        settings = translator.settings
        self._follow_debug = follow_debug and not settings.debug
        self._debug_translator: Translator | None = None
        self._request_id_key = request_id_key(settings.request_id_header)

    def current(self) -> Translator:
        """The translator for now: with detail while the app runs in debug mode."""
        if self._follow_debug and self.app.debug:
            if self._debug_translator is None:
                settings = dataclasses.replace(self.translator.settings, debug=True)
                self._debug_translator = Translator(settings)
            return self._debug_translator
        return self.translator

    def respond(self, exc: BaseException) -> Response | None:
        """The Flask response for ``exc``, or None when it is not an upstream failure."""
        translator = self.current()
        native = request._get_current_object()  # type: ignore[attr-defined]
        info = request_info(request.environ, self._request_id_key, native)
        response = translator.translate(exc, info)
        if response is None:
            return None
        translator.report(response, exc)
        return self.flask_response(response)

    def flask_response(self, response: ErrorResponse) -> Response:
        """``response`` as the app's response class, headers exactly as the core made them."""
        rv = self.app.response_class(status=status_line(response.status))
        rv.headers.clear()
        rv.headers.extend(response.headers)
        # Set as a sequence, not with set_data: a HEAD answer keeps the GET Content-Length.
        rv.response = [response.body]
        return rv

    def handle(self, exc: Exception) -> ResponseReturnValue:
        """The registered error handler: answer, or pass ``exc`` on as if ours were not there."""
        rv = self.respond(exc)
        if rv is not None:
            return rv
        handler = self._next_handler(exc)
        if handler is None:
            raise exc  # Flask's unhandled path, as when no handler matches
        return self.app.ensure_sync(handler)(exc)  # type: ignore[no-any-return]

    def _next_handler(self, exc: Exception) -> Callable[[Exception], Any] | None:
        """The handler Flask would pick for ``exc`` without ours (its lookup, ours skipped)."""
        spec = self.app.error_handler_spec
        for name in (*request.blueprints, None):
            handlers = spec.get(name, {}).get(None, {})
            for cls in type(exc).__mro__:
                handler = handlers.get(cls)
                if handler is not None and not _is_ours(handler):
                    return handler
        return None

    def install_unhandled_hook(self) -> None:
        app = self.app
        original: Callable[[Exception], Response] = app.handle_exception

        def handle_exception(e: Exception) -> Response:
            rv = self.respond(e)
            if rv is None:
                return original(e)
            return app.finalize_request(rv, from_error_handler=True)

        app.handle_exception = handle_exception  # type: ignore[method-assign]


def _is_ours(handler: object) -> bool:
    return getattr(handler, "__func__", None) in (_AppState.handle, GatewayErrors.handle_error)


class _FlaskWSGIMiddleware(GatewayErrorsWSGIMiddleware):
    """``app.wsgi_app`` wrapped: streamed-body failures and maintenance mode."""

    def __init__(self, app: WSGIApplication, state: _AppState) -> None:
        super().__init__(app, translator=state.translator)
        self._state = state

    def translator_for(self, environ: WSGIEnvironment) -> Translator:
        return self._state.current()

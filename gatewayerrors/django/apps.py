"""The Django app: add ``"gatewayerrors.django"`` to ``INSTALLED_APPS`` for its system checks.

``manage.py check`` (and ``runserver``, ``migrate``, every command that runs checks) then
reports an invalid ``GATEWAYERRORS`` setting as ``gatewayerrors.E001`` and exits non-zero, and
warns (``gatewayerrors.W001``) when the middleware is missing from ``MIDDLEWARE``.
"""

from __future__ import annotations

from typing import Any

from django.apps import AppConfig
from django.core import checks

__all__ = ["GatewayErrorsConfig", "check_settings"]

MIDDLEWARE_PATH = "gatewayerrors.django.GatewayErrorsMiddleware"


def check_settings(app_configs: Any = None, **kwargs: Any) -> list[Any]:
    """The system check: ``GATEWAYERRORS`` builds valid settings, and the middleware is used."""
    from django.conf import settings
    from django.core.exceptions import ImproperlyConfigured

    from . import _settings

    found: list[Any] = []
    try:
        _settings()
    except ImproperlyConfigured as exc:
        found.append(
            checks.Error(
                str(exc),
                hint="See the settings table in the gatewayerrors docs (docs/index.md).",
                obj="settings.GATEWAYERRORS",
                id="gatewayerrors.E001",
            )
        )
    if MIDDLEWARE_PATH not in (getattr(settings, "MIDDLEWARE", None) or ()):
        found.append(
            checks.Warning(
                f"{MIDDLEWARE_PATH} is not in MIDDLEWARE: upstream failures are not translated.",
                hint=f'Add "{MIDDLEWARE_PATH}" near the top of MIDDLEWARE.',
                obj="settings.MIDDLEWARE",
                id="gatewayerrors.W001",
            )
        )
    return found


class GatewayErrorsConfig(AppConfig):  # type: ignore[misc]
    """Registers :func:`check_settings` with Django's system check framework."""

    name = "gatewayerrors.django"
    label = "gatewayerrors"
    verbose_name = "gatewayerrors"
    default_auto_field = "django.db.models.AutoField"

    def ready(self) -> None:
        checks.register(check_settings)

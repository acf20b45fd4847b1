"""``manage.py gatewayerrors_maintenance on|off|status``: the operator's switch, from Django.

The same command as ``python -m gatewayerrors maintenance``; ``--store`` defaults to
``GATEWAYERRORS["maintenance_store"]`` (a URL, or a store object) from the project's settings.
"""

from __future__ import annotations

import argparse
from typing import Any

from django.conf import settings
from django.core.management.base import BaseCommand, CommandError

from ...._tools import maintenance

__all__ = ["Command"]


class Command(BaseCommand):  # type: ignore[misc]
    """Switch maintenance mode on or off for every replica, or show it."""

    help = maintenance.DESCRIPTION

    def add_arguments(self, parser: argparse.ArgumentParser) -> None:
        """The arguments of ``python -m gatewayerrors maintenance``."""
        maintenance.add_arguments(parser)

    def handle(self, *args: Any, **options: Any) -> None:
        """Run the command against the project's store; a failure exits non-zero."""
        configured = getattr(settings, "GATEWAYERRORS", None) or {}
        errors: list[str] = []
        status = maintenance.run(
            argparse.Namespace(**options),
            default_store=configured.get("maintenance_store"),
            out=self.stdout.write,
            err=errors.append,
        )
        if status:
            message = "; ".join(text.removeprefix("error: ") for text in errors)
            raise CommandError(message, returncode=status)

"""Clear errors for optional dependencies: which extra to install, not a bare import error."""

from __future__ import annotations

import importlib
from types import ModuleType

__all__ = ["require"]


def require(module: str, *, extra: str, needed_by: str, project: str | None = None) -> ModuleType:
    """Import ``module``, or raise ``ModuleNotFoundError`` saying which extra brings it.

    ``project`` is the distribution's name as people write it ("Flask"), for the message.
    """
    try:
        return importlib.import_module(module)
    except ImportError as exc:
        top = module.partition(".")[0]
        raise ModuleNotFoundError(
            f"{needed_by} needs {project or top}, which is not installed: "
            f"pip install 'gatewayerrors[{extra}]'",
            name=top,
        ) from exc

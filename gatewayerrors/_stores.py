"""The maintenance stores that need nothing installed, and the one place a URL picks a store.

- :class:`MemoryStore`: in this process only (the embedded default: nothing to run).
- :class:`FileStore`: a JSON file, e.g. on a volume every replica mounts; written atomically.
- ``redis://`` / ``rediss://`` / ``unix://``: :class:`gatewayerrors._redis_store.RedisStore`
  (redis-py, the ``redis`` extra), imported only when such a URL is used.
- ``django-cache://ALIAS``: :class:`gatewayerrors.django.cache_store.DjangoCacheStore`.
"""

from __future__ import annotations

import contextlib
import importlib.util
import os
import tempfile
import threading
from pathlib import Path
from typing import TYPE_CHECKING
from urllib.parse import unquote, urlsplit

from ._maintenance_state import MaintenanceState, MaintenanceStore, StoreError

if TYPE_CHECKING:
    from os import PathLike

__all__ = ["STORE_SCHEMES", "FileStore", "MemoryStore", "check_store", "open_store"]

_REDIS_SCHEMES = ("redis", "rediss", "unix")
STORE_SCHEMES = ("memory", "file", *_REDIS_SCHEMES, "django-cache")
"""The URL schemes ``maintenance_store`` takes."""


class MemoryStore:
    """The state in this process: for one process, tests, or an app that flips it itself."""

    def __init__(self, state: MaintenanceState | None = None) -> None:
        self._state = state
        self._lock = threading.Lock()

    def read(self) -> MaintenanceState | None:
        """The state last written, or None."""
        return self._state

    def write(self, state: MaintenanceState) -> None:
        """Replace the state."""
        with self._lock:
            self._state = state

    def __repr__(self) -> str:
        return "MemoryStore()"


class FileStore:
    """The state as a JSON file: a volume shared by the replicas, or one host's processes.

    A write goes to a temporary file in the same directory, then ``os.replace`` puts it in
    place (atomic on POSIX): a reader sees the old file or the new one, never half of one.
    A missing file means no state (off).
    """

    def __init__(self, path: str | PathLike[str]) -> None:
        self.path = Path(path)

    def read(self) -> MaintenanceState | None:
        """The file's state; None when there is no file; :class:`StoreError` for garbage."""
        try:
            data = self.path.read_bytes()
        except FileNotFoundError:
            return None
        except OSError as exc:
            raise StoreError(f"cannot read {self.path} ({type(exc).__name__})") from None
        return MaintenanceState.from_json(data)

    def write(self, state: MaintenanceState) -> None:
        """Replace the file atomically with ``state``."""
        directory = self.path.parent
        fd, temporary = tempfile.mkstemp(prefix=f".{self.path.name}.", dir=directory)
        try:
            with os.fdopen(fd, "wb") as file:
                file.write(state.to_json())
                file.flush()
                os.fsync(file.fileno())
            os.chmod(temporary, 0o644)  # mkstemp's 0600 would hide it from other users' apps
            os.replace(temporary, self.path)
        except BaseException:
            with contextlib.suppress(OSError):
                os.unlink(temporary)
            raise

    def __repr__(self) -> str:
        return f"FileStore({str(self.path)!r})"


def check_store(value: object) -> str | None:
    """The problem with a ``maintenance_store`` value, or None when it is usable.

    Checked when the settings are built (nothing is connected): a store object needs ``read``
    and ``write``; a URL needs a known scheme, the parts that scheme requires, and its library.
    """
    if value is None or isinstance(value, MaintenanceStore):
        return None
    if not isinstance(value, str):
        return f"must be a store URL or a store object (read/write), not {type(value).__name__}"
    parts = urlsplit(value)
    scheme = parts.scheme.lower()
    if scheme not in STORE_SCHEMES:
        return f"has an unknown scheme in {_safe_url(value)!r} (one of {', '.join(STORE_SCHEMES)})"
    if scheme == "file":
        if parts.netloc not in ("", "localhost") or not parts.path.startswith("/"):
            return f"needs an absolute path: file:///run/app/maintenance.json, not {value!r}"
        if not os.path.isdir(os.path.dirname(unquote(parts.path))):
            return f"names a file in a directory that does not exist: {unquote(parts.path)}"
    if scheme in _REDIS_SCHEMES and importlib.util.find_spec("redis") is None:
        return "needs redis-py for a Redis URL: pip install 'gatewayerrors[redis]'"
    if scheme == "django-cache" and importlib.util.find_spec("django") is None:
        return "needs Django for a django-cache:// URL"
    return None


def open_store(value: str | MaintenanceStore) -> MaintenanceStore:
    """The store for a ``maintenance_store`` value (checked by :func:`check_store` before)."""
    if not isinstance(value, str):
        return value
    parts = urlsplit(value)
    scheme = parts.scheme.lower()
    if scheme == "memory":
        return MemoryStore()
    if scheme == "file":
        return FileStore(unquote(parts.path))
    if scheme == "django-cache":
        from .django.cache_store import DjangoCacheStore  # only Django apps use it

        return DjangoCacheStore(parts.netloc or "default")
    from ._redis_store import RedisStore  # redis-py is imported only for a Redis URL

    return RedisStore.from_url(value)


def _safe_url(url: str) -> str:
    """The URL without a password, for messages and logs."""
    parts = urlsplit(url)
    if parts.password is None:
        return url
    host = parts.netloc.rpartition("@")[2]
    user = parts.username or ""
    return parts._replace(netloc=f"{user}:***@{host}").geturl()

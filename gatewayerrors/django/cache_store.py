"""A maintenance store in a Django cache (``maintenance_store="django-cache://default"``).

Shared across replicas when the cache is (Redis, Memcached, a database cache): a local-memory
cache shares nothing between processes.
"""

from __future__ import annotations

from .._maintenance_state import MaintenanceState, StoreError

__all__ = ["DEFAULT_KEY", "DjangoCacheStore"]

DEFAULT_KEY = "gatewayerrors:maintenance"


class DjangoCacheStore:
    """The state in one key of the cache ``alias`` (``CACHES[alias]``), kept without expiry."""

    def __init__(self, alias: str = "default", *, key: str = DEFAULT_KEY) -> None:
        self.alias = alias
        self.key = key

    def _cache(self) -> object:
        from django.core.cache import caches

        return caches[self.alias]

    def read(self) -> MaintenanceState | None:
        """The state in the cache, None when the key is absent."""
        data = self._cache().get(self.key)  # type: ignore[attr-defined]
        if data is None:
            return None
        if not isinstance(data, (bytes, str)):
            raise StoreError(f"the cache key {self.key} holds {type(data).__name__}")
        return MaintenanceState.from_json(data)

    def write(self, state: MaintenanceState) -> None:
        """Set the key, without expiry (``timeout=None``)."""
        self._cache().set(self.key, state.to_json(), timeout=None)  # type: ignore[attr-defined]

    def __repr__(self) -> str:
        return f"DjangoCacheStore({self.alias!r})"

"""Maintenance mode shared by every replica: the state, and the stores that hold it.

Most apps only set ``maintenance_store`` to a URL and switch with
``python -m gatewayerrors maintenance on|off|status``. This module is for the rest: a store
object of your own (anything with ``read()`` and ``write(state)``), writing the state from your
own code, or tests. See docs/fleet.md.

    from gatewayerrors.maintenance import FileStore, MaintenanceState
    FileStore("/run/app/maintenance.json").write(MaintenanceState(on=True))

:class:`RedisStore` imports redis-py when first named (the ``redis`` extra); the Django cache
store is :class:`gatewayerrors.django.cache_store.DjangoCacheStore`.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from ._maintenance_state import MaintenanceState, MaintenanceStore, StoreError
from ._stores import FileStore, MemoryStore, open_store

if TYPE_CHECKING:
    from ._redis_store import RedisStore

__all__ = [
    "FileStore",
    "MaintenanceState",
    "MaintenanceStore",
    "MemoryStore",
    "RedisStore",
    "StoreError",
    "open_store",
]


def __getattr__(name: str) -> Any:
    if name == "RedisStore":  # redis-py only for the apps that use it
        from ._redis_store import RedisStore

        return RedisStore
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")

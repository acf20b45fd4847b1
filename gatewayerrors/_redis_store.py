"""The Redis maintenance store (redis-py, the ``redis`` extra): one key every replica reads.

Imported only when a Redis store is used: ``maintenance_store="redis://..."`` or a
:class:`RedisStore` built by hand.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any
from urllib.parse import parse_qsl, urlencode, urlsplit

from ._maintenance_state import MaintenanceState, StoreError

if TYPE_CHECKING:
    import redis

__all__ = ["DEFAULT_KEY", "RedisStore"]

DEFAULT_KEY = "gatewayerrors:maintenance"
"""The Redis key that holds the state (``?key=...`` in the URL picks another)."""
_TIMEOUT = 1.0


class RedisStore:
    """The state in one Redis key, through a synchronous redis-py client.

    One ``GET`` per refresh (the background refresher's poll); a ``SET`` per operator change.
    Connect and read timeouts are short (1 s by default) so a refresh never hangs: an
    unreachable server is one failed refresh, and the replicas keep their last known state.
    """

    def __init__(self, client: redis.Redis, *, key: str = DEFAULT_KEY) -> None:
        self.client = client
        self.key = key

    @classmethod
    def from_url(cls, url: str, *, timeout: float = _TIMEOUT, **options: Any) -> RedisStore:
        """A store for ``redis://[:password@]host:port/db[?key=NAME]`` (also ``rediss://``,
        ``unix://``); ``options`` go to ``redis.Redis.from_url``."""
        import redis

        parts = urlsplit(url)
        query = parse_qsl(parts.query, keep_blank_values=True)
        key = next((value for name, value in query if name == "key"), DEFAULT_KEY)
        rest = urlencode([(name, value) for name, value in query if name != "key"])
        options.setdefault("socket_timeout", timeout)
        options.setdefault("socket_connect_timeout", timeout)
        client = redis.Redis.from_url(parts._replace(query=rest).geturl(), **options)
        return cls(client, key=key)

    def read(self) -> MaintenanceState | None:
        """The state in the key, None when the key does not exist."""
        data = self.client.get(self.key)
        if data is None:
            return None
        if not isinstance(data, (bytes, str)):
            raise StoreError(f"the Redis key {self.key} holds {type(data).__name__}")
        return MaintenanceState.from_json(data)

    def write(self, state: MaintenanceState) -> None:
        """Set the key to ``state``."""
        self.client.set(self.key, state.to_json())

    def close(self) -> None:
        """Close the client's connections."""
        self.client.close()

    def __repr__(self) -> str:
        # The connection's host, port and db, never its password.
        kwargs = self.client.connection_pool.connection_kwargs
        where = kwargs.get("path") or f"{kwargs.get('host')}:{kwargs.get('port')}"
        return f"RedisStore({where}/{kwargs.get('db', 0)}, key={self.key!r})"

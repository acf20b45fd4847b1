"""The maintenance stores' contract (file and a real Redis; memory too), the state's JSON and the
``maintenance_store`` setting."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from datetime import datetime, timedelta, timezone
from pathlib import Path

import pytest
import redis

from gatewayerrors._maintenance_state import MaintenanceState, MaintenanceStore, StoreError
from gatewayerrors._redis_store import DEFAULT_KEY, RedisStore
from gatewayerrors._settings import Settings, SettingsError
from gatewayerrors._stores import FileStore, MemoryStore, open_store

END = datetime(2026, 12, 24, 3, 0, tzinfo=timezone.utc)
StoreFactory = Callable[[], MaintenanceStore]


@pytest.fixture(params=["file", "redis", "memory"])
def kind(request: pytest.FixtureRequest) -> str:
    return str(request.param)


@pytest.fixture
def new_store(kind: str, tmp_path: Path, request: pytest.FixtureRequest) -> Iterator[StoreFactory]:
    """A factory of handles on ONE shared location (as each replica opens its own)."""
    opened: list[RedisStore] = []
    if kind == "file":
        url = f"file://{tmp_path / 'maintenance.json'}"
        yield lambda: open_store(url)
    elif kind == "redis":
        redis_url = request.getfixturevalue("redis_url")

        def factory() -> MaintenanceStore:
            store = open_store(redis_url)
            assert isinstance(store, RedisStore)
            opened.append(store)
            return store

        yield factory
    else:
        memory = MemoryStore()
        yield lambda: memory
    for store in opened:
        store.close()


def put_garbage(store: MaintenanceStore, data: bytes) -> None:
    if isinstance(store, FileStore):
        store.path.write_bytes(data)
    else:
        assert isinstance(store, RedisStore)
        store.client.set(store.key, data)


# -- the contract ---------------------------------------------------------------------------


def test_nothing_stored_reads_as_none(new_store: StoreFactory) -> None:
    assert new_store().read() is None


def test_a_written_state_is_read_back_by_another_handle(new_store: StoreFactory) -> None:
    state = MaintenanceState(
        on=True,
        start=END - timedelta(hours=1),
        end=END,
        retry_after=120,
        message="Datenbank-Umzug \N{EN DASH} bis 03:00 UTC",
    )
    new_store().write(state)
    assert new_store().read() == state


def test_a_later_write_replaces_the_state(new_store: StoreFactory) -> None:
    writer = new_store()
    writer.write(MaintenanceState(on=True))
    writer.write(MaintenanceState(on=False))
    found = new_store().read()
    assert found == MaintenanceState(on=False)
    assert found is not None
    assert not found.active_at(END.timestamp())


@pytest.mark.parametrize("kind", ["file", "redis"])  # an in-process store holds objects
@pytest.mark.parametrize(
    "garbage",
    [b"not json", b"[]", b'{"v": 2, "on": true}', b'{"v": 1, "on": "yes"}', b'{"v":1,"end":5}'],
)
def test_garbage_is_a_store_error(new_store: StoreFactory, garbage: bytes) -> None:
    put_garbage(new_store(), garbage)
    with pytest.raises(StoreError):
        new_store().read()


def test_every_store_is_a_maintenance_store(new_store: StoreFactory) -> None:
    assert isinstance(new_store(), MaintenanceStore)


# -- per store --------------------------------------------------------------------------------


def test_file_writes_are_atomic_replacements(tmp_path: Path) -> None:
    store = FileStore(tmp_path / "state.json")
    store.write(MaintenanceState(on=True))
    inode = (tmp_path / "state.json").stat().st_ino
    store.write(MaintenanceState(on=False))
    # os.replace: a new file took the old one's name; no temporary file is left behind.
    assert (tmp_path / "state.json").stat().st_ino != inode
    assert [p.name for p in tmp_path.iterdir()] == ["state.json"]


def test_an_unreachable_redis_is_an_error_within_its_timeout() -> None:
    # Port 1 on loopback: nothing listens, the connection is refused at once.
    store = RedisStore.from_url("redis://127.0.0.1:1/0", timeout=0.5)
    with pytest.raises(redis.ConnectionError):
        store.read()


def test_the_redis_key_comes_from_the_url_and_the_password_never_shows(redis_url: str) -> None:
    store = RedisStore.from_url(redis_url + "?key=shop:maintenance")
    try:
        store.write(MaintenanceState())
        assert store.client.exists("shop:maintenance")
        assert not store.client.exists(DEFAULT_KEY)
    finally:
        store.close()
    secret = RedisStore.from_url("redis://:s3cret-pw@127.0.0.1:6390/2")
    assert "s3cret" not in repr(secret)
    assert "127.0.0.1:6390/2" in repr(secret)


# -- the state ------------------------------------------------------------------------------


def test_a_window_is_active_from_start_to_end_only() -> None:
    state = MaintenanceState(start=END - timedelta(hours=1), end=END)
    assert not state.active_at((END - timedelta(hours=2)).timestamp())  # scheduled ahead
    assert state.active_at((END - timedelta(minutes=30)).timestamp())
    assert not state.active_at(END.timestamp())  # over
    assert state.seconds_left((END - timedelta(seconds=90.5)).timestamp()) == 91


@pytest.mark.parametrize(
    ("options", "problem"),
    [
        ({"end": datetime(2026, 12, 24, 3, 0)}, "aware datetime"),
        ({"start": END, "end": END}, "end must be after start"),
        ({"retry_after": -1}, "retry_after"),
        ({"message": "x" * 501}, "at most 500"),
        ({"on": 1}, "on must be"),
    ],
)
def test_an_invalid_state_is_refused(options: dict[str, object], problem: str) -> None:
    with pytest.raises(ValueError, match=problem):
        MaintenanceState(**options)  # type: ignore[arg-type]


# -- the setting ------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("value", "problem"),
    [
        ("ftp://example/x", "unknown scheme"),
        ("file://relative/path.json", "absolute path"),
        ("file:///no/such/directory/state.json", "does not exist"),
        (42, "must be a store URL or a store object"),
        ("redis://:hunter2@127.0.0.1:1/0", None),
    ],
)
def test_the_store_setting_is_checked_at_startup(value: object, problem: str | None) -> None:
    if problem is None:
        Settings(maintenance_store=value)  # type: ignore[arg-type]  # a URL is parsed, not used
        return
    with pytest.raises(SettingsError, match=problem) as caught:
        Settings(maintenance_store=value)  # type: ignore[arg-type]
    assert caught.value.option == "maintenance_store"


def test_an_unknown_scheme_message_hides_the_password() -> None:
    with pytest.raises(SettingsError) as caught:
        Settings(maintenance_store="redi://:hunter2@127.0.0.1/0")
    assert "hunter2" not in str(caught.value)


@pytest.mark.parametrize(
    ("option", "value", "problem"),
    [
        ("maintenance_store_poll", 0, "above 0"),
        ("maintenance_store_poll", 11, "at most 10"),
        ("maintenance_store_grace", -1, "negative"),
        ("maintenance_bypass_token", "short", "at least 16"),
        ("maintenance_bypass_token", "a token with spaces!!", "without spaces"),
        ("maintenance_bypass_ips", "10.0.0.0/8", "tuple of CIDRs"),
        ("maintenance_bypass_ips", ("10.0.0.0/33",), "not a network"),
        ("trusted_proxies", ("proxy.internal",), "not a network"),
    ],
)
def test_fleet_settings_are_checked(option: str, value: object, problem: str) -> None:
    with pytest.raises(SettingsError, match=problem):
        Settings(**{option: value})  # type: ignore[arg-type]

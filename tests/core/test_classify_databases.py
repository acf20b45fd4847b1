"""Databases and caches as upstreams: real drivers meeting real loopback faults.

Each exception is raised by the driver itself (psycopg 3, asyncpg, SQLAlchemy, redis-py sync
and asyncio, pymongo) against the fault servers of ``gatewayerrors.testing`` (refused, connect
timeout, hang, untrusted TLS, ``.invalid`` DNS) or the protocol fakes of ``tests/db_servers.py``
(reset, close and garbage on the first bytes; a PostgreSQL that answers SQLSTATE 53300 or
57P03; a Redis at ``maxclients`` or loading; a MongoDB that completes the handshake, then hangs
or closes). No database server runs.
"""

from __future__ import annotations

import asyncio
import contextlib
import threading
from collections.abc import Callable, Iterator
from pathlib import Path
from urllib.parse import urlsplit

import pytest
from db_servers import (
    FakeServer,
    answer_each,
    close,
    garbage,
    mongo,
    on_accept,
    postgres_error,
    postgres_session,
    reset,
)

from gatewayerrors import Classifier, catalog
from gatewayerrors.core import Evidence
from gatewayerrors.testing import FaultyUpstreams

asyncpg = pytest.importorskip("asyncpg")
psycopg = pytest.importorskip("psycopg")
pymongo = pytest.importorskip("pymongo")
redis = pytest.importorskip("redis")
redis_asyncio = pytest.importorskip("redis.asyncio")
sqlalchemy = pytest.importorskip("sqlalchemy")

from redis.backoff import NoBackoff  # noqa: E402
from redis.retry import Retry  # noqa: E402

classifier = Classifier()

FAST = 3.0  # a call that must fail fast gets room on a busy machine
SLOW = 0.3  # a call that must time out; libpq's connect_timeout has a floor of 2 s

Connect = Callable[[str, int, float, bool], None]
"""Connect to ``host``, ``port`` with ``timeout`` seconds (TLS, verified, when the flag is set)
and run one round trip (a ping); raise the driver's own error."""


def psycopg_connect(host: str, port: int, timeout: float, tls: bool) -> None:
    # libpq 17+: direct TLS (no SSLRequest first), verifying against the system's CAs.
    extra = {"sslmode": "verify-full", "sslrootcert": "system", "sslnegotiation": "direct"}
    with psycopg.connect(
        host=host,
        port=port,
        user="app",
        dbname="app",
        connect_timeout=max(2, round(timeout)),
        **(extra if tls else {}),
    ) as connection:
        connection.execute("SELECT 1")


def asyncpg_connect(host: str, port: int, timeout: float, tls: bool) -> None:
    async def connect() -> None:
        extra = {"ssl": True, "direct_tls": True} if tls else {}
        connection = await asyncpg.connect(
            host=host, port=port, user="app", database="app", timeout=timeout, **extra
        )
        try:
            await connection.execute("SELECT 1")
        finally:
            await connection.close()

    asyncio.run(connect())


def _redis_options(timeout: float, tls: bool) -> dict[str, object]:
    # No retries: redis-py retries connection errors three times by default.
    return {
        "socket_timeout": timeout,
        "socket_connect_timeout": timeout,
        "ssl": tls,
        "retry": Retry(NoBackoff(), 0),
    }


def redis_ping(host: str, port: int, timeout: float, tls: bool) -> None:
    with redis.Redis(host=host, port=port, **_redis_options(timeout, tls)) as client:
        client.ping()


def redis_asyncio_ping(host: str, port: int, timeout: float, tls: bool) -> None:
    async def ping() -> None:
        client = redis_asyncio.Redis(host=host, port=port, **_redis_options(timeout, tls))
        try:
            await client.ping()
        finally:
            await client.aclose()

    asyncio.run(ping())


def pymongo_ping(host: str, port: int, timeout: float, tls: bool) -> None:
    milliseconds = int(timeout * 1000)
    client = pymongo.MongoClient(
        host=host,
        port=port,
        directConnection=True,
        tls=tls,
        connectTimeoutMS=milliseconds,
        socketTimeoutMS=milliseconds,
        # pymongo waits this long whatever the cause; long enough for the monitor's first
        # check to fail (connectTimeoutMS is SLOW for the timeouts), so the error names it.
        serverSelectionTimeoutMS=1000,
    )
    try:
        client.admin.command("ping")
    finally:
        client.close()


def sqlalchemy_psycopg(host: str, port: int, timeout: float, tls: bool) -> None:
    engine = sqlalchemy.create_engine(
        f"postgresql+psycopg://app@{host}:{port}/app",
        connect_args={"connect_timeout": max(2, round(timeout))},
    )
    try:
        with engine.connect() as connection:
            connection.execute(sqlalchemy.text("SELECT 1"))
    finally:
        engine.dispose()


def sqlalchemy_asyncpg(host: str, port: int, timeout: float, tls: bool) -> None:
    from sqlalchemy.ext.asyncio import create_async_engine

    async def connect() -> None:
        engine = create_async_engine(
            f"postgresql+asyncpg://app@{host}:{port}/app", connect_args={"timeout": timeout}
        )
        try:
            async with engine.connect() as connection:
                await connection.execute(sqlalchemy.text("SELECT 1"))
        finally:
            await engine.dispose()

    asyncio.run(connect())


DRIVERS: dict[str, Connect] = {
    "psycopg": psycopg_connect,
    "asyncpg": asyncpg_connect,
    "redis": redis_ping,
    "redis-asyncio": redis_asyncio_ping,
    "pymongo": pymongo_ping,
    "sqlalchemy-psycopg": sqlalchemy_psycopg,
    "sqlalchemy-asyncpg": sqlalchemy_asyncpg,
}


@pytest.fixture(scope="module")
def fakes() -> Iterator[dict[str, FakeServer]]:
    servers = {
        "reset": FakeServer(reset),
        "close": FakeServer(close),
        "garbage": FakeServer(garbage),
        "pg_too_many": FakeServer(postgres_error("53300", "sorry, too many clients already")),
        "pg_starting": FakeServer(postgres_error("57P03", "the database system is starting up")),
        "pg_session_lost": FakeServer(postgres_session("close")),
        "pg_admin_shutdown": FakeServer(postgres_session("admin_shutdown")),
        "redis_max_clients": FakeServer(on_accept(b"-ERR max number of clients reached\r\n")),
        "redis_loading": FakeServer(
            on_accept(b"-LOADING Redis is loading the dataset in memory\r\n")
        ),
        "redis_ok": FakeServer(answer_each(b"+OK\r\n")),
        "redis_unknown_command": FakeServer(on_accept(b"-ERR unknown command 'PING'\r\n")),
        "mongo_hang": FakeServer(mongo("hang")),
        "mongo_close": FakeServer(mongo("close")),
    }
    try:
        yield servers
    finally:
        for server in servers.values():
            server.close()


def address(
    upstreams: FaultyUpstreams, fakes: dict[str, FakeServer], fault: str
) -> tuple[str, int]:
    if fault in fakes:
        return fakes[fault].host, fakes[fault].port
    parts = urlsplit(getattr(upstreams, f"{fault}_url"))
    assert parts.hostname is not None
    return parts.hostname, parts.port or 5432


def failure(call: Callable[[], object]) -> BaseException:
    try:
        call()
    except Exception as exc:
        return exc
    pytest.fail("the driver did not fail")


def classified(exc: BaseException) -> Evidence:
    evidence = classifier.classify(exc)
    assert evidence is not None, f"not classified: {exc!r}"
    return evidence


# fault, code for every driver it applies to, drivers it does not apply to, codes that differ
FAULTS: list[tuple[str, str, set[str], dict[str, str]]] = [
    ("refused", "connection_refused", set(), {}),
    (
        "connect_timeout",
        "connection_timeout",
        {"sqlalchemy-psycopg"},  # libpq's 2 s floor: psycopg's own row shows it
        # asyncpg times the whole connect with asyncio.wait_for: a bare TimeoutError.
        {"asyncpg": "upstream_timeout", "sqlalchemy-asyncpg": "upstream_timeout"},
    ),
    (
        "hang",  # the server accepts, then never answers the handshake
        "connection_timeout",
        {"sqlalchemy-psycopg"},
        {
            "asyncpg": "upstream_timeout",
            "sqlalchemy-asyncpg": "upstream_timeout",
            # redis-py sends PING on a connected socket: the read timed out.
            "redis": "connection_read_timeout",
            "redis-asyncio": "connection_read_timeout",
        },
    ),
    ("reset", "connection_terminated", set(), {}),
    ("close", "connection_terminated", set(), {}),
    # Bytes of no protocol: RFC 9209's http_protocol_error is HTTP's; the session could not
    # be set up, cause unknown.
    ("garbage", "connection_failed", set(), {}),
    ("tls", "tls_certificate_error", {"sqlalchemy-psycopg", "sqlalchemy-asyncpg"}, {}),
    ("dns", "dns_error", set(), {}),
]

POSTGRES = {"psycopg", "asyncpg", "sqlalchemy-psycopg", "sqlalchemy-asyncpg"}

FAULT_CASES = [
    pytest.param(name, fault, differing.get(name, code), id=f"{fault}-{name}")
    for fault, code, skipped, differing in FAULTS
    for name in DRIVERS
    if name not in skipped
]


def timeout_for(fault: str) -> float:
    return SLOW if fault in ("connect_timeout", "hang") else FAST


@pytest.mark.parametrize(("driver", "fault", "code"), FAULT_CASES)
def test_transport_fault(
    upstreams: FaultyUpstreams, fakes: dict[str, FakeServer], driver: str, fault: str, code: str
) -> None:
    host, port = address(upstreams, fakes, fault)
    exc = failure(lambda: DRIVERS[driver](host, port, timeout_for(fault), fault == "tls"))
    evidence = classified(exc)
    assert evidence.code == code, repr(exc)
    assert evidence.received_status is None


# A server that refuses one more session, or is up but not serving yet: 503, retry later.
REFUSALS: list[tuple[str, str, str]] = [
    *[(driver, "pg_too_many", "connection_limit_reached") for driver in sorted(POSTGRES)],
    *[(driver, "pg_starting", "destination_unavailable") for driver in sorted(POSTGRES)],
    ("redis", "redis_max_clients", "connection_limit_reached"),
    ("redis-asyncio", "redis_max_clients", "connection_limit_reached"),
    ("redis", "redis_loading", "destination_unavailable"),
    ("redis-asyncio", "redis_loading", "destination_unavailable"),
]


@pytest.mark.parametrize(("driver", "fault", "code"), REFUSALS)
def test_server_refuses_the_session(
    upstreams: FaultyUpstreams, fakes: dict[str, FakeServer], driver: str, fault: str, code: str
) -> None:
    host, port = address(upstreams, fakes, fault)
    evidence = classified(failure(lambda: DRIVERS[driver](host, port, FAST, False)))
    assert evidence.code == code
    assert catalog[code].status == 503


# The session is up, then the server goes away under the first query (a crash, a shutdown).
LOST: list[tuple[str, str]] = [
    (driver, fault)
    for fault in ("pg_session_lost", "pg_admin_shutdown")
    for driver in sorted(POSTGRES)
]


@pytest.mark.parametrize(("driver", "fault"), LOST)
def test_session_lost_mid_query(
    upstreams: FaultyUpstreams, fakes: dict[str, FakeServer], driver: str, fault: str
) -> None:
    host, port = address(upstreams, fakes, fault)
    exc = failure(lambda: DRIVERS[driver](host, port, FAST, False))
    evidence = classified(exc)
    assert (evidence.code, catalog[evidence.code].status) == ("connection_terminated", 502)
    if driver.startswith("sqlalchemy"):
        assert exc.connection_invalidated  # type: ignore[attr-defined]  # its dialect agrees


def test_psycopg_admin_shutdown_has_its_sqlstate(fakes: dict[str, FakeServer]) -> None:
    server = fakes["pg_admin_shutdown"]
    exc = failure(lambda: psycopg_connect(server.host, server.port, FAST, False))
    assert type(exc).__name__ == "AdminShutdown"
    assert exc.sqlstate == "57P01"  # type: ignore[attr-defined]


def test_asyncpg_keeps_the_sqlstate_class(fakes: dict[str, FakeServer]) -> None:
    server = fakes["pg_too_many"]
    exc = failure(lambda: asyncpg_connect(server.host, server.port, FAST, False))
    assert type(exc).__name__ == "TooManyConnectionsError"
    assert exc.sqlstate == "53300"  # type: ignore[attr-defined]


def test_sqlalchemy_wraps_the_driver_error(fakes: dict[str, FakeServer]) -> None:
    """The wrapper's ``orig`` is the driver's error, which carries the evidence."""
    server = fakes["pg_too_many"]
    exc = failure(lambda: sqlalchemy_psycopg(server.host, server.port, FAST, False))
    assert isinstance(exc, sqlalchemy.exc.OperationalError)
    assert isinstance(exc.orig, psycopg.OperationalError)
    assert classified(exc).code == "connection_limit_reached"


# -- pools and established sessions ------------------------------------------------------------


def test_sqlalchemy_pool_exhausted(tmp_path: Path) -> None:
    """QueuePool limit reached: SQLAlchemy's own TimeoutError, 503."""
    engine = sqlalchemy.create_engine(
        f"sqlite:///{tmp_path / 'app.db'}",
        poolclass=sqlalchemy.pool.QueuePool,
        pool_size=1,
        max_overflow=0,
        pool_timeout=0.05,
    )
    try:
        with engine.connect():
            exc = failure(engine.connect)
    finally:
        engine.dispose()
    assert isinstance(exc, sqlalchemy.exc.TimeoutError)
    assert classified(exc).code == "connection_limit_reached"


def test_sqlalchemy_operational_error_of_the_app_is_not_mine(tmp_path: Path) -> None:
    """An OperationalError is as often the application's own database problem: not a 502."""
    engine = sqlalchemy.create_engine(f"sqlite:///{tmp_path / 'app.db'}")
    try:
        with engine.connect() as connection:
            exc = failure(lambda: connection.execute(sqlalchemy.text("SELECT * FROM missing")))
    finally:
        engine.dispose()
    assert isinstance(exc, sqlalchemy.exc.OperationalError)
    assert classifier.classify(exc) is None


def test_redis_pool_limit(fakes: dict[str, FakeServer]) -> None:
    """ConnectionPool(max_connections=1): a second checkout raises MaxConnectionsError."""
    server = fakes["redis_ok"]
    pool = redis.ConnectionPool(host=server.host, port=server.port, max_connections=1, protocol=2)
    try:
        pool.get_connection()
        exc = failure(pool.get_connection)
    finally:
        pool.disconnect()
    assert type(exc).__name__ == "MaxConnectionsError"
    assert classified(exc).code == "connection_limit_reached"


def test_redis_blocking_pool_timeout(fakes: dict[str, FakeServer]) -> None:
    server = fakes["redis_ok"]
    pool = redis.BlockingConnectionPool(
        host=server.host, port=server.port, max_connections=1, timeout=0.05, protocol=2
    )
    try:
        pool.get_connection()
        exc = failure(pool.get_connection)
    finally:
        pool.disconnect()
    assert str(exc) == "No connection available."
    assert classified(exc).code == "connection_limit_reached"


def test_redis_command_error_is_not_mine(fakes: dict[str, FakeServer]) -> None:
    """A Redis that answers an error reply to a command (ResponseError): the app's business."""
    server = fakes["redis_unknown_command"]
    exc = failure(lambda: redis_ping(server.host, server.port, FAST, False))
    assert isinstance(exc, redis.ResponseError)
    assert classifier.classify(exc) is None


def _mongo_client(server: FakeServer, **options: object) -> object:
    return pymongo.MongoClient(
        host=server.host,
        port=server.port,
        directConnection=True,
        serverSelectionTimeoutMS=int(FAST * 1000),
        **options,
    )


def test_pymongo_network_timeout(fakes: dict[str, FakeServer]) -> None:
    """The handshake succeeds, the command's reply never comes: NetworkTimeout, 504."""
    client = _mongo_client(fakes["mongo_hang"], socketTimeoutMS=int(SLOW * 1000))
    try:
        exc = failure(lambda: client.admin.command("ping"))  # type: ignore[attr-defined]
    finally:
        client.close()  # type: ignore[attr-defined]
    assert isinstance(exc, pymongo.errors.NetworkTimeout)
    evidence = classified(exc)
    assert (evidence.code, catalog[evidence.code].status) == ("upstream_timeout", 504)


def test_pymongo_auto_reconnect(fakes: dict[str, FakeServer]) -> None:
    """The server closes the connection mid-command: AutoReconnect."""
    client = _mongo_client(fakes["mongo_close"])
    try:
        exc = failure(lambda: client.admin.command("ping"))  # type: ignore[attr-defined]
    finally:
        client.close()  # type: ignore[attr-defined]
    assert type(exc) is pymongo.errors.AutoReconnect
    assert classified(exc).code == "connection_terminated"


def test_pymongo_pool_exhausted() -> None:
    """maxPoolSize=1 held by a command that hangs: the next checkout times out in the queue."""
    held = threading.Event()
    server = FakeServer(mongo("hang", held))
    client = _mongo_client(server, maxPoolSize=1, waitQueueTimeoutMS=50)

    def hold() -> None:
        # The held command fails when the server closes: expected.
        with contextlib.suppress(pymongo.errors.PyMongoError):
            client.admin.command("ping")  # type: ignore[attr-defined]

    holder = threading.Thread(target=hold)
    try:
        holder.start()
        assert held.wait(timeout=FAST)  # the pool's one connection is busy
        exc = failure(lambda: client.admin.command("ping"))  # type: ignore[attr-defined]
    finally:
        server.close()  # the held command sees the connection closed
        holder.join(timeout=10)
        client.close()  # type: ignore[attr-defined]
    assert isinstance(exc, pymongo.errors.WaitQueueTimeoutError)
    assert classified(exc).code == "connection_limit_reached"

"""Rules for databases and caches: psycopg 3, asyncpg, SQLAlchemy, redis-py and pymongo.

A database that refuses, hangs or drops the connection is an upstream like any HTTP service,
and answers the same way (docs/databases.md has the whole table and the reasons). As for HTTP
clients, nothing here imports a driver: rules are keyed by (top-level package, class name).

What a driver tells, and where:

- **asyncpg** raises the socket's own error (``ConnectionRefusedError``, ``socket.gaierror``,
  ``ssl.SSLCertVerificationError``: the stdlib rules cover them), one class per SQLSTATE
  (``TooManyConnectionsError``), or a bare ``ConnectionError`` with a message.
- **psycopg 3** raises ``OperationalError`` for every connection failure, with libpq's message
  ("Connection refused", "FATAL:  sorry, too many clients already"); the message is the only
  place the cause is, so it is read here as grpc-core's details are for gRPC.
- **redis-py** (sync and asyncio) wraps the socket error (kept as ``__context__``/``__cause__``,
  followed because the wrapper is recognised) and names pool and server limits in messages.
- **pymongo** gives the monitor's last error only inside ``ServerSelectionTimeoutError``'s
  message.
- **SQLAlchemy** wraps the driver's error in ``DBAPIError`` subclasses and keeps it as ``orig``
  (and ``__cause__``): the driver's error is the evidence. A wrapper alone is not: an
  ``OperationalError`` is as often a lock timeout or a missing table as an outage.
"""

from __future__ import annotations

from collections.abc import Callable

from ._error import Evidence

__all__ = ["database_rules"]

_Rule = Callable[[BaseException], "Evidence | None"]

# libpq, pymongo and redis-py messages, lower-cased; first match wins, so the more specific
# needles come first. Each is a message the driver (or the server, quoted by it) really sends.
_MESSAGES: tuple[tuple[str, str], ...] = (
    # The server refuses one more session: PostgreSQL SQLSTATE 53300, Redis maxclients,
    # redis-py's own pool limits (MaxConnectionsError, BlockingConnectionPool).
    ("too many clients", "connection_limit_reached"),
    ("remaining connection slots are reserved", "connection_limit_reached"),
    ("too many connections", "connection_limit_reached"),
    ("max number of clients reached", "connection_limit_reached"),
    ("no connection available", "connection_limit_reached"),
    # The server is up but not serving: PostgreSQL 57P03, Redis LOADING.
    ("the database system is starting up", "destination_unavailable"),
    ("the database system is shutting down", "destination_unavailable"),
    ("the database system is in recovery mode", "destination_unavailable"),
    ("the database system is not yet accepting connections", "destination_unavailable"),
    ("loading the dataset in memory", "destination_unavailable"),
    ("connection refused", "connection_refused"),
    # libpq got bytes that are not PostgreSQL's protocol (with sslmode=prefer it first reads
    # them as a TLS answer, and reports that attempt too): not a TLS fault.
    ("expected authentication request", "connection_failed"),
    ("temporary failure in name resolution", "dns_timeout"),  # EAI_AGAIN
    ("failed to resolve host", "dns_error"),  # psycopg resolves names itself
    ("could not translate host name", "dns_error"),  # libpq
    ("name or service not known", "dns_error"),
    ("nodename nor servname provided", "dns_error"),
    ("no address associated with hostname", "dns_error"),
    ("getaddrinfo failed", "dns_error"),
    ("no route to host", "destination_ip_unroutable"),
    ("network is unreachable", "destination_ip_unroutable"),
    ("certificate verify failed", "tls_certificate_error"),
    ("ssl connection has been closed unexpectedly", "connection_terminated"),
    ("sslv3 alert", "tls_alert_received"),  # OpenSSL: "sslv3 alert handshake failure"
    ("tlsv1 alert", "tls_alert_received"),
    ("tlsv13 alert", "tls_alert_received"),
    ("ssl error", "tls_protocol_error"),
    ("[ssl", "tls_protocol_error"),
    ("direct ssl connection", "tls_protocol_error"),
    ("server does not support ssl", "tls_protocol_error"),
    ("connection reset", "connection_terminated"),
    ("server closed the connection", "connection_terminated"),
    ("connection closed", "connection_terminated"),
    ("could not receive data from server", "connection_terminated"),
    ("could not send data to server", "connection_terminated"),
    ("terminating connection", "connection_terminated"),
    ("broken pipe", "connection_terminated"),
    ("timeout expired", "connection_timeout"),  # libpq connect_timeout
    ("timeout connecting", "connection_timeout"),  # redis-py
    ("timeout reading", "connection_read_timeout"),  # redis-py
    ("timeout writing", "connection_write_timeout"),  # redis-py
)

# PostgreSQL SQLSTATEs of a refused or lost session (Appendix A of the PostgreSQL manual).
_SQLSTATES = {
    "53300": "connection_limit_reached",  # too_many_connections
    "57P03": "destination_unavailable",  # cannot_connect_now
    "57P01": "connection_terminated",  # admin_shutdown
    "57P02": "connection_terminated",  # crash_shutdown
}


def _message(exc: BaseException) -> str:
    try:
        return str(exc).lower()
    except Exception:
        return ""


def _from_message(message: str) -> str | None:
    for needle, code in _MESSAGES:
        if needle in message:
            return code
    return None


def _message_rule(default: str | None, precise: int, generic: int) -> _Rule:
    """Evidence from the message when it names the cause, else ``default`` (less specific)."""

    def rule(exc: BaseException) -> Evidence | None:
        code = _from_message(_message(exc))
        if code is not None:
            return Evidence(code, precise)
        return None if default is None else Evidence(default, generic)

    return rule


def _sqlstate_code(exc: BaseException) -> str | None:
    sqlstate = getattr(exc, "sqlstate", None)
    if not isinstance(sqlstate, str):
        return None
    found = _SQLSTATES.get(sqlstate)
    if found is None and sqlstate.startswith("08"):  # class 08: connection exception
        found = "connection_failed"
    return found


def _psycopg_rule(precise: int, generic: int) -> _Rule:
    def rule(exc: BaseException) -> Evidence | None:
        # A session refused by the server comes as a message ("FATAL:  sorry, too many
        # clients already"); an error on an open session may carry its SQLSTATE.
        code = _from_message(_message(exc))
        if code is not None:
            return Evidence(code, precise)
        code = _sqlstate_code(exc)
        # Any other OperationalError (a lock, a cancelled statement, a full disk) is the
        # application's database problem, not an unreachable upstream.
        return None if code is None else Evidence(code, generic)

    return rule


def _asyncpg_connection_error(os_error: _Rule, precise: int, generic: int) -> _Rule:
    """``builtins.ConnectionError`` raised by asyncpg itself, else the stdlib rule."""

    def rule(exc: BaseException) -> Evidence | None:
        if getattr(exc, "errno", None) is None and _raised_in(exc, "asyncpg"):
            message = _message(exc)
            if "connection_lost" in message:  # "unexpected connection_lost() call"
                return Evidence("connection_terminated", precise)
            # "rejected SSL upgrade": the server answered the SSLRequest with neither S nor N.
            return Evidence(_from_message(message) or "connection_failed", generic)
        return os_error(exc)

    return rule


def _raised_in(exc: BaseException, package: str) -> bool:
    """Whether the innermost frame that raised ``exc`` belongs to ``package``."""
    tb = exc.__traceback__
    if tb is None:
        return False
    while tb.tb_next is not None:
        tb = tb.tb_next
    name = tb.tb_frame.f_globals.get("__name__")
    return isinstance(name, str) and name.partition(".")[0] == package


def _sqlalchemy_dbapi_error(generic: int) -> _Rule:
    terminated = Evidence("connection_terminated", generic)

    def rule(exc: BaseException) -> Evidence | None:
        # The driver's error (``orig``, also ``__cause__``) is the evidence; SQLAlchemy's own
        # verdict counts only when its dialect judged the error a disconnect.
        return terminated if getattr(exc, "connection_invalidated", False) is True else None

    return rule


def _pymongo_selection(precise: int, generic: int) -> _Rule:
    def rule(exc: BaseException) -> Evidence:
        # The message quotes the monitor's last error for each server: "127.0.0.1:27017:
        # [Errno 111] Connection refused (configured timeouts: ...), Timeout: 30s, Topology
        # Description: ...". "timeout" appears in every one; only "timed out" is a cause.
        message = _message(exc)
        code = _from_message(message)
        if code is not None:
            return Evidence(code, precise)
        if "timed out" in message:  # the monitor's connect or handshake
            return Evidence("connection_timeout", precise)
        if "got response id" in message:  # the server answered outside the wire protocol
            return Evidence("connection_failed", precise)
        # No usable server, cause unknown: the driver's load balancer found none alive
        # (nginx's "no live upstreams", Envoy's UH): 503.
        return Evidence("destination_unavailable", generic)

    return rule


def database_rules(*, precise: int, generic: int, os_error: _Rule) -> dict[tuple[str, str], _Rule]:
    """The rules, at the classifier's specificity ranks (passed in: no import cycle).

    ``os_error`` is the stdlib ``OSError`` rule, kept for a ``ConnectionError`` that is not
    asyncpg's.
    """

    def fixed(code: str, specificity: int) -> _Rule:
        evidence = Evidence(code, specificity)

        def rule(exc: BaseException) -> Evidence:
            return evidence

        return rule

    return {
        # -- databases and caches ------------------------------------------------------
        # psycopg 3
        ("psycopg", "ConnectionTimeout"): fixed("connection_timeout", precise),
        ("psycopg", "TooManyConnections"): fixed("connection_limit_reached", precise),
        ("psycopg", "CannotConnectNow"): fixed("destination_unavailable", precise),
        ("psycopg", "OperationalError"): _psycopg_rule(precise, generic),
        # asyncpg: SQLSTATE classes, and bare ConnectionErrors of its own
        ("asyncpg", "TooManyConnectionsError"): fixed("connection_limit_reached", precise),
        ("asyncpg", "CannotConnectNowError"): fixed("destination_unavailable", precise),
        ("asyncpg", "ConnectionDoesNotExistError"): fixed("connection_terminated", precise),
        ("asyncpg", "AdminShutdownError"): fixed("connection_terminated", precise),
        ("asyncpg", "CrashShutdownError"): fixed("connection_terminated", precise),
        ("asyncpg", "PostgresConnectionError"): fixed("connection_failed", generic),
        ("builtins", "ConnectionError"): _asyncpg_connection_error(os_error, precise, generic),
        # SQLAlchemy: the pool's own limit; its DBAPI wrappers defer to the driver's error
        ("sqlalchemy", "TimeoutError"): fixed("connection_limit_reached", precise),
        ("sqlalchemy", "DBAPIError"): _sqlalchemy_dbapi_error(generic - 1),
        # redis-py (redis.exceptions, shared by redis.asyncio)
        ("redis", "MaxConnectionsError"): fixed("connection_limit_reached", precise),
        ("redis", "ConnectionError"): _message_rule("connection_failed", precise, generic),
        ("redis", "TimeoutError"): _message_rule("upstream_timeout", precise, generic),
        # A reply outside RESP: RFC 9209's http_protocol_error is for HTTP; the session
        # could not be used, cause unknown.
        ("redis", "InvalidResponse"): fixed("connection_failed", generic),
        # pymongo
        ("pymongo", "WaitQueueTimeoutError"): fixed("connection_limit_reached", precise),
        ("pymongo", "ServerSelectionTimeoutError"): _pymongo_selection(precise, generic),
        ("pymongo", "NetworkTimeout"): _message_rule("upstream_timeout", precise, generic),
        ("pymongo", "AutoReconnect"): _message_rule("connection_terminated", precise, generic),
        ("pymongo", "ConnectionFailure"): _message_rule("connection_failed", precise, generic),
    }

"""Calling a service that uses gatewayerrors — or any RFC 9457 / RFC 9209 service.

Turn an error response from httpx, requests, aiohttp or urllib3 into one typed exception,
:class:`UpstreamProblem`, read from whatever the service sent: ``application/problem+json``,
``application/problem+xml``, the Twitter-style envelope (JSON or XML), or a bare status. Its
``Retry-After``, request id and ``Proxy-Status`` chain come along::

    import httpx
    from gatewayerrors.client import httpx_hook

    client = httpx.Client(event_hooks={"response": [httpx_hook]})

    UpstreamProblem(Exception)     status, code, title, detail, retry_after, request_id,
                                   proxy_status (the chain, nearest the origin first)
    problem_from_response(r)       the problem in a response (None below 400)
    raise_for_problem(r)           raise it (httpx, requests, urllib3; aiohttp: aiohttp_raise)
    httpx_hook / httpx_async_hook / requests_hook / aiohttp_raise
    wait_retry_after(...)          a tenacity ``wait=`` honouring Retry-After (capped, jittered)
    stamina_hook(...)              a stamina ``on=`` backoff hook doing the same
    urllib3_retry(...)             a urllib3 ``Retry`` retrying 502/503/504 honouring it
    httpx_request_hook / httpx_async_request_hook / requests_forwarding_auth / forwarded_headers
                                   send the current request's id on (``forward_request_id``)

Nothing here imports an HTTP client: responses are read by duck typing. ``Proxy-Status`` is
parsed with ``http-sf`` (a dependency), a real Structured Fields parser.
"""

from __future__ import annotations

import contextlib
import functools
import math
import random
from collections.abc import Callable, Iterable, Mapping
from http import HTTPStatus
from types import MappingProxyType
from typing import Any

from ._catalog import catalog
from ._classify import parse_retry_after
from ._headers import valid_request_id
from ._problem_body import MAX_BODY, parse_body
from ._proxy_status import ProxyStatusEntry, parse_proxy_status
from ._request_context import forwarded_request_id

__all__ = [
    "ProxyStatusEntry",
    "UpstreamProblem",
    "aiohttp_raise",
    "aproblem_from_response",
    "forwarded_headers",
    "httpx_async_hook",
    "httpx_async_request_hook",
    "httpx_hook",
    "httpx_request_hook",
    "is_retryable",
    "parse_proxy_status",
    "problem_from_response",
    "raise_for_problem",
    "requests_forwarding_auth",
    "requests_hook",
    "retry_after_of",
    "stamina_hook",
    "urllib3_retry",
    "wait_retry_after",
]

RETRYABLE_STATUSES = frozenset({429, 502, 503, 504})
_MAX_TEXT = 1000
_EMPTY: Mapping[str, object] = MappingProxyType({})


class UpstreamProblem(Exception):
    """An error response from a service, as one value.

    ``status`` is the HTTP status received (a body's ``status`` member is advisory, RFC 9457
    §3.1.3). ``code`` is the problem's ``code`` member (a gatewayerrors catalog code) or, for a
    Twitter-style envelope, the catalog code of its number when that number and the status agree
    with our catalog; ``number`` keeps the envelope's number either way. ``retry_after`` is in
    seconds, from the header (or the body's ``retry_after``). ``proxy_status`` is the received
    ``Proxy-Status`` chain, nearest the origin first. ``upstream_code`` is the code the service
    reported for *its* upstream (a chain's root cause, see ``docs/chains.md``).
    """

    def __init__(
        self,
        status: int,
        *,
        code: str | None = None,
        number: int | None = None,
        title: str | None = None,
        detail: str | None = None,
        type: str | None = None,  # the RFC 9457 member's name
        instance: str | None = None,
        retry_after: int | None = None,
        request_id: str | None = None,
        proxy_status: tuple[ProxyStatusEntry, ...] = (),
        upstream_code: str | None = None,
        members: Mapping[str, object] = _EMPTY,
    ) -> None:
        self.status = status
        self.code = code
        self.number = number
        self.title = title
        self.detail = detail
        self.type = type
        self.instance = instance
        self.retry_after = retry_after
        self.request_id = request_id
        self.proxy_status = proxy_status
        self.upstream_code = upstream_code
        self.members = members
        super().__init__(self._message())

    def _message(self) -> str:
        text = f"{self.status} {self.title or _reason(self.status)}"
        if self.code:
            text += f" ({self.code})"
        if self.request_id:
            text += f" request_id={self.request_id}"
        return text

    @property
    def retryable(self) -> bool:
        """Whether trying again later may succeed: 429, 502, 503 or 504."""
        return self.status in RETRYABLE_STATUSES

    @property
    def root_cause(self) -> str | None:
        """The error nearest the origin: the first Proxy-Status member with an ``error``, else
        the service's ``upstream_code``, else its ``code``."""
        for entry in self.proxy_status:
            if entry.error is not None:
                return entry.error
        return self.upstream_code or self.code


def _reason(status: int) -> str:
    try:
        return HTTPStatus(status).phrase
    except ValueError:
        return "Error"


# -- reading a response -------------------------------------------------------------------------


def _header_values(headers: object, name: str) -> list[str]:
    """Every line of header ``name``: httpx ``get_list``, aiohttp ``getall``, urllib3
    ``getlist``, or a plain ``get`` (requests joins repeated lines itself)."""
    if headers is None:
        return []
    for method in ("get_list", "getall", "getlist"):
        getter = getattr(headers, method, None)
        if getter is not None:
            try:
                values = getter(name, [])
            except TypeError:
                values = getter(name)
            except Exception:
                return []
            return [value for value in values if isinstance(value, str)]
    try:
        value = headers.get(name)  # type: ignore[attr-defined]
    except Exception:
        return []
    return [value] if isinstance(value, str) else []


def _header(headers: object, name: str) -> str | None:
    values = _header_values(headers, name)
    return values[0] if values else None


def _status_of(response: object) -> int | None:
    status = getattr(response, "status_code", None)
    if status is None:
        status = getattr(response, "status", None)  # aiohttp, urllib3
    return status if isinstance(status, int) and not isinstance(status, bool) else None


def _body_of(response: object) -> bytes | None:
    """The body already read (httpx ``content``, requests ``content``, urllib3 ``data``)."""
    for name in ("content", "data"):
        try:
            body = getattr(response, name, None)
        except Exception:  # httpx.ResponseNotRead: a streamed response not read yet
            continue
        if isinstance(body, bytes):
            return body
    return None


def _text(value: object) -> str | None:
    if isinstance(value, str) and value:
        return value[:_MAX_TEXT]
    return None


def _int(value: object) -> int | None:
    if isinstance(value, int) and not isinstance(value, bool):
        return value
    if isinstance(value, str) and value.isdigit() and len(value) < 12:
        return int(value)
    return None


def _catalog_code(value: object) -> str | None:
    return value if isinstance(value, str) and value in catalog else None


def problem_from_response(
    response: object,
    *,
    body: bytes | None = None,
    request_id_header: str = "x-request-id",
) -> UpstreamProblem | None:
    """The :class:`UpstreamProblem` in ``response``, or None when its status is below 400.

    ``response`` is an httpx, requests, urllib3 or aiohttp response (read by duck typing);
    ``body`` is its body when the response does not hold it (aiohttp: use
    :func:`aproblem_from_response`). A body that is not a problem (HTML, text, broken JSON)
    leaves a problem with the status only. Never raises for a malformed response.
    """
    status = _status_of(response)
    if status is None or status < 400:
        return None
    headers = getattr(response, "headers", None)
    if body is None:
        body = _body_of(response)
    members = parse_body(_header(headers, "content-type"), body) or {}
    code = _catalog_code(members.get("code"))
    number = None
    title = _text(members.get("title"))
    detail = _text(members.get("detail"))
    errors = members.get("errors")
    if isinstance(errors, list) and errors and isinstance(errors[0], dict):
        # The Twitter-style envelope: {"errors": [{"message": ..., "code": <number>}]}.
        first = errors[0]
        number = _int(first.get("code"))
        detail = detail or _text(first.get("message"))
        if number is not None and code is None:
            try:
                kind = catalog.by_number(number)
            except KeyError:
                kind = None
            # Another API's numbers mean something else: trust ours only when the status agrees.
            code = kind.code if kind is not None and kind.status == status else None
    retry_after = parse_retry_after(_header(headers, "retry-after"))
    if retry_after is None:
        retry_after = _int(members.get("retry_after"))
    request_id = valid_request_id(_header(headers, request_id_header)) or valid_request_id(
        _text(members.get("request_id"))
    )
    return UpstreamProblem(
        status,
        code=code,
        number=number,
        title=title,
        detail=detail,
        type=_text(members.get("type")),
        instance=_text(members.get("instance")),
        retry_after=retry_after,
        request_id=request_id,
        proxy_status=parse_proxy_status(_header_values(headers, "proxy-status")),
        upstream_code=_catalog_code(members.get("upstream_code")),
        members=MappingProxyType(members),
    )


async def aproblem_from_response(
    response: Any, *, request_id_header: str = "x-request-id"
) -> UpstreamProblem | None:
    """:func:`problem_from_response` for aiohttp: reads the body (up to the limit) first."""
    body = None
    status = _status_of(response)
    if status is not None and status >= 400:
        length = _int(_header(getattr(response, "headers", None), "content-length"))
        if length is None or length <= MAX_BODY:
            try:
                body = await response.read()
            except Exception:
                body = None
    return problem_from_response(response, body=body, request_id_header=request_id_header)


# -- hooks that raise ---------------------------------------------------------------------------


def raise_for_problem(response: object) -> None:
    """Raise :class:`UpstreamProblem` for an httpx, requests or urllib3 response of 400 or more.

    The body is read when the response has not read it yet (httpx's event hooks and requests'
    response hooks run before it is), unless its ``Content-Length`` is over the 64 KiB limit:
    then the problem has the status and headers only. The response is closed before raising.
    """
    status = _status_of(response)
    if status is None or status < 400:
        return
    length = _int(_header(getattr(response, "headers", None), "content-length"))
    if length is not None and length > MAX_BODY:
        body: bytes | None = b""  # not read: too large to be a problem worth parsing
    else:
        read = getattr(response, "read", None)
        if hasattr(response, "is_stream_consumed") and callable(read):  # httpx, not read yet
            with contextlib.suppress(Exception):
                if _body_of(response) is None:
                    read()
        body = None  # problem_from_response reads what the response now holds
    problem = problem_from_response(response, body=body)
    if problem is not None:
        # The caller gets an exception, not the response: release its connection (requests
        # does not close a response whose hook raised; a body left unread pins the socket).
        close = getattr(response, "close", None)
        if callable(close):
            with contextlib.suppress(Exception):
                close()
        raise problem


def httpx_hook(response: Any) -> None:
    """An httpx ``event_hooks={"response": [httpx_hook]}`` hook that raises the problem."""
    raise_for_problem(response)


async def httpx_async_hook(response: Any) -> None:
    """The same hook for ``httpx.AsyncClient``."""
    status = _status_of(response)
    if status is None or status < 400:
        return
    length = _int(_header(response.headers, "content-length"))
    if length is None or length <= MAX_BODY:
        await response.aread()
    problem = problem_from_response(response)
    if problem is not None:
        raise problem


def requests_hook(response: Any, *args: object, **kwargs: object) -> None:
    """A requests ``hooks={"response": requests_hook}`` hook (or ``session.hooks``)."""
    raise_for_problem(response)


async def aiohttp_raise(response: Any) -> None:
    """aiohttp's ``ClientSession(raise_for_status=aiohttp_raise)``: raise the problem."""
    problem = await aproblem_from_response(response)
    if problem is not None:
        raise problem


# -- one request id across services -------------------------------------------------------------


def forwarded_headers() -> dict[str, str]:
    """``{request-id header: id}`` for an outgoing call made while handling a request (with
    ``forward_request_id=True``), else ``{}``: ``client.get(url, headers=forwarded_headers())``."""
    found = forwarded_request_id()
    return {} if found is None else {found[0]: found[1]}


def httpx_request_hook(request: Any) -> None:
    """An httpx ``event_hooks={"request": [httpx_request_hook]}`` hook sending the current
    request's id on (unless the call sets one itself)."""
    found = forwarded_request_id()
    if found is not None and found[0] not in request.headers:
        request.headers[found[0]] = found[1]


async def httpx_async_request_hook(request: Any) -> None:
    """The same hook for ``httpx.AsyncClient``."""
    httpx_request_hook(request)


def requests_forwarding_auth(inner: Callable[[Any], Any] | None = None) -> Callable[[Any], Any]:
    """A requests ``auth=`` callable sending the current request's id on, then applying
    ``inner`` (your own auth, if any): ``session.auth = requests_forwarding_auth()``."""

    def auth(request: Any) -> Any:
        found = forwarded_request_id()
        if found is not None and found[0] not in request.headers:
            request.headers[found[0]] = found[1]
        return inner(request) if inner is not None else request

    return auth


# -- waiting as Retry-After says ----------------------------------------------------------------


def retry_after_of(exc: BaseException | None) -> int | None:
    """Seconds the failed call's response asked to wait, or None.

    Reads :class:`UpstreamProblem`, and the response kept by httpx's ``HTTPStatusError``,
    requests' ``HTTPError`` and aiohttp's ``ClientResponseError`` (``headers``).
    """
    if exc is None:
        return None
    if isinstance(exc, UpstreamProblem):
        return exc.retry_after
    response = getattr(exc, "response", None)
    headers = getattr(response, "headers", None) if response is not None else None
    if headers is None:
        headers = getattr(exc, "headers", None)
    return parse_retry_after(_header(headers, "retry-after"))


def _delay(seconds: float, cap: float, jitter: float) -> float:
    # Never earlier than asked (jitter only adds), never longer than the cap plus jitter:
    # many clients told "30" must not all come back at the same second.
    return min(float(seconds), cap) + random.uniform(0, jitter)


def _check_wait(cap: float, jitter: float) -> None:
    if not (isinstance(cap, (int, float)) and math.isfinite(cap) and cap >= 0):
        raise ValueError(f"cap must be a finite number of seconds >= 0, not {cap!r}")
    if not (isinstance(jitter, (int, float)) and math.isfinite(jitter) and jitter >= 0):
        raise ValueError(f"jitter must be a finite number of seconds >= 0, not {jitter!r}")


class wait_retry_after:  # named like tenacity's own wait strategies
    """A tenacity ``wait=`` strategy: the failed response's ``Retry-After`` (capped, plus
    jitter), else ``fallback`` (a tenacity wait; default: exponential from 0.1 s, capped).

    ``tenacity.retry(wait=wait_retry_after(cap=30), retry=retry_if_exception(is_retryable))``
    """

    def __init__(
        self,
        fallback: Callable[[Any], float] | None = None,
        *,
        cap: float = 60.0,
        jitter: float = 1.0,
    ) -> None:
        _check_wait(cap, jitter)
        self.fallback = fallback
        self.cap = cap
        self.jitter = jitter

    def __call__(self, retry_state: Any) -> float:
        outcome = getattr(retry_state, "outcome", None)
        exc = outcome.exception() if outcome is not None and outcome.failed else None
        seconds = retry_after_of(exc)
        if seconds is not None:
            return _delay(seconds, self.cap, self.jitter)
        if self.fallback is not None:
            return float(self.fallback(retry_state))
        attempt = max(1, int(getattr(retry_state, "attempt_number", 1)))
        return _delay(0.1 * 2 ** min(attempt - 1, 30), self.cap, self.jitter)


def is_retryable(exc: BaseException) -> bool:
    """Whether a failed call is worth retrying: an :class:`UpstreamProblem` with 429, 502,
    503 or 504."""
    return isinstance(exc, UpstreamProblem) and exc.retryable


def stamina_hook(
    *,
    on: type[BaseException] | tuple[type[BaseException], ...] = UpstreamProblem,
    cap: float = 60.0,
    jitter: float = 1.0,
) -> Callable[[BaseException], bool | float]:
    """A stamina ``on=`` backoff hook: retry retryable problems (and ``on`` exceptions),
    waiting as ``Retry-After`` says (capped, plus jitter), else stamina's own backoff.

    ``@stamina.retry(on=stamina_hook(cap=30), attempts=5)``
    """
    _check_wait(cap, jitter)

    def hook(exc: BaseException) -> bool | float:
        if not isinstance(exc, on):
            return False
        if isinstance(exc, UpstreamProblem) and not exc.retryable:
            return False
        seconds = retry_after_of(exc)
        return True if seconds is None else _delay(seconds, cap, jitter)

    return hook


@functools.lru_cache(maxsize=16)
def _retry_class(cap: float, jitter: float, statuses: frozenset[int]) -> type[Any]:
    from urllib3.util.retry import Retry

    class GatewayRetry(Retry):
        """urllib3's Retry honouring Retry-After on 502/503/504 too, capped and jittered."""

        # urllib3 sleeps for Retry-After only on these (413, 429, 503 by default).
        RETRY_AFTER_STATUS_CODES = frozenset(Retry.RETRY_AFTER_STATUS_CODES | statuses)

        def parse_retry_after(self, retry_after: str) -> float:
            return _delay(super().parse_retry_after(retry_after), cap, jitter)

    return GatewayRetry


def urllib3_retry(
    total: int = 3,
    *,
    statuses: Iterable[int] = (502, 503, 504),
    backoff_factor: float = 0.5,
    cap: float = 60.0,
    jitter: float = 1.0,
    **options: Any,
) -> Any:
    """A ``urllib3.Retry`` retrying ``statuses`` (idempotent methods only, urllib3's default),
    honouring ``Retry-After`` on each of them — capped at ``cap`` seconds, plus jitter — and
    backing off exponentially otherwise. Other keyword ``options`` go to ``Retry``.

    ``urllib3.PoolManager(retries=urllib3_retry())``, or
    ``requests.adapters.HTTPAdapter(max_retries=urllib3_retry())``.
    """
    _check_wait(cap, jitter)
    wanted = frozenset(statuses)
    options.setdefault("backoff_jitter", jitter)
    options.setdefault("backoff_max", cap)
    return _retry_class(float(cap), float(jitter), wanted)(
        total=total,
        status_forcelist=wanted,
        backoff_factor=backoff_factor,
        respect_retry_after_header=True,
        raise_on_status=False,
        **options,
    )

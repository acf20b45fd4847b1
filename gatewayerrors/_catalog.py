"""The error catalog: every kind of gateway error this library can answer.

Codes are the RFC 9209 Proxy-Status error types wherever one fits, plus a few of our own
(``rfc9209=False``) for what RFC 9209 has no type for. Each kind has a stable ``number``
(like the Twitter API's numeric codes): numbers are never reused and never renumbered.

    number  code                                status
    ------  ----------------------------------  ------
    DNS and destination
      10    dns_timeout                          504
      11    dns_error                            502
      12    destination_not_found                500
      13    destination_unavailable              503
      14    destination_ip_prohibited            502
      15    destination_ip_unroutable            502
    Connection
      20    connection_refused                   502
      21    connection_terminated                502
      22    connection_timeout                   504
      23    connection_read_timeout              504
      24    connection_write_timeout             504
      25    connection_limit_reached             503
    TLS
      30    tls_protocol_error                   502
      31    tls_certificate_error                502
      32    tls_alert_received                   502
    HTTP exchange
      40    http_request_error                   400
      41    http_request_denied                  403
      42    http_response_timeout                504
      43    http_response_incomplete             502
      44    http_response_header_section_size    502
      45    http_response_header_size            502
      46    http_response_body_size              502
      47    http_response_trailer_section_size   502
      48    http_response_trailer_size           502
      49    http_response_transfer_coding        502
      50    http_response_content_coding         502
      51    http_upgrade_failed                  502
      52    http_protocol_error                  502
    The intermediary itself
      60    proxy_internal_response              500  (RFC 9209 recommends none)
      61    proxy_internal_error                 500
      62    proxy_configuration_error            500
      63    proxy_loop_detected                  502
    Our own (not RFC 9209 types)
      70    upstream_error                       502  upstream answered 5xx
      71    upstream_overloaded                  503  upstream answered 503/429
      72    upstream_timeout                     504  timed out, phase unknown
      73    connection_failed                    502  could not connect, cause unknown
      74    circuit_open                         503
      75    maintenance                          503
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from dataclasses import dataclass

from ._messages import N_

__all__ = ["Catalog", "ErrorKind", "catalog"]


@dataclass(frozen=True, slots=True)
class ErrorKind:
    """One kind of gateway error: its stable code, number, status and human text."""

    code: str
    number: int
    status: int
    title: str
    description: str
    hint: str
    rfc9209: bool = True
    retryable: bool = True
    iis: str = ""
    peers: str = ""


def _k(
    code: str,
    number: int,
    status: int,
    title: str,
    description: str,
    hint: str,
    *,
    rfc9209: bool = True,
    retryable: bool = True,
    iis: str = "",
    peers: str = "",
) -> ErrorKind:
    return ErrorKind(code, number, status, title, description, hint, rfc9209, retryable, iis, peers)


_RETRY = N_("Wait a moment and try again.")
_RETRY_LATER = N_("Try again later; the problem is usually temporary.")

_KINDS: tuple[ErrorKind, ...] = (
    # -- DNS and destination ------------------------------------------------------------
    _k(
        "dns_timeout",
        10,
        504,
        "Upstream name lookup timed out",
        N_("Looking up the address of a service this request depends on took too long."),
        _RETRY,
        iis="502.4",
        peers="Cloudflare 530",
    ),
    _k(
        "dns_error",
        11,
        502,
        "Upstream name lookup failed",
        N_("The address of a service this request depends on could not be found."),
        _RETRY_LATER,
        iis="502.4",
        peers="nginx 502 (host not found); Cloudflare 530",
    ),
    _k(
        "destination_not_found",
        12,
        500,
        "Upstream not configured",
        N_("The service this request depends on is not configured here."),
        N_("Contact the site's operators if this persists."),
        retryable=False,
        iis="502.4",
    ),
    _k(
        "destination_unavailable",
        13,
        503,
        "Upstream unavailable",
        N_("The service this request depends on is currently marked unavailable."),
        _RETRY_LATER,
        iis="502.4",
        peers="nginx 502 (no live upstreams); Envoy UH 503",
    ),
    _k(
        "destination_ip_prohibited",
        14,
        502,
        "Upstream address not allowed",
        N_("The gateway is not allowed to connect to the address of the service."),
        N_("Contact the site's operators if this persists."),
        retryable=False,
        iis="502.3",
    ),
    _k(
        "destination_ip_unroutable",
        15,
        502,
        "Upstream unreachable",
        N_("There is no network route to the service this request depends on."),
        _RETRY_LATER,
        iis="502.3",
        peers="Cloudflare 523",
    ),
    # -- Connection ---------------------------------------------------------------------
    _k(
        "connection_refused",
        20,
        502,
        "Upstream refused the connection",
        N_("The service this request depends on is not accepting connections."),
        _RETRY_LATER,
        iis="502.3",
        peers="nginx 502 (connect() failed); Envoy UF; Cloudflare 521",
    ),
    _k(
        "connection_terminated",
        21,
        502,
        "Upstream closed the connection",
        N_("The service this request depends on closed the connection before answering."),
        _RETRY,
        iis="502.2",
        peers="nginx 502 (prematurely closed); Envoy UC; Cloudflare 520",
    ),
    _k(
        "connection_timeout",
        22,
        504,
        "Upstream connection timed out",
        N_("Connecting to the service this request depends on took too long."),
        _RETRY,
        iis="502.3",
        peers="nginx 504 (connect timed out); Cloudflare 522",
    ),
    _k(
        "connection_read_timeout",
        23,
        504,
        "Upstream response timed out",
        N_("The service this request depends on stopped sending data."),
        N_("Try again; if you asked for a lot of data, ask for a smaller page."),
        iis="502.1",
        peers="nginx 504 (upstream timed out); Envoy UT; Cloudflare 524",
    ),
    _k(
        "connection_write_timeout",
        24,
        504,
        "Upstream request timed out",
        N_("Sending the request to the service this request depends on took too long."),
        N_("Try again; if you are sending a lot of data, send less at once."),
        iis="502.1",
        peers="nginx 504 (send timed out)",
    ),
    _k(
        "connection_limit_reached",
        25,
        503,
        "Too many upstream connections",
        N_("All connections to the service this request depends on are busy."),
        _RETRY,
        iis="502.3",
        peers="Envoy UO (circuit breaker overflow)",
    ),
    # -- TLS ----------------------------------------------------------------------------
    _k(
        "tls_protocol_error",
        30,
        502,
        "Upstream TLS handshake failed",
        N_("A secure connection to the service this request depends on could not be set up."),
        _RETRY_LATER,
        iis="502.3",
        peers="Cloudflare 525",
    ),
    _k(
        "tls_certificate_error",
        31,
        502,
        "Upstream certificate rejected",
        N_("The service this request depends on presented a certificate that is not trusted."),
        N_("Contact the site's operators if this persists."),
        retryable=False,
        iis="502.3",
        peers="Cloudflare 526",
    ),
    _k(
        "tls_alert_received",
        32,
        502,
        "Upstream TLS alert",
        N_("The service this request depends on rejected the secure connection."),
        _RETRY_LATER,
        iis="502.3",
        peers="Cloudflare 525",
    ),
    # -- HTTP exchange ------------------------------------------------------------------
    _k(
        "http_request_error",
        40,
        400,
        "Request rejected upstream",
        N_("The service this request depends on could not handle the request as sent."),
        N_("Check the request before sending it again."),
        retryable=False,
        iis="502.6",
    ),
    _k(
        "http_request_denied",
        41,
        403,
        "Request denied",
        N_("The gateway does not allow this request to be forwarded."),
        N_("Check that you are allowed to make this request."),
        retryable=False,
    ),
    _k(
        "http_response_timeout",
        42,
        504,
        "Upstream response timed out",
        N_("The service this request depends on did not answer in time."),
        N_("Try again; if you asked for a lot of data, ask for a smaller page."),
        iis="502.1",
        peers="nginx 504; Envoy UT; Cloudflare 524",
    ),
    _k(
        "http_response_incomplete",
        43,
        502,
        "Upstream response incomplete",
        N_("The service this request depends on sent an incomplete answer."),
        _RETRY,
        iis="502.2",
        peers="nginx 502 (prematurely closed); Envoy UC",
    ),
    _k(
        "http_response_header_section_size",
        44,
        502,
        "Upstream headers too large",
        N_("The service this request depends on sent more headers than allowed."),
        _RETRY_LATER,
        iis="502.6",
        peers="nginx 502 (too big header)",
    ),
    _k(
        "http_response_header_size",
        45,
        502,
        "Upstream header too large",
        N_("The service this request depends on sent a header that is too large."),
        _RETRY_LATER,
        iis="502.6",
        peers="nginx 502 (too big header)",
    ),
    _k(
        "http_response_body_size",
        46,
        502,
        "Upstream response too large",
        N_("The service this request depends on sent more data than allowed."),
        N_("Ask for less data at once, for example a smaller page."),
        iis="502.6",
    ),
    _k(
        "http_response_trailer_section_size",
        47,
        502,
        "Upstream trailers too large",
        N_("The service this request depends on sent more trailers than allowed."),
        _RETRY_LATER,
        iis="502.6",
    ),
    _k(
        "http_response_trailer_size",
        48,
        502,
        "Upstream trailer too large",
        N_("The service this request depends on sent a trailer that is too large."),
        _RETRY_LATER,
        iis="502.6",
    ),
    _k(
        "http_response_transfer_coding",
        49,
        502,
        "Upstream transfer coding error",
        N_("The service this request depends on sent data in a framing that could not be read."),
        _RETRY,
        iis="502.6",
    ),
    _k(
        "http_response_content_coding",
        50,
        502,
        "Upstream content coding error",
        N_("The service this request depends on sent compressed data that could not be decoded."),
        _RETRY,
        iis="502.6",
    ),
    _k(
        "http_upgrade_failed",
        51,
        502,
        "Upstream upgrade failed",
        N_("The service this request depends on refused to switch protocols (e.g. WebSocket)."),
        _RETRY_LATER,
        iis="502.5",
    ),
    _k(
        "http_protocol_error",
        52,
        502,
        "Upstream protocol error",
        N_("The service this request depends on sent an answer that is not valid HTTP."),
        _RETRY_LATER,
        iis="502.6",
        peers="nginx 502 (invalid header); Envoy UPE; Cloudflare 520",
    ),
    # -- The intermediary itself --------------------------------------------------------
    _k(
        "proxy_internal_response",
        60,
        500,
        "Answered by the gateway",
        N_("The gateway answered this request itself, without contacting the service."),
        _RETRY_LATER,
        retryable=False,
    ),
    _k(
        "proxy_internal_error",
        61,
        500,
        "Gateway internal error",
        N_("The gateway failed while handling this request."),
        _RETRY_LATER,
        iis="502.7",
    ),
    _k(
        "proxy_configuration_error",
        62,
        500,
        "Gateway misconfigured",
        N_("The gateway is not configured correctly to handle this request."),
        N_("Contact the site's operators if this persists."),
        retryable=False,
        iis="502.7",
    ),
    _k(
        "proxy_loop_detected",
        63,
        502,
        "Request loop detected",
        N_("This request came back to the gateway that sent it."),
        N_("Contact the site's operators if this persists."),
        retryable=False,
        iis="502.6",
        peers="Cloudflare 1019 (loop)",
    ),
    # -- Our own ------------------------------------------------------------------------
    _k(
        "upstream_error",
        70,
        502,
        "Upstream error",
        N_("The service this request depends on answered with an error."),
        _RETRY,
        rfc9209=False,
        iis="502.6",
        peers="Cloudflare 520",
    ),
    _k(
        "upstream_overloaded",
        71,
        503,
        "Upstream overloaded",
        N_("The service this request depends on is overloaded and asked us to back off."),
        N_("Wait a little while, then try again."),
        rfc9209=False,
        peers="Twitter API 503 (over capacity)",
    ),
    _k(
        "upstream_timeout",
        72,
        504,
        "Upstream timed out",
        N_("The service this request depends on did not answer in time."),
        N_("Try again; if you asked for a lot of data, ask for a smaller page."),
        rfc9209=False,
        iis="502.1",
        peers="nginx 504; Envoy UT; Cloudflare 524",
    ),
    _k(
        "connection_failed",
        73,
        502,
        "Upstream connection failed",
        N_("The service this request depends on could not be reached."),
        _RETRY_LATER,
        rfc9209=False,
        iis="502.3",
        peers="nginx 502; Envoy UF; Cloudflare 521",
    ),
    _k(
        "circuit_open",
        74,
        503,
        "Upstream temporarily disabled",
        N_("Calls to the service this request depends on are paused after repeated failures."),
        N_("Wait a little while, then try again."),
        rfc9209=False,
        peers="Envoy UO (circuit breaker)",
    ),
    _k(
        "maintenance",
        75,
        503,
        "Down for maintenance",
        N_("The service is down for scheduled maintenance."),
        N_("Please come back when the maintenance is over."),
        rfc9209=False,
        peers="Twitter API 502 (being upgraded)",
    ),
)


class Catalog(Mapping[str, ErrorKind]):
    """Read-only mapping from code to :class:`ErrorKind`, in catalog order.

    ``catalog["connection_refused"]`` looks up by code, ``catalog.by_number(20)`` by number,
    and iterating yields the codes in order.
    """

    __slots__ = ("_by_code", "_by_number")

    def __init__(self, kinds: tuple[ErrorKind, ...]) -> None:
        self._by_code = {kind.code: kind for kind in kinds}
        self._by_number = {kind.number: kind for kind in kinds}
        if len(self._by_code) != len(kinds) or len(self._by_number) != len(kinds):
            raise ValueError("catalog codes and numbers must be unique")

    def __getitem__(self, code: str) -> ErrorKind:
        return self._by_code[code]

    def __iter__(self) -> Iterator[str]:
        return iter(self._by_code)

    def __len__(self) -> int:
        return len(self._by_code)

    def __repr__(self) -> str:
        return f"<Catalog of {len(self)} error kinds>"

    def by_number(self, number: int) -> ErrorKind:
        """The kind with this stable number."""
        return self._by_number[number]


catalog = Catalog(_KINDS)
"""Every error kind, keyed by code."""

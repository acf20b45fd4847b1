"""The Django middleware under waitress (WSGI) and uvicorn (Django's ASGI handler), with DRF.

Django is configured once per process (``django_setup.configure_django``); this module's
URLconf is a module built after setup, so nothing Django-specific happens at import time.
"""

from __future__ import annotations

import gc
import json
import logging
import sys
import types
from collections.abc import Iterator
from typing import Any

import httpx
import pytest
import requests
from django_setup import PAGE, URLCONF, configure_django
from wsgi_servers import (
    CLIENT_SSL,
    CLIENT_TIMEOUT,
    CLIENTS,
    FAULTS,
    PROBLEM_JSON,
    call_upstream,
    fault_url,
    serve_asgi,
    serve_wsgi,
    upstream_exception,
)

from gatewayerrors import GatewayErrorsWSGIMiddleware, ServiceUnavailable
from gatewayerrors.core import RequestInfo, Translator

pytestmark = [
    pytest.mark.server,
    # Django's ASGIHandler.handle closes the request's body file only when the response
    # completes: a streamed body that fails half-way (test_streamed_body_under_asgi_aborts) leaves
    # it to the garbage collector, which warns. Django's leak, not ours: ignored in this module
    # only, and collected (see asgi_url) before the module ends so it cannot surface elsewhere.
    pytest.mark.filterwarnings(
        "ignore:Unclosed file <tempfile.SpooledTemporaryFile:ResourceWarning"
    ),
]

_upstreams: Any = None


def build_urlconf() -> types.ModuleType:
    from django.http import Http404, HttpRequest, HttpResponse, StreamingHttpResponse
    from django.urls import path
    from rest_framework.exceptions import NotFound
    from rest_framework.response import Response
    from rest_framework.views import APIView, exception_handler

    def ok(request: HttpRequest) -> HttpResponse:
        return HttpResponse("hello", content_type="text/plain")

    def fault(request: HttpRequest, name: str) -> HttpResponse:
        call_upstream(_upstreams, name, request.GET.get("client", "requests"))
        return HttpResponse("unreachable")

    async def async_fault(request: HttpRequest, name: str) -> HttpResponse:
        async with httpx.AsyncClient(timeout=CLIENT_TIMEOUT, verify=CLIENT_SSL) as client:
            (await client.get(fault_url(_upstreams, name))).raise_for_status()
        return HttpResponse("unreachable")

    def own(request: HttpRequest) -> HttpResponse:
        raise ServiceUnavailable(code="circuit_open", retry_after=30, upstream="payments")

    def not_found_after_failure(request: HttpRequest) -> HttpResponse:
        try:
            call_upstream(_upstreams, "refused")
        except requests.ConnectionError:
            raise Http404("no such product")  # noqa: B904 - the context is the point
        return HttpResponse("unreachable")

    def forwarded(request: HttpRequest) -> HttpResponse:
        from gatewayerrors.client import forwarded_headers

        FORWARDED.append(forwarded_headers())  # what an outgoing call would carry
        raise ServiceUnavailable(code="circuit_open")

    def unclassified(request: HttpRequest) -> HttpResponse:
        raise ValueError("a bug, not an upstream failure")

    def stream(request: HttpRequest, when: str) -> StreamingHttpResponse:
        def body() -> Iterator[bytes]:
            if when == "late":
                yield b"partial"
            call_upstream(_upstreams, "refused")
            yield b"unreachable"

        return StreamingHttpResponse(body(), content_type="text/plain")

    class DrfFault(APIView):  # type: ignore[misc]
        def get(self, request: Any, name: str) -> Response:
            call_upstream(_upstreams, name)
            return Response({})

    class DrfDefaultHandler(DrfFault):
        def get_exception_handler(self) -> Any:
            return exception_handler

    class DrfNotFound(APIView):  # type: ignore[misc]
        def get(self, request: Any) -> Response:
            try:
                call_upstream(_upstreams, "refused")
            except requests.ConnectionError:
                raise NotFound()  # noqa: B904 - DRF's answer, whatever its context
            return Response({})

    urls = types.ModuleType(URLCONF)
    urls.urlpatterns = [  # type: ignore[attr-defined]
        path("ok", ok),
        path("health", ok),
        path("fault/<str:name>", fault),
        path("async-fault/<str:name>", async_fault),
        path("own", own),
        path("forwarded", forwarded),
        path("unclassified", unclassified),
        path("not-found-after-failure", not_found_after_failure),
        path("stream/<str:when>", stream),
        path("drf/fault/<str:name>", DrfFault.as_view()),
        path("drf-default/fault/<str:name>", DrfDefaultHandler.as_view()),
        path("drf/not-found", DrfNotFound.as_view()),
    ]
    return urls


@pytest.fixture(scope="module", autouse=True)
def django_project(upstreams: Any) -> Iterator[None]:
    global _upstreams
    _upstreams = upstreams
    configure_django()
    sys.modules[URLCONF] = build_urlconf()
    yield
    _upstreams = None


@pytest.fixture(scope="module")
def wsgi_url(django_project: None) -> Iterator[str]:
    from django.core.wsgi import get_wsgi_application

    from gatewayerrors.django import get_translator

    # The outer wrapper is for streamed bodies only (Django answers everything else itself).
    app = GatewayErrorsWSGIMiddleware(get_wsgi_application(), translator=get_translator())
    with serve_wsgi(app) as url:
        yield url


@pytest.fixture(scope="module")
def asgi_url(django_project: None) -> Iterator[str]:
    from django.core.asgi import get_asgi_application

    with serve_asgi(get_asgi_application()) as url:
        yield url
    gc.collect()  # see pytestmark


@pytest.fixture(params=["wsgi", "asgi"])
def base_url(request: pytest.FixtureRequest) -> str:
    return str(request.getfixturevalue(f"{request.param}_url"))


@pytest.fixture(scope="module")
def translator() -> Translator:
    return Translator(service="catalog")


def expected(translator: Translator, exc: Exception, path: str, query: str, accept: str) -> Any:
    want = translator.translate(exc, RequestInfo("GET", path, query, accept, "rid-1"))
    assert want is not None
    return want


# -- upstream failures ---------------------------------------------------------------------


@pytest.mark.parametrize("client", CLIENTS)
def test_real_upstream_failures_match_the_core(
    base_url: str, upstreams: Any, translator: Translator, client: str
) -> None:
    with requests.Session() as session:
        for fault in FAULTS:
            exc = upstream_exception(upstreams, fault, client)
            path = f"/fault/{fault}"
            response = session.get(
                f"{base_url}{path}?client={client}",
                headers={"Accept": PROBLEM_JSON, "X-Request-Id": "rid-1"},
                timeout=5,
            )
            want = expected(translator, exc, path, f"client={client}", PROBLEM_JSON)
            assert response.status_code == want.status, fault
            assert response.content == want.body, fault
            for name, value in want.headers:
                assert response.headers[name] == value, (fault, name)


def test_async_view_under_asgi(
    asgi_url: str, upstreams: Any, translator: Translator, hx: httpx.Client
) -> None:
    for fault in ("refused", "hang", "503"):
        exc = upstream_exception(upstreams, fault, "httpx")
        path = f"/async-fault/{fault}"
        response = hx.get(
            f"{asgi_url}{path}", headers={"Accept": "text/plain", "X-Request-Id": "rid-1"}
        )
        want = expected(translator, exc, path, "", "text/plain")
        assert (response.status_code, response.content) == (want.status, want.body)


def test_own_exception(base_url: str) -> None:
    response = requests.get(f"{base_url}/own", timeout=5)
    assert response.status_code == 503
    assert response.headers["retry-after"] == "30"
    assert response.json()["code"] == "circuit_open"


def test_django_404_and_500_are_untouched(base_url: str) -> None:
    not_found = requests.get(f"{base_url}/nowhere", timeout=5)
    assert not_found.status_code == 404
    assert "<h1>Not Found</h1>" in not_found.text
    # Http404 raised while handling an upstream failure is still the view's 404.
    after_failure = requests.get(f"{base_url}/not-found-after-failure", timeout=5)
    assert after_failure.status_code == 404
    assert "<h1>Not Found</h1>" in after_failure.text
    error = requests.get(f"{base_url}/unclassified", timeout=5)
    assert error.status_code == 500
    assert error.headers["content-type"] == "text/html; charset=utf-8"
    assert "<h1>Server Error (500)</h1>" in error.text  # Django's default 500 page


def test_signalled_and_logged_once(wsgi_url: str, caplog: pytest.LogCaptureFixture) -> None:
    from django.core.signals import got_request_exception

    signals: list[Any] = []

    def receiver(sender: Any, request: Any, **extra: Any) -> None:
        signals.append(request.path)

    from django.test import override_settings

    got_request_exception.connect(receiver)
    try:
        # New settings, a new translator: this failure is the first of its kind, traceback and all.
        with (
            override_settings(GATEWAYERRORS={"service": "catalog"}),
            caplog.at_level(logging.ERROR),
        ):
            requests.get(f"{wsgi_url}/fault/refused", timeout=5)
    finally:
        got_request_exception.disconnect(receiver)
    assert signals == ["/fault/refused"]
    # Logged once, by our logger (with the traceback): django.request does not repeat it.
    assert not [r for r in caplog.records if r.name == "django.request"]
    [record] = [r for r in caplog.records if r.name == "gatewayerrors"]
    assert record.exc_info is not None
    assert record.gatewayerrors_code == "connection_refused"  # type: ignore[attr-defined]


def test_debug_adds_detail(wsgi_url: str) -> None:
    from django.test import override_settings

    with override_settings(DEBUG=True):
        detail = requests.get(f"{wsgi_url}/fault/refused", timeout=5).json()
        assert detail["exception"].startswith("ConnectionError")
        with override_settings(GATEWAYERRORS={"debug": False}):
            assert "exception" not in requests.get(f"{wsgi_url}/fault/refused", timeout=5).json()
    assert "exception" not in requests.get(f"{wsgi_url}/fault/refused", timeout=5).json()


def test_maintenance_and_suppress_response_codes(base_url: str) -> None:
    from django.test import override_settings

    with override_settings(GATEWAYERRORS={"maintenance": True}):
        response = requests.get(f"{base_url}/ok", timeout=5)
        assert (response.status_code, response.json()["code"]) == (503, "maintenance")
        assert response.headers["retry-after"] == "300"
        assert requests.get(f"{base_url}/health", timeout=5).status_code == 200
    with override_settings(GATEWAYERRORS={"suppress_response_codes": "src"}):
        response = requests.get(f"{base_url}/fault/refused?src=true", timeout=5)
        assert (response.status_code, response.json()["status"]) == (200, 502)
    assert requests.get(f"{base_url}/ok", timeout=5).status_code == 200


def test_maintenance_bypass_by_token_and_network(base_url: str) -> None:
    from django.test import override_settings

    token = "team-only-7f3a9c2e51d04b86"
    with override_settings(GATEWAYERRORS={"maintenance": True, "maintenance_bypass_token": token}):
        bypass = {"x-maintenance-bypass": token}
        assert requests.get(f"{base_url}/ok", headers=bypass, timeout=5).status_code == 200
        assert requests.get(f"{base_url}/ok", timeout=5).status_code == 503
    with override_settings(
        GATEWAYERRORS={"maintenance": True, "maintenance_bypass_ips": ("127.0.0.0/8",)}
    ):
        assert requests.get(f"{base_url}/ok", timeout=5).status_code == 200


def test_async_on_error_hook_runs(base_url: str) -> None:
    from django.test import override_settings

    seen: list[str] = []

    async def on_error(error: Any, exc: BaseException) -> None:
        seen.append(error.code)

    with override_settings(GATEWAYERRORS={"on_error": on_error}):
        assert requests.get(f"{base_url}/fault/refused", timeout=5).status_code == 502
    assert seen == ["connection_refused"]


def test_streamed_body_under_wsgi(wsgi_url: str) -> None:
    early = requests.get(f"{wsgi_url}/stream/early", timeout=5)
    assert (early.status_code, early.json()["code"]) == (502, "connection_refused")
    with pytest.raises(requests.exceptions.ChunkedEncodingError):
        requests.get(f"{wsgi_url}/stream/late", timeout=5)


def test_streamed_failure_after_the_start_under_wsgi_is_reported(
    django_project: None, caplog: pytest.LogCaptureFixture
) -> None:
    from django.core.wsgi import get_wsgi_application
    from django.test import override_settings

    from gatewayerrors.django import get_translator

    hooked: list[tuple[str, bool]] = []

    def on_error(error: Any, exc: BaseException | None) -> None:
        hooked.append((error.code, isinstance(exc, requests.ConnectionError)))

    with (
        override_settings(GATEWAYERRORS={"on_error": on_error}),
        caplog.at_level(logging.ERROR, "gatewayerrors"),
    ):
        app = GatewayErrorsWSGIMiddleware(get_wsgi_application(), translator=get_translator())
        with serve_wsgi(app) as url, pytest.raises(requests.exceptions.ChunkedEncodingError):
            requests.get(f"{url}/stream/late", timeout=5)
    assert app.failures_after_start == 1
    assert hooked == [("connection_refused", True)]
    [record] = [r for r in caplog.records if r.name == "gatewayerrors"]
    assert record.gatewayerrors_response_started is True  # type: ignore[attr-defined]


def test_an_odd_request_still_gets_the_answer(django_project: None, upstreams: Any) -> None:
    # A request built or altered by other code (RequestFactory, a middleware): odd META
    # values and a non-str key, which makes request.headers raise, give defaults.
    from django.test import RequestFactory

    from gatewayerrors.django import response_for_exception

    exc = upstream_exception(upstreams, "refused")
    request = RequestFactory().get("/odd")
    request.method = None
    request.META.update({"QUERY_STRING": b"a=1", "HTTP_ACCEPT": 5, 1: "not a str key"})
    response = response_for_exception(request, exc)
    assert response is not None
    assert response.status_code == 502
    assert response.headers["content-type"] == PROBLEM_JSON
    assert json.loads(response.content)["code"] == "connection_refused"
    assert response_for_exception(request, ValueError("a bug")) is None


@pytest.mark.filterwarnings("ignore:StreamingHttpResponse must consume synchronous iterators")
def test_streamed_body_under_asgi_aborts(asgi_url: str, hx: httpx.Client) -> None:
    # Django's ASGI handler sends the response start before iterating: no answer can replace
    # it, and uvicorn closes the connection instead of completing the body.
    for when in ("early", "late"):
        with pytest.raises(httpx.RemoteProtocolError):
            hx.get(f"{asgi_url}/stream/{when}", timeout=5)


# -- Django REST framework -----------------------------------------------------------------


def test_drf_views(base_url: str, upstreams: Any, translator: Translator) -> None:
    # DRF negotiates before the view runs: an Accept its renderers lack is its own 406.
    exc = upstream_exception(upstreams, "refused")
    headers = {"Accept": "application/json", "X-Request-Id": "rid-1"}
    for prefix in ("/drf", "/drf-default"):
        path = f"{prefix}/fault/refused"
        response = requests.get(f"{base_url}{path}", headers=headers, timeout=5)
        want = expected(translator, exc, path, "", "application/json")
        assert (response.status_code, response.content) == (want.status, want.body), prefix
    not_found = requests.get(f"{base_url}/drf/not-found", timeout=5)
    assert (not_found.status_code, not_found.json()) == (404, {"detail": "Not found."})


# -- configuration -------------------------------------------------------------------------


def test_middleware_is_async_native() -> None:
    from asgiref.sync import iscoroutinefunction
    from django.core.handlers.asgi import ASGIHandler
    from django.core.handlers.wsgi import WSGIHandler

    from gatewayerrors.django import GatewayErrorsMiddleware

    async def get_response(request: Any) -> Any:
        return None

    assert iscoroutinefunction(GatewayErrorsMiddleware(get_response))
    assert not iscoroutinefunction(GatewayErrorsMiddleware(lambda request: None))
    logger = logging.getLogger("django.request")
    messages: list[str] = []
    handler = logging.Handler(logging.DEBUG)
    handler.emit = lambda record: messages.append(record.getMessage())  # type: ignore[method-assign]
    logger.addHandler(handler)
    level = logger.level
    logger.setLevel(logging.DEBUG)
    try:
        ASGIHandler()
        WSGIHandler()
    finally:
        logger.removeHandler(handler)
        logger.setLevel(level)
    assert not [m for m in messages if "gatewayerrors" in m]


def test_unknown_setting_is_improperly_configured() -> None:
    from django.core.exceptions import ImproperlyConfigured
    from django.test import override_settings

    from gatewayerrors.django import get_translator

    with override_settings(GATEWAYERRORS={"servce": "x"}), pytest.raises(ImproperlyConfigured):
        get_translator()
    assert get_translator().settings.service == "catalog"


def test_django_template_renders_with_the_request(upstreams: Any) -> None:
    from django.test import RequestFactory

    from gatewayerrors.django import django_template

    request = RequestFactory().get("/some/page")
    translator = Translator()
    response = translator.translate(
        upstream_exception(upstreams, "refused"), RequestInfo(path="/some/page", native=request)
    )
    assert response is not None
    page = django_template("502.html")(response.error, RequestInfo(path="/x", native=request))
    assert page == PAGE.replace("{{ code }}", "connection_refused").replace(
        "{{ status }}", "502"
    ).replace("{{ request.path }}", "/some/page")


def test_template_name_setting(wsgi_url: str) -> None:
    from django.test import override_settings

    with override_settings(GATEWAYERRORS={"template_name": "502.html"}):
        response = requests.get(
            f"{wsgi_url}/fault/refused", headers={"Accept": "text/html"}, timeout=5
        )
    assert response.status_code == 502
    assert "<p id=code>connection_refused</p>" in response.text
    assert "<p id=path>/fault/refused</p>" in response.text


def test_template_name_gets_the_heading_with_its_overrides(wsgi_url: str) -> None:
    from django.test import override_settings

    overrides = {"connection_refused": {"heading": "Payments are down"}}
    with override_settings(GATEWAYERRORS={"template_name": "heading.html", "overrides": overrides}):
        overridden = requests.get(
            f"{wsgi_url}/fault/refused", headers={"Accept": "text/html"}, timeout=5
        )
    with override_settings(GATEWAYERRORS={"template_name": "heading.html"}):
        builtin = requests.get(
            f"{wsgi_url}/fault/refused", headers={"Accept": "text/html"}, timeout=5
        )
    assert overridden.status_code == builtin.status_code == 502
    assert overridden.text == "<h1>Payments are down</h1>"
    assert builtin.text == "<h1>Something went wrong on our side</h1>"


# -- forward_request_id: one id across services -------------------------------------------------

FORWARDED: list[dict[str, str]] = []


@pytest.mark.parametrize("incoming", ["trace-7", None])
def test_forward_request_id(base_url: str, incoming: str | None) -> None:
    """The id bound while the view runs is what outgoing calls send and what the answer carries
    (the ``forwarded`` view records ``forwarded_headers()``, then fails)."""
    from django.test import override_settings

    FORWARDED.clear()
    headers = {"x-request-id": incoming} if incoming else {}
    with override_settings(GATEWAYERRORS={"service": "catalog", "forward_request_id": True}):
        response = requests.get(f"{base_url}/forwarded", headers=headers, timeout=5)
    assert response.status_code == 503
    request_id = response.headers["x-request-id"]
    assert [{"x-request-id": request_id}] == FORWARDED
    if incoming:
        assert request_id == incoming
    FORWARDED.clear()
    requests.get(f"{base_url}/forwarded", timeout=5)  # forwarding off again: nothing bound
    assert FORWARDED == [{}]

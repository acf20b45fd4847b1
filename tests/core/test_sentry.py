"""Sentry: the real sentry_sdk with a transport that keeps envelopes (no network), around real
FastAPI (uvicorn) and Django (waitress) apps whose upstream refuses every connection.

``sentry_sdk.init`` patches frameworks and logging for the whole process, so each case runs in
a fresh interpreter and prints the events its transport captured.
"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

pytestmark = pytest.mark.server

TESTS = Path(__file__).resolve().parents[1] / "helpers"  # the shared modules the programs import

COMMON = r"""
import json, logging, sys, time
sys.path.insert(0, sys.argv[1])
refused_url, storm, window = sys.argv[2], int(sys.argv[3]), float(sys.argv[4])
import httpx, sentry_sdk
from sentry_sdk.transport import Transport
from wsgi_servers import serve_asgi, serve_wsgi
from gatewayerrors.sentry import SentryEvents

logging.basicConfig(level=logging.WARNING, stream=sys.stderr)

class Captured(Transport):
    def __init__(self, options=None):
        super().__init__(options)
        self.events = []
    def capture_envelope(self, envelope):
        for item in envelope.items:
            if item.type == "event":
                self.events.append(item.get_event())

transport = Captured()
sentry_sdk.init(dsn="http://key@127.0.0.1:9/1", transport=transport)

def report():
    sentry_sdk.flush()
    print(json.dumps([
        {
            "tags": event.get("tags", {}),
            "fingerprint": event.get("fingerprint"),
            "level": event.get("level"),
            "exception": [v["type"] for v in event.get("exception", {}).get("values", [])],
            "message": (event.get("logentry") or {}).get("message") or event.get("message"),
            "context": event.get("contexts", {}).get("gatewayerrors"),
        }
        for event in transport.events
    ]))
"""

FASTAPI = r"""
from fastapi import FastAPI
from gatewayerrors.starlette import install

app = FastAPI()

@app.get("/orders")
async def orders():
    async with httpx.AsyncClient() as client:
        await client.get(refused_url)

@app.get("/crash")
async def crash():
    raise RuntimeError("a bug, not an upstream failure")

events = SentryEvents(window=window)
now = [0.0]
events._storm._clock = lambda: now[0]  # a test's clock: the window passes when it says so
install(app, integrations=[events], upstream_names={
    httpx.URL(refused_url).netloc.decode(): "orders",
})
with serve_asgi(app) as base, httpx.Client() as client:
    for i in range(storm):
        assert client.get(base + "/orders").status_code == 502
        if i == storm // 2 and window < 60:
            now[0] += window  # past the window: a new event, with the count before it
    assert client.get(base + "/crash").status_code == 500
report()
"""

DJANGO = r"""
import types, requests
from django.conf import settings
from django.urls import path
import django

def orders(request):
    requests.get(refused_url, timeout=2)

urls = types.ModuleType("sentry_django_urls")
urls.urlpatterns = [path("orders", orders)]
sys.modules["sentry_django_urls"] = urls
settings.configure(
    DEBUG=False, ALLOWED_HOSTS=["*"], SECRET_KEY="x" * 50, ROOT_URLCONF="sentry_django_urls",
    MIDDLEWARE=["gatewayerrors.django.GatewayErrorsMiddleware"],
    GATEWAYERRORS={"integrations": [SentryEvents(window=window)]},
    LOGGING_CONFIG=None,
)
django.setup()
from django.core.wsgi import get_wsgi_application
with serve_wsgi(get_wsgi_application()) as base, httpx.Client() as client:
    for _ in range(storm):
        assert client.get(base + "/orders").status_code == 502
report()
"""


def run(program: str, refused_url: str, storm: int, window: float = 60) -> list[dict[str, Any]]:
    done = subprocess.run(
        [sys.executable, "-c", COMMON + program, str(TESTS), refused_url, str(storm), str(window)],
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert done.returncode == 0, done.stderr[-3000:]
    events: list[dict[str, Any]] = json.loads(done.stdout.strip().splitlines()[-1])
    return events


def test_a_storm_through_fastapi_is_one_event_tagged_and_fingerprinted(upstreams: Any) -> None:
    events = run(FASTAPI, upstreams.refused_url, storm=25)
    ours = [event for event in events if event["fingerprint"]]
    assert len(ours) == 1, events
    event = ours[0]
    assert event["fingerprint"] == ["gatewayerrors", "connection_refused", "orders"]
    assert event["tags"]["gatewayerrors.code"] == "connection_refused"
    assert event["tags"]["gatewayerrors.status"] == "502"
    assert event["tags"]["gatewayerrors.upstream"] == "orders"
    assert event["level"] == "error"
    assert event["exception"][-1] == "ConnectError"
    assert len(event["context"]["request_id"]) == 32
    # Everything else still reaches Sentry: the app's own bug is its event, as before.
    others = [event for event in events if not event["fingerprint"]]
    assert [event["exception"][-1] for event in others] == ["RuntimeError"]


def test_a_new_window_is_a_new_event_with_the_count_of_the_last(upstreams: Any) -> None:
    events = run(FASTAPI, upstreams.refused_url, storm=10, window=30)
    ours = [event for event in events if event["fingerprint"]]
    assert len(ours) == 2, events
    assert "failures_in_previous_window" not in ours[0]["context"]
    assert ours[1]["context"]["failures_in_previous_window"] == 6  # requests 0..5


def test_a_storm_through_django_is_one_event(upstreams: Any) -> None:
    # Django's got_request_exception (Sentry's Django integration listens to it) would add one
    # event per request: the event processor drops those of failures already reported.
    events = run(DJANGO, upstreams.refused_url, storm=15)
    assert len(events) == 1, events
    assert events[0]["fingerprint"] == ["gatewayerrors", "connection_refused", "unnamed"]
    assert events[0]["tags"]["gatewayerrors.upstream"] == "unnamed"
    assert events[0]["exception"][-1] == "ConnectionError"

"""The maintenance switch: memory for requests, the store in the background; windows and their
Retry-After; never worse than no store (grace, then off; logged once); a restart after fork."""

from __future__ import annotations

import json
import logging
import os
import time
from collections.abc import Iterator
from datetime import datetime, timedelta, timezone
from pathlib import Path
from typing import Any

import pytest

from gatewayerrors._maintenance import MaintenanceSwitch
from gatewayerrors._maintenance_state import MaintenanceState
from gatewayerrors._stores import FileStore, MemoryStore
from gatewayerrors._translate import RequestInfo, Translator


def now() -> datetime:
    return datetime.now(timezone.utc)


@pytest.fixture
def translators() -> Iterator[list[Translator]]:
    """Translators whose refresher threads are stopped after the test."""
    made: list[Translator] = []
    yield made
    for translator in made:
        assert translator.maintenance_switch is not None
        translator.maintenance_switch.stop()


def translator_for(made: list[Translator], store: object, **options: object) -> Translator:
    translator = Translator(maintenance_store=store, **options)  # type: ignore[arg-type]
    made.append(translator)
    switch = translator.maintenance_switch
    assert switch is not None
    switch.refresh()  # what the thread does every poll, done now: no waiting in a test
    return translator


def answer(translator: Translator, path: str = "/orders") -> dict[str, object] | None:
    response = translator.maintenance_answer(
        lambda: RequestInfo("GET", path, accept="application/json")
    )
    if response is None:
        return None
    headers = dict(response.headers)
    body = json.loads(response.body)
    return {"status": response.status, "retry": headers.get("retry-after"), **body}


# -- windows --------------------------------------------------------------------------------


def test_no_state_means_off_and_a_switch_on_means_503(translators: list[Translator]) -> None:
    store = MemoryStore()
    translator = translator_for(translators, store, maintenance_retry_after=240)
    assert answer(translator) is None
    store.write(MaintenanceState(on=True))
    assert translator.maintenance_switch is not None
    translator.maintenance_switch.refresh()
    found = answer(translator)
    assert found is not None
    assert (found["status"], found["code"], found["retry"]) == (503, "maintenance", "240")
    assert answer(translator, "/healthz") is None  # the health-check defaults stay exempt


def test_retry_after_is_the_time_left_in_the_window_and_the_page_says_when_it_ends(
    translators: list[Translator],
) -> None:
    end = (now() + timedelta(minutes=20)).replace(microsecond=0)
    store = MemoryStore(MaintenanceState(start=now() - timedelta(minutes=5), end=end))
    translator = translator_for(translators, store)
    found = answer(translator)
    assert found is not None
    assert 1190 <= int(str(found["retry"])) <= 1200  # 20 minutes, less the test's own seconds
    assert f"{end:%Y-%m-%d %H:%M} UTC" in str(found["detail"])
    page = translator.maintenance_response(RequestInfo("GET", "/", accept="text/html"))
    assert page is not None
    html = page.body.decode()
    assert f"It is planned to end at {end:%Y-%m-%d %H:%M} UTC." in html
    assert 'id="count" data-seconds="1' in html  # the countdown runs to the window's end


@pytest.mark.parametrize(
    ("accept_language", "sentence"),
    [
        ("de-AT,de;q=0.9", "Das Ende ist für {end} UTC geplant."),
        ("ja", "終了予定は {end}（UTC）です。"),  # noqa: RUF001 (Japanese parentheses)
        ("fr", "La fin est prévue le {end} UTC."),
    ],
)
def test_the_window_end_is_said_in_the_pages_language(
    translators: list[Translator], accept_language: str, sentence: str
) -> None:
    end = (now() + timedelta(minutes=20)).replace(microsecond=0)
    translator = translator_for(translators, MemoryStore(MaintenanceState(end=end)))
    when = f"{end:%Y-%m-%d %H:%M}"
    request = RequestInfo("GET", "/", accept="text/html", accept_language=accept_language)
    page = translator.maintenance_response(request)
    assert page is not None
    html = page.body.decode()
    assert sentence.format(end=when) in html
    # Once in English: in the problem details the page embeds, not in the words it shows.
    assert html.count("It is planned to end at") == 1
    # The problem details (JSON, and the copy embedded in the page) keep the English detail.
    problem = translator.maintenance_response(
        RequestInfo("GET", "/", accept="application/json", accept_language=accept_language)
    )
    assert problem is not None
    assert json.loads(problem.body)["detail"].endswith(f"It is planned to end at {when} UTC.")


def test_retry_after_is_bounded_by_max_retry_after(translators: list[Translator]) -> None:
    store = MemoryStore(MaintenanceState(end=now() + timedelta(hours=6)))
    found = answer(translator_for(translators, store, max_retry_after=3600))
    assert found is not None
    assert found["retry"] == "3600"


def test_the_operators_retry_after_and_message_win(translators: list[Translator]) -> None:
    state = MaintenanceState(end=now() + timedelta(hours=1), retry_after=90, message="Moving DB")
    found = answer(translator_for(translators, MemoryStore(state)))
    assert found is not None
    assert (found["retry"], found["detail"]) == ("90", "Moving DB")


def test_a_window_scheduled_ahead_answers_normally_until_it_starts(
    translators: list[Translator],
) -> None:
    soon = now() + timedelta(hours=1)
    store = MemoryStore(MaintenanceState(start=soon, end=soon + timedelta(hours=1)))
    translator = translator_for(translators, store)
    assert answer(translator) is None
    assert translator.maintenance_active() is False
    past = MaintenanceState(start=now() - timedelta(hours=2), end=now() - timedelta(hours=1))
    store.write(past)
    assert translator.maintenance_switch is not None
    translator.maintenance_switch.refresh()
    assert answer(translator) is None  # over


def test_a_maintenance_callable_and_a_store_both_count(translators: list[Translator]) -> None:
    flag = {"on": False}
    store = MemoryStore()
    translator = translator_for(translators, store, maintenance=lambda: flag["on"])
    assert answer(translator) is None
    flag["on"] = True
    assert answer(translator) is not None


# -- never worse than no store ----------------------------------------------------------------


def test_garbage_keeps_the_last_state_during_the_grace_period_logged_once(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    store = FileStore(tmp_path / "state.json")
    store.write(MaintenanceState(on=True))
    switch = MaintenanceSwitch(store, grace=3600)
    switch.refresh()
    assert switch.active() is not None
    store.path.write_bytes(b"\x00garbage")
    with caplog.at_level(logging.WARNING, "gatewayerrors"):
        for _ in range(50):
            switch.refresh()
    assert switch.active() is not None  # still the last known state
    assert switch.failing
    assert len(caplog.records) == 1
    assert "cannot be read (StoreError)" in caplog.records[0].getMessage()
    store.write(MaintenanceState(on=False))
    with caplog.at_level(logging.WARNING, "gatewayerrors"):
        switch.refresh()
        switch.refresh()
    assert switch.active() is None
    assert not switch.failing
    assert [r.getMessage().endswith("answers again") for r in caplog.records] == [False, True]


def test_after_the_grace_period_the_switch_is_off(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    store = FileStore(tmp_path / "state.json")
    store.write(MaintenanceState(on=True))
    switch = MaintenanceSwitch(store, grace=0)
    switch.refresh()
    store.path.write_text("{", "utf-8")
    with caplog.at_level(logging.WARNING, "gatewayerrors"):
        time.sleep(0.01)  # grace=0: any time after the last good read is past it
        for _ in range(20):
            switch.refresh()
    assert switch.active() is None
    messages = [record.getMessage() for record in caplog.records]
    assert len(messages) == 2
    assert "maintenance mode is off until it answers" in messages[1]


def test_a_failing_store_never_reaches_the_request(tmp_path: Path) -> None:
    class Broken:
        def read(self) -> MaintenanceState | None:
            raise RuntimeError("boom")

        def write(self, state: MaintenanceState) -> None:
            raise RuntimeError("boom")

    translator = Translator(maintenance_store=Broken())
    try:
        assert translator.maintenance_switch is not None
        translator.maintenance_switch.refresh()
        assert translator.maintenance_active() is False
        assert answer(translator) is None
    finally:
        translator.maintenance_switch.stop()  # type: ignore[union-attr]


def test_a_store_object_returning_something_else_is_garbage(tmp_path: Path) -> None:
    class Sloppy:
        def read(self) -> object:
            return {"on": True}

        def write(self, state: MaintenanceState) -> None:
            pass

    switch = MaintenanceSwitch(Sloppy(), grace=0)  # type: ignore[arg-type]
    switch.refresh()
    assert switch.failing
    assert switch.active() is None  # never a dict on the request path


# -- the thread -----------------------------------------------------------------------------


def test_the_thread_refreshes_in_the_background_and_stops(tmp_path: Path) -> None:
    store = FileStore(tmp_path / "state.json")
    switch = MaintenanceSwitch(store, interval=0.05)
    switch.start()
    try:
        store.write(MaintenanceState(on=True))
        deadline = time.monotonic() + 5
        while switch.active() is None and time.monotonic() < deadline:
            time.sleep(0.01)
        assert switch.active() is not None
    finally:
        switch.stop()
    assert switch._thread is None
    count = switch.refreshes
    time.sleep(0.2)
    assert switch.refreshes == count  # stopped: no more reads


@pytest.mark.skipif(not hasattr(os, "fork"), reason="fork() is POSIX only")
# Python 3.12+ warns that forking a threaded process may deadlock: that is the case tested.
@pytest.mark.filterwarnings("ignore:.*use of fork\\(\\) may lead to deadlocks")
def test_a_forked_worker_gets_its_own_refresher(tmp_path: Path) -> None:
    """gunicorn --preload: the app (and its switch) is built in the master, then forked."""
    store = FileStore(tmp_path / "state.json")
    switch = MaintenanceSwitch(store, interval=0.05)
    switch.start()
    try:
        read_end, write_end = os.pipe()
        pid = os.fork()
        if pid == 0:  # the child: only the forking thread survived; ours must run again
            status = 1
            try:
                store.write(MaintenanceState(on=True, message="from the child"))
                deadline = time.monotonic() + 5
                while switch.active() is None and time.monotonic() < deadline:
                    time.sleep(0.01)
                thread = switch._thread
                ok = switch.active() is not None and thread is not None and thread.is_alive()
                os.write(write_end, b"ok" if ok else b"no")
                status = 0
            finally:
                os._exit(status)
        os.close(write_end)
        with os.fdopen(read_end, "rb") as pipe:
            said = pipe.read()
        _, status = os.waitpid(pid, 0)
        assert os.waitstatus_to_exitcode(status) == 0
        assert said == b"ok"
    finally:
        switch.stop()


def test_asgi_lifespan_starts_and_stops_the_refresher(tmp_path: Path) -> None:
    """The ASGI lifespan protocol, driven as a server drives it."""
    import asyncio

    from gatewayerrors import GatewayErrorsMiddleware

    async def app(scope: Any, receive: Any, send: Any) -> None:
        assert scope["type"] == "lifespan"
        while True:
            message = await receive()
            await send({"type": message["type"] + ".complete"})
            if message["type"] == "lifespan.shutdown":
                return

    middleware = GatewayErrorsMiddleware(app, maintenance_store=f"file://{tmp_path}/m.json")
    switch = middleware.translator.maintenance_switch
    assert switch is not None
    switch.stop()  # as if built without starting: lifespan startup starts it
    assert switch._thread is None

    async def run() -> list[str]:
        inbox: asyncio.Queue[dict[str, str]] = asyncio.Queue()
        sent: list[str] = []
        for kind in ("lifespan.startup", "lifespan.shutdown"):
            inbox.put_nowait({"type": kind})

        async def send(message: Any) -> None:
            sent.append(message["type"])
            if message["type"] == "lifespan.startup.complete":
                assert switch._thread is not None
                assert switch._thread.is_alive()

        await middleware({"type": "lifespan"}, inbox.get, send)
        return sent

    assert asyncio.run(run()) == ["lifespan.startup.complete", "lifespan.shutdown.complete"]
    assert switch._thread is None
    assert switch._stop.is_set()


def test_a_switch_nobody_holds_ends_its_thread(tmp_path: Path) -> None:
    import gc
    import threading

    switch = MaintenanceSwitch(FileStore(tmp_path / "m.json"), interval=0.02)
    switch.start()
    thread = switch._thread
    assert thread is not None
    del switch
    gc.collect()
    thread.join(5)
    assert not thread.is_alive()
    assert thread not in threading.enumerate()

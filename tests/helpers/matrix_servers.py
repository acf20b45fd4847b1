"""How the contract matrix serves a framework's app on a server (support_matrix.py names them).

Two kinds of server:

* **in the test process** (uvicorn, hypercorn, waitress), in a thread: the server serves a
  ``Switch`` and ``Adapter.configure(**options)`` swaps in the app built with those options
  (Django: ``override_settings(GATEWAYERRORS=...)``), as the adapter tests always did;
* **in a process of its own** (gunicorn forks its workers; granian and daphne are run as their
  users run them, from the command line): a process cannot be handed a new app, so each distinct
  option set the tests ask for gets its own server process, started on first use and kept for
  the rest of the module (the contract suite uses two: the base options and maintenance). The
  process imports :mod:`matrix_app`, which builds the app from :data:`APP_ENV` (the builder's
  ``module:function``, the upstream URLs and the options, as JSON). ``configure`` points
  ``Adapter.url`` at that process for the block. Every process is stopped (SIGTERM, then
  SIGKILL after :data:`STOP_TIMEOUT`) when the module's adapter is torn down.
"""

from __future__ import annotations

import contextlib
import json
import os
import signal
import socket
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import httpx
from adapter_servers import (
    BASE,
    DJANGO_URLCONF,
    Adapter,
    ASGISwitch,
    WSGISwitch,
    django_urlconf,
    switching,
)
from asgi_servers import serve
from wsgi_servers import serve_wsgi

APP_ENV = "GATEWAYERRORS_MATRIX_APP"
"""The environment variable matrix_app.py reads: ``{"builder", "urls", "options"}``."""
HELPERS = Path(__file__).resolve().parent
START_TIMEOUT = 30.0
STOP_TIMEOUT = 10.0

Builder = Callable[[dict[str, str], dict[str, Any]], Any]


def import_builder(target: str) -> Builder:
    """The builder named ``module:function`` (a module of tests/helpers)."""
    import importlib

    module, _, name = target.partition(":")
    found: Builder = getattr(importlib.import_module(module), name)
    return found


# -- in the test process ---------------------------------------------------------------------


@contextlib.contextmanager
def uvicorn_thread(app: Any) -> Iterator[str]:
    with serve(app) as server:
        yield server.url


@contextlib.contextmanager
def hypercorn_thread(app: Any) -> Iterator[str]:
    with serve(app, "hypercorn") as server:
        yield server.url


@contextlib.contextmanager
def waitress_thread(app: Any) -> Iterator[str]:
    with serve_wsgi(app) as url:
        yield url


@contextlib.contextmanager
def switched(
    kind: str,
    builder: str,
    urls: dict[str, str],
    name: str,
    run: Callable[[Any], contextlib.AbstractContextManager[str]],
) -> Iterator[Adapter]:
    """``run`` serves a switch; ``configure`` swaps in the app built with the options."""
    build = import_builder(builder)

    def make(options: dict[str, Any]) -> Any:
        return build(urls, options)

    switch = ASGISwitch(make(BASE)) if kind == "asgi" else WSGISwitch(make(BASE))
    with run(switch) as url:
        yield Adapter(name, url, switching(switch, make))


@contextlib.contextmanager
def django_hosted(
    urls: dict[str, str],
    name: str,
    run: Callable[[Any], contextlib.AbstractContextManager[str]],
) -> Iterator[Adapter]:
    """Django in the test process: configured once per process (django_setup), so this points
    it at the contract URLconf and sets ``GATEWAYERRORS`` per test, as Django apps do."""
    from django_setup import configure_django

    configure_django()
    from django.core.wsgi import get_wsgi_application
    from django.test import override_settings

    sys.modules[DJANGO_URLCONF] = django_urlconf(urls)

    def apply(options: dict[str, Any]) -> contextlib.AbstractContextManager[None]:
        override: contextlib.AbstractContextManager[None] = override_settings(GATEWAYERRORS=options)
        return override

    try:
        with (
            override_settings(ROOT_URLCONF=DJANGO_URLCONF, GATEWAYERRORS=BASE),
            run(get_wsgi_application()) as url,
        ):
            yield Adapter(name, url, apply)
    finally:
        del sys.modules[DJANGO_URLCONF]


@contextlib.contextmanager
def aiohttp_thread(app: Any) -> Iterator[str]:
    """aiohttp's own server (AppRunner + TCPSite) in a thread."""
    from apps_aiohttp import serve_aiohttp

    with serve_aiohttp(app) as url:
        yield url


@contextlib.contextmanager
def aiohttp_hosted(
    urls: dict[str, str],
    name: str,
    run: Callable[[Any], contextlib.AbstractContextManager[str]],
) -> Iterator[Adapter]:
    """aiohttp freezes an app when it starts serving: its switch swaps whole apps, each set up
    by its own AppRunner, behind one aiohttp server (tests/helpers/apps_aiohttp.py), so ``run``
    (the plain server) is not used."""
    from apps_aiohttp import AiohttpSwitch
    from apps_aiohttp import build as aiohttp_app

    with AiohttpSwitch(aiohttp_app(urls, BASE)) as switch:

        def apply(options: dict[str, Any]) -> contextlib.AbstractContextManager[None]:
            return switch.serving(aiohttp_app(urls, options))

        yield Adapter(name, switch.url, apply)


# -- in a process of its own -----------------------------------------------------------------


def free_port() -> int:
    """A port free on 127.0.0.1 now (the server binds it a moment later)."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def gunicorn_command(worker: str) -> Callable[[str, int], list[str]]:
    """gunicorn with one ``worker`` (``sync`` or ``gthread``) process."""

    def command(kind: str, port: int) -> list[str]:
        threads = ["--threads", "4"] if worker == "gthread" else []
        return [
            sys.executable, "-m", "gunicorn", "--workers", "1", "--worker-class", worker,
            *threads, "--bind", f"127.0.0.1:{port}", "--graceful-timeout", "2",
            "--log-level", "warning", "matrix_app:app",
        ]  # fmt: skip

    return command


def granian_command(kind: str, port: int) -> list[str]:
    """granian with one worker, HTTP/1.1 (the contract's client speaks HTTP/1.1)."""
    return [
        sys.executable, "-m", "granian", "--interface", kind, "--host", "127.0.0.1",
        "--port", str(port), "--workers", "1", "--http", "1", "--no-ws",
        "--workers-kill-timeout", "2", "--log-level", "warning", "matrix_app:app",
    ]  # fmt: skip


def daphne_command(kind: str, port: int) -> list[str]:
    """daphne (Twisted), one process."""
    return [
        sys.executable, "-m", "daphne", "-b", "127.0.0.1", "-p", str(port),
        "-v", "0", "--application-close-timeout", "2", "matrix_app:app",
    ]  # fmt: skip


class ServerProcess:
    """One server process serving the app built from ``spec``; stopped by :meth:`close`."""

    def __init__(self, argv: list[str], spec: dict[str, Any], port: int) -> None:
        self.url = f"http://127.0.0.1:{port}"
        self._ready = False
        self._log = tempfile.TemporaryFile()  # noqa: SIM115 (closed in close())
        path = os.pathsep.join(filter(None, [str(HELPERS), os.environ.get("PYTHONPATH")]))
        self._process = subprocess.Popen(
            argv,
            env={**os.environ, APP_ENV: json.dumps(spec), "PYTHONPATH": path},
            stdin=subprocess.DEVNULL,
            stdout=self._log,
            stderr=subprocess.STDOUT,
            start_new_session=True,  # its workers stop with it (close() signals the group)
        )

    def wait_until_it_answers(self) -> None:
        """Return once ``/health`` answers 200; raise (with the server's log) if it exits or
        does not answer within :data:`START_TIMEOUT`."""
        if self._ready:
            return
        deadline = time.monotonic() + START_TIMEOUT
        while True:
            if self._process.poll() is not None:
                raise RuntimeError(f"{self._process.args!r} exited:\n{self.output()}")
            try:
                if httpx.get(self.url + "/health", timeout=2).status_code == 200:
                    self._ready = True
                    return
            except httpx.TransportError:
                pass
            if time.monotonic() > deadline:
                raise RuntimeError(f"no answer within {START_TIMEOUT} s:\n{self.output()}")
            time.sleep(0.05)

    def output(self) -> str:
        """What the server printed so far (its log, for a failure message)."""
        self._log.seek(0)
        return self._log.read().decode("utf-8", "replace")[-4000:]

    def close(self) -> None:
        """SIGTERM to the server and its workers; SIGKILL if still running after the timeout."""
        try:
            if self._process.poll() is None:
                os.killpg(self._process.pid, signal.SIGTERM)
                try:
                    self._process.wait(STOP_TIMEOUT)
                except subprocess.TimeoutExpired:
                    os.killpg(self._process.pid, signal.SIGKILL)
                    self._process.wait(STOP_TIMEOUT)
            with contextlib.suppress(ProcessLookupError):
                os.killpg(self._process.pid, signal.SIGKILL)  # a worker left behind, if any
        finally:
            self._log.close()


@contextlib.contextmanager
def in_processes(
    kind: str,
    builder: str,
    urls: dict[str, str],
    name: str,
    command: Callable[[str, int], list[str]],
    expected: tuple[dict[str, Any], ...] = (),
) -> Iterator[Adapter]:
    """One server process per option set; ``configure`` points the adapter at it. The
    ``expected`` option sets (added to ``BASE``, as ``configure`` does) start at once with the
    base one, so their start-up times overlap; any other starts on first use."""
    processes: dict[str, ServerProcess] = {}

    def start(options: dict[str, Any]) -> ServerProcess:
        key = json.dumps(options, sort_keys=True)
        if key not in processes:
            spec = {"builder": builder, "urls": urls, "options": options}
            port = free_port()
            processes[key] = ServerProcess(command(kind, port), spec, port)
        return processes[key]

    def url_for(options: dict[str, Any]) -> str:
        process = start(options)
        process.wait_until_it_answers()
        return process.url

    try:
        for options in (BASE, *({**BASE, **more} for more in expected)):
            start(options)
        adapter = Adapter(name, url_for(BASE), lambda options: contextlib.nullcontext())

        @contextlib.contextmanager
        def pointed(options: dict[str, Any]) -> Iterator[None]:
            previous, adapter.url = adapter.url, url_for(options)
            try:
                yield
            finally:
                adapter.url = previous

        adapter.apply = pointed
        yield adapter
    finally:
        for process in processes.values():
            process.close()

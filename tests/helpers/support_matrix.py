"""The framework x server matrix of the adapter contract suite, and the support table made of it.

:data:`FRAMEWORKS` and :data:`SERVERS` are the one registry: tests/adapters/test_contract.py runs
every contract test on every combination (:func:`combinations`), and docs/support.md is
generated from the same entries::

    python tests/helpers/support_matrix.py --write     # regenerate docs/support.md

A framework serves the shared test app through a builder ``build(urls, options) -> app`` (in
``tests/helpers/apps_<framework>.py``: ``/ok``, ``/health``, ``/fault/<name>[/...]``,
``/stream/<name>``). Adding one is one entry in :data:`FRAMEWORKS`; it runs on every server of
its kind. The first server of its kind (uvicorn, waitress) is its primary combination, left
unmarked so ``-m "not matrix"`` still covers every framework once; the others are marked
``matrix``.
"""

from __future__ import annotations

import argparse
import contextlib
import re
import sys
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import matrix_servers as hosting

ROOT = Path(__file__).resolve().parents[2]
PAGE = ROOT / "docs" / "support.md"


@dataclass(frozen=True)
class Server:
    """A server the matrix runs apps of ``kind`` on.

    ``thread`` serves an app in the test process; ``command`` (``(kind, port) -> argv``) runs
    the server as a process of its own instead. ``keep_alive`` is False for a server that
    closes every connection by design (gunicorn's sync worker); ``closes_after_late_failure``
    False for one that leaves the connection open when the app fails after its response
    started (the body stays truncated); ``may_send_nothing_after_late_failure`` for one that
    may still hold the status and first chunk when the body fails, and then closes the
    connection with nothing sent."""

    label: str
    kind: str
    distribution: str
    thread: Callable[[Any], contextlib.AbstractContextManager[str]] | None = None
    command: Callable[[str, int], list[str]] | None = None
    keep_alive: bool = True
    closes_after_late_failure: bool = True
    may_send_nothing_after_late_failure: bool = False
    note: str = ""


@dataclass(frozen=True)
class Framework:
    """A framework of ``kind`` ("asgi", "wsgi", "aiohttp"), its app built by ``builder``
    (``module:function`` in tests/helpers), wired as ``wiring`` says (for the table).

    ``servers`` limits it to some servers (default: every server of its kind), ``excluded``
    says why a server of its kind is left out (shown in the table). ``hosted`` replaces
    swapping the app in the test process (Django keeps its settings per process)."""

    label: str
    kind: str
    builder: str
    wiring: str
    distribution: str | None = None
    servers: tuple[str, ...] = ()
    excluded: dict[str, str] = field(default_factory=dict)
    hosted: Callable[..., contextlib.AbstractContextManager[Any]] | None = None


SERVERS: dict[str, Server] = {
    # The first server of each kind is the primary one (unmarked in the suite).
    "uvicorn": Server("uvicorn", "asgi", "uvicorn", thread=hosting.uvicorn_thread),
    "hypercorn": Server("Hypercorn", "asgi", "hypercorn", thread=hosting.hypercorn_thread),
    "granian": Server("Granian", "asgi", "granian", command=hosting.granian_command),
    "daphne": Server(
        "Daphne",
        "asgi",
        "daphne",
        command=hosting.daphne_command,
        closes_after_late_failure=False,
        note=(
            "when the app fails after its response started, the body stays truncated (no last"
            " chunk) but the connection is left open until the client gives up"
        ),
    ),
    "waitress": Server("waitress", "wsgi", "waitress", thread=hosting.waitress_thread),
    "gunicorn-sync": Server(
        "gunicorn (sync worker)",
        "wsgi",
        "gunicorn",
        command=hosting.gunicorn_command("sync"),
        keep_alive=False,
        note="closes every connection after its response (no keep-alive, by design)",
    ),
    "gunicorn-gthread": Server(
        "gunicorn (gthread worker)", "wsgi", "gunicorn", command=hosting.gunicorn_command("gthread")
    ),
    "granian-wsgi": Server(
        "Granian (WSGI)",
        "wsgi",
        "granian",
        command=hosting.granian_command,
        may_send_nothing_after_late_failure=True,
        note=(
            "ignores a `start_response` made while the body is first iterated (PEP 3333 allows"
            " one; [granian#845](https://github.com/emmett-framework/granian/issues/845)), so"
            " under Granian the WSGI middleware hands the status and headers over when the app"
            " returns: a failure inside a streamed body is then one after the response started"
            " (logged, the connection aborted), where other servers still get the gateway error"
            " if nothing was sent; when a body fails right after its first chunk, granian may"
            " close the connection before sending anything (seen now and then under load)"
        ),
    ),
    "aiohttp": Server("aiohttp.web", "aiohttp", "aiohttp", thread=hosting.aiohttp_thread),
}

FRAMEWORKS: dict[str, Framework] = {
    "asgi": Framework(
        "Any ASGI app", "asgi", "adapter_servers:build_asgi", "`GatewayErrorsMiddleware(app)`"
    ),
    "starlette": Framework(
        "Starlette", "asgi", "apps_starlette:build", "`install(app)`", "starlette"
    ),
    "fastapi": Framework(
        "FastAPI", "asgi", "apps_starlette:build_fastapi", "`install(app)`", "fastapi"
    ),
    "litestar": Framework(
        "Litestar", "asgi", "apps_litestar:build", "`GatewayErrorsPlugin()`", "litestar"
    ),
    "quart": Framework("Quart", "asgi", "apps_quart:build", "`install(app)`", "quart"),
    "falcon-asgi": Framework(
        "Falcon (ASGI)",
        "asgi",
        "apps_falcon_asgi:build",
        "`GatewayErrorsMiddleware(app)`",
        "falcon",
    ),
    "wsgi": Framework(
        "Any WSGI app", "wsgi", "adapter_servers:build_wsgi", "`GatewayErrorsWSGIMiddleware(app)`"
    ),
    "flask": Framework(
        "Flask",
        "wsgi",
        "adapter_servers:build_flask",
        "`GatewayErrors(app)`",
        "flask",
    ),
    "django": Framework(
        "Django",
        "wsgi",
        "adapter_servers:build_django",
        "`MIDDLEWARE`",
        "django",
        hosted=hosting.django_hosted,
    ),
    "aiohttp": Framework(
        "aiohttp.web",
        "aiohttp",
        "apps_aiohttp:build",
        "`gatewayerrors.aiohttp.install(app)`",
        "aiohttp",
        hosted=hosting.aiohttp_hosted,
    ),
    "falcon-wsgi": Framework(
        "Falcon (WSGI)",
        "wsgi",
        "apps_falcon_wsgi:build",
        "`GatewayErrorsWSGIMiddleware(app)`",
        "falcon",
    ),
    "pyramid": Framework(
        "Pyramid", "wsgi", "apps_pyramid:build", "`GatewayErrorsWSGIMiddleware(app)`", "pyramid"
    ),
}


@dataclass(frozen=True)
class Combination:
    """One framework on one server: a row of the contract suite (id ``flask-waitress``)."""

    framework: str
    server: str
    primary: bool

    @property
    def id(self) -> str:
        return f"{self.framework}-{self.server}"


def servers_of(framework: Framework) -> list[str]:
    """The servers ``framework`` runs on, the primary one first."""
    names = framework.servers or tuple(n for n, s in SERVERS.items() if s.kind == framework.kind)
    return [name for name in names if name not in framework.excluded]


def combinations() -> list[Combination]:
    """Every framework-server pair the contract suite runs, framework by framework."""
    return [
        Combination(name, server, index == 0)
        for name, framework in FRAMEWORKS.items()
        for index, server in enumerate(servers_of(framework))
    ]


@contextlib.contextmanager
def host(
    combination: Combination, urls: dict[str, str], expected: tuple[dict[str, Any], ...] = ()
) -> Iterator[Any]:
    """Serve ``combination``'s app on its server; yields its ``Adapter``. ``expected``: the
    option sets ``configure`` will be given, started at once on a server that runs as its own
    process (an in-process server builds the app per ``configure``)."""
    framework = FRAMEWORKS[combination.framework]
    server = SERVERS[combination.server]
    name = combination.framework
    if server.thread is not None:
        if framework.hosted is not None:
            with framework.hosted(urls, name, server.thread) as adapter:
                yield adapter
            return
        with hosting.switched(framework.kind, framework.builder, urls, name, server.thread) as a:
            yield a
        return
    assert server.command is not None, combination
    with hosting.in_processes(
        framework.kind, framework.builder, urls, name, server.command, expected
    ) as adapter:
        yield adapter


# -- the support table -----------------------------------------------------------------------

_HEADER = """\
# Supported frameworks and servers

<!-- Generated by `python tests/helpers/support_matrix.py --write` from the contract suite's
matrix (tests/helpers/support_matrix.py): do not edit. -->

Every combination marked ✓ runs the whole adapter contract suite (tests/adapters/test_contract.py)
on a real server on 127.0.0.1 in CI, on Python 3.10 and 3.13: each real upstream failure (refused,
timeout, reset, TLS, DNS, upstream 503 with `Retry-After`) in every format (JSON, XML, HTML, text)
byte for byte as the core renders it, `HEAD`, keep-alive after an error, a failure after a
streamed response started (no second response), an unclassified exception left to the framework,
and maintenance mode. `python -m pytest -m "not matrix"` runs only the first server of each
framework.

Versions are the ranges of the project's `test` extra: CI installs the newest release in each.
"""


def _ranges() -> dict[str, str]:
    """``name -> specifier`` of the ``test`` extra in pyproject.toml (what CI installs).

    Read with a pattern, not a TOML parser: tomllib is 3.11+ and the extra is one flat list."""
    text = (ROOT / "pyproject.toml").read_text("utf-8")
    extra = re.search(r"^test = \[\n(.*?)^\]", text, re.MULTILINE | re.DOTALL)
    assert extra is not None, "no test extra in pyproject.toml"
    found = {}
    for requirement in re.findall(r'^\s*"([^"]+)"', extra[1], re.MULTILINE):
        match = re.fullmatch(r"([A-Za-z0-9_.-]+)(?:\[[^]]*\])?\s*(.*)", requirement)
        assert match is not None, requirement
        found[match[1].lower()] = match[2]
    return found


def cell(framework: Framework, server: str, tested: list[str]) -> str:
    """The table's cell for ``framework`` on ``server``: ✓, excluded¹ or —."""
    if server in framework.excluded:
        return "excluded¹"
    if server not in tested:
        return "—"
    return "✓"


def _table(kind: str, ranges: dict[str, str]) -> list[str]:
    servers = [name for name, server in SERVERS.items() if server.kind == kind]
    lines = [
        "| framework | wired with | " + " | ".join(SERVERS[s].label for s in servers) + " |",
        "|---|---|" + ":---:|" * len(servers),
    ]
    for framework in FRAMEWORKS.values():
        if framework.kind != kind:
            continue
        tested = servers_of(framework)
        cells = [cell(framework, s, tested) for s in servers]
        label = framework.label
        if framework.distribution:
            label += f" (`{framework.distribution}{ranges.get(framework.distribution, '')}`)"
        lines.append(f"| {label} | {framework.wiring} | " + " | ".join(cells) + " |")
    return lines


def render_markdown() -> str:
    """docs/support.md, from :data:`FRAMEWORKS` and :data:`SERVERS`."""
    ranges = _ranges()
    out = [_HEADER]
    kinds = {"asgi": "ASGI", "wsgi": "WSGI", "aiohttp": "aiohttp.web (neither ASGI nor WSGI)"}
    kinds.update({s.kind: s.kind for s in SERVERS.values() if s.kind not in kinds})
    for kind, title in kinds.items():
        out += [f"## {title}", "", *_table(kind, ranges), ""]
    out += ["## Servers", ""]
    for server in SERVERS.values():
        version = ranges.get(server.distribution, "")
        note = f": {server.note}" if server.note else ""
        mode = "in the test process" if server.thread else "as its own process"
        out.append(f"- **{server.label}** (`{server.distribution}{version}`, {mode}){note}.")
    excluded = [
        f"- {framework.label} on {SERVERS[server].label}: {why}."
        for framework in FRAMEWORKS.values()
        for server, why in framework.excluded.items()
    ]
    if excluded:
        out += ["", "¹ Excluded:", "", *excluded]
    return "\n".join(out).rstrip("\n") + "\n"


def main(argv: list[str] | None = None) -> int:
    """Print docs/support.md, or ``--write`` it."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--write", action="store_true", help=f"write {PAGE.relative_to(ROOT)}")
    args = parser.parse_args(argv)
    page = render_markdown()
    if args.write:
        PAGE.write_text(page, "utf-8")
    else:
        sys.stdout.write(page)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())

"""The operator's command: ``python -m gatewayerrors maintenance`` and ``manage.py
gatewayerrors_maintenance``, each run as a real subprocess against a real store."""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
from datetime import datetime, timedelta, timezone
from pathlib import Path

import pytest

from gatewayerrors._redis_store import RedisStore
from gatewayerrors._stores import FileStore
from gatewayerrors._tools.maintenance import parse_duration

ROOT = Path(__file__).resolve().parents[2]


def cli(*args: str, env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "gatewayerrors", "maintenance", *args],
        capture_output=True,
        text=True,
        timeout=60,
        cwd=ROOT,
        env={**os.environ, **(env or {})},
    )


def test_on_for_a_duration_status_and_off_through_redis(redis_url: str) -> None:
    on = cli("on", "--store", redis_url, "--for", "15m", "--message", "Moving the database")
    assert on.returncode == 0, on.stderr
    assert on.stdout.startswith("maintenance: ON until ")
    assert "(900 s left)" in on.stdout or "(899 s left)" in on.stdout
    store = RedisStore.from_url(redis_url)
    try:
        state = store.read()
        assert state is not None
        assert state.on
        assert state.message == "Moving the database"
        assert state.end is not None
        left = state.end - datetime.now(timezone.utc)
        assert timedelta(minutes=14) < left <= timedelta(minutes=15)
        status = cli("status", "--store", redis_url)
        assert status.returncode == 0
        assert "maintenance: ON" in status.stdout
        assert "message: Moving the database" in status.stdout
        off = cli("off", "--store", redis_url)
        assert (off.returncode, off.stdout) == (0, "maintenance: off\n")
        state = store.read()
        assert state is not None
        assert not state.on
    finally:
        store.close()


def test_a_window_scheduled_ahead_until_a_time_from_the_environment(tmp_path: Path) -> None:
    path = tmp_path / "maintenance.json"
    env = {"GATEWAYERRORS_MAINTENANCE_STORE": f"file://{path}"}
    result = cli(
        "on", "--start", "2099-12-24T02:00:00Z", "--until", "2099-12-24T03:00:00+00:00",
        "--retry-after", "120", env=env,
    )  # fmt: skip
    assert result.returncode == 0, result.stderr
    assert result.stdout == (
        "maintenance: scheduled from 2099-12-24T02:00:00Z until 2099-12-24T03:00:00Z; "
        "Retry-After 120\n"
    )
    state = FileStore(path).read()
    assert state is not None
    assert state.start == datetime(2099, 12, 24, 2, tzinfo=timezone.utc)


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["on", "--store", "ftp://x/y"], "unknown scheme"),
        (["on"], "no store: pass --store URL or set GATEWAYERRORS_MAINTENANCE_STORE"),
        (["on", "--store", "file:///tmp/m.json", "--until", "2000-01-01T00:00:00Z"], "future"),
        (["off", "--store", "file:///tmp/m.json", "--for", "5m"], "takes only --store"),
    ],
)
def test_bad_input_is_a_usage_error(args: list[str], message: str) -> None:
    result = cli(*args, env={"GATEWAYERRORS_MAINTENANCE_STORE": ""})
    assert result.returncode == 2
    assert message in result.stderr
    assert result.stdout == ""


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["on", "--store", "file:///tmp/m.json", "--for", "soon"], "is not a duration"),
        (["on", "--store", "file:///tmp/m.json", "--until", "2026-12-24T03:00"], "UTC offset"),
        (
            [
                "on",
                "--store",
                "file:///tmp/m.json",
                "--for",
                "1m",
                "--until",
                "2099-01-01T00:00:00Z",
            ],
            "not allowed",
        ),
    ],
)
def test_argparse_refuses_malformed_options(args: list[str], message: str) -> None:
    result = cli(*args)
    assert result.returncode == 2
    assert message in result.stderr


def test_an_unreachable_store_fails_without_showing_the_password() -> None:
    result = cli("status", "--store", "redis://:hunter2@127.0.0.1:1/0")
    assert result.returncode == 1
    assert "ConnectionError" in result.stderr
    assert "hunter2" not in result.stderr + result.stdout


def test_durations() -> None:
    assert parse_duration("90") == timedelta(seconds=90)
    assert parse_duration("1h30m") == timedelta(minutes=90)
    assert parse_duration("1d") == timedelta(days=1)
    with pytest.raises(argparse.ArgumentTypeError):
        parse_duration("0s")


def test_the_django_command_uses_the_projects_store(tmp_path: Path) -> None:
    path = tmp_path / "maintenance.json"
    (tmp_path / "fleet_settings.py").write_text(
        "SECRET_KEY = 'test'\n"
        "INSTALLED_APPS = ['gatewayerrors.django']\n"
        f"GATEWAYERRORS = {{'maintenance_store': 'file://{path}'}}\n",
        "utf-8",
    )
    env = {
        **os.environ,
        "DJANGO_SETTINGS_MODULE": "fleet_settings",
        "PYTHONPATH": os.pathsep.join([str(tmp_path), str(ROOT)]),
    }

    def manage(*args: str) -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            [sys.executable, "-m", "django", "gatewayerrors_maintenance", *args],
            capture_output=True, text=True, timeout=60, env=env, cwd=tmp_path,
        )  # fmt: skip

    on = manage("on", "--for", "10m")
    assert on.returncode == 0, on.stderr
    assert on.stdout.startswith("maintenance: ON until ")
    state = FileStore(path).read()
    assert state is not None
    assert state.on
    assert manage("off").stdout == "maintenance: off\n"
    bad = manage("on", "--until", "2000-01-01T00:00:00Z")
    assert bad.returncode == 2
    assert "is not in the future" in bad.stderr


def test_the_django_cache_store_is_shared_between_processes(tmp_path: Path) -> None:
    """django-cache://default with a cache every process sees (here Django's file cache)."""
    (tmp_path / "cache_settings.py").write_text(
        "SECRET_KEY = 'test'\n"
        "INSTALLED_APPS = ['gatewayerrors.django']\n"
        "CACHES = {'default': {'BACKEND': 'django.core.cache.backends.filebased.FileBasedCache',"
        f" 'LOCATION': {str(tmp_path / 'cache')!r}}}}}\n"
        "GATEWAYERRORS = {'maintenance_store': 'django-cache://default'}\n",
        "utf-8",
    )
    env = {
        **os.environ,
        "DJANGO_SETTINGS_MODULE": "cache_settings",
        "PYTHONPATH": os.pathsep.join([str(tmp_path), str(ROOT)]),
    }

    def manage(*args: str) -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            [sys.executable, "-m", "django", "gatewayerrors_maintenance", *args],
            capture_output=True, text=True, timeout=60, env=env, cwd=tmp_path,
        )  # fmt: skip

    assert manage("status").stdout == "maintenance: off (no state stored)\n"
    on = manage("on", "--message", "Cache says hi")
    assert on.returncode == 0, on.stderr
    status = manage("status")  # another process, reading the cache
    assert status.stdout == "maintenance: ON; message: Cache says hi\n"

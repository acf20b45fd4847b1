"""Django: a bad GATEWAYERRORS fails loudly at startup and in ``manage.py check``.

Each case runs the example project's real ``manage.py`` (or builds its real WSGI application) in
a subprocess, with a settings module that starts from the example's and changes one thing.
"""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

PROJECT = Path(__file__).resolve().parents[2] / "examples" / "django_project"


def run_with_settings(tmp_path: Path, extra: str, *args: str) -> subprocess.CompletedProcess[str]:
    (tmp_path / "case_settings.py").write_text(f"from catalog.settings import *  # noqa\n{extra}\n")
    env = {
        **os.environ,
        "PYTHONPATH": os.pathsep.join([str(tmp_path), str(PROJECT)]),
        "DJANGO_SETTINGS_MODULE": "case_settings",
    }
    return subprocess.run(
        [sys.executable, *args], cwd=tmp_path, env=env, capture_output=True, text=True, timeout=60
    )


def check(tmp_path: Path, extra: str = "") -> subprocess.CompletedProcess[str]:
    return run_with_settings(tmp_path, extra, str(PROJECT / "manage.py"), "check")


def test_the_example_project_passes_the_check(tmp_path: Path) -> None:
    result = check(tmp_path)
    assert result.returncode == 0, result.stderr
    assert "no issues" in result.stdout


@pytest.mark.parametrize(
    ("extra", "message"),
    [
        (
            'GATEWAYERRORS = {"servce": "x"}',
            'GATEWAYERRORS["servce"] (did you mean GATEWAYERRORS["service"]?)',
        ),
        (
            'GATEWAYERRORS = {"templates": "no-such-folder"}',
            'GATEWAYERRORS["templates"] ',
        ),
        ('GATEWAYERRORS = {"default_retry_after": "30"}', 'GATEWAYERRORS["default_retry_after"]'),
        ('GATEWAYERRORS = {"on_error": "no.such.module.hook"}', 'GATEWAYERRORS["on_error"]'),
        ('GATEWAYERRORS = {"overrides": {"maintenace": {}}}', "did you mean 'maintenance'?"),
    ],
)
def test_a_bad_setting_is_reported_by_manage_py_check(
    tmp_path: Path, extra: str, message: str
) -> None:
    result = check(tmp_path, extra)
    assert result.returncode != 0
    assert "gatewayerrors.E001" in result.stderr
    assert message in result.stderr


def test_a_missing_middleware_is_a_warning(tmp_path: Path) -> None:
    result = check(tmp_path, "MIDDLEWARE = []")
    assert result.returncode == 0
    assert "gatewayerrors.W001" in result.stderr


def test_a_bad_setting_stops_the_application_at_load(tmp_path: Path) -> None:
    load = "from django.core.wsgi import get_wsgi_application; get_wsgi_application()"
    good = run_with_settings(tmp_path, "", "-c", load)
    assert good.returncode == 0, good.stderr
    bad = run_with_settings(tmp_path, 'GATEWAYERRORS = {"servce": "x"}', "-c", load)
    assert bad.returncode != 0
    assert "ImproperlyConfigured" in bad.stderr
    assert 'GATEWAYERRORS["servce"]' in bad.stderr


def test_on_error_takes_a_dotted_path(tmp_path: Path) -> None:
    (tmp_path / "hooks.py").write_text("def report(error, exc):\n    print('hooked', error.code)\n")
    program = (
        "from django.core.wsgi import get_wsgi_application; get_wsgi_application()\n"
        "from gatewayerrors.django import get_translator\n"
        "import hooks; print(get_translator().settings.on_error is hooks.report)\n"
    )
    result = run_with_settings(
        tmp_path, 'GATEWAYERRORS = {"on_error": "hooks.report"}', "-c", program
    )
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == "True"


def test_relative_templates_resolve_against_base_dir(tmp_path: Path) -> None:
    program = (
        "from django.conf import settings\n"
        "from gatewayerrors.django import get_translator\n"
        "print(get_translator().settings.templates)\n"
    )
    # The example project keeps its templates in BASE_DIR/templates; the cwd is elsewhere.
    result = run_with_settings(
        tmp_path,
        'GATEWAYERRORS = {"templates": "templates"}',
        "-c",
        "import django; django.setup()\n" + program,
    )
    assert result.returncode == 0, result.stderr
    assert Path(result.stdout.strip()) == PROJECT / "templates"

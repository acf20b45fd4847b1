"""Regenerate docs/screenshots/*.png: the built-in error pages in headless Chromium.

A local, developer-only step (not run by CI): it needs Debian's ``chromium`` package
(``apt-get install -y chromium``; ``pngquant`` too, optionally, for smaller files). Run from the
repository root:

    PYTHONPATH=$PWD python scripts/screenshots.py [--out docs/screenshots] [--chromium PATH]

Pages are rendered through the real :class:`gatewayerrors.core.Translator` (so what is shown is what
is served) with a fixed request id, written to a temporary folder, and opened from ``file://``
with networking, sync and component updates off. Dark mode uses ``--force-dark-mode``, which
makes Chromium report ``prefers-color-scheme: dark``.
"""

from __future__ import annotations

import argparse
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

from gatewayerrors.core import RequestInfo, Translator

REQUEST_ID = "7f3c9a1e4b2d4c8e9a0f1b2c3d4e5f60"
DESKTOP = (1280, 800)
PHONE = (390, 844)

# name: (code, retry_after, method, dark)
PAGES: dict[str, tuple[str, int | None, str, bool]] = {
    "502-connection-refused": ("connection_refused", None, "GET", False),
    "503-maintenance": ("maintenance", 300, "GET", False),
    "504-upstream-timeout": ("connection_read_timeout", None, "GET", False),
    "503-circuit-open-post": ("circuit_open", 30, "POST", False),
    "502-connection-refused-dark": ("connection_refused", None, "GET", True),
    "503-maintenance-dark": ("maintenance", 300, "GET", True),
}
# Which pages get a phone-width shot too (all get a desktop one).
PHONE_PAGES = ("502-connection-refused", "503-maintenance", "503-maintenance-dark")


def chromium_flags(user_data_dir: Path) -> list[str]:
    """Headless, sandbox-free (containers), and quiet: no network of its own, no updates."""
    return [
        "--headless",
        "--no-sandbox",
        "--disable-gpu",
        "--disable-quic",
        "--no-first-run",
        "--disable-background-networking",
        "--disable-component-update",
        "--disable-sync",
        "--disable-extensions",
        "--hide-scrollbars",
        "--force-device-scale-factor=1",
        f"--user-data-dir={user_data_dir}",
    ]


def render_pages(folder: Path) -> dict[str, Path]:
    """Write each page's HTML into ``folder``; returns name -> file."""
    translator = Translator()
    files = {}
    for name, (code, retry_after, method, _) in PAGES.items():
        request = RequestInfo(
            method=method, path="/checkout", accept="text/html", request_id=REQUEST_ID
        )
        response = translator.response_for(code, request, retry_after=retry_after)
        file = folder / f"{name}.html"
        file.write_bytes(response.body)
        files[name] = file
    return files


def screenshot(
    chromium: str, page: Path, png: Path, size: tuple[int, int], dark: bool, profile: Path
) -> None:
    """One PNG of ``page`` at ``size`` (CSS pixels)."""
    command = [chromium, *chromium_flags(profile)]
    if dark:
        command.append("--force-dark-mode")
    command += [f"--window-size={size[0]},{size[1]}", f"--screenshot={png}", page.as_uri()]
    subprocess.run(command, check=True, capture_output=True, timeout=60)
    if not png.exists():
        raise RuntimeError(f"chromium wrote no screenshot for {page}")
    if shutil.which("pngquant"):
        # Optional (apt-get install -y pngquant): flat pages quantize losslessly to the eye at
        # about a third of the size. Exit codes 98/99 mean "kept the original": fine.
        subprocess.run(
            ["pngquant", "--force", "--skip-if-larger", "--quality", "80-95", "--strip",
             "--output", str(png), str(png)],
            check=False, capture_output=True, timeout=60,
        )  # fmt: skip


def main(argv: list[str] | None = None) -> int:
    """Render the pages and take every screenshot; prints each PNG and its size."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", type=Path, default=Path("docs/screenshots"))
    parser.add_argument("--chromium", default=shutil.which("chromium") or "chromium")
    args = parser.parse_args(argv)
    if shutil.which(args.chromium) is None:
        print("chromium not found: apt-get install -y chromium", file=sys.stderr)
        return 1
    args.out.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(prefix="gatewayerrors-shots-") as tmp:
        folder = Path(tmp)
        files = render_pages(folder)
        for name, page in files.items():
            dark = PAGES[name][3]
            shots = [("desktop", DESKTOP)]
            if name in PHONE_PAGES:
                shots.append(("phone", PHONE))
            for label, size in shots:
                png = args.out / f"{name}-{label}.png"
                screenshot(args.chromium, page, png, size, dark, folder / "profile")
                print(f"{png}  {png.stat().st_size // 1024} KB")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())

"""Keep the message catalogs in gatewayerrors/locale/ up to date (Babel's pybabel, as a script).

    python scripts/catalogs.py extract   # the marked messages -> gatewayerrors/locale/*.pot
    python scripts/catalogs.py update    # the .pot's new and changed messages -> every .po
    python scripts/catalogs.py compile   # every .po -> its .mo (committed beside it)
    python scripts/catalogs.py init LANG # a new language's .po (then add it to BUNDLED_LANGUAGES)
    python scripts/catalogs.py all       # extract, update, compile

Needs Babel (in the dev and test extras); the package itself reads the compiled .mo files with
the standard library's gettext and never needs Babel. tests/core/test_locale.py fails when a
.mo is stale or a .po is incomplete. See CONTRIBUTING.md, "Translations".
"""

from __future__ import annotations

import os
import sys
from pathlib import Path

from babel.messages.frontend import CommandLineInterface

ROOT = Path(__file__).resolve().parent.parent
LOCALE = ROOT / "gatewayerrors" / "locale"
POT = LOCALE / "gatewayerrors.pot"
KEYWORDS = ["-k", "N_", "-k", "N_plural:1,2"]


def pybabel(*args: str) -> None:
    """Run one pybabel command (Babel's own command line, in this process), from the root, so
    that the catalogs name files by their path in the repository."""
    os.chdir(ROOT)
    CommandLineInterface().run(["pybabel", "-q", *args])


def extract() -> None:
    pybabel(
        "extract",
        "-F", "babel.cfg",
        *KEYWORDS,
        "--no-wrap",
        "--add-location=file",  # no line numbers: moving code does not change the catalogs
        "--sort-output",
        "--project=gatewayerrors",
        "--copyright-holder=gatewayerrors contributors",
        "--msgid-bugs-address=https://github.com/gatewayerrors/gatewayerrors/issues",
        "-o", str(POT.relative_to(ROOT)),
        "gatewayerrors",
    )  # fmt: skip


def update() -> None:
    pybabel("update", "-i", str(POT), "-d", str(LOCALE), "-D", "gatewayerrors", "--no-wrap")


def compile_() -> None:
    pybabel("compile", "-d", str(LOCALE), "-D", "gatewayerrors", "--statistics")


def init(language: str) -> None:
    locale = language.replace("-", "_")
    pybabel(
        "init", "-i", str(POT), "-d", str(LOCALE), "-D", "gatewayerrors", "-l", locale,
        "--no-wrap",
    )  # fmt: skip


def main(argv: list[str]) -> int:
    command = argv[0] if argv else ""
    if command == "extract":
        extract()
    elif command == "update":
        update()
    elif command == "compile":
        compile_()
    elif command == "init" and len(argv) == 2:
        init(argv[1])
    elif command == "all":
        extract()
        update()
        compile_()
    else:
        print(__doc__, file=sys.stderr)
        return 2
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))

"""``python -m gatewayerrors``: ``demo``, ``preview`` and ``catalog`` commands."""

from __future__ import annotations

import argparse
import importlib
import sys
from collections.abc import Sequence

_COMMANDS = {
    "demo": ("gatewayerrors._tools.demo", "start a demo service with real failing upstreams"),
    "preview": ("gatewayerrors._tools.preview", "write every error page and format to a folder"),
    "catalog": ("gatewayerrors._tools.catalog_docs", "print the error catalog as a Markdown table"),
}


def main(argv: Sequence[str] | None = None) -> int:
    """Run one command; each command module has ``main(argv) -> int``."""
    args = list(sys.argv[1:] if argv is None else argv)
    parser = argparse.ArgumentParser(prog="python -m gatewayerrors", description=__doc__)
    parser.add_argument("command", choices=sorted(_COMMANDS), help="what to run")
    for name, (_, text) in sorted(_COMMANDS.items()):
        parser.epilog = (parser.epilog or "") + f"{name}: {text}. "
    if not args or args[0] in ("-h", "--help"):
        parser.print_help()
        return 0 if args else 2
    command = parser.parse_args(args[:1]).command
    module = importlib.import_module(_COMMANDS[command][0])
    result: int = module.main(args[1:])
    return result


if __name__ == "__main__":
    raise SystemExit(main())

"""The command line: ``gatewayerrors`` (the console script) or ``python -m gatewayerrors``.

Each command is a module of this package with ``SUMMARY``, ``DESCRIPTION``,
``add_arguments(parser)`` and ``run(args) -> int``.
"""

from __future__ import annotations

import argparse
import importlib
from collections.abc import Sequence

__all__ = ["main"]

_COMMANDS = {
    "demo": "gatewayerrors._tools.demo",
    "preview": "gatewayerrors._tools.preview",
    "catalog": "gatewayerrors._tools.catalog_docs",
    "maintenance": "gatewayerrors._tools.maintenance",
}
_DESCRIPTION = (
    "Tools for gatewayerrors: a demo service whose upstreams really fail, a preview of every "
    "error page and format, the error catalog, and maintenance mode for every replica."
)


def build_parser(prog: str) -> argparse.ArgumentParser:
    """The parser of the whole command line, with one subcommand per tool."""
    parser = argparse.ArgumentParser(
        prog=prog,
        description=_DESCRIPTION,
        epilog=f"Run '{prog} COMMAND --help' for the options of a command.",
    )
    commands = parser.add_subparsers(dest="command", metavar="COMMAND", title="commands")
    for name, module_name in _COMMANDS.items():
        tool = importlib.import_module(module_name)
        command = commands.add_parser(name, help=tool.SUMMARY, description=tool.DESCRIPTION)
        tool.add_arguments(command)
        command.set_defaults(run=tool.run)
    return parser


def main(argv: Sequence[str] | None = None, prog: str = "gatewayerrors") -> int:
    """Run one command and return its exit status (2 for a usage error, as argparse does).

    :param argv: the arguments after the program name (default: ``sys.argv[1:]``).
    :param prog: the program name shown in usage lines: ``gatewayerrors`` for the console
        script, ``python -m gatewayerrors`` when run as a module.
    """
    parser = build_parser(prog)
    try:
        args = parser.parse_args(argv)
        if args.command is None:
            parser.error(f"missing command: choose one of {', '.join(_COMMANDS)}")
    except SystemExit as exit_:  # --help (0) or a usage error (2), already printed
        return exit_.code if isinstance(exit_.code, int) else 2
    status: int = args.run(args)
    return status

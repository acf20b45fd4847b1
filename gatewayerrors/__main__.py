"""``python -m gatewayerrors``: the command line, in :mod:`gatewayerrors._tools.cli`.

The ``gatewayerrors`` console script calls :func:`main` too; only the program name in usage
lines differs.
"""

from __future__ import annotations

from ._tools.cli import main

__all__ = ["main"]

if __name__ == "__main__":
    raise SystemExit(main(prog="python -m gatewayerrors"))

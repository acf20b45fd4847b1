"""``python -m gatewayerrors``: the command line, in :mod:`gatewayerrors._tools.cli`."""

from __future__ import annotations

from ._tools.cli import main

__all__ = ["main"]

if __name__ == "__main__":
    raise SystemExit(main())

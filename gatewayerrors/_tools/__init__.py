"""The command-line tools: ``demo``, ``preview`` and ``catalog`` (``python -m gatewayerrors``).

Nothing on the middleware's import path imports this package (``tests/core/test_import_path.py``
checks it): the tools load only when the command line runs them.
"""

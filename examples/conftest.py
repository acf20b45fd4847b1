"""The fixtures of gatewayerrors.testing for the example tests: one line in a top-level conftest.

pytest accepts ``pytest_plugins`` in the top-level conftest.py (and in test modules); loading the
plugin here, before any test module imports ``gatewayerrors.testing``, also spares pytest's
"already imported, cannot be rewritten" warning.
"""

pytest_plugins = ["gatewayerrors.testing"]

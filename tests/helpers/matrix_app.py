"""The app a server process of the contract matrix serves (``matrix_app:app``).

matrix_servers.py starts the server with ``GATEWAYERRORS_MATRIX_APP`` set to JSON:
``{"builder": "module:function", "urls": {...}, "options": {...}}``; this module builds the app
with that builder (the shared interface ``build(urls, options)``) when the server imports it.
It imports nothing else of the tests, so a server's worker loads only the app's framework.
"""

from __future__ import annotations

import importlib
import json
import os

_spec = json.loads(os.environ["GATEWAYERRORS_MATRIX_APP"])
_module, _, _name = _spec["builder"].partition(":")
app = getattr(importlib.import_module(_module), _name)(_spec["urls"], _spec["options"])

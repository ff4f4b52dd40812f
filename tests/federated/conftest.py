"""Federated learning's tests come in two environments (ADR 0023).

`runtime/` imports Flower, which lives in the federated environment (.venv-federated): the platform's
session does not collect it, and `test_flower_runtime.py` runs it there instead, as a session of its
own whose result (and failures) it reports. Everything else here runs in the platform's environment.
"""

import importlib.util

collect_ignore = [] if importlib.util.find_spec("flwr") is not None else ["runtime"]

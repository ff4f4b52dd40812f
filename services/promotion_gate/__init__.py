"""The model promotion gate: rules as data, a pure evaluator, an append-only audit log, and the
MLflow shell that gathers facts, records decisions and moves aliases only on a pass.

Read in this order: `rules.py` (the rule file and its errors) -> `evaluate.py` (facts in, verdicts
out: pure) -> `audit.py` (the hash chain) -> `registry.py` (MLflow) -> `gate.py` (the promote flow).
"""

"""Federated learning on the platform (docs/federated.md, ADR 0023).

Two halves, in two environments:
- the platform side, in the platform's environment: `spec` (a run as plain data), `job` (start the
  runtime, log every round to MLflow, register the model), `launch` (which model, which registry, as
  whom, then the gate), `standalone` and `demo` (the pieces standalone and `mlplat demo` run),
  `environment` (where the federated environment's Python is);
- the Flower side, `flower/`, in the federated environment (.venv-federated): Flower's ServerApp and
  ClientApp over an in-process fleet of simulated devices. The platform side never imports it.

`data`, `model` and `events` are numpy and the standard library only, and both halves use them.
"""

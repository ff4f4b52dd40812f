"""Continuous training: a drift alert or a schedule starts a training run; its version goes through the
promotion gate and can only become the challenger.

Read in this order: `contract.py` (what a team's training function receives and returns) ->
`runner.py` (`mlplat train`: one run, logged and registered with everything the gate checks) ->
`command.py` (the run's command line, for the Job and the subprocess alike) -> `targets.py` (which
models are trained, from the blueprint) -> `alerts.py` (Alertmanager's webhook payload, validated) ->
`launcher.py` (a subprocess in standalone, a Job in the cluster) -> `service.py` (the trigger: one run
per model at a time, the audit, the gate). ADR 0013 records the design.
"""

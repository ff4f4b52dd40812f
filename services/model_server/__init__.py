"""The model server: serves MLflow-registered models by alias, fast, observable and safe.

Read it in this order: `uris.py` (what to serve) -> `loading.py` (registry -> a loaded model) ->
`codec.py` (request bytes -> a validated numpy batch) -> `app.py` (the ASGI hot path) ->
`metrics.py` and `reference.py` (what it measures) -> `server.py` (start-up, workers, polling).
"""

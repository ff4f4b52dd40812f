"""Metric names the rules and dashboards query.

They are re-exported from the model server's own metrics module, so a renamed metric breaks
`make test` here instead of silently emptying a dashboard.
"""

from __future__ import annotations

# Until the model server lands, the names are declared here; the model server imports them.
REQUESTS = "mlplat_requests_total"
REQUEST_DURATION = "mlplat_request_duration_seconds"
INFERENCE_DURATION = "mlplat_inference_duration_seconds"
IN_FLIGHT = "mlplat_requests_in_flight"
PREDICTIONS = "mlplat_predictions_total"
FEATURE_DRIFT = "mlplat_feature_drift_psi"

"""The platform's metric names: one place, imported by the model server (which exports them) and by
the rules and dashboards (which query them), so a rename cannot silently empty a dashboard.

Names carry their unit (`_seconds`, `_total`) as Prometheus conventions ask; label sets are bounded
(model, version, variant, status code, feature, predicted class).
"""

REQUESTS = "mlplat_requests_total"
REQUEST_DURATION = "mlplat_request_duration_seconds"
INFERENCE_DURATION = "mlplat_inference_duration_seconds"
IN_FLIGHT = "mlplat_requests_in_flight"
PREDICTIONS = "mlplat_predictions_total"
PREDICTION_VALUE = "mlplat_prediction_value"
FEATURE_DRIFT = "mlplat_feature_drift_psi"
REGISTRY_UP = "mlplat_registry_up"
MODEL_INFO = "mlplat_model_info"
MODEL_LOADS = "mlplat_model_loads_total"
SHADOW_DIFFERENCES = "mlplat_shadow_disagreements_total"

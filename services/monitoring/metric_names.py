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

# Batch scoring: pushed to the Pushgateway at the end of every run (services/batch/push.py), one group
# per batch job. Gauges describe the last run; the last success time survives failed runs.
BATCH_ROWS = "mlplat_batch_rows"  # {status="scored"|"rejected"}
BATCH_DURATION = "mlplat_batch_duration_seconds"
BATCH_LAST_RUN_SUCCEEDED = "mlplat_batch_last_run_succeeded"
BATCH_LAST_SUCCESS = "mlplat_batch_last_success_timestamp_seconds"
BATCH_LAST_FAILURE = "mlplat_batch_last_failure_timestamp_seconds"
BATCH_REJECT_RATIO = "mlplat_batch_reject_ratio"
BATCH_MAX_REJECT_RATIO = "mlplat_batch_max_reject_ratio"
BATCH_SCHEDULE_INTERVAL = "mlplat_batch_schedule_interval_seconds"  # the longest gap between scheduled runs
BATCH_FEATURE_DRIFT = "mlplat_batch_feature_drift_psi"  # {feature}

# Continuous training: exported by the training trigger (services/training/service.py).
TRAINING_TRIGGERS = "mlplat_training_triggers_total"  # {trigger="drift"|"schedule", decision="started"|"skipped"}
TRAINING_RUNS = "mlplat_training_runs_total"  # {outcome="succeeded"|"failed"}
TRAINING_LAST_RUN_SUCCEEDED = "mlplat_training_last_run_succeeded"
TRAINING_IN_PROGRESS = "mlplat_training_runs_in_progress"
TRAINING_PROMOTIONS = "mlplat_training_promotions_total"  # {decision="pass"|"fail"}: the gate on new versions

# The feature store (docs/features.md). The model server exports the fetch of a model's online features
# per request; each materialization run pushes its outcome to the Pushgateway (services/features/materialize.py).
FEATURE_FETCH_DURATION = "mlplat_feature_fetch_duration_seconds"  # {model}
FEATURE_LOOKUPS = "mlplat_feature_lookups_total"  # {model, feature_view, result="found"|"missing"|"stale"}
MATERIALIZATION_LAST_SUCCESS = "mlplat_feature_materialization_last_success_timestamp_seconds"  # {tenant}
MATERIALIZATION_LAST_RUN_SUCCEEDED = "mlplat_feature_materialization_last_run_succeeded"
MATERIALIZATION_DURATION = "mlplat_feature_materialization_duration_seconds"
MATERIALIZATION_INTERVAL = "mlplat_feature_materialization_schedule_interval_seconds"  # the longest gap between runs

# The compliance check (services/compliance/check.py): each run pushes one series per control and status,
# 1 for the control's status and 0 for the others (status="pass"|"accepted"|"unverified"|"fail"|
# "not-applicable"), when it ran and how often it is scheduled to.
COMPLIANCE_CONTROL_STATUS = "mlplat_compliance_control_status"  # {framework, control, status}
COMPLIANCE_LAST_RUN = "mlplat_compliance_last_run_timestamp_seconds"
COMPLIANCE_INTERVAL = "mlplat_compliance_schedule_interval_seconds"
# LLM serving (docs/llm.md): exported by the LLM gateway (services/llm/gateway/metrics.py).
LLM_REQUESTS = "mlplat_llm_requests_total"  # {tenant, route, code}
LLM_TOKENS = "mlplat_llm_tokens_total"  # {tenant, route, model, direction="input"|"output"}
LLM_SPEND = "mlplat_llm_spend_total"  # {tenant, route, model}: showback, in the platform's currency
LLM_TTFT = "mlplat_llm_time_to_first_token_seconds"  # {model}
LLM_TPOT = "mlplat_llm_time_per_output_token_seconds"  # {model}
LLM_CACHE_LOOKUPS = "mlplat_llm_cache_lookups_total"  # {cache="exact"|"semantic", result="hit"|"miss"}
LLM_FALLBACKS = "mlplat_llm_fallbacks_total"  # {route, model, reason="error"|"timeout"|"status"|"check"}
LLM_BUDGET_REFUSALS = "mlplat_llm_budget_refusals_total"  # {tenant, budget="tokens_per_minute"|"spend_per_day"}
LLM_BREAKER_OPEN = "mlplat_llm_breaker_open"  # {model, replica}: 1 while the replica's breaker is open
LLM_BUDGET_USED = "mlplat_llm_budget_used_ratio"  # {tenant, budget}: share of the budget used

"""The model server's Prometheus metrics (names from services/monitoring/metric_names.py).

Children are cached per label set, so the hot path does one dict lookup per observation. With
several workers, prometheus-client's multiprocess mode is used (PROMETHEUS_MULTIPROC_DIR must be set
before this module is imported; server.py does that).
"""

from __future__ import annotations

from functools import cache

from prometheus_client import Counter, Gauge, Histogram, disable_created_metrics

from services.monitoring import metric_names as names

disable_created_metrics()  # halve the exposition size; `_created` series are unused here

# 0.25 s is the default latency SLO threshold: it must be a bucket boundary for the burn-rate rules.
LATENCY_BUCKETS = (0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0)

REQUESTS = Counter(
    names.REQUESTS.removesuffix("_total"),
    "Prediction requests by model, version, variant and status.",
    ["model", "version", "variant", "code"],
)
REQUEST_DURATION = Histogram(
    names.REQUEST_DURATION,
    "Request time from first byte to response, seconds.",
    ["model", "variant"],
    buckets=LATENCY_BUCKETS,
)
INFERENCE_DURATION = Histogram(
    names.INFERENCE_DURATION, "Time inside the model's predict, seconds.", ["model", "variant"], buckets=LATENCY_BUCKETS
)
IN_FLIGHT = Gauge(names.IN_FLIGHT, "Requests being processed.", ["model"], multiprocess_mode="livesum")
PREDICTIONS = Counter(
    names.PREDICTIONS.removesuffix("_total"), "Predicted classes (classifiers).", ["model", "variant", "prediction"]
)
PREDICTION_VALUE = Histogram(
    names.PREDICTION_VALUE,
    "Predicted values (regressors).",
    ["model", "variant"],
    buckets=(-100, -10, -1, 0, 1, 10, 100, 1000, 10000),
)
FEATURE_DRIFT = Gauge(
    names.FEATURE_DRIFT,
    "PSI of the last drift window of live inputs against the training reference, per feature.",
    ["model", "version", "variant", "feature"],
    multiprocess_mode="max",
)
REGISTRY_UP = Gauge(
    names.REGISTRY_UP,
    "1 when the last registry poll succeeded; 0 = degraded (serving loaded versions, cannot follow alias moves).",
    multiprocess_mode="min",
)
MODEL_INFO = Gauge(
    names.MODEL_INFO,
    "The version each variant of a model currently serves (value 1).",
    ["model", "variant", "version"],
    multiprocess_mode="max",
)
MODEL_LOADS = Counter(names.MODEL_LOADS.removesuffix("_total"), "Model version loads by result.", ["model", "result"])
SHADOW_DISAGREEMENTS = Counter(
    names.SHADOW_DIFFERENCES.removesuffix("_total"), "Shadow predictions that differ from the answered ones.", ["model"]
)

FEATURE_FETCH = Histogram(
    names.FEATURE_FETCH_DURATION,
    "Time to read a request's online features from the feature store, seconds.",
    ["model"],
    buckets=LATENCY_BUCKETS,
)
FEATURE_LOOKUPS = Counter(
    names.FEATURE_LOOKUPS.removesuffix("_total"),
    "Online feature lookups per entity and feature view: found, missing (no row, or stale and not allowed), "
    "or stale (older than the view's TTL, served because the model allows it).",
    ["model", "feature_view", "result"],
)

MAX_PREDICTION_CLASSES = 50  # beyond that a model's outputs are not a bounded label set


@cache
def request_counter(model: str, version: str, variant: str, code: int):
    return REQUESTS.labels(model, version, variant, str(code))


@cache
def request_timer(model: str, variant: str):
    return REQUEST_DURATION.labels(model, variant)


@cache
def inference_timer(model: str, variant: str):
    return INFERENCE_DURATION.labels(model, variant)


@cache
def in_flight(model: str):
    return IN_FLIGHT.labels(model)


@cache
def prediction_counter(model: str, variant: str, prediction: str):
    return PREDICTIONS.labels(model, variant, prediction)


@cache
def feature_fetch_timer(model: str):
    return FEATURE_FETCH.labels(model)


@cache
def feature_lookups(model: str, view: str, result: str):
    return FEATURE_LOOKUPS.labels(model, view, result)

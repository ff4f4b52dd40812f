"""The server's OpenAPI 3.1 document (served at /openapi.json), written out by hand so it reads as
the API's reference and schemathesis can fuzz every operation from it."""

from __future__ import annotations

from typing import Any

__all__ = ["openapi_document"]

_ERROR = {
    "type": "object",
    "required": ["error", "request_id"],
    "properties": {"error": {"type": "string"}, "field": {"type": "string"}, "request_id": {"type": "string"}},
}
_ROWS = {"type": "array", "minItems": 1, "items": {"type": "array", "items": {"type": ["number", "null"]}}}
_RECORDS = {
    "type": "array",
    "minItems": 1,
    "items": {"type": "object", "additionalProperties": {"type": ["number", "null"]}},
}
_INVOCATIONS = {
    "oneOf": [
        {
            "type": "object",
            "required": ["dataframe_split"],
            "properties": {
                "dataframe_split": {
                    "type": "object",
                    "required": ["data"],
                    "properties": {"columns": {"type": "array", "items": {"type": "string"}}, "data": _ROWS},
                }
            },
        },
        {"type": "object", "required": ["dataframe_records"], "properties": {"dataframe_records": _RECORDS}},
        {"type": "object", "required": ["instances"], "properties": {"instances": {"oneOf": [_ROWS, _RECORDS]}}},
        {"type": "object", "required": ["inputs"], "properties": {"inputs": {"oneOf": [_ROWS, _RECORDS]}}},
    ]
}
_TENSOR = {
    "type": "object",
    "required": ["name", "shape", "datatype", "data"],
    "properties": {
        "name": {"type": "string"},
        "shape": {"type": "array", "items": {"type": "integer", "minimum": 1}, "minItems": 1, "maxItems": 2},
        "datatype": {"type": "string", "enum": ["FP64", "FP32", "INT64", "INT32", "BOOL"]},
        "data": {"type": "array"},
    },
}
_PARAMETERS = {"type": "object", "additionalProperties": {"type": ["string", "number", "boolean"]}}
_V2_REQUEST = {
    "type": "object",
    "required": ["inputs"],
    "properties": {
        "id": {"type": "string"},
        "inputs": {"type": "array", "minItems": 1, "items": _TENSOR},
        "outputs": {
            "type": "array",
            "items": {
                "type": "object",
                "required": ["name"],
                "properties": {"name": {"type": "string", "enum": ["predict"]}, "parameters": _PARAMETERS},
            },
        },
        "parameters": _PARAMETERS,
    },
}
_V2_RESPONSE = {
    "type": "object",
    "required": ["model_name", "outputs"],
    "properties": {
        "model_name": {"type": "string"},
        "model_version": {"type": "string"},
        "id": {"type": "string"},
        "outputs": {"type": "array", "items": _TENSOR},
        "parameters": _PARAMETERS,
    },
}


def _json(schema: dict[str, Any]) -> dict[str, Any]:
    return {"content": {"application/json": {"schema": schema}}}


def _errors(*codes: int) -> dict[str, Any]:
    reasons = {
        400: "malformed JSON or body",
        404: "unknown model",
        413: "body over the size limit",
        415: "not application/json",
        422: "does not match the model signature",
        500: "the model raised (request id in the body)",
        503: "model not loaded yet",
    }
    return {str(code): {"description": reasons[code], **_json(_ERROR)} for code in codes}


def openapi_document(models: list[str]) -> dict[str, Any]:
    variant_headers = {h: {"schema": {"type": "string"}} for h in ("x-model-variant", "x-model-version")}
    name = {"name": "name", "in": "path", "required": True, "schema": {"type": "string", "enum": models}}
    version = {"name": "version", "in": "path", "required": True, "schema": {"type": "string"}}
    predict_errors = _errors(400, 404, 413, 415, 422, 500, 503)
    infer = {
        "summary": "Predict (Open Inference Protocol V2; also the binary tensor data extension)",
        "parameters": [name],
        "requestBody": {"required": True, **_json(_V2_REQUEST)},
        "responses": {
            "200": {"description": "predictions", "headers": variant_headers, **_json(_V2_RESPONSE)},
            **predict_errors,
        },
    }
    metadata = {
        "summary": "Model metadata",
        "parameters": [name],
        "responses": {"200": {"description": "metadata"}, **_errors(404)},
    }
    ready = {
        "summary": "Model readiness",
        "parameters": [name],
        "responses": {"200": {"description": "ready"}, "503": {"description": "not ready"}, **_errors(404)},
    }

    def versioned(operation: dict[str, Any]) -> dict[str, Any]:
        return {**operation, "summary": operation["summary"] + ", one version", "parameters": [name, version]}

    return {
        "openapi": "3.1.0",
        "info": {
            "title": "mlops-platform model server",
            "version": "0.1.0",
            "description": "Open Inference Protocol V2 and MLflow /invocations for registered models.",
        },
        "paths": {
            "/v2/health/live": {"get": {"summary": "Liveness", "responses": {"200": {"description": "alive"}}}},
            "/v2/health/ready": {
                "get": {
                    "summary": "Readiness: every champion is loaded",
                    "responses": {"200": {"description": "ready"}, "503": {"description": "not ready"}},
                }
            },
            "/v2": {"get": {"summary": "Server metadata", "responses": {"200": {"description": "metadata"}}}},
            "/v2/models/{name}": {"get": metadata},
            "/v2/models/{name}/ready": {"get": ready},
            "/v2/models/{name}/infer": {"post": infer},
            "/v2/models/{name}/versions/{version}": {"get": versioned(metadata)},
            "/v2/models/{name}/versions/{version}/ready": {"get": versioned(ready)},
            "/v2/models/{name}/versions/{version}/infer": {"post": versioned(infer)},
            "/invocations": {
                "post": {
                    "summary": f"Predict with the first served model ({models[0]}), MLflow scoring format",
                    "requestBody": {"required": True, **_json(_INVOCATIONS)},
                    "responses": {
                        "200": {
                            "description": "predictions",
                            "headers": variant_headers,
                            **_json(
                                {
                                    "type": "object",
                                    "required": ["predictions"],
                                    "properties": {"predictions": {"type": "array"}},
                                }
                            ),
                        },
                        **predict_errors,
                    },
                }
            },
            "/models/{name}/invocations": {
                "post": {
                    "summary": "Predict with a named model, MLflow scoring format",
                    "parameters": [name],
                    "requestBody": {"required": True, **_json(_INVOCATIONS)},
                    "responses": {"200": {"description": "predictions", "headers": variant_headers}, **predict_errors},
                }
            },
            "/metrics": {"get": {"summary": "Prometheus metrics", "responses": {"200": {"description": "metrics"}}}},
        },
    }

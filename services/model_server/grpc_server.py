"""The Open Inference Protocol over gRPC (`inference.GRPCInferenceService`), in the REST server's process.

The six RPCs of the protocol (ServerLive, ServerReady, ModelReady, ServerMetadata, ModelMetadata,
ModelInfer) and gRPC's own health check (`grpc.health.v1.Health/Check`, what Kubernetes' `grpc`
probes call) on a port of their own (`--grpc-port`, 8081 by default, as MLServer and KServe use).

Same process, same event loop, same objects (ADR 0021): `GrpcServer` is started from the ASGI
lifespan on uvicorn's event loop and holds the REST app's `Inference`, so both protocols share the
loaded models, the canary split, the shadow, the micro-batcher, the feature lookups and every
metric. A ModelInfer request becomes the same V2 request document REST decodes (`request_document`:
tensors from `raw_input_contents` or from the typed `contents`), then follows the same path.

Messages are parsed here, not by gRPC: the handlers take and return bytes, so a malformed message is
an INVALID_ARGUMENT naming it instead of the INTERNAL error gRPC's own deserialiser would give.
Client errors map to the protocol's status codes (`STATUS`); the request metrics count them under
the HTTP status a REST client would have got, so one dashboard and one alert cover both.

The answer mirrors the request: raw tensors in `raw_output_contents` (what tritonclient and KServe
send), typed `contents` for a request that used them. The variant that answered travels in the
response's `parameters` (`model_variant`) and, with the version and request id, in the trailing
metadata.
"""

from __future__ import annotations

import asyncio
import itertools
import logging
import os
from collections.abc import Awaitable, Callable
from typing import Any

import grpc
import numpy as np
from google.protobuf.message import DecodeError

from services.model_server.codec import ClientError
from services.model_server.grpc_api import health_pb2 as health
from services.model_server.grpc_api import open_inference_grpc_pb2 as pb
from services.model_server.inference import Inference
from services.model_server.loading import LoadedModel
from services.model_server.protocol import SERVER, Options, model_metadata, request_options
from services.model_server.tensors import DATATYPES, from_raw, to_raw

__all__ = ["GrpcServer", "STATUS", "request_document"]

log = logging.getLogger("mlplat.model_server")

SERVICE = "inference.GRPCInferenceService"
HEALTH = "grpc.health.v1.Health"
STATUS = {
    400: grpc.StatusCode.INVALID_ARGUMENT,
    404: grpc.StatusCode.NOT_FOUND,
    413: grpc.StatusCode.RESOURCE_EXHAUSTED,
    415: grpc.StatusCode.INVALID_ARGUMENT,
    422: grpc.StatusCode.INVALID_ARGUMENT,
    500: grpc.StatusCode.INTERNAL,
    503: grpc.StatusCode.UNAVAILABLE,
}
# Each datatype's field in InferTensorContents, and the numpy type its values are read as (the
# narrow integer types travel widened: INT8/16/32 in int_contents, UINT8/16/32 in uint_contents).
CONTENTS = {
    "BOOL": ("bool_contents", np.bool_),
    "INT8": ("int_contents", np.int64),
    "INT16": ("int_contents", np.int64),
    "INT32": ("int_contents", np.int64),
    "INT64": ("int64_contents", np.int64),
    "UINT8": ("uint_contents", np.uint64),
    "UINT16": ("uint_contents", np.uint64),
    "UINT32": ("uint_contents", np.uint64),
    "UINT64": ("uint64_contents", np.uint64),
    "FP32": ("fp32_contents", np.float32),
    "FP64": ("fp64_contents", np.float64),
    "BYTES": ("bytes_contents", None),
}
_IDS = itertools.count()
_PID = os.getpid()

Handler = Callable[[bytes, grpc.aio.ServicerContext], Awaitable[bytes]]


class GrpcServer:
    def __init__(self, inference: Inference, *, max_message_bytes: int, reuse_port: bool = False):
        self.inference = inference
        # One process on a port unless several workers share it: then the kernel spreads connections.
        self._options = [
            ("grpc.max_receive_message_length", max_message_bytes),
            ("grpc.max_send_message_length", -1),
            ("grpc.so_reuseport", 1 if reuse_port else 0),
        ]
        self._server: grpc.aio.Server | None = None

    async def start(self, host: str, port: int) -> None:
        """Listen on host:port; a port that is taken fails the start, naming it."""
        server = grpc.aio.server(options=self._options)
        unary = grpc.unary_unary_rpc_method_handler
        server.add_generic_rpc_handlers(
            (
                grpc.method_handlers_generic_handler(
                    SERVICE,
                    {
                        "ServerLive": unary(_rpc(self._server_live)),
                        "ServerReady": unary(_rpc(self._server_ready)),
                        "ModelReady": unary(_rpc(self._model_ready)),
                        "ServerMetadata": unary(_rpc(self._server_metadata)),
                        "ModelMetadata": unary(_rpc(self._model_metadata)),
                        "ModelInfer": unary(_rpc(self._model_infer)),
                    },
                ),
                grpc.method_handlers_generic_handler(HEALTH, {"Check": unary(_rpc(self._health_check))}),
            )
        )
        address = f"[{host}]:{port}" if ":" in host else f"{host}:{port}"
        try:
            bound = server.add_insecure_port(address)
        except RuntimeError:
            bound = 0
        if not bound:
            raise OSError(
                f"gRPC cannot listen on {address}: the port is in use or the address is not this machine's; "
                "choose another with --grpc-port, or turn gRPC off with --grpc-port 0"
            )
        await server.start()
        self._server = server
        log.info("gRPC (Open Inference Protocol) listening on %s", address)

    async def stop(self, grace: float) -> None:
        if self._server is not None:
            await self._server.stop(grace)

    # --- health and metadata --------------------------------------------------------------------
    async def _server_live(self, data: bytes, context) -> bytes:
        _parse(pb.ServerLiveRequest, data)
        return pb.ServerLiveResponse(live=True).SerializeToString()

    async def _server_ready(self, data: bytes, context) -> bytes:
        _parse(pb.ServerReadyRequest, data)
        return pb.ServerReadyResponse(ready=self.inference.ready).SerializeToString()

    async def _health_check(self, data: bytes, context) -> bytes:
        request = _parse(health.HealthCheckRequest, data)
        if request.service not in ("", SERVICE):
            raise ClientError(404, f"unknown service {request.service!r}; this server has {SERVICE!r}", "service")
        status = health.HealthCheckResponse.SERVING if self.inference.ready else health.HealthCheckResponse.NOT_SERVING
        return health.HealthCheckResponse(status=status).SerializeToString()

    async def _model_ready(self, data: bytes, context) -> bytes:
        request = _parse(pb.ModelReadyRequest, data)
        route = self.inference.route(request.name)
        _, model = self.inference.choose(route, request.version) if request.version else (None, route.champion.model)
        return pb.ModelReadyResponse(ready=model is not None).SerializeToString()

    async def _server_metadata(self, data: bytes, context) -> bytes:
        _parse(pb.ServerMetadataRequest, data)
        return pb.ServerMetadataResponse(**SERVER).SerializeToString()

    async def _model_metadata(self, data: bytes, context) -> bytes:
        request = _parse(pb.ModelMetadataRequest, data)
        route = self.inference.route(request.name)
        slot = self.inference.choose(route, request.version)[0] if request.version else route.champion
        meta = model_metadata(route, slot)
        properties = {"challenger_weight": str(route.weight)}
        for variant, about in meta["parameters"]["variants"].items():
            properties.update({f"{variant}_{key}": str(value) for key, value in about.items() if value is not None})
        return pb.ModelMetadataResponse(
            name=meta["name"],
            versions=meta["versions"],
            platform=meta["platform"],
            inputs=[pb.ModelMetadataResponse.TensorMetadata(**tensor) for tensor in meta["inputs"]],
            outputs=[pb.ModelMetadataResponse.TensorMetadata(**tensor) for tensor in meta["outputs"]],
            properties=properties,
        ).SerializeToString()

    # --- inference ------------------------------------------------------------------------------
    async def _model_infer(self, data: bytes, context) -> bytes:
        inference = self.inference
        request = _parse(pb.ModelInferRequest, data)
        route = inference.route(request.model_name)
        slot, model = inference.choose(route, request.model_version)
        request_id = _request_id(context)
        code = 500
        started = inference.begin(route.name)
        try:
            document, raw = request_document(request)
            options = request_options(document)
            answer = await inference.run(route, slot, model, document, True, request_id)
            reply = _infer_response(route.name, model, slot.variant, options, answer.predictions, raw)
            context.set_trailing_metadata(
                (
                    ("x-request-id", request_id),
                    ("x-model-version", model.version),
                    ("x-model-variant", slot.variant),
                    *((name.decode(), value.decode()) for name, value in answer.flags),
                )
            )
            code = 200
            asyncio.get_running_loop().call_soon(inference.observe, route, slot, answer)  # after the reply
            return reply
        except ClientError as error:
            code = error.status
            raise
        finally:
            inference.end(route.name, model, slot.variant, code, started)


def request_document(request: pb.ModelInferRequest) -> tuple[dict[str, Any], bool]:
    """The V2 request document a ModelInferRequest carries (the shape REST's JSON has, tensor data as
    numpy arrays), and whether its tensors came as raw bytes."""
    raw, inputs = request.raw_input_contents, request.inputs
    if raw and len(raw) != len(inputs):
        raise ClientError(
            400, f"raw_input_contents has {len(raw)} entries for {len(inputs)} inputs: give one per input", "inputs"
        )
    tensors = []
    for index, tensor in enumerate(inputs):
        where = f"inputs[{index}]"
        if tensor.parameters and "shared_memory_region" in tensor.parameters:
            raise ClientError(400, f"{where}: the shared-memory extension is not supported here", where)
        if raw:
            if tensor.HasField("contents"):
                raise ClientError(400, f"{where} has contents while raw_input_contents is used: give one", where)
            data = from_raw(raw[index], tensor.datatype, where)
        else:
            data = _from_contents(tensor.contents, tensor.datatype, where)
        tensors.append({"name": tensor.name, "shape": list(tensor.shape), "datatype": tensor.datatype, "data": data})
    document: dict[str, Any] = {"inputs": tensors}
    if request.id:
        document["id"] = request.id
    if request.outputs:
        document["outputs"] = [
            {"name": output.name, **({"parameters": _parameters(output.parameters)} if output.parameters else {})}
            for output in request.outputs
        ]
    if request.parameters:
        document["parameters"] = _parameters(request.parameters)
    return document, bool(raw)


def _from_contents(contents: pb.InferTensorContents, datatype: str, where: str) -> np.ndarray | list[str]:
    field = CONTENTS.get(datatype)
    if field is None:
        if datatype in DATATYPES:  # FP16 has no typed field
            raise ClientError(400, f"{where}: {datatype} values travel in raw_input_contents", where)
        raise ClientError(422, f"{where}: datatype {datatype!r} is not supported here", f"{where}.datatype")
    name, dtype = field
    values = getattr(contents, name)
    if not values and contents.ListFields():
        given = ", ".join(f.name for f, _ in contents.ListFields())
        raise ClientError(400, f"{where}: {datatype} values go in contents.{name}, got {given}", f"{where}.contents")
    if dtype is None:
        try:
            return [value.decode() for value in values]
        except UnicodeDecodeError:
            raise ClientError(422, f"{where}: a BYTES element is not UTF-8 text", where) from None
    return np.array(values, dtype=dtype)


def _parameters(parameters) -> dict[str, Any]:
    return {
        name: getattr(value, value.WhichOneof("parameter_choice") or "bool_param") for name, value in parameters.items()
    }


def _infer_response(
    name: str, model: LoadedModel, variant: str, options: Options, output: np.ndarray, raw: bool
) -> bytes:
    spec = model.output
    response = pb.ModelInferResponse(model_name=name, model_version=model.version, id=options.id or "")
    response.parameters["model_variant"].string_param = variant
    tensor = response.outputs.add(name=spec.name, datatype=spec.datatype, shape=output.shape)
    field = CONTENTS.get(spec.datatype)
    if raw or field is None:
        response.raw_output_contents.append(to_raw(output, spec.datatype))
    elif spec.datatype == "BYTES":
        tensor.contents.bytes_contents.extend(str(value).encode() for value in output.reshape(-1).tolist())
    else:
        getattr(tensor.contents, field[0]).extend(output.reshape(-1).tolist())
    return response.SerializeToString()


def _parse(message_type, data: bytes):
    try:
        return message_type.FromString(data)
    except DecodeError as exc:
        raise ClientError(400, f"the {message_type.__name__} is not a valid protobuf message: {exc}") from None


def _request_id(context) -> str:
    for key, value in context.invocation_metadata() or ():
        if key == "x-request-id":
            return value if isinstance(value, str) else value.decode("latin-1")
    return f"{_PID}-g{next(_IDS)}"


def _rpc(handler: Handler) -> Handler:
    """A handler whose client errors end the call with the protocol's status code and message, and
    whose bugs end it with INTERNAL and a request id, never taking the server down."""

    async def call(data: bytes, context) -> bytes:
        try:
            return await handler(data, context)
        except ClientError as error:
            metadata = (("x-error-field", error.field),) if error.field else ()
            code = STATUS.get(error.status, grpc.StatusCode.INVALID_ARGUMENT)
            await context.abort(code, error.message, trailing_metadata=metadata)
        except Exception:
            request_id = _request_id(context)
            log.exception("gRPC request %s: unexpected error in %s", request_id, handler.__name__)
            await context.abort(
                grpc.StatusCode.INTERNAL, f"internal error; quote request id {request_id} to the platform team"
            )
        return b""  # not reached: abort raises

    return call

"""The gRPC messages the model server speaks, generated from the protocols' own .proto files.

- `open_inference_grpc.proto`: the Open Inference Protocol's gRPC definition, as published by the
  protocol (kserve/open-inference-protocol, specification/protocol/open_inference_grpc.proto,
  Apache-2.0, unchanged). Triton's, KServe's and MLServer's clients speak it: package `inference`,
  service `GRPCInferenceService`.
- `health.proto`: gRPC's health checking protocol (grpc/grpc-proto, grpc/health/v1/health.proto,
  Apache-2.0), reduced to Check, the one RPC Kubernetes' `grpc` probes call.

`*_pb2.py` (messages) and `*_pb2.pyi` (their types, for readers and editors) are protoc's output,
committed, generated with grpcio-tools 1.71.0 (libprotoc 29.0), the last release whose protoc
matches the protobuf 5.29 runtime this project is pinned to (pulumi-policy needs protobuf 5.29).
They are committed rather than generated at install time: the project installs with a plain
`pip install -e .`, and the container image with pip, neither of which runs a build step; the files
are small, reviewable, and only change when a protocol does. No service stubs are generated: the
server registers its handlers itself and parses messages in them (grpc_server.py), so a malformed
message gets INVALID_ARGUMENT instead of gRPC's INTERNAL.

Regenerate after changing a .proto (tests/unit/test_grpc_api.py checks the messages match the files):

    python -m venv /tmp/protoc && /tmp/protoc/bin/pip install grpcio-tools==1.71.0 protobuf==5.29.6
    cd services/model_server/grpc_api && /tmp/protoc/bin/python -m grpc_tools.protoc -I. \\
        --python_out=. --pyi_out=. open_inference_grpc.proto health.proto
"""

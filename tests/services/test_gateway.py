"""The gateway's nginx configuration, run by a real nginx in front of a real model server.

The configuration is exactly what `nginx_config` renders for the cluster, with only what a laptop
lacks rewritten: upstream names (cluster DNS) become loopback addresses (the tested model's to the
running server, every other model's to a closed port), the resolver is loopback, listeners are free
loopback ports, scratch paths and the access log a temporary folder. Debian's nginx 1.22 runs it as rendered:
the gRPC listener is `listen ... http2`, which 1.22 (the image built here) and 1.25+ both accept.
"""

from __future__ import annotations

import re
import subprocess
import time

import grpc
import httpx
import numpy as np
import pytest

from blueprints import load
from blueprints.naming import Ports
from infra.components.gateway import ROUTE_HEADER, nginx_config
from infra.k8s import SCRATCH
from services.model_server.grpc_api import open_inference_grpc_pb2 as pb
from tests.services.mlflow_fixtures import free_port, register_iris, start_model_server
from tests.tools import require

BLUEPRINT = load("multi-tenant")
TENANT, MODEL = "recsys", "ranker"


@pytest.fixture(scope="module")
def server(mlflow_server, tmp_path_factory):
    register_iris(mlflow_server.uri, "gateway-iris", "champion")
    proc = start_model_server(mlflow_server.uri, ["models:/gateway-iris@champion"], tmp_path_factory.mktemp("gw"))
    yield proc
    proc.stop()


@pytest.fixture(scope="module")
def gateway(server, tmp_path_factory):
    """(REST address, gRPC address) of nginx running the rendered configuration."""
    folder = tmp_path_factory.mktemp("nginx")
    http_port, grpc_port, closed = free_port(), free_port(), free_port()
    config = nginx_config(BLUEPRINT)
    live = f"{MODEL}.{TENANT}.svc.cluster.local"
    config = config.replace(f"{live}:{Ports.MODEL_SERVER};", server.url.removeprefix("http://") + ";")
    config = config.replace(f"{live}:{Ports.MODEL_SERVER_GRPC};", f"{server.grpc};")
    config = re.sub(r"[a-z0-9-]+\.[a-z0-9-]+\.svc\.cluster\.local:\d+;", f"127.0.0.1:{closed};", config)
    config = re.sub(r"resolver [^;]+;", "resolver 127.0.0.1;", config)
    config = config.replace(f"listen {Ports.GATEWAY};", f"listen 127.0.0.1:{http_port};")
    config = config.replace(f"listen {Ports.GATEWAY_GRPC} http2;", f"listen 127.0.0.1:{grpc_port} http2;")
    config = config.replace(f"{SCRATCH}/", f"{folder}/")
    # the image links nginx's default access log to stdout; here that default is /var/log/nginx, which only
    # root may write: the log goes to the scratch folder, so the test runs as any user
    config = config.replace("http {\n", f"http {{\n  access_log {folder}/access.log;\n", 1)
    assert "svc.cluster.local" not in config and "http2 on" not in config
    (folder / "nginx.conf").write_text(config)
    command = [require("nginx"), "-p", str(folder), "-c", str(folder / "nginx.conf"), "-e", str(folder / "error.log")]
    subprocess.run([*command, "-t"], check=True, capture_output=True)
    nginx = subprocess.Popen([*command, "-g", "daemon off;"], stderr=subprocess.PIPE)
    deadline = time.monotonic() + 10
    while time.monotonic() < deadline:
        try:
            if httpx.get(f"http://127.0.0.1:{http_port}/healthz", timeout=1).status_code == 200:
                break
        except httpx.TransportError:
            time.sleep(0.1)
    yield f"127.0.0.1:{http_port}", f"127.0.0.1:{grpc_port}"
    nginx.terminate()
    nginx.wait(timeout=10)


def infer(channel, route: str | None) -> pb.ModelInferResponse:
    request = pb.ModelInferRequest(model_name="gateway-iris")
    request.inputs.add(name="x", datatype="FP64", shape=[1, 4])
    request.raw_input_contents.append(np.array([5.1, 3.5, 1.4, 0.2]).tobytes())
    call = channel.unary_unary(
        "/inference.GRPCInferenceService/ModelInfer",
        request_serializer=pb.ModelInferRequest.SerializeToString,
        response_deserializer=pb.ModelInferResponse.FromString,
    )
    return call(request, timeout=10, metadata=((ROUTE_HEADER, route),) if route else ())


def test_rest_is_routed_by_path(gateway):
    rest, _ = gateway
    response = httpx.get(f"http://{rest}/{TENANT}/{MODEL}/v2/health/ready", timeout=10)
    assert response.status_code == 200 and response.json() == {"ready": True}


def test_grpc_is_routed_by_the_route_header(gateway):
    _, address = gateway
    with grpc.insecure_channel(address) as channel:
        response = infer(channel, f"{TENANT}/{MODEL}")
        assert response.model_name == "gateway-iris"
        assert np.frombuffer(response.raw_output_contents[0], "<i8").tolist() == [0]


@pytest.mark.parametrize(
    ("route", "code", "says"),
    [
        (None, grpc.StatusCode.NOT_FOUND, f"send {ROUTE_HEADER}: <tenant>/<model>"),
        ("recsys/nope", grpc.StatusCode.NOT_FOUND, f"send {ROUTE_HEADER}: <tenant>/<model>"),
        ("recsys/embedder", grpc.StatusCode.UNAVAILABLE, "does not answer"),  # its server is not running
    ],
)
def test_grpc_without_a_live_route_gets_a_grpc_status(gateway, route, code, says):
    _, address = gateway
    with grpc.insecure_channel(address) as channel, pytest.raises(grpc.RpcError) as raised:
        infer(channel, route)
    assert raised.value.code() == code, raised.value.details()
    assert says in raised.value.details()


def test_the_rendered_configuration_is_the_one_tested():
    config = nginx_config(BLUEPRINT)
    assert f'"{TENANT}/{MODEL}" {MODEL}.{TENANT}.svc.cluster.local:{Ports.MODEL_SERVER_GRPC};' in config
    assert f"listen {Ports.GATEWAY_GRPC} http2;" in config

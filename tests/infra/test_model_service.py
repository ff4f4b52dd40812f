"""ModelService: each model is a hardened, autoscaled, scrapeable Deployment running `mlplat serve`."""

from __future__ import annotations

from blueprints import load
from blueprints.naming import LABEL_MODEL, LABEL_TENANT, Ports
from infra.components.model_service import LIVE_PATH, serve_command
from tests.infra.conftest import find, rendered


def _deployment(name="fraud-scorer", ns="fraud", blueprint="multi-tenant"):
    return find(rendered(blueprint).manifests, "Deployment", name, ns)


def test_every_model_gets_deployment_service_and_hpa():
    manifests = rendered("multi-tenant").manifests
    for tenant in load("multi-tenant").tenants:
        for model in tenant.models:
            for kind in ("Deployment", "Service", "HorizontalPodAutoscaler"):
                assert find(manifests, kind, model.name, tenant.name)


def test_hpa_follows_the_blueprint_replicas():
    hpa = find(rendered("multi-tenant").manifests, "HorizontalPodAutoscaler", "ranker", "recsys")["spec"]
    assert (hpa["minReplicas"], hpa["maxReplicas"]) == (1, 3)
    assert hpa["metrics"][0]["resource"]["target"]["averageUtilization"] == 70


def test_pdb_only_when_min_replicas_above_one():
    manifests = rendered("multi-tenant").manifests
    pdbs = {
        (m["metadata"]["namespace"], m["metadata"]["name"]) for m in manifests if m["kind"] == "PodDisruptionBudget"
    }
    assert ("fraud", "fraud-scorer") in pdbs  # min 2
    assert ("recsys", "ranker") not in pdbs  # min 1


def test_server_container_is_restricted():
    pod = _deployment()["spec"]["template"]["spec"]
    assert pod["securityContext"]["runAsNonRoot"] is True
    assert pod["securityContext"]["seccompProfile"] == {"type": "RuntimeDefault"}
    assert pod["automountServiceAccountToken"] is False
    assert pod["serviceAccountName"] == "serving"
    sc = pod["containers"][0]["securityContext"]
    assert sc["readOnlyRootFilesystem"] is True
    assert sc["allowPrivilegeEscalation"] is False
    assert sc["capabilities"] == {"drop": ["ALL"]}


def test_probes_point_at_the_model_server_health_endpoints():
    """Readiness asks gRPC's health check (SERVING once the models are loaded), liveness asks HTTP: a pod
    is in rotation only while both of its ports answer."""
    container = _deployment()["spec"]["template"]["spec"]["containers"][0]
    assert container["readinessProbe"]["grpc"] == {"port": Ports.MODEL_SERVER_GRPC} == {"port": 8081}
    assert container["livenessProbe"]["httpGet"]["path"] == LIVE_PATH == "/v2/health/live"
    assert container["startupProbe"]["httpGet"]["path"] == LIVE_PATH


def test_a_stopping_pod_serves_on_while_it_leaves_the_endpoints_and_within_its_grace_period():
    """Without the preStop pause, a deleted replica refuses the connections kube-proxy still sends it, and
    the gateway answers 502 (seen on kind: tests/cluster/test_serving_resilience.py)."""
    pod = _deployment()["spec"]["template"]["spec"]
    pause = pod["containers"][0]["lifecycle"]["preStop"]["sleep"]["seconds"]
    assert 0 < pause < pod.get("terminationGracePeriodSeconds", 30) // 2  # time left to drain after SIGTERM


def test_the_server_listens_for_rest_and_grpc_and_the_service_exposes_both():
    container = _deployment()["spec"]["template"]["spec"]["containers"][0]
    assert container["ports"] == [{"name": "http", "containerPort": 8080}, {"name": "grpc", "containerPort": 8081}]
    assert container["args"][container["args"].index("--grpc-port") + 1] == "8081"
    service = find(rendered("multi-tenant").manifests, "Service", "fraud-scorer", "fraud")["spec"]
    assert [(p["name"], p["port"], p["targetPort"], p.get("appProtocol")) for p in service["ports"]] == [
        ("http", 8080, "http", None),
        ("grpc", 8081, "grpc", "kubernetes.io/h2c"),
    ]


def test_pods_carry_platform_labels_and_scrape_annotations():
    template = _deployment()["spec"]["template"]["metadata"]
    assert template["labels"][LABEL_TENANT] == "fraud" and template["labels"][LABEL_MODEL] == "fraud-scorer"
    assert template["annotations"]["prometheus.io/scrape"] == "true"
    assert template["annotations"]["prometheus.io/port"] == "8080"


def test_container_runs_mlplat_serve_with_canary_and_shadow_from_the_blueprint():
    container = _deployment()["spec"]["template"]["spec"]["containers"][0]
    model = load("multi-tenant").tenant("fraud").models[0]
    assert container["command"] == ["mlplat"]
    assert container["args"] == serve_command(model)
    args = container["args"]
    assert args[:2] == ["serve", "models:/fraud-scorer@champion"]
    assert args[args.index("--challenger-weight") + 1] == "10"
    assert "models:/fraud-scorer@shadow" in args


def _env(container: dict) -> dict:
    return {e["name"]: e.get("value") or e["valueFrom"]["secretKeyRef"]["name"] for e in container["env"]}


def test_models_track_their_tenants_registry_signed_in_as_its_read_only_user():
    env = _env(_deployment()["spec"]["template"]["spec"]["containers"][0])
    assert env["MLFLOW_TRACKING_URI"] == "http://mlflow.mlops-system.svc.cluster.local:5000"
    assert env["MLFLOW_TRACKING_USERNAME"] == env["MLFLOW_TRACKING_PASSWORD"] == "mlflow-serving-credentials"
    clinical = _deployment("readmission", "clinical", "enterprise")["spec"]["template"]["spec"]["containers"][0]
    env = _env(clinical)
    assert env["MLFLOW_TRACKING_URI"] == "http://mlflow.clinical.svc.cluster.local:5000"
    assert env["MLFLOW_TRACKING_PASSWORD"] == "mlflow-serving-credentials"  # the dedicated registry's user


def test_images_are_pinned():
    for manifest in rendered("enterprise").manifests:
        spec = manifest.get("spec", {})
        template = spec.get("template") or spec.get("jobTemplate", {}).get("spec", {}).get("template")
        if not template:
            continue
        for container in template["spec"]["containers"]:
            image = container["image"]
            assert ("@sha256:" in image) or (":" in image.rsplit("/", 1)[-1] and not image.endswith(":latest")), image


def test_the_cluster_command_is_accepted_by_the_real_serve_cli_for_every_model(tmp_path, monkeypatch):
    from services.cli import build_parser
    from services.cli.serve_cmd import config_from_args
    from services.model_server.server import build_routes

    for name in ("foundation", "multi-tenant", "enterprise"):
        for tenant in load(name).tenants:
            for model in tenant.models:
                args = serve_command(model)
                if model.features is not None:  # the spec file comes from the model's ConfigMap
                    spec = find(rendered(name).manifests, "ConfigMap", f"{model.name}-features", tenant.name)
                    path = tmp_path / f"{model.name}.json"
                    path.write_text(spec["data"]["serving.json"])
                    args[args.index("--features") + 1] = str(path)
                    monkeypatch.setenv("MLPLAT_ONLINE_STORE", "postgresql://user:password@host:5432/db")
                routes = build_routes(config_from_args(build_parser().parse_args(args)))
                route = routes[model.name]
                assert route.weight == model.canary_weight / 100
                assert (route.shadow is not None) == model.shadow
                assert (route.features is not None) == (model.features is not None)

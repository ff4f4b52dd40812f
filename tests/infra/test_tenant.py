"""Tenant: every team is isolated by namespace, quota, limits, network policy and RBAC."""

from __future__ import annotations

from blueprints import load
from blueprints.naming import LABEL_TENANT, MONITORING_NAMESPACE, SYSTEM_NAMESPACE
from tests.infra.conftest import find, rendered


def _tenant_objects(blueprint: str, tenant: str) -> list[dict]:
    return [m for m in rendered(blueprint).manifests if m["metadata"].get("namespace") == tenant]


def _network_policies(blueprint: str, tenant: str) -> dict[str, dict]:
    """The tenant namespace's NetworkPolicies: name -> spec."""
    objects = _tenant_objects(blueprint, tenant)
    return {m["metadata"]["name"]: m["spec"] for m in objects if m["kind"] == "NetworkPolicy"}


def test_each_tenant_namespace_is_labelled_and_enforces_restricted_pod_security():
    for tenant in load("multi-tenant").tenants:
        ns = find(rendered("multi-tenant").manifests, "Namespace", tenant.name)
        labels = ns["metadata"]["labels"]
        assert labels[LABEL_TENANT] == tenant.name
        assert labels["pod-security.kubernetes.io/enforce"] == "restricted"


def test_tenant_quota_caps_requests_limits_pods_storage_and_forbids_external_services():
    spec = load("multi-tenant").tenant("recsys")
    quota = find(rendered("multi-tenant").manifests, "ResourceQuota", "tenant-quota", "recsys")["spec"]["hard"]
    assert quota["requests.cpu"] == quota["limits.cpu"] == str(spec.quotas.cpu)
    assert quota["requests.memory"] == quota["limits.memory"] == str(spec.quotas.memory)
    assert quota["pods"] == str(spec.quotas.pods)
    assert quota["requests.storage"] == str(spec.quotas.storage)
    assert quota["services.loadbalancers"] == quota["services.nodeports"] == "0"


def test_limit_range_gives_containers_the_blueprint_defaults():
    spec = load("multi-tenant").tenant("forecasting")
    limits = find(rendered("multi-tenant").manifests, "LimitRange", "tenant-limits", "forecasting")["spec"]["limits"][0]
    assert (
        limits["default"]
        == {"cpu": "250m", "memory": "256Mi"}
        == {"cpu": spec.limits.default.cpu, "memory": spec.limits.default.memory}
    )
    assert limits["defaultRequest"] == {"cpu": "50m", "memory": "64Mi"}


def test_tenant_denies_all_traffic_then_allows_only_dns_registry_scrape_gateway_and_its_own_pods_to_serving():
    policies = _network_policies("multi-tenant", "fraud")
    assert set(policies) == {
        "default-deny-all",
        "allow-dns",
        "allow-registry",
        "allow-scrape-from-monitoring",
        "allow-gateway-to-serving",
        "allow-tenant-to-serving",
        "allow-egress-to-own-serving",
    }
    assert policies["default-deny-all"] == {"podSelector": {}, "policyTypes": ["Ingress", "Egress"]}

    def peer_namespace(rule_peers):
        return rule_peers[0]["namespaceSelector"]["matchLabels"]["kubernetes.io/metadata.name"]

    assert peer_namespace(policies["allow-dns"]["egress"][0]["to"]) == "kube-system"
    assert {p["port"] for p in policies["allow-dns"]["egress"][0]["ports"]} == {53}
    assert peer_namespace(policies["allow-registry"]["egress"][0]["to"]) == SYSTEM_NAMESPACE
    assert (
        policies["allow-registry"]["egress"][0]["to"][0]["podSelector"]["matchLabels"]["app.kubernetes.io/name"]
        == "mlflow"
    )
    assert peer_namespace(policies["allow-scrape-from-monitoring"]["ingress"][0]["from"]) == MONITORING_NAMESPACE
    assert peer_namespace(policies["allow-gateway-to-serving"]["ingress"][0]["from"]) == SYSTEM_NAMESPACE
    # the gateway reaches the model servers' REST and gRPC ports; Prometheus only the metrics (REST) port
    assert {p["port"] for p in policies["allow-gateway-to-serving"]["ingress"][0]["ports"]} == {8080, 8081}
    assert {p["port"] for p in policies["allow-scrape-from-monitoring"]["ingress"][0]["ports"]} == {8080}
    # the tenant's own pods reach its model servers: peers without a namespaceSelector are this namespace's
    assert policies["allow-tenant-to-serving"]["ingress"][0]["from"] == [{"podSelector": {}}]
    assert policies["allow-egress-to-own-serving"]["egress"][0]["to"] == [
        {"podSelector": {"matchLabels": {"app.kubernetes.io/component": "model-server"}}}
    ]
    # nothing opens egress to the internet or ingress from other tenants
    for name, spec in policies.items():
        for rule in spec.get("egress", []) + spec.get("ingress", []):
            peers = rule.get("to", []) + rule.get("from", [])
            assert peers and all("ipBlock" not in p for p in peers), name


def test_a_tenant_with_batch_jobs_lets_only_its_batch_pods_push_to_the_pushgateway():
    policies = _network_policies("multi-tenant", "forecasting")
    push = policies["allow-batch-to-pushgateway"]
    assert push["podSelector"] == {"matchLabels": {"app.kubernetes.io/component": "batch-scoring"}}
    assert push["policyTypes"] == ["Egress"] and "ingress" not in push
    (rule,) = push["egress"]
    assert rule["ports"] == [{"protocol": "TCP", "port": 9091}]
    assert rule["to"] == [
        {
            "namespaceSelector": {"matchLabels": {"kubernetes.io/metadata.name": MONITORING_NAMESPACE}},
            "podSelector": {
                "matchLabels": {"app.kubernetes.io/name": "pushgateway", "app.kubernetes.io/instance": "platform"}
            },
        }
    ]
    # and the pods it admits are exactly the batch job's
    cronjob = next(m for m in _tenant_objects("multi-tenant", "forecasting") if m["kind"] == "CronJob")
    assert cronjob["spec"]["jobTemplate"]["spec"]["template"]["metadata"]["labels"]["app.kubernetes.io/component"] == (
        "batch-scoring"
    )


def test_a_pushgateway_pod_exists_for_the_policy_to_reach():
    deployment = find(rendered("multi-tenant").manifests, "Deployment", "pushgateway", MONITORING_NAMESPACE)
    labels = deployment["spec"]["template"]["metadata"]["labels"]
    assert (labels["app.kubernetes.io/name"], labels["app.kubernetes.io/instance"]) == ("pushgateway", "platform")


def test_dedicated_registry_tenant_talks_to_its_own_registry_only():
    policies = _network_policies("enterprise", "clinical")
    to = policies["allow-registry"]["egress"][0]["to"][0]
    assert to["namespaceSelector"]["matchLabels"]["kubernetes.io/metadata.name"] == "clinical"
    assert {"allow-registry-ingress", "allow-registry-database"} <= set(policies)
    assert find(rendered("enterprise").manifests, "Deployment", "mlflow", "clinical")


def test_service_accounts_do_not_mount_api_tokens():
    accounts = [m for m in _tenant_objects("multi-tenant", "fraud") if m["kind"] == "ServiceAccount"]
    assert {a["metadata"]["name"] for a in accounts} == {"serving", "team"}
    assert all(a["automountServiceAccountToken"] is False for a in accounts)


def test_team_role_is_least_privilege_and_bound_to_the_team():
    objects = _tenant_objects("multi-tenant", "fraud")
    role = next(m for m in objects if m["kind"] == "Role")
    for rule in role["rules"]:
        assert "*" not in rule["verbs"] and "*" not in rule["resources"]
        assert "secrets" not in rule["resources"]
        assert not {"delete", "update", "patch"} & set(rule["verbs"])
        assert "pods/exec" not in rule["resources"]
    binding = next(m for m in objects if m["kind"] == "RoleBinding")
    assert binding["roleRef"]["name"] == role["metadata"]["name"]
    subjects = {(s["kind"], s["name"]) for s in binding["subjects"]}
    assert subjects == {("ServiceAccount", "team"), ("Group", "fraud-team")}


def test_a_tenant_with_a_feature_store_may_reach_its_database_and_only_its_own_pods_reach_its_feature_server():
    policies = _network_policies("multi-tenant", "recsys")
    assert set(policies) == {
        "default-deny-all",
        "allow-dns",
        "allow-registry",
        "allow-scrape-from-monitoring",
        "allow-gateway-to-serving",
        "allow-tenant-to-serving",
        "allow-egress-to-own-serving",
        "allow-feature-store-database",
        "allow-tenant-to-feature-server",
        "allow-egress-to-own-feature-server",
        "allow-materialization-to-pushgateway",
    }
    database = policies["allow-feature-store-database"]
    assert database["policyTypes"] == ["Egress"]
    assert database["podSelector"]["matchExpressions"][0]["values"] == [
        "model-server",
        "feature-server",
        "feature-materialization",
    ]
    (rule,) = database["egress"]
    assert rule["ports"] == [{"protocol": "TCP", "port": 5432}]
    assert rule["to"] == [
        {
            "namespaceSelector": {"matchLabels": {"kubernetes.io/metadata.name": SYSTEM_NAMESPACE}},
            "podSelector": {
                "matchLabels": {"app.kubernetes.io/name": "mlflow-db", "app.kubernetes.io/instance": "shared"}
            },
        }
    ]
    # the feature server admits the tenant's own pods (no namespace selector: this namespace only)
    server = policies["allow-tenant-to-feature-server"]
    assert server["podSelector"] == {"matchLabels": {"app.kubernetes.io/component": "feature-server"}}
    assert server["ingress"] == [{"from": [{"podSelector": {}}], "ports": [{"protocol": "TCP", "port": 6566}]}]
    # and its pods may call it: default-deny covers their egress too
    assert policies["allow-egress-to-own-feature-server"]["egress"] == [
        {
            "to": [{"podSelector": {"matchLabels": {"app.kubernetes.io/component": "feature-server"}}}],
            "ports": [{"protocol": "TCP", "port": 6566}],
        }
    ]
    push = policies["allow-materialization-to-pushgateway"]
    assert push["podSelector"] == {"matchLabels": {"app.kubernetes.io/component": "feature-materialization"}}
    assert push["egress"][0]["ports"] == [{"protocol": "TCP", "port": 9091}]
    # the pods those policies select exist: the database's and the feature server's labels match
    db = find(rendered("multi-tenant").manifests, "StatefulSet", "mlflow-db", SYSTEM_NAMESPACE)
    labels = db["spec"]["template"]["metadata"]["labels"]
    assert all(labels[k] == v for k, v in rule["to"][0]["podSelector"]["matchLabels"].items())
    feature_server = find(rendered("multi-tenant").manifests, "Deployment", "feature-server", "recsys")
    assert feature_server["spec"]["template"]["metadata"]["labels"]["app.kubernetes.io/component"] == "feature-server"


def test_tenants_without_a_feature_store_get_no_path_to_the_platform_database():
    for tenant in ("fraud", "forecasting"):
        names = set(_network_policies("multi-tenant", tenant))
        assert not {n for n in names if "feature" in n}, names

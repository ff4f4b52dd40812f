"""The Feast repository and the serving specs are generated from the blueprint, both shapes alike
(services/features/repo.py, spec.py); credentials files stay private (services/registry/credentials.py)."""

from __future__ import annotations

import ast
import os
import stat

import pytest
import yaml

from blueprints import load
from services.features.repo import cluster_store, feature_repo, standalone_store
from services.features.spec import feature_specs, specs_from_json, specs_to_json

RECSYS = load("multi-tenant").tenant("recsys")


def test_the_definitions_are_the_blueprint_and_differ_between_shapes_only_in_the_data_folder(tmp_path):
    cluster = feature_repo(RECSYS, cluster_store("recsys", "mlflow-db.mlops-system.svc"))
    local = feature_repo(RECSYS, standalone_store(tmp_path, "recsys"))
    tree = ast.parse(cluster["features.py"])  # valid Python
    names = {t.id for node in tree.body if isinstance(node, ast.Assign) for t in node.targets}
    assert names == {"entity_flower", "view_flower_measurements", "service_ranker_v1"}
    assert "timedelta(seconds=172800)" in cluster["features.py"]
    assert (
        cluster["features.py"].replace("/data/", f"{tmp_path.resolve()}/features/recsys/data/") == local["features.py"]
    )


def test_the_cluster_store_is_postgres_with_the_password_from_the_environment():
    config = yaml.safe_load(feature_repo(RECSYS, cluster_store("recsys", "db.svc", 5432))["feature_store.yaml"])
    assert config["project"] == "recsys" and config["entity_key_serialization_version"] == 3
    assert config["registry"] == {
        "registry_type": "sql",
        "path": "postgresql+psycopg://feast_recsys:${FEAST_DB_PASSWORD}@db.svc:5432/feast_recsys",
        "cache_ttl_seconds": 60,
    }
    assert config["online_store"]["type"] == "postgres" and config["online_store"]["sslmode"] == "disable"


def test_the_standalone_store_is_sqlite_under_the_root(tmp_path):
    config = yaml.safe_load(feature_repo(RECSYS, standalone_store(tmp_path, "recsys"))["feature_store.yaml"])
    assert config["registry"]["path"] == f"sqlite:///{tmp_path.resolve()}/features/recsys/registry.db"
    assert config["online_store"] == {"type": "sqlite", "path": f"{tmp_path.resolve()}/features/recsys/online.db"}


def test_a_tenant_without_features_has_no_repository():
    with pytest.raises(ValueError, match="declares no features"):
        feature_repo(load("multi-tenant").tenant("fraud"), cluster_store("fraud", "db"))


def test_the_serving_spec_names_the_tables_the_ttl_and_the_policy_and_travels_as_json():
    specs = feature_specs(RECSYS)
    assert set(specs) == {"ranker"}  # embedder reads feature values
    spec = specs["ranker"]
    assert (spec.join_keys, spec.key_types, spec.service) == (("flower_id",), ("int64",), "ranker_v1")
    assert [(v.table, v.ttl_seconds) for v in spec.views] == [("recsys_flower_measurements", 172800)]
    assert spec.features == ("sepal_length", "sepal_width", "petal_length", "petal_width")
    assert (spec.missing_entity, spec.allow_stale) == ("reject", False)
    assert specs_from_json(specs_to_json(specs)) == specs


def test_credentials_files_are_generated_once_and_readable_by_their_owner_only(tmp_path):
    from services.registry.credentials import (
        FILE_ENV,
        USERNAME_ENV,
        credentials_file,
        ensure_credentials,
        load_into_environment,
    )

    first = ensure_credentials(tmp_path, "recsys.serving")
    assert ensure_credentials(tmp_path, "recsys.serving") == first and len(first.password) == 32
    path = credentials_file(tmp_path, "recsys.serving")
    assert stat.S_IMODE(os.stat(path).st_mode) == 0o600
    assert first.password not in repr(first)
    environ = {FILE_ENV: str(path)}
    load_into_environment(environ)
    assert environ[USERNAME_ENV] == "recsys.serving"
    signed_in = {FILE_ENV: str(path), USERNAME_ENV: "from-a-secret"}
    load_into_environment(signed_in)  # the cluster's Secret wins
    assert signed_in[USERNAME_ENV] == "from-a-secret"

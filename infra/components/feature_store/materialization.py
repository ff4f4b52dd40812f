"""The materialization CronJob: on the blueprint's schedule, `mlplat features materialize` (the command
standalone schedules) copies the newest feature values into the online store and pushes its outcome to
the Pushgateway."""

from __future__ import annotations

from dataclasses import dataclass

import pulumi
import pulumi_kubernetes as k8s

from blueprints.schema import ImageRef, Materialization
from infra import images
from infra.component import SubComponent
from infra.components.feature_store.shared import (
    MATERIALIZATION_COMPONENT,
    REPO_DIR,
    labels,
    repo_mount,
    repo_volume,
    workload_env,
)
from infra.components.tenant import SERVING_SERVICE_ACCOUNT
from infra.k8s import metadata, resources, restricted_container_security, run_to_completion, scratch_volume
from services.features.names import DATA_DIR
from services.features.repo import materialize_args

__all__ = ["FeatureMaterialization", "FeatureMaterializationArgs"]


@dataclass(frozen=True)
class FeatureMaterializationArgs:
    tenant: str
    namespace: str
    image: ImageRef
    run: Materialization
    pushgateway_url: str


class FeatureMaterialization(SubComponent):
    """One CronJob, reading the offline data volume and writing the online store."""

    def __init__(self, name: str, args: FeatureMaterializationArgs, opts: pulumi.ResourceOptions | None = None):
        super().__init__("mlops-platform:platform:FeatureMaterialization", name, opts)
        run = args.run
        run_labels = labels("feature-materialize", MATERIALIZATION_COMPONENT, args.tenant, args.image)
        container = {
            "name": "materialize",
            "image": args.image.ref,
            "command": ["mlplat"],
            "args": materialize_args(REPO_DIR, args.tenant, run.schedule),
            "env": [*workload_env(), {"name": "MLPLAT_PUSHGATEWAY", "value": args.pushgateway_url}],
            "resources": resources(run.resources),
            "securityContext": restricted_container_security(),
            "volumeMounts": [
                repo_mount(),
                {"name": "data", "mountPath": DATA_DIR, "readOnly": True},
                {"name": "tmp", "mountPath": "/tmp"},
            ],
        }
        volumes = [
            repo_volume(),
            {"name": "data", "persistentVolumeClaim": {"claimName": "feature-data"}},
            scratch_volume("tmp", "1Gi"),
        ]
        k8s.batch.v1.CronJob(
            f"{name}-materialize",
            metadata=metadata("feature-materialize", args.namespace, run_labels),
            spec={
                "schedule": run.schedule,
                "timeZone": "Etc/UTC",  # schedules mean UTC, as in standalone
                "concurrencyPolicy": "Forbid",
                "startingDeadlineSeconds": 600,
                "successfulJobsHistoryLimit": 3,
                "failedJobsHistoryLimit": 3,
                "jobTemplate": {
                    "metadata": {"labels": run_labels},
                    "spec": run_to_completion(
                        run_labels,
                        images.PLATFORM_UID,
                        [container],
                        volumes,
                        backoff_limit=1,
                        deadline_seconds=run.timeout_minutes * 60,
                        service_account=SERVING_SERVICE_ACCOUNT,
                    ),
                },
            },
            opts=self.child(),
        )
        self.register_outputs({})

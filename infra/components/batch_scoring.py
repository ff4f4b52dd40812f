"""BatchScoring: one batch job of a tenant: a CronJob running `mlplat batch score`, and its data volume.

The pod runs the command the standalone supervisor runs (services/batch/command.py), with the same
restricted security context as the model servers, under the tenant's `serving` service account (no
API rights, no token). The CronJob never runs two copies of a job (`concurrencyPolicy: Forbid`: the
output is written under a temporary name and renamed, and two writers would race for it), retries a
failed run `backoffLimit` times, and stops a run past `activeDeadlineSeconds` with SIGTERM, which the
batch command turns into a clean exit with no partial output.

Input and output paths are in the job's own PersistentVolumeClaim, mounted at `/data`: an upstream
job drops the day's file there and a downstream one picks the scores up. Metrics go to the
platform's Pushgateway (a NetworkPolicy of the tenant admits exactly that egress, see tenant.py).
"""

from __future__ import annotations

from dataclasses import dataclass

import pulumi
import pulumi_kubernetes as k8s

from blueprints.naming import standard_labels
from blueprints.schema import BatchJob, ImageRef
from infra import images
from infra.components.registry_access import SERVING_CREDENTIALS, credentials_env
from infra.components.tenant import SERVING_SERVICE_ACCOUNT
from infra.k8s import (
    SCRATCH,
    claim_metadata,
    metadata,
    resources,
    restricted_container_security,
    run_to_completion,
    scratch_volume,
)
from services.batch.command import batch_args

__all__ = ["BatchScoring", "BatchScoringArgs", "DATA_DIR", "COMPONENT", "data_claim_name"]

DATA_DIR = "/data"
COMPONENT = "batch-scoring"


def data_claim_name(job: BatchJob) -> str:
    return f"{job.name}-data"


@dataclass(frozen=True)
class BatchScoringArgs:
    tenant: str
    namespace: str
    job: BatchJob
    image: ImageRef
    tracking_uri: pulumi.Input[str]
    pushgateway_url: str


class BatchScoring(pulumi.ComponentResource):
    """A scheduled batch scoring job and the volume it reads and writes."""

    def __init__(self, name: str, args: BatchScoringArgs, opts: pulumi.ResourceOptions | None = None):
        super().__init__("mlops-platform:platform:BatchScoring", name, None, opts)
        job, ns = args.job, args.namespace
        labels = standard_labels(
            job.name, args.tenant, COMPONENT, version=args.image.tag, tenant=args.tenant, model=job.model
        )
        child = pulumi.ResourceOptions(parent=self)
        claim = k8s.core.v1.PersistentVolumeClaim(
            f"{name}-data",
            metadata=claim_metadata(data_claim_name(job), ns, labels),
            spec={"accessModes": ["ReadWriteOnce"], "resources": {"requests": {"storage": str(job.storage)}}},
            opts=child,
        )
        container = {
            "name": "batch-score",
            "image": args.image.ref,
            "command": ["mlplat"],
            "args": batch_args(job, args.tenant, DATA_DIR),
            "env": [
                {"name": "MLFLOW_TRACKING_URI", "value": args.tracking_uri},
                *credentials_env(SERVING_CREDENTIALS),  # read-only in the registry (ADR 0017)
                {"name": "MLPLAT_PUSHGATEWAY", "value": args.pushgateway_url},
                {"name": "MLPLAT_MODEL_CACHE", "value": f"{SCRATCH}/models"},
                {"name": "HOME", "value": "/tmp"},
            ],
            "resources": resources(job.resources),
            "securityContext": restricted_container_security(),
            "volumeMounts": [{"name": "data", "mountPath": DATA_DIR}, {"name": "tmp", "mountPath": "/tmp"}],
        }
        k8s.batch.v1.CronJob(
            f"{name}-cronjob",
            metadata=metadata(job.name, ns, labels),
            spec={
                "schedule": job.schedule,
                "timeZone": "Etc/UTC",  # schedules mean UTC, as in standalone
                "concurrencyPolicy": "Forbid",
                "startingDeadlineSeconds": 600,  # a run missed by more than this (a paused cluster) is skipped
                "successfulJobsHistoryLimit": 3,
                "failedJobsHistoryLimit": 3,
                "jobTemplate": {
                    "metadata": {"labels": labels},
                    "spec": run_to_completion(
                        labels,
                        images.PLATFORM_UID,
                        [container],
                        [
                            {"name": "data", "persistentVolumeClaim": {"claimName": data_claim_name(job)}},
                            scratch_volume("tmp", "1Gi"),
                        ],
                        backoff_limit=job.backoff_limit,
                        deadline_seconds=job.timeout_minutes * 60,
                        service_account=SERVING_SERVICE_ACCOUNT,
                    ),
                },
            },
            opts=pulumi.ResourceOptions(parent=self, depends_on=[claim]),
        )
        self.register_outputs({"cronjob": job.name, "namespace": ns})

"""FederatedLearning: a model's federated runs, as a Job in its tenant's namespace.

Flower's simulation runtime runs as one Job (ADR 0023), not as its deployment engine (a SuperLink
Deployment and Service with SuperNode pods): 10,000 simulated devices are 10,000 SuperNode identities,
which no cluster of laptop size holds as pods, and a simulation has no device on the other side of a
network to protect. The whole federation, server and simulated devices, lives in one pod; the run
reaches nothing but DNS and the tenant's registry, and nothing reaches it: the tenant's default-deny
NetworkPolicies already say exactly that (tests/infra/test_federated_learning.py holds them to it).

- A ConfigMap holds the run as JSON (services/federated/spec.py's RunSpec, from the blueprint), so the
  pod runs `mlplat fl run --spec` with exactly what standalone's `mlplat fl run --tenant` resolves.
- A CronJob holds the Job template: on the blueprint's `schedule` when it has one, otherwise suspended
  (`kubectl create job --from=cronjob/<model>-federated <name>` starts a run by hand), with
  `concurrencyPolicy: Forbid` (one run per model: the tenant's quota counts one), `backoffLimit: 0`
  (a failed run is reported, not silently repeated) and the blueprint's timeout.
- The pod: the platform image (its federated environment, /opt/federated, runs Flower), the tenant's
  registry credentials (it registers the version as the team; promotion stays the gate's, through
  `mlplat promote`), the restricted security context, and a writable /tmp for the run's files.
"""

from __future__ import annotations

from dataclasses import dataclass

import pulumi
import pulumi_kubernetes as k8s

from blueprints.naming import standard_labels
from blueprints.schema import ImageRef
from blueprints.schema import Model as ModelSpec
from blueprints.schema.federated import federated_job_name
from infra import images
from infra.components.registry_access import TENANT_CREDENTIALS, credentials_env
from infra.components.tenant import SERVING_SERVICE_ACCOUNT
from infra.k8s import metadata, resources, restricted_container_security, run_to_completion, scratch_volume
from services.federated.spec import RunSpec

__all__ = ["FederatedLearning", "FederatedLearningArgs", "COMPONENT", "SPEC_DIR", "SPEC_FILE"]

COMPONENT = "federated-learning"
SPEC_DIR = "/etc/federated"
SPEC_FILE = "run.json"
_NEVER = "0 0 1 1 *"  # a suspended CronJob still needs a valid schedule


def run_args() -> list[str]:
    """What the pod runs: one federated run from the mounted spec (services/cli/fl_cmd.py)."""
    return ["fl", "run", "--spec", f"{SPEC_DIR}/{SPEC_FILE}"]


@dataclass(frozen=True)
class FederatedLearningArgs:
    tenant: str
    namespace: str
    model: ModelSpec
    image: ImageRef
    tracking_uri: pulumi.Input[str]


class FederatedLearning(pulumi.ComponentResource):
    """The run spec and the Job template of one model's federated runs."""

    job_name: str

    def __init__(self, name: str, args: FederatedLearningArgs, opts: pulumi.ResourceOptions | None = None):
        super().__init__("mlops-platform:platform:FederatedLearning", name, None, opts)
        model, spec = args.model, args.model.federated
        if spec is None:
            raise ValueError(f"model {model.name!r} is not trained by federated learning")
        job = federated_job_name(model.name)
        labels = standard_labels(
            job, args.tenant, COMPONENT, version=args.image.tag, tenant=args.tenant, model=model.name
        )
        run_json = RunSpec.from_blueprint(args.tenant, model.name, spec).to_json()
        child = pulumi.ResourceOptions(parent=self)
        k8s.core.v1.ConfigMap(
            f"{name}-spec", metadata=metadata(job, args.namespace, labels), data={SPEC_FILE: run_json}, opts=child
        )
        container = {
            "name": "federated",
            "image": args.image.ref,
            "command": ["mlplat"],
            "args": run_args(),
            "env": [
                {"name": "MLFLOW_TRACKING_URI", "value": args.tracking_uri},
                *credentials_env(TENANT_CREDENTIALS),  # the team registers its own versions (ADR 0017)
                {"name": "HOME", "value": "/tmp"},
            ],
            "resources": resources(spec.resources),
            "securityContext": restricted_container_security(),
            "volumeMounts": [
                {"name": "tmp", "mountPath": "/tmp"},
                {"name": "spec", "mountPath": SPEC_DIR, "readOnly": True},
            ],
        }
        volumes = [scratch_volume("tmp", "1Gi"), {"name": "spec", "configMap": {"name": job}}]
        k8s.batch.v1.CronJob(
            f"{name}-job",
            metadata=metadata(job, args.namespace, labels),
            spec={
                "schedule": spec.schedule or _NEVER,
                "suspend": spec.schedule is None,
                "concurrencyPolicy": "Forbid",
                "jobTemplate": {
                    "metadata": {"labels": labels},
                    "spec": run_to_completion(
                        labels,
                        images.PLATFORM_UID,
                        [container],
                        volumes,
                        backoff_limit=0,
                        deadline_seconds=spec.timeout_minutes * 60,
                        service_account=SERVING_SERVICE_ACCOUNT,
                    ),
                },
            },
            opts=child,
        )
        self.job_name = job
        self.register_outputs({"job": job, "namespace": args.namespace})

"""ModelTraining: the Job template of one model's training runs, in its tenant's namespace.

Kubernetes has no Job template object; a suspended CronJob is the usual stand-in (`kubectl create job
--from=cronjob/<model>-training` starts a run by hand). It is never scheduled by Kubernetes: the
training trigger (training_trigger.py) creates a Job from it for a drift alert or when the model's
training schedule comes due, so that one component decides, for both kinds of trigger, that a model
never has two runs at once (ADR 0013). Its `schedule` is the blueprint's, for the reader; `suspend`
stays true.

The pod runs `mlplat train` with the arguments standalone's subprocess gets (services/training/
command.py), the tenant's `serving` service account (no API rights), the restricted security context,
`backoffLimit: 0` (a failed run is reported and alerted on, not silently retried) and the blueprint's
timeout as `activeDeadlineSeconds`. The trigger adds the MLflow run to log into as an environment
variable when it creates the Job.
"""

from __future__ import annotations

from dataclasses import dataclass

import pulumi
import pulumi_kubernetes as k8s

from blueprints.naming import standard_labels
from blueprints.schema import ImageRef
from blueprints.schema import Model as ModelSpec
from infra import images
from infra.components.registry_access import TENANT_CREDENTIALS, credentials_env
from infra.components.tenant import SERVING_SERVICE_ACCOUNT
from infra.k8s import metadata, resources, restricted_container_security, run_to_completion, scratch_volume
from services.training.command import train_args
from services.training.targets import job_template_name

__all__ = ["ModelTraining", "ModelTrainingArgs", "COMPONENT"]

COMPONENT = "training"
_NEVER = "0 0 1 1 *"  # a suspended CronJob still needs a valid schedule


@dataclass(frozen=True)
class ModelTrainingArgs:
    tenant: str
    namespace: str
    model: ModelSpec
    image: ImageRef
    tracking_uri: pulumi.Input[str]


class ModelTraining(pulumi.ComponentResource):
    """The Job template the training trigger launches a model's runs from."""

    template_name: str

    def __init__(self, name: str, args: ModelTrainingArgs, opts: pulumi.ResourceOptions | None = None):
        super().__init__("mlops-platform:platform:ModelTraining", name, None, opts)
        model, spec = args.model, args.model.training
        if spec is None:
            raise ValueError(f"model {model.name!r} declares no training")
        template = job_template_name(model.name)
        labels = standard_labels(
            template, args.tenant, COMPONENT, version=args.image.tag, tenant=args.tenant, model=model.name
        )
        container = {
            "name": "train",
            "image": args.image.ref,
            "command": ["mlplat"],
            "args": train_args(args.tenant, model),
            "env": [
                {"name": "MLFLOW_TRACKING_URI", "value": args.tracking_uri},
                *credentials_env(TENANT_CREDENTIALS),  # the team registers its own versions (ADR 0017)
                {"name": "HOME", "value": "/tmp"},
            ],
            "resources": resources(spec.resources),
            "securityContext": restricted_container_security(),
            "volumeMounts": [{"name": "tmp", "mountPath": "/tmp"}],
        }
        k8s.batch.v1.CronJob(
            f"{name}-template",
            metadata=metadata(template, args.namespace, labels, {"platform.mlops/launched-by": "training-trigger"}),
            spec={
                "schedule": spec.schedule or _NEVER,
                "suspend": True,
                "concurrencyPolicy": "Forbid",
                "jobTemplate": {
                    "metadata": {"labels": labels},
                    "spec": run_to_completion(
                        labels,
                        images.PLATFORM_UID,
                        [container],
                        [scratch_volume("tmp", "1Gi")],
                        backoff_limit=0,
                        deadline_seconds=spec.timeout_minutes * 60,
                        service_account=SERVING_SERVICE_ACCOUNT,
                    ),
                },
            },
            opts=pulumi.ResourceOptions(parent=self),
        )
        self.template_name = template
        self.register_outputs({"template": template, "namespace": args.namespace})

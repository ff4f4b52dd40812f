"""The iris training as an MLflow Project: what a project must log for the platform to register it.

`mlplat train --project` runs this in its own MLflow run, then registers the run's `model`. The promotion
gate checks what is logged here: the metrics, the signature and input example, a `training_data_digest`
tag, and a model card (MLflow's run description, `mlflow.note.content`). The reference distribution
(`log_reference`) is what the model server and batch scoring measure drift against.
"""

import argparse

import mlflow
from mlflow.models import infer_signature

from services.model_server.reference import log_reference
from services.training.contract import TrainingContext
from services.training.iris import train

parser = argparse.ArgumentParser()
parser.add_argument("--model", default="iris")
parser.add_argument("--tenant", default="")
args = parser.parse_args()

result = train(TrainingContext(model=args.model, tenant=args.tenant, trigger="project"))
with mlflow.start_run():  # the run `mlflow run` created for this project (MLFLOW_RUN_ID)
    mlflow.log_params(result.params)
    mlflow.log_metrics(result.metrics)
    mlflow.set_tags({"training_data_digest": result.data_digest, "mlflow.note.content": result.description})
    log_reference(result.features)
    mlflow.sklearn.log_model(
        result.model,
        name="model",
        signature=infer_signature(result.features, result.model.predict(result.features)),
        input_example=result.features.head(3),
    )

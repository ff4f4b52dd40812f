"""The `mlplat batch score` arguments for a blueprint batch job: one function, used by the cluster's
CronJob (infra/components/batch_scoring.py) and by the standalone supervisor's schedule
(services/standalone/plan.py), so both run a batch job the same way. `data_dir` is where the job's
`input` and `output` paths are rooted: the data volume in the pod, a folder in standalone."""

from __future__ import annotations

from blueprints.schema import BatchJob

__all__ = ["batch_args"]


def batch_args(job: BatchJob, tenant: str, data_dir: str) -> list[str]:
    root = data_dir.rstrip("/")
    return [
        "batch",
        "score",
        f"models:/{job.model}@{job.alias}",
        "--input",
        f"{root}/{job.input}",
        "--output",
        f"{root}/{job.output}",
        "--max-reject-ratio",
        f"{job.max_reject_ratio:g}",
        "--job-name",
        job.name,
        "--tenant",
        tenant,
        "--schedule",
        job.schedule,
    ]

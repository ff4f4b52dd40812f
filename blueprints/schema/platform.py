"""The shared platform's settings: the platform image, the registry and its backups, monitoring
and its SLOs, and the policy and cost settings (in their own modules)."""

from __future__ import annotations

import re

from pydantic import Field, PrivateAttr, field_validator, model_validator

from blueprints.schema.costs import CostSettings
from blueprints.schema.data import ComplianceSettings
from blueprints.schema.fields import ResourceList, Resources, Spec, StorageQuantity
from blueprints.schema.llm import PlatformLLM
from blueprints.schema.policy import REGISTRY_PREFIX, PolicySettings


class ImageRef(Spec):
    """A container image, always pinned: a tag that is not `latest`, or a digest.

    `tag` is the release: it labels every object (`app.kubernetes.io/version`). Where the image is pulled
    from can differ (a mirror, a tag naming the build's content): `pulled_as()` sets that reference without
    changing the release, so labels stay put when only the build changes."""

    repository: str = "mlops-platform/platform"
    tag: str = "0.1.0"
    _pull: str | None = PrivateAttr(default=None)

    @field_validator("tag")
    @classmethod
    def _pinned(cls, tag: str) -> str:
        if not tag or tag == "latest":
            raise ValueError(f'{tag!r} is not a pinned tag: use a version (e.g. "0.1.0") or a digest')
        return tag

    def pulled_as(self, ref: str) -> ImageRef:
        """The same release, pulled from `ref`."""
        copy = self.model_copy()
        copy._pull = ref
        return copy

    @property
    def ref(self) -> str:
        if self._pull:
            return self._pull
        sep = "@" if self.tag.startswith("sha256:") else ":"
        return f"{self.repository}{sep}{self.tag}"


# pg_dump runs at most this often: below it, WAL archiving carries the RPO (ADR 0012).
DUMP_MIN_RPO_MINUTES = 15


class BackupSettings(Spec):
    """Backups of the registry database, on a volume of their own.

    With `rpoMinutes` set, the pg_dump schedule is derived from it (a 15-minute RPO dumps every 15
    minutes); otherwise `schedule` (default nightly) is used. An RPO under 15 minutes turns on WAL
    archiving as well: every finished WAL segment is archived, at least every `rpoMinutes`, and a
    base backup for point-in-time recovery is taken on `schedule`.
    """

    schedule: str = "0 2 * * *"
    rpo_minutes: int | None = Field(default=None, ge=5, le=1440)
    retention: int = Field(default=7, ge=1, le=1000, description="backups kept")
    storage: StorageQuantity = "2Gi"
    storage_class: str | None = Field(
        default=None,
        description="StorageClass of the backup volume (None: the cluster's default); name one on other disks "
        "than the database's so one failure cannot take both",
    )

    @field_validator("storage_class")
    @classmethod
    def _storage_class(cls, value: str | None) -> str | None:
        if value is not None and not re.fullmatch(r"[a-z0-9]([-a-z0-9.]{0,251}[a-z0-9])?", value):
            raise ValueError(
                f"{value!r} is not a StorageClass name: use lowercase letters, digits, '-' and '.' "
                '(e.g. "backup-hdd"), or leave it out for the cluster\'s default class'
            )
        return value

    @field_validator("schedule")
    @classmethod
    def _cron(cls, schedule: str) -> str:
        if len(schedule.split()) != 5:
            raise ValueError(f'{schedule!r} is not a 5-field cron schedule (e.g. "0 2 * * *")')
        return schedule

    @property
    def wal_archiving(self) -> bool:
        return self.rpo_minutes is not None and self.rpo_minutes < DUMP_MIN_RPO_MINUTES

    @property
    def effective_schedule(self) -> str:
        """The pg_dump CronJob's schedule."""
        if self.rpo_minutes is None:
            return self.schedule
        minutes = max(self.rpo_minutes, DUMP_MIN_RPO_MINUTES)
        if minutes < 60:
            return f"*/{minutes} * * * *"
        return f"0 */{max(1, minutes // 60)} * * *"


class RegistrySettings(Spec):
    """The MLflow tracking and registry server and its PostgreSQL database."""

    replicas: int = Field(default=1, ge=1, le=5)
    server: Resources = Resources(
        requests=ResourceList(cpu="100m", memory="384Mi"),
        limits=ResourceList(cpu="1", memory="1Gi"),
    )
    database: Resources = Resources(
        requests=ResourceList(cpu="100m", memory="256Mi"),
        limits=ResourceList(cpu="1", memory="512Mi"),
    )
    database_storage: StorageQuantity = "2Gi"
    artifact_storage: StorageQuantity = "5Gi"
    backup: BackupSettings = BackupSettings()


class SloSettings(Spec):
    """Service-level objectives every model server is held to (alert rules are generated from them)."""

    availability: float = Field(default=0.99, gt=0.5, lt=1, description="share of requests that must not fail")
    latency_seconds: float = Field(default=0.25, gt=0, le=60, description="the latency threshold")
    latency_target: float = Field(default=0.99, gt=0.5, lt=1, description="share of requests under the threshold")
    drift_psi: float = Field(default=0.2, gt=0, le=10, description="per-feature PSI above which drift alerts")


class MonitoringSettings(Spec):
    retention: str = "7d"
    slo: SloSettings = SloSettings()
    storage: StorageQuantity = "2Gi"
    prometheus: Resources = Resources(
        requests=ResourceList(cpu="100m", memory="384Mi"),
        limits=ResourceList(cpu="1", memory="1Gi"),
    )
    alertmanager: Resources = Resources(
        requests=ResourceList(cpu="25m", memory="48Mi"),
        limits=ResourceList(cpu="200m", memory="128Mi"),
    )
    grafana: Resources = Resources(
        requests=ResourceList(cpu="50m", memory="128Mi"),
        limits=ResourceList(cpu="500m", memory="256Mi"),
    )

    @field_validator("retention")
    @classmethod
    def _duration(cls, value: str) -> str:
        if not re.fullmatch(r"\d+[smhdwy]", value):
            raise ValueError(f'{value!r} is not a Prometheus duration (e.g. "7d" or "12h")')
        return value


class Platform(Spec):
    """Settings of the shared platform services.

    `imageMirror` is for air-gapped installs (docs/air-gapped.md): every image the platform deploys is
    pulled from the mirror instead, under the same path and tag (`quay.io/prometheus/prometheus:v3.5.0`
    from `registry.corp:5000/prometheus/prometheus:v3.5.0`), so the pinned-image rules hold unchanged. The
    mirror must be one of the policy's allowed registries.
    """

    image: ImageRef = ImageRef()
    image_mirror: str | None = Field(default=None, description="a registry that serves every image the platform uses")
    ha: bool = Field(default=False, description="replicas, PDBs and anti-affinity for platform services")
    registry: RegistrySettings = RegistrySettings()
    monitoring: MonitoringSettings = MonitoringSettings()
    policy: PolicySettings = PolicySettings()
    costs: CostSettings = CostSettings()
    compliance: ComplianceSettings | None = Field(default=None, description="residency, scheduled check (ADR 0024)")
    llm: PlatformLLM | None = Field(default=None, description="the LLM gateway and its routes (docs/llm.md)")

    @field_validator("image_mirror")
    @classmethod
    def _registry(cls, mirror: str | None) -> str | None:
        if mirror is not None and not REGISTRY_PREFIX.match(mirror):
            raise ValueError(
                f"{mirror!r} is not a registry: write a lowercase host with an optional port and path, without a "
                'scheme or a trailing "/" (e.g. "localhost:5001" or "registry.example.com/mirror")'
            )
        return mirror

    @model_validator(mode="after")
    def _mirror_allowed(self) -> Platform:
        if self.image_mirror and self.image_mirror not in self.policy.allowed_registries:
            raise ValueError(
                f"imageMirror: {self.image_mirror!r} is not in policy.allowedRegistries, so the policy gates would "
                "refuse every image pulled from it: add it to allowedRegistries"
            )
        return self

    def under_mirror(self, mirror: str) -> Platform:
        """These settings with every image pulled from `mirror`, which the policy gates then allow."""
        allowed = self.policy.allowed_registries
        policy = self.policy.model_copy(
            update={"allowed_registries": [*allowed, mirror] if mirror not in allowed else allowed}
        )
        return Platform.model_validate({**self.model_dump(), "image_mirror": mirror, "policy": policy.model_dump()})

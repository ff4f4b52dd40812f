"""Will a blueprint fit the node? Its requests against what a kind node leaves for the platform.

A kind node reports its host's CPUs and memory (Docker's VM on Docker Desktop), and kind's own pods
request part of that before any platform pod schedules: kube-apiserver 250m, kube-controller-manager
200m, kube-scheduler 100m, etcd 100m and 100Mi, two CoreDNS replicas at 100m and 70Mi each, kindnet
100m and 50Mi. The scheduler counts requests, not use, so a blueprint whose requests exceed what is
left stays Pending however idle the machine is. The same numbers shape the sim target's fake node
(services/engine/sim.py), so what schedules on the sim schedules on kind.

The kind path's memory check keeps its own, larger margin (`KIND_NODE_OVERHEAD`, ~1.5 GiB): that one
is about the memory the node's processes really use, which Docker must have, not about requests.
"""

from __future__ import annotations

import os
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from decimal import ROUND_HALF_UP, Decimal
from typing import Any

from blueprints.quantity import format_bytes

__all__ = [
    "KIND_NODE_OVERHEAD",
    "KIND_SYSTEM_CPU",
    "KIND_SYSTEM_MEMORY",
    "NodeSize",
    "Requests",
    "blueprint_requests",
    "requests_of",
    "shortfalls",
]

KIND_SYSTEM_CPU = Decimal("0.95")
KIND_SYSTEM_MEMORY = Decimal(290 * 2**20)
# What a kind node's own processes (kubelet, containerd, the control plane) really use beside the
# platform's pods: the memory Docker must have on top of the blueprint's requests.
KIND_NODE_OVERHEAD = Decimal(3 * 2**29)


@dataclass(frozen=True)
class NodeSize:
    """A node's capacity: a kind node reports its host's (Docker's VM on Docker Desktop), which
    `machine()` reads; the sim target sizes its fake node the same way."""

    cpus: int
    memory_bytes: int

    @classmethod
    def machine(cls) -> NodeSize:
        return cls(os.cpu_count() or 2, os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES"))


@dataclass(frozen=True)
class Requests:
    """What a blueprint's workloads request in all."""

    cpu_cores: Decimal
    memory_bytes: Decimal


def requests_of(manifests: Iterable[dict[str, Any]]) -> Requests:
    """The CPU and memory every workload of a render requests, counted the way showback counts them."""
    from blueprints.schema import CostSettings
    from services.cost import requested_costs

    lines = requested_costs(list(manifests), CostSettings())
    return Requests(
        sum((line.cpu_cores for line in lines), Decimal(0)), sum((line.memory_bytes for line in lines), Decimal(0))
    )


def blueprint_requests(blueprint: str, config: Mapping[str, str] | None = None) -> Requests:
    """What a blueprint (shipped name or path) requests once deployed, from the objects the program renders."""
    from infra.render import render_blueprint

    return requests_of(render_blueprint(blueprint, config=config).manifests)


def _cores(value: Decimal) -> str:
    return f"{max(value, Decimal(0)).quantize(Decimal('0.01'), rounding=ROUND_HALF_UP).normalize():f}"


def shortfalls(requested: Requests, node_cpus: Decimal, node_memory: Decimal | None = None) -> list[str]:
    """Why the blueprint cannot schedule on a kind node of this size, one line per resource; [] when it fits.
    `node_memory` None checks CPU only (the kind path checks memory with its own margin)."""
    problems = []
    free_cpu = node_cpus - KIND_SYSTEM_CPU
    if requested.cpu_cores > free_cpu:
        problems.append(
            f"the blueprint requests {_cores(requested.cpu_cores)} CPU; a {_cores(node_cpus)}-CPU node leaves "
            f"{_cores(free_cpu)} after kind's own pods: it needs {_cores(requested.cpu_cores + KIND_SYSTEM_CPU)} CPUs"
        )
    if node_memory is not None and requested.memory_bytes > node_memory - KIND_SYSTEM_MEMORY:
        problems.append(
            f"the blueprint requests {format_bytes(requested.memory_bytes)} of memory; a node of "
            f"{format_bytes(node_memory)} leaves {format_bytes(max(node_memory - KIND_SYSTEM_MEMORY, Decimal(0)))} "
            f"after kind's own pods"
        )
    return problems

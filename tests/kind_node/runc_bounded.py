#!/usr/bin/python3
"""runc for a Docker whose own capability bounding set is smaller than Linux's: a machine fix, not product.

kind runs its nodes as privileged containers. Docker gives a privileged container every capability the
kernel knows, and runc fails with "unable to apply caps: operation not permitted" when one of them is
outside the bounding set of Docker itself, which happens in VMs and sandboxes whose init drops some
(this project's test machines lack CAP_SYS_RESOURCE). This wrapper removes from the container's spec the
capabilities that runc could not grant anyway, then runs the real runc; a spec within the bounding set is
left as it is. Containers on such a machine get what it has; nothing gains a capability.

Registered with Docker as a runtime (docs/kind-node.md, "A Docker that cannot start privileged
containers"):
    install -D -m 0755 tests/kind_node/runc_bounded.py /usr/local/libexec/mlops-platform/runc-bounded
    /etc/docker/daemon.json: {"runtimes": {"runc-bounded": {"path": "/usr/local/libexec/mlops-platform/runc-bounded"}},
                              "default-runtime": "runc-bounded"}
    kill -HUP "$(pidof dockerd)"        # Docker reloads runtimes without restarting containers
"""

from __future__ import annotations

import json
import os
import shutil
import sys

# Linux capability numbers (include/uapi/linux/capability.h): the index is the bit.
CAPABILITIES = [
    "CHOWN",
    "DAC_OVERRIDE",
    "DAC_READ_SEARCH",
    "FOWNER",
    "FSETID",
    "KILL",
    "SETGID",
    "SETUID",
    "SETPCAP",
    "LINUX_IMMUTABLE",
    "NET_BIND_SERVICE",
    "NET_BROADCAST",
    "NET_ADMIN",
    "NET_RAW",
    "IPC_LOCK",
    "IPC_OWNER",
    "SYS_MODULE",
    "SYS_RAWIO",
    "SYS_CHROOT",
    "SYS_PTRACE",
    "SYS_PACCT",
    "SYS_ADMIN",
    "SYS_BOOT",
    "SYS_NICE",
    "SYS_RESOURCE",
    "SYS_TIME",
    "SYS_TTY_CONFIG",
    "MKNOD",
    "LEASE",
    "AUDIT_WRITE",
    "AUDIT_CONTROL",
    "SETFCAP",
    "MAC_OVERRIDE",
    "MAC_ADMIN",
    "SYSLOG",
    "WAKE_ALARM",
    "BLOCK_SUSPEND",
    "AUDIT_READ",
    "PERFMON",
    "BPF",
    "CHECKPOINT_RESTORE",
]
RUNC = shutil.which("runc", path="/usr/sbin:/usr/bin:/sbin:/bin") or "/usr/sbin/runc"


def bounding_set() -> int:
    with open("/proc/self/status", encoding="ascii") as status:
        for line in status:
            if line.startswith("CapBnd:"):
                return int(line.split()[1], 16)
    return (1 << len(CAPABILITIES)) - 1


def within(capabilities: dict, bounding: int) -> dict:
    """Each capability list of an OCI spec, keeping only what the bounding set holds."""

    def allowed(name: str) -> bool:
        bare = name.removeprefix("CAP_")
        return bare not in CAPABILITIES or bool(bounding >> CAPABILITIES.index(bare) & 1)

    return {kind: [name for name in names if allowed(name)] for kind, names in capabilities.items()}


def rewrite(path: str, *keys: str) -> None:
    """Bound the capabilities at `keys` (e.g. process.capabilities) of the JSON file at `path`, in place."""
    with open(path, encoding="utf-8") as handle:
        spec = json.load(handle)
    holder = spec
    for key in keys[:-1]:
        holder = holder.get(key) or {}
    capabilities = holder.get(keys[-1])
    if not capabilities:
        return
    bounded = within(capabilities, bounding_set())
    if bounded != capabilities:
        holder[keys[-1]] = bounded
        with open(path, "w", encoding="utf-8") as handle:
            json.dump(spec, handle)


def main(argv: list[str]) -> None:
    for flag, value in zip(argv, argv[1:], strict=False):
        if flag in ("--bundle", "-b"):  # runc create/run: the container's spec
            rewrite(os.path.join(value, "config.json"), "process", "capabilities")
        elif flag in ("--process", "-p"):  # runc exec: the new process's spec
            rewrite(value, "capabilities")
    os.execv(RUNC, [RUNC, *argv])


if __name__ == "__main__":
    main(sys.argv[1:])

"""The sim cluster's volume provisioner: what kind's local-path-provisioner does, without a container.

Contract (the external-provisioner protocol, as the scheduler and the PV controller drive it):
a PersistentVolumeClaim of a StorageClass whose provisioner is `rancher.io/local-path` waits until
the scheduler picks a node for its first pod (`volume.kubernetes.io/selected-node`); this loop then
creates a hostPath PersistentVolume on that node, pre-bound to the claim (`claimRef`), and the PV
controller binds the two. When the claim is deleted the volume is Released, and the loop deletes it
(reclaim policy Delete), so `pulumi destroy` leaves no volume behind. Data lives under
`.mlplat/sim/volumes/`; no pod ever writes it (kwok runs no container), which is why a directory name
is all a volume needs here. Polling every second keeps it a page long; a watch would save little.
"""

from __future__ import annotations

import argparse
import time
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import httpx
import yaml

from services.engine.pki import client_tls

PROVISIONER = "rancher.io/local-path"
SELECTED_NODE = "volume.kubernetes.io/selected-node"
PROVISIONER_ANNOTATIONS = ("volume.kubernetes.io/storage-provisioner", "volume.beta.kubernetes.io/storage-provisioner")


def volume_for(claim: Mapping[str, Any], volumes: Path) -> dict[str, Any] | None:
    """The PersistentVolume to create for a pending claim of ours, None when the claim is not ours yet."""
    meta = claim["metadata"]
    annotations = meta.get("annotations") or {}
    if claim.get("status", {}).get("phase") != "Pending" or claim["spec"].get("volumeName"):
        return None
    if SELECTED_NODE not in annotations or PROVISIONER not in [annotations.get(a) for a in PROVISIONER_ANNOTATIONS]:
        return None
    node = annotations[SELECTED_NODE]
    return {
        "apiVersion": "v1",
        "kind": "PersistentVolume",
        "metadata": {"name": f"pvc-{meta['uid']}", "annotations": {"pv.kubernetes.io/provisioned-by": PROVISIONER}},
        "spec": {
            "capacity": {"storage": claim["spec"]["resources"]["requests"]["storage"]},
            "accessModes": claim["spec"]["accessModes"],
            "storageClassName": claim["spec"].get("storageClassName"),
            "persistentVolumeReclaimPolicy": "Delete",
            "volumeMode": claim["spec"].get("volumeMode", "Filesystem"),
            "hostPath": {"path": str(volumes / f"{meta['namespace']}_{meta['name']}"), "type": "DirectoryOrCreate"},
            "claimRef": {"namespace": meta["namespace"], "name": meta["name"], "uid": meta["uid"]},
            "nodeAffinity": {
                "required": {
                    "nodeSelectorTerms": [
                        {"matchExpressions": [{"key": "kubernetes.io/hostname", "operator": "In", "values": [node]}]}
                    ]
                }
            },
        },
    }


def released(volume: Mapping[str, Any]) -> bool:
    annotations = volume["metadata"].get("annotations") or {}
    ours = annotations.get("pv.kubernetes.io/provisioned-by") == PROVISIONER
    return ours and volume.get("status", {}).get("phase") == "Released"


def reconcile(api: httpx.Client, volumes: Path) -> None:
    for claim in api.get("/api/v1/persistentvolumeclaims").json().get("items", []):
        if (volume := volume_for(claim, volumes)) is not None:
            response = api.post("/api/v1/persistentvolumes", json=volume)
            if response.status_code not in (201, 409):
                print(f"provisioner: creating {volume['metadata']['name']}: {response.text}", flush=True)
    for volume in api.get("/api/v1/persistentvolumes").json().get("items", []):
        if released(volume):
            api.delete(f"/api/v1/persistentvolumes/{volume['metadata']['name']}")


def _client(kubeconfig_path: Path) -> httpx.Client:
    config = yaml.safe_load(kubeconfig_path.read_text(encoding="utf-8"))
    cluster, user = config["clusters"][0]["cluster"], config["users"][0]["user"]
    return httpx.Client(
        base_url=cluster["server"],
        verify=client_tls(cluster["certificate-authority"], user["client-certificate"], user["client-key"]),
        timeout=10,
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--kubeconfig", type=Path, required=True)
    parser.add_argument("--volumes", type=Path, required=True)
    args = parser.parse_args()
    with _client(args.kubeconfig) as api:
        while True:
            try:
                reconcile(api, args.volumes)
            except httpx.HTTPError as exc:  # the API server restarting: try again next tick
                print(f"provisioner: {exc}", flush=True)
            time.sleep(1.0)


if __name__ == "__main__":
    main()

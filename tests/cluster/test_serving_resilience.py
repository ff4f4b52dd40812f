"""A model server survives losing a pod: the other replica keeps answering while the Deployment replaces it.

The foundation blueprint serves its model with two replicas (`replicas.min: 2`, with a PodDisruptionBudget).
Requests go through the gateway's NodePort, the way users reach a model, for the whole time: from before
the pod is killed until its replacement is Ready.
"""

from __future__ import annotations

import json
import threading
import time
import urllib.error
import urllib.request

from services.demo.lifecycle import FEATURES
from tests.cluster.conftest import GATEWAY, wait_for

IRIS_ROW = json.dumps({"dataframe_split": {"columns": list(FEATURES), "data": [[5.1, 3.5, 1.4, 0.2]]}}).encode()


class Traffic(threading.Thread):
    """Requests one after another until stopped; every answer that is not a 200 is kept."""

    def __init__(self, url: str):
        super().__init__(daemon=True)
        self.url, self.answered, self.failures, self.stopped = url, 0, [], threading.Event()

    def run(self) -> None:
        while not self.stopped.is_set():
            request = urllib.request.Request(self.url, data=IRIS_ROW, headers={"Content-Type": "application/json"})
            try:
                with urllib.request.urlopen(request, timeout=5) as response:
                    response.read()
                self.answered += 1
            except (urllib.error.URLError, OSError) as exc:
                self.failures.append(f"{time.strftime('%H:%M:%S')} {exc}")
            time.sleep(0.05)


def test_a_killed_model_server_pod_is_replaced_while_the_other_replica_keeps_answering(cluster, tenant, served_model):
    assert served_model.replicas.min >= 2, "the blueprint must serve this model with 2 replicas or more"
    selector = f"app.kubernetes.io/name={served_model.name},app.kubernetes.io/component=model-server"

    def ready_pods() -> set[str]:
        pods = cluster.get("-n", tenant.name, "pods", "-l", selector)["items"]
        return {
            p["metadata"]["name"]
            for p in pods
            if p["metadata"].get("deletionTimestamp") is None
            and any(c["type"] == "Ready" and c["status"] == "True" for c in p["status"].get("conditions", []))
        }

    def at_least(count: int, without: str = "") -> set[str] | None:
        pods = ready_pods()
        return pods if len(pods) >= count and without not in pods else None

    before = wait_for(lambda: at_least(2), 180, "two ready model-server pods")
    traffic = Traffic(f"{GATEWAY}/{tenant.name}/{served_model.name}/invocations")
    traffic.start()
    try:
        time.sleep(3)
        victim = sorted(before)[0]
        cluster.kubectl("-n", tenant.name, "delete", "pod", victim, "--wait=false")
        replaced = wait_for(lambda: at_least(len(before), victim), 240, f"a replacement for {victim} to be Ready")
        time.sleep(5)  # and answering beside the survivor
    finally:
        traffic.stopped.set()
        traffic.join(timeout=10)
    assert replaced - before, f"no new pod: {replaced}"
    assert traffic.answered > 20, f"only {traffic.answered} answers while the pod was replaced"
    assert traffic.failures == [], (
        f"{len(traffic.failures)} failed of {traffic.answered + len(traffic.failures)}: {traffic.failures[:5]}"
    )

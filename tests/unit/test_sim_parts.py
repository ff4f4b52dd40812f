"""The sim target's pure parts: certificates, apply order, the provisioner's decisions, the fake node."""

from __future__ import annotations

import ipaddress

from cryptography import x509
from cryptography.x509.oid import NameOID

from services.engine import pki, provisioner, sim


def _cert(path):
    return x509.load_pem_x509_certificate(path.read_bytes())


def test_client_certificates_carry_the_identities_rbac_sees(tmp_path):
    folder = pki.ensure_pki(tmp_path / "pki")
    admin = _cert(folder / "admin.crt").subject
    assert admin.get_attributes_for_oid(NameOID.COMMON_NAME)[0].value == "kubernetes-admin"
    assert [a.value for a in admin.get_attributes_for_oid(NameOID.ORGANIZATION_NAME)] == ["system:masters"]
    scheduler = _cert(folder / "scheduler.crt").subject
    assert scheduler.get_attributes_for_oid(NameOID.COMMON_NAME)[0].value == "system:kube-scheduler"


def test_api_server_certificate_names_loopback_and_the_in_cluster_service(tmp_path):
    folder = pki.ensure_pki(tmp_path / "pki")
    names = _cert(folder / "apiserver.crt").extensions.get_extension_for_class(x509.SubjectAlternativeName).value
    assert ipaddress.ip_address("127.0.0.1") in names.get_values_for_type(x509.IPAddress)
    assert ipaddress.ip_address(pki.SERVICE_IP) in names.get_values_for_type(x509.IPAddress)
    assert "kubernetes.default.svc.cluster.local" in names.get_values_for_type(x509.DNSName)


def test_keys_are_owner_only_and_kept_across_restarts(tmp_path):
    folder = pki.ensure_pki(tmp_path / "pki")
    ca = (folder / "ca.crt").read_bytes()
    assert (folder / "ca.key").stat().st_mode & 0o077 == 0
    assert (folder / "sa.key").stat().st_mode & 0o077 == 0
    pki.ensure_pki(folder)
    assert (folder / "ca.crt").read_bytes() == ca


def _claim(**annotations):
    return {
        "metadata": {"name": "data", "namespace": "t", "uid": "u-1", "annotations": annotations},
        "spec": {"accessModes": ["ReadWriteOnce"], "resources": {"requests": {"storage": "1Gi"}}},
        "status": {"phase": "Pending"},
    }


def test_provisioner_waits_for_the_scheduler_to_pick_a_node(tmp_path):
    claim = _claim(**{"volume.kubernetes.io/storage-provisioner": provisioner.PROVISIONER})
    assert provisioner.volume_for(claim, tmp_path) is None


def test_provisioner_ignores_claims_of_other_provisioners(tmp_path):
    claim = _claim(**{"volume.kubernetes.io/storage-provisioner": "ebs.csi.aws.com", provisioner.SELECTED_NODE: "n"})
    assert provisioner.volume_for(claim, tmp_path) is None


def test_provisioner_creates_a_volume_bound_to_the_claim_on_the_selected_node(tmp_path):
    claim = _claim(
        **{"volume.kubernetes.io/storage-provisioner": provisioner.PROVISIONER, provisioner.SELECTED_NODE: "n1"}
    )
    volume = provisioner.volume_for(claim, tmp_path)
    assert volume["spec"]["claimRef"] == {"namespace": "t", "name": "data", "uid": "u-1"}
    assert volume["spec"]["capacity"] == {"storage": "1Gi"}
    terms = volume["spec"]["nodeAffinity"]["required"]["nodeSelectorTerms"]
    assert terms[0]["matchExpressions"][0]["values"] == ["n1"]
    assert volume["spec"]["persistentVolumeReclaimPolicy"] == "Delete"


def test_only_released_volumes_of_ours_are_deleted():
    ours = {"metadata": {"annotations": {"pv.kubernetes.io/provisioned-by": provisioner.PROVISIONER}}}
    assert provisioner.released({**ours, "status": {"phase": "Released"}})
    assert not provisioner.released({**ours, "status": {"phase": "Bound"}})
    assert not provisioner.released({"metadata": {}, "status": {"phase": "Released"}})


def test_fake_node_is_labelled_like_kinds_node_and_managed_by_kwok():
    node = sim.fake_node(sim.NodeSize(cpus=8, memory_bytes=16 * 2**30), disk_bytes=100 * 2**30)
    assert node["metadata"]["name"] == "mlops-control-plane"
    assert node["metadata"]["annotations"]["kwok.x-k8s.io/node"] == "fake"
    assert "node-role.kubernetes.io/control-plane" in node["metadata"]["labels"]
    assert node["status"]["capacity"]["cpu"] == "8"
    assert node["status"]["capacity"]["memory"] == str(16 * 2**30)


def test_fake_node_leaves_for_the_platform_what_kinds_own_pods_leave():
    node = sim.fake_node(sim.NodeSize(cpus=4, memory_bytes=8 * 2**30), disk_bytes=2**30)
    assert node["status"]["allocatable"]["cpu"] == "3050m"  # kube-apiserver, controllers, etcd, CoreDNS, kindnet
    assert node["status"]["allocatable"]["memory"] == str(8 * 2**30 - 290 * 2**20)


def test_api_server_gets_kinds_authorization_and_admission_flags(tmp_path):
    flags = sim.api_server_args(sim.SimLayout(tmp_path), 6443, 2379)
    assert "--authorization-mode=Node,RBAC" in flags
    assert "--enable-admission-plugins=NodeRestriction" in flags
    assert "--bind-address=127.0.0.1" in flags
    assert not any("--disable-admission-plugins" in flag for flag in flags)

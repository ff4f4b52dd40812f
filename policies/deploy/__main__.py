"""The pack's entry point, run by the Pulumi CLI (`pulumi preview --policy-pack policies/deploy`).

Constructing `PolicyPack` starts the analyzer's gRPC server and never returns, so this file holds
that one call and nothing else: the policies are built in `policies/deploy/pack.py`, which tests
and `mlplat policy check` import without starting a server.
"""

from pulumi_policy import PolicyPack

from policies.deploy.pack import PACK_NAME, POLICIES

PolicyPack(name=PACK_NAME, policies=POLICIES)

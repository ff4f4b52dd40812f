"""What the parts of a split component share: child options that keep each resource's history.

A component that grew too long is split into sub-components (Monitoring into Prometheus, Alertmanager,
Pushgateway, kube-state-metrics and Grafana; the registry into its database, server and backups). Their
resources used to be children of the bigger component itself, and Pulumi names a resource by its URN,
which includes the types of its parents: moved under a new parent without more ado, every one of them
would be deleted and created again on the next `pulumi up` of an existing stack, the registry's database
volume among them.

`SubComponent.child()` gives each child the options that prevent that: parented to the part, depending on what
the part depends on, and aliased to the URN it had directly under the former parent, so Pulumi matches
the old resource and updates it in place (https://www.pulumi.com/docs/iac/concepts/options/aliases/).
"""

from __future__ import annotations

import pulumi

__all__ = ["SubComponent"]


class SubComponent(pulumi.ComponentResource):
    """A sub-component whose children were created under its parent before the split."""

    def __init__(self, type_: str, name: str, opts: pulumi.ResourceOptions | None = None):
        super().__init__(type_, name, None, opts)
        self._former_parent = opts.parent if opts is not None else None
        self._depends_on = list(opts.depends_on or []) if opts is not None else []

    def child(self, *, former_name: str | None = None, **options) -> pulumi.ResourceOptions:
        """Options for a child; `former_name` when the child was also renamed in the split."""
        aliases = []
        if self._former_parent is not None:
            former = {"name": former_name} if former_name else {}  # unset fields mean "as it is now"
            aliases.append(pulumi.Alias(parent=self._former_parent, **former))
        depends_on = [*self._depends_on, *options.pop("depends_on", [])]
        return pulumi.ResourceOptions(parent=self, depends_on=depends_on, aliases=aliases, **options)

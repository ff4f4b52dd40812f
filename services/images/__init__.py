"""Container images built on this machine, from the Go module proxy and Debian only (no image registry).

`node` builds the kind node image the cluster runs on (ADR 0019).
"""

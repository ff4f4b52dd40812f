"""The engine test layer's machinery: the pinned toolchain built from source and the `sim` target.

`toolchain` builds the binaries named in `infra/toolchain.toml` with `go build` from the Go module
proxy; `pki` and `sim` start a container-less Kubernetes control plane (etcd, kube-apiserver,
controller manager, scheduler, kwok) on loopback. See docs/engine.md and ADR 0008.
"""

"""Every image the platform deploys, built here from source or from Debian's packages (docs/air-gapped.md)."""

"""Every image the platform needs, built here from Go modules and Debian's packages (docs/air-gapped.md).

catalog.py lists them with their provenance; programs.py and go_program.py build the Go programs;
rootfs.py makes the debootstrap bases; build.py builds the images in dependency order, cached by their
inputs; mirror.py is the rule for references under a mirror; registry.py runs the local registry;
trust.py carries a build's extra CA. `mlplat images list|build` (services/cli/images_cmd.py) is the shell.
node.py and its node_*.py parts build the kind node image the cluster runs on (docs/kind-node.md).
"""

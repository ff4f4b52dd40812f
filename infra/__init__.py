"""HOW the platform lands on Kubernetes: the Pulumi program and its ComponentResources.

`infra/__main__.py` is the program Pulumi runs; `infra/platform.py` composes the components under
`infra/components/`, one module per concept. `infra/render.py` runs the same program under Pulumi's
mocks and captures every object as a plain manifest, for the tests and for `make render`.
"""

"""What runs: the model server, the promotion gate, the standalone supervisor and the `mlplat` CLI.

Nothing in this package imports Pulumi at module level: commands that deploy (render, up) import
`infra` lazily, so the services run in an image that has no Pulumi installed.
"""

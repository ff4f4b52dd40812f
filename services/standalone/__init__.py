"""Standalone: the platform's services as local processes, no Docker and no cluster.

`plan.py` decides WHAT to start (pure: a blueprint in, a list of process specs out);
`supervisor.py` starts them, health-checks them, and stops them all on Ctrl-C or SIGTERM.
"""

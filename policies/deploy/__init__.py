"""The deploy-time gate: a Pulumi CrossGuard policy pack over the program's Kubernetes objects.

`rules.py` and `stack_rules.py` hold the rules as pure functions, `pack.py` wraps them as
CrossGuard policies, `check.py` runs them outside Pulumi, and `__main__.py` is the pack's entry
point (`pulumi preview --policy-pack policies/deploy`). See docs/policies.md.
"""

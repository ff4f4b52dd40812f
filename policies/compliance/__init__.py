"""Compliance controls as Rego (run by Open Policy Agent) and their catalogue (controls.py). ADR 0024."""

"""Blueprints: typed platform specs (YAML), their schema and their loader."""

from blueprints.loader import SHIPPED, BlueprintError, load, load_text, resolve, shipped_blueprints
from blueprints.schema import Blueprint, Model, Platform, Tenant

__all__ = [
    "SHIPPED",
    "Blueprint",
    "BlueprintError",
    "Model",
    "Platform",
    "Tenant",
    "load",
    "load_text",
    "resolve",
    "shipped_blueprints",
]

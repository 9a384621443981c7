"""Perception modules by name, so that a checkpoint can name the perception its agent was trained with.

A module that can travel with an agent has a class attribute ``name`` and a ``spec()`` method
returning ``{"name": ..., "config": {...}}``; :func:`make_perception` rebuilds it from that spec.
Modules are imported on first use.
"""

import importlib
from typing import Any

from envs.errors import ConfigError

PERCEPTIONS: dict[str, str] = {
    "identity": "perception.identity:Identity",
    "select_keys": "perception.identity:SelectKeys",
    "point_cloud": "perception.pointcloud:CloudPipeline",
    "pointnet": "perception.pointnet_perception:PointNetPerception",
    "keypoints": "perception.keypoints:KeypointPerception",
    "detector": "perception.detector:DetectorPerception",
    "compose": "perception.compose:Compose",
}


def make_perception(spec: dict[str, Any] | None) -> Any:
    """Build the module ``spec`` names (``{"name": ..., "config": {...}}`` or a flat Hydra node)."""
    spec = dict(spec or {"name": "identity"})
    name = spec.pop("name", None)
    config = spec.pop("config", None) or spec  # a Hydra group gives the options beside the name
    if name not in PERCEPTIONS:
        raise ConfigError(f"unknown perception {name!r}; known: {sorted(PERCEPTIONS)}")
    module, cls = PERCEPTIONS[name].split(":")
    try:
        return getattr(importlib.import_module(module), cls)(**config)
    except TypeError as e:
        raise ConfigError(f"perception {name!r} does not take options {sorted(config)}: {e}") from e


def perception_spec(module: Any) -> dict[str, Any]:
    """The spec that rebuilds ``module``; modules without one cannot be saved with an agent."""
    if module is None:
        return {"name": "identity", "config": {}}
    spec = getattr(module, "spec", None)
    if spec is None or getattr(module, "name", None) not in PERCEPTIONS:
        raise ConfigError(
            f"{type(module).__name__} cannot be saved with an agent: give it a `name` registered in "
            f"perception.registry.PERCEPTIONS and a spec() method (known: {sorted(PERCEPTIONS)})")
    return spec()

"""Methods by name: each is imported only when asked for, and a miss lists the known names."""

import dataclasses
import importlib
from pathlib import Path
from typing import Any

from agents.checkpoint import CheckpointError, load_checkpoint
from agents.learner import SOURCES, Learner
from agents.meta import AgentMeta
from envs.errors import ConfigError

# name -> "module:Class" of a Learner subclass. Add a method here and in configs/agent/<name>.yaml.
METHODS: dict[str, str] = {
    "bc": "agents.bc.agent:BCAgent",
    "dagger": "agents.dagger:DAggerAgent",
    "diffusion": "agents.diffusion.agent:DiffusionAgent",
    "dqn": "agents.rl.agent:DQNAgent",
    "ibc": "agents.ibc.agent:IBCAgent",
    "knn": "agents.knn:KNNAgent",
    "mpc": "world_models.agent:MPCAgent",
    "ppo": "agents.rl.agent:PPOAgent",
    "random_search": "agents.random_search:RandomSearchAgent",
    "sac": "agents.rl.agent:SACAgent",
}


def find_method(name: str) -> type[Learner]:
    """The Learner class registered under ``name``."""
    if name not in METHODS:
        raise ConfigError(f"unknown agent {name!r}; known agents: {sorted(METHODS)}")
    module, cls_name = METHODS[name].split(":")
    cls = getattr(importlib.import_module(module), cls_name)
    if not set(cls.sources) <= set(SOURCES) or not cls.sources:
        raise ConfigError(f"{cls.__name__}.sources must name some of {SOURCES}, got {cls.sources}")
    return cls


def make_config(name: str, values: dict[str, Any]) -> Any:
    """Typed, validated config for method ``name`` from plain values (e.g. a Hydra group)."""
    cls = find_method(name).config_class
    valid = {f.name for f in dataclasses.fields(cls)}
    unknown = sorted(set(values) - valid)
    if unknown:
        raise ConfigError(f"agent {name!r} has no options {unknown}; valid options: {sorted(valid)}")
    return cls(**values)


def load_agent(path: str | Path | bytes) -> Learner:
    """Rebuild a trained agent from its checkpoint (a file or its bytes), whatever its method."""
    ckpt = load_checkpoint(path)
    return agent_from_checkpoint(ckpt, path if not isinstance(path, bytes) else "<checkpoint bytes>")


def agent_from_checkpoint(ckpt: dict[str, Any], path: str | Path = "<checkpoint>") -> Learner:
    """A fresh agent from a checkpoint already read by :func:`load_checkpoint`."""
    try:
        meta = AgentMeta.from_dict(ckpt["meta"])
    except (KeyError, TypeError) as e:
        raise CheckpointError(f"{path}: its metadata is incomplete or malformed ({e})") from e
    return find_method(meta.method).from_state(make_config(meta.method, ckpt["config"]), meta,
                                               ckpt["state"])

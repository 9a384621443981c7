"""Find agents by name: typed configs, trainers and checkpoint loaders for each method."""

import dataclasses
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from agents.bc import BCAgent, BCConfig, train_bc
from agents.checkpoint import load_checkpoint
from envs.errors import ConfigError


@dataclass(frozen=True)
class AgentSpec:
    """What the scripts need to build, train and reload one method."""

    config: type
    train: Callable[..., Any]  # (dataset, config, *, log, progress) -> agent with .save()
    from_checkpoint: Callable[[dict], Any]


AGENTS: dict[str, AgentSpec] = {
    "bc": AgentSpec(BCConfig, train_bc, BCAgent.from_checkpoint),
}


def agent_spec(name: str) -> AgentSpec:
    """The spec registered under ``name``; the error lists the known names."""
    if name not in AGENTS:
        raise ConfigError(f"unknown agent {name!r}; known agents: {sorted(AGENTS)}")
    return AGENTS[name]


def make_config(name: str, values: dict[str, Any]) -> Any:
    """Typed, validated config for agent ``name`` from plain values (e.g. a Hydra group)."""
    cls = agent_spec(name).config
    valid = {f.name for f in dataclasses.fields(cls)}
    unknown = sorted(set(values) - valid)
    if unknown:
        raise ConfigError(
            f"agent {name!r} has no options {unknown}; valid options: {sorted(valid)}")
    return cls(**values)


def load_agent(path: str | Path) -> Any:
    """Rebuild a trained agent from its checkpoint, whatever its method."""
    ckpt = load_checkpoint(path)
    return agent_spec(ckpt["agent"]).from_checkpoint(ckpt)

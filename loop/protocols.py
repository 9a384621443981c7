"""What the loop calls and what it hands out: the Agent and Perception protocols, Step, EpisodeResult.

Agents and perception implement the protocols structurally; the loop never imports a concrete
agent. Features are whatever perception hands the agent: the raw observation (a numpy array or a
dict of them) by default, or a model's output, which may stay a torch tensor inside a torch
pipeline. Actions leave the agent as numpy: (Da,) float32 in [-1, 1] for a Box action space, an
integer for a Discrete one.
"""

from dataclasses import dataclass
from typing import Any, Protocol, runtime_checkable

import numpy as np

Features = Any  # np.ndarray | dict[str, np.ndarray] | a model's tensors: whatever perception returns


@runtime_checkable
class Agent(Protocol):
    """Anything that maps features to one action per step. May keep internal state (chunks).

    The loop calls ``act`` exactly once per env step; an agent that predicts chunks of actions
    queues them itself and clears the queue in ``reset``.
    """

    def reset(self) -> None:
        """Clear per-episode state (queued action chunks, observation history)."""

    def act(self, features: Features) -> np.ndarray:
        """One action for the current step."""


@runtime_checkable
class Perception(Protocol):
    """Turns a raw observation into features; stateful models reset per episode."""

    def reset(self) -> None:
        """Clear per-episode state."""

    def __call__(self, obs: Any) -> Features:
        """Raw observation (array or dict) -> features for the agent."""


@dataclass
class Step:
    """One transition as the callbacks see it. ``obs`` is the observation the action was chosen on."""

    t: int
    obs: Any
    features: Any
    action: Any
    reward: float
    next_obs: Any
    terminated: bool
    truncated: bool
    info: dict


@dataclass
class EpisodeResult:
    """What an episode amounted to."""

    seed: int | None
    episode_return: float
    length: int
    success: bool
    terminated: bool
    truncated: bool
    reason: str | None  # "success", "time_limit", a task failure or a physics instability


class Callback:
    """Hooks around the loop. Subclass and override what you need; all default to no-ops."""

    def on_reset(self, obs: Any, info: dict, seed: int | None) -> None:
        """Called after ``env.reset``."""

    def on_step(self, step: Step) -> None:
        """Called after every ``env.step``."""

    def on_episode_end(self, result: EpisodeResult) -> None:
        """Called once the episode terminated or was truncated."""

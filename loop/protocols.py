"""The small protocols the loop calls. Agents and perception implement them structurally.

Features are what perception hands the agent: a numpy array or a dict of numpy arrays. Actions are
numpy arrays of shape (Da,) in the env's normalized action space. Numpy outside, tensors inside.
"""

from typing import TYPE_CHECKING, Any, Protocol, runtime_checkable

import numpy as np

if TYPE_CHECKING:
    from loop.rollout import EpisodeResult, Step

Features = np.ndarray | dict[str, np.ndarray]


@runtime_checkable
class Agent(Protocol):
    """Anything that maps features to one action per step. May keep internal state (chunks)."""

    def reset(self) -> None:
        """Clear per-episode state (queued action chunks, observation history)."""

    def act(self, features: Features) -> np.ndarray:
        """One action (Da,) for the current step."""


@runtime_checkable
class Perception(Protocol):
    """Turns a raw observation into features; stateful models reset per episode."""

    def reset(self) -> None:
        """Clear per-episode state."""

    def __call__(self, obs: Any) -> Features:
        """Raw observation (array or dict) -> features for the agent."""


class Callback:
    """Hooks around the loop. Subclass and override what you need; all default to no-ops."""

    def on_reset(self, obs: Any, info: dict, seed: int | None) -> None:
        """Called after ``env.reset``."""

    def on_step(self, step: "Step") -> None:
        """Called after every ``env.step``."""

    def on_episode_end(self, result: "EpisodeResult") -> None:
        """Called once the episode terminated or was truncated."""

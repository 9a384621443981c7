"""In-memory episode containers: `Episode` (arrays of one rollout) and `EpisodeMeta` (its line)."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import numpy as np

__all__ = ["Episode", "EpisodeMeta"]


@dataclass
class Episode:
    """One recorded episode; T steps.

    observations[key] is (T, ...): the observation BEFORE each action; actions is (T, Da) float32;
    rewards is (T,) float32 (reward received for each action). `seed` is the env reset seed, so
    ``gymnasium.make(env_id, **env_kwargs).reset(seed=seed)`` recreates the initial state.
    """

    seed: int
    observations: dict[str, np.ndarray]
    actions: np.ndarray
    rewards: np.ndarray
    success: bool
    terminated: bool = False
    truncated: bool = False
    extra: dict[str, Any] = field(default_factory=dict)

    @property
    def length(self) -> int:
        """Number of steps T (leading dim of actions)."""
        return int(np.shape(self.actions)[0])

    @property
    def episode_return(self) -> float:
        """Undiscounted return: sum of rewards, accumulated in float64."""
        return float(np.sum(self.rewards, dtype=np.float64))


@dataclass(frozen=True)
class EpisodeMeta:
    """Metadata of one committed episode (one line of meta/episodes.jsonl)."""

    index: int
    seed: int
    length: int
    success: bool
    episode_return: float
    terminated: bool
    truncated: bool
    extra: dict[str, Any]

    def to_json_dict(self) -> dict[str, Any]:
        """The episodes.jsonl line for this episode (field names as stored on disk)."""
        return {
            "episode_index": self.index,
            "seed": self.seed,
            "length": self.length,
            "success": self.success,
            "return": self.episode_return,
            "terminated": self.terminated,
            "truncated": self.truncated,
            "extra": self.extra,
        }

"""A scripted stand-in for a person in HG-DAgger: an expert that takes over when the learner strays.

It compares the learner's proposal with its own action each step: beyond ``threshold`` (L2, in
normalized action units) it takes over, and it hands back once the learner's proposals come
within ``release`` of its own again (hysteresis, so take-overs are segments as a person's are).
"""

import numpy as np

from envs.errors import ConfigError
from loop.protocols import Agent, Features


class ExpertGate:
    """Supervisor protocol over an expert Agent; ``engaged`` tells whether it drives now."""

    def __init__(self, expert: Agent, threshold: float = 0.5, release: float = 0.2) -> None:
        if not 0 <= release <= threshold:
            raise ConfigError(f"the gate needs 0 <= release <= threshold, got release={release}, "
                              f"threshold={threshold}")
        self.expert, self.threshold, self.release = expert, threshold, release
        self.engaged = False

    def reset(self) -> None:
        """Episode start: the learner drives."""
        self.expert.reset()
        self.engaged = False

    def intervene(self, obs: Features, proposed: np.ndarray) -> np.ndarray | None:
        """The expert's action while it has taken over, else None."""
        action = np.asarray(self.expert.act(obs), dtype=np.float32)
        gap = float(np.linalg.norm(action - np.asarray(proposed, dtype=np.float32)))
        self.engaged = gap > self.threshold or (self.engaged and gap > self.release)
        return action if self.engaged else None

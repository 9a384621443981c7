"""Action-noise injection (DART, Laskey et al. 2017) for collecting demonstrations that show recovery.

The executed action is the wrapped agent's plus Gaussian noise; recording the clean expert action
as the label (``EpisodeRecorder(relabel=expert)``) teaches a cloned policy to return to the expert's
path from the states that its own errors will lead it to.
"""

import numpy as np

from loop.protocols import Agent, Features


class NoisyAgent:
    """``clip(agent.act(x) + N(0, std^2), -1, 1)``; the generator is seeded once, at construction."""

    def __init__(self, agent: Agent, std: float, seed: int = 0) -> None:
        if std < 0:
            raise ValueError(f"noise std must be >= 0, got {std}")
        self.agent, self.std = agent, std
        self.rng = np.random.default_rng(seed)

    def reset(self) -> None:
        """Reset the wrapped agent."""
        self.agent.reset()

    def act(self, features: Features) -> np.ndarray:
        """Noisy action (Da,) float32 in [-1, 1]."""
        action = self.agent.act(features)
        if self.std and np.issubdtype(np.asarray(action).dtype, np.integer):
            raise TypeError(
                f"Gaussian action noise needs continuous actions, but the agent returned the discrete "
                f"action {action!r}; collect discrete tasks (e.g. CartPole) with action_noise=0")
        noise = self.rng.normal(0.0, self.std, size=np.shape(action))
        return np.clip(action + noise, -1.0, 1.0).astype(np.float32)

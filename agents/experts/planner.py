"""A planning expert for any task: model-predictive control on the simulator itself.

Before each action it snapshots the env (``get_state``), tries candidate action sequences on it
with the cross-entropy method (continuous actions: a Gaussian refit to the best sequences;
discrete: per-step categorical frequencies), restores the snapshot, and returns the first action
of the best plan; the rest seeds the next step's search. It needs the env it is acting in (a
simulator, not a real robot) and no task knowledge beyond the reward, so it labels any task with
a dense reward, slowly: ``samples * horizon * iterations`` simulated steps per action.
"""

from typing import Any

import gymnasium as gym
import numpy as np

from envs.errors import ConfigError
from loop.protocols import Features


class SimPlanner:
    """CEM over action sequences, simulated on ``env`` and restored after each search."""

    def __init__(self, env: gym.Env, *, horizon: int = 8, samples: int = 32, iterations: int = 2,
                 elites: int = 4, std: float = 0.5, seed: int = 0) -> None:
        if min(horizon, samples, iterations, elites) < 1 or elites > samples:
            raise ConfigError(f"the planner needs horizon, samples, iterations, elites >= 1 and elites <= "
                              f"samples; got {horizon}, {samples}, {iterations}, {elites}")
        self.sim = env.unwrapped
        if not (hasattr(self.sim, "get_state") and hasattr(self.sim, "set_state")):
            raise ConfigError(f"the planner expert simulates candidate actions, so the env must offer "
                              f"get_state/set_state (roboloop tasks do); {type(self.sim).__name__} does not")
        self.space = env.action_space
        self.discrete = isinstance(self.space, gym.spaces.Discrete)
        if not self.discrete and not isinstance(self.space, gym.spaces.Box):
            raise ConfigError(f"the planner handles Box and Discrete actions, got {self.space}")
        self.horizon, self.samples, self.iterations, self.elites, self.std = horizon, samples, iterations, \
            elites, std
        self.rng = np.random.default_rng(seed)
        self.plan: np.ndarray | None = None

    def reset(self) -> None:
        """Forget the previous plan."""
        self.plan = None

    def act(self, features: Features) -> Any:
        """The first action of the best plan found from the env's current state."""
        start = self.sim.get_state()
        try:
            plan = self._search(start)
        finally:
            self.sim.set_state(start)
        self.plan = np.concatenate([plan[1:], plan[-1:]])  # warm start: shifted by one step
        return np.int64(plan[0]) if self.discrete else plan[0].astype(np.float32)

    def _search(self, start: Any) -> np.ndarray:
        if self.discrete:
            n = int(self.space.n)
            probs = np.full((self.horizon, n), 1.0 / n)
            if self.plan is not None:
                probs = 0.5 * probs + 0.5 * np.eye(n)[self.plan.astype(int)]
        else:
            dim = self.space.shape[0]
            mean = np.zeros((self.horizon, dim)) if self.plan is None else self.plan.copy()
            std = np.full((self.horizon, dim), self.std)
        best, best_return = None, -np.inf
        for _ in range(self.iterations):
            if self.discrete:
                seqs = np.stack([[self.rng.choice(n, p=p) for p in probs] for _ in range(self.samples)])
            else:
                seqs = np.clip(mean + std * self.rng.standard_normal((self.samples, *mean.shape)),
                               self.space.low, self.space.high)
            returns = np.array([self._rollout(start, seq) for seq in seqs])
            top = seqs[np.argsort(returns)[-self.elites:]]
            if returns.max() > best_return:
                best, best_return = seqs[returns.argmax()], returns.max()
            if self.discrete:
                probs = np.stack([np.bincount(top[:, t].astype(int), minlength=n) for t in
                                  range(self.horizon)]) / self.elites
                probs = 0.9 * probs + 0.1 / n  # never rule an action out entirely
            else:
                mean, std = top.mean(axis=0), top.std(axis=0) + 1e-3
        return best

    def _rollout(self, start: Any, seq: np.ndarray) -> float:
        """The return of ``seq`` from ``start`` (stopping where the episode would end)."""
        self.sim.set_state(start)
        total = 0.0
        for a in seq:
            action = np.int64(a) if self.discrete else a.astype(np.float32)
            _, reward, terminated, truncated, _ = self.sim.step(action)
            total += float(reward)
            if terminated or truncated:
                break
        return total

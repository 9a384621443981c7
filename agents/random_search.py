"""Augmented random search over linear policies: an online learner that only needs rollouts.

ARS V2-t (Mania, Guy & Recht 2018): perturb the linear policy's matrix M along random
directions d, roll out M + nu*d and M - nu*d from the same seed, and step along the best
directions' return differences, scaled by their spread. Observations are normalized with running
statistics of every state visited. Continuous actions are ``clip(M x, -1, 1)``; discrete ones
``argmax(M x)``. Every rollout runs through the shared loop on a training seed.
"""

from dataclasses import dataclass, field
from typing import Any

import numpy as np
import torch
from tqdm.auto import tqdm

from agents.features import flatten_features
from agents.learner import Learner, TrainingSource
from agents.meta import AgentMeta
from agents.spaces import is_discrete, space_from_dict
from envs.errors import ConfigError
from loop.protocols import Features
from loop.rollout import rollout


@dataclass
class RandomSearchConfig:
    """Options of augmented random search (Hydra group ``agent: random_search``)."""

    obs_keys: list[str] = field(default_factory=lambda: ["state"])  # observation keys, concatenated
    iterations: int = 30  # policy updates
    directions: int = 8  # random directions per update, each tried with + and -
    top: int = 4  # best directions (by max(r+, r-)) that enter the update
    step_size: float = 0.02  # alpha
    noise: float = 0.03  # nu: the perturbations' scale
    horizon: int | None = None  # training episodes' length (None: the env's own)
    seed: int = 0  # directions' random generator

    def __post_init__(self) -> None:
        """Validate values so a bad config fails before any work is done."""
        for name in ("iterations", "directions", "top"):
            if getattr(self, name) < 1:
                raise ConfigError(f"RandomSearchConfig.{name} must be >= 1, got {getattr(self, name)}")
        if self.top > self.directions:
            raise ConfigError(f"RandomSearchConfig.top ({self.top}) cannot exceed directions "
                              f"({self.directions})")
        if self.step_size <= 0 or self.noise <= 0:
            raise ConfigError(f"step_size and noise must be > 0, got {self.step_size}, {self.noise}")


class LinearPolicy:
    """``M (x - mean) / std`` on flattened features; records what it sees when ``visited`` is a list."""

    def __init__(self, matrix: np.ndarray, mean: np.ndarray, std: np.ndarray, obs_keys: list[str],
                 discrete: bool, visited: list | None = None) -> None:
        self.matrix, self.mean, self.std, self.obs_keys = matrix, mean, std, obs_keys
        self.discrete, self.visited = discrete, visited

    def reset(self) -> None:
        """Memoryless."""

    def act(self, features: Features) -> np.ndarray:
        """An action index (discrete) or a clipped action (Da,)."""
        x = flatten_features(features, self.obs_keys)
        if self.visited is not None:
            self.visited.append(x)
        out = self.matrix @ ((x - self.mean) / self.std)
        if self.discrete:
            return np.int64(out.argmax())
        return np.clip(out, -1.0, 1.0).astype(np.float32)


class RunningStats:
    """Mean and standard deviation of every vector seen so far (Chan et al.'s parallel update)."""

    def __init__(self, dim: int) -> None:
        self.n, self.mean, self.m2 = 0, np.zeros(dim), np.zeros(dim)

    def update(self, rows: np.ndarray) -> None:
        """Fold in a batch (B, dim)."""
        n, mean = len(rows), rows.mean(axis=0)
        delta, total = mean - self.mean, self.n + n
        self.m2 += ((rows - mean) ** 2).sum(axis=0) + delta ** 2 * self.n * n / total
        self.mean, self.n = self.mean + delta * n / total, total

    @property
    def std(self) -> np.ndarray:
        """Standard deviation, floored so constant dimensions stay finite."""
        return np.maximum(np.sqrt(self.m2 / max(self.n, 1)), 1e-2)


class RandomSearchAgent(Learner):
    """A linear policy found by augmented random search in the env itself."""

    method = "random_search"
    config_class = RandomSearchConfig
    sources = ("env",)

    def __init__(self, config: RandomSearchConfig, meta: AgentMeta, policy: LinearPolicy) -> None:
        super().__init__(config, meta)
        self.policy = policy

    @classmethod
    def fit(cls, config: RandomSearchConfig, source: TrainingSource) -> "RandomSearchAgent":
        """Run ``iterations`` ARS updates; every episode uses the next training seed."""
        env = source.make_env(**({"horizon": config.horizon} if config.horizon else {}))
        action_space = env.action_space
        discrete = is_discrete(action_space)
        out_dim = int(action_space.n) if discrete else int(np.prod(action_space.shape))
        obs, _ = env.reset(seed=source.seeds[0])
        features = obs if source.perception is None else source.perception(obs)
        dim = flatten_features(features, config.obs_keys).shape[0]
        rng, stats, matrix = np.random.default_rng(config.seed), RunningStats(dim), np.zeros((out_dim, dim))
        seeds = iter(source.seeds)
        bar = tqdm(range(config.iterations), desc="random search", disable=not source.progress)
        try:
            for it in bar:
                matrix, returns = cls._update(config, env, source, matrix, stats, rng, seeds, discrete)
                bar.set_postfix(mean_return=f"{returns.mean():.1f}")
                source.log(it, {"return_mean": float(returns.mean()), "return_max": float(returns.max())})
        finally:
            env.close()
        used = next(seeds) - source.seeds[0]
        meta = source.meta(cls.method, cls.training_kind(), [(source.seeds[0], source.seeds[0] + used)],
                           seeds=used, episodes=2 * used, iterations=config.iterations)
        return cls(config, meta, LinearPolicy(matrix, stats.mean, stats.std, config.obs_keys, discrete))

    @staticmethod
    def _update(cfg: RandomSearchConfig, env: Any, source: TrainingSource, matrix: np.ndarray,
                stats: RunningStats, rng: np.random.Generator, seeds: Any,
                discrete: bool) -> tuple[np.ndarray, np.ndarray]:
        """One ARS step: returns the new matrix and the (directions, 2) returns it saw."""
        deltas = rng.standard_normal((cfg.directions, *matrix.shape))
        returns, visited = np.zeros((cfg.directions, 2)), []
        mean, std = stats.mean.copy(), stats.std  # frozen during the iteration (ARS V2)
        for i, delta in enumerate(deltas):
            seed = next(seeds)  # + and - share a seed: their difference measures the direction
            for j, sign in enumerate((1.0, -1.0)):
                policy = LinearPolicy(matrix + sign * cfg.noise * delta, mean, std, cfg.obs_keys,
                                      discrete, visited)
                returns[i, j] = rollout(env, policy, seed=seed, perception=source.perception).episode_return
        best = np.argsort(returns.max(axis=1))[-cfg.top:]
        spread = returns[best].std() or 1.0
        step = np.einsum("k,kij->ij", returns[best, 0] - returns[best, 1], deltas[best])
        stats.update(np.stack(visited))
        return matrix + cfg.step_size / (cfg.top * spread) * step, returns

    def act(self, features: Features) -> np.ndarray:
        """The linear policy's action."""
        return self.policy.act(features)

    def state(self) -> dict[str, Any]:
        """The matrix and the observation statistics."""
        p = self.policy
        return {"matrix": torch.from_numpy(p.matrix), "mean": torch.from_numpy(p.mean),
                "std": torch.from_numpy(p.std)}

    @classmethod
    def from_state(cls, config: RandomSearchConfig, meta: AgentMeta,
                   state: dict[str, Any]) -> "RandomSearchAgent":
        """Rebuild from a checkpoint."""
        discrete = is_discrete(space_from_dict(meta.action_space))
        policy = LinearPolicy(state["matrix"].numpy(), state["mean"].numpy(), state["std"].numpy(),
                              config.obs_keys, discrete)
        return cls(config, meta, policy)

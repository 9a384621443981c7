"""Policy evaluation with honest statistics: success rate with a 95% Wilson interval."""

import math
from collections import Counter
from collections.abc import Sequence
from dataclasses import asdict, dataclass, field

import gymnasium as gym
import numpy as np

from envs.errors import ConfigError
from loop.protocols import Agent, Callback, EpisodeResult, Perception
from loop.rollout import run_episodes
from loop.seeds import EVAL_START_SEED, check_disjoint, evaluation_seeds

__all__ = ["EVAL_START_SEED", "EvalSummary", "check_disjoint", "evaluate", "evaluation_seeds",
           "wilson_interval"]

def wilson_interval(successes: int, n: int, z: float = 1.959964) -> tuple[float, float]:
    """95% Wilson score interval for a binomial proportion (well-behaved at 0% and 100%)."""
    if n <= 0:
        raise ConfigError(f"need at least one episode to compute an interval, got n={n}")
    p = successes / n
    denom = 1 + z * z / n
    centre = (p + z * z / (2 * n)) / denom
    half = z * math.sqrt(p * (1 - p) / n + z * z / (4 * n * n)) / denom
    return max(0.0, centre - half), min(1.0, centre + half)


def pooled_success(cells: Sequence[dict]) -> dict:
    """Success pooled over several policies' tests (``successes``, ``episodes`` each), Wilson 95% CI."""
    k, n = sum(c["successes"] for c in cells), sum(c["episodes"] for c in cells)
    return {"success_rate": k / n, "success_ci95": wilson_interval(k, n), "episodes": n}


@dataclass
class EvalSummary:
    """Aggregate of a set of evaluation episodes; ``to_dict`` is what ``metrics.json`` holds."""

    episodes: int
    success_rate: float
    success_ci95: tuple[float, float]
    mean_return: float
    std_return: float
    mean_length: float
    seeds: list[int]
    outcomes: dict[str, int]
    per_episode: list[dict] = field(repr=False)

    @classmethod
    def from_results(cls, results: Sequence[EpisodeResult]) -> "EvalSummary":
        """Summarize episode results (at least one)."""
        if not results:
            raise ConfigError("no episodes to summarize: evaluation needs at least one seed")
        successes = sum(r.success for r in results)
        returns = np.array([r.episode_return for r in results], dtype=float)
        return cls(
            episodes=len(results),
            success_rate=successes / len(results),
            success_ci95=wilson_interval(successes, len(results)),
            mean_return=float(returns.mean()),
            std_return=float(returns.std()),
            mean_length=float(np.mean([r.length for r in results])),
            seeds=[r.seed for r in results],
            outcomes=dict(Counter(r.reason for r in results)),
            per_episode=[asdict(r) for r in results],
        )

    def to_dict(self) -> dict:
        """JSON-ready dict."""
        return asdict(self)

    def headline(self) -> str:
        """One line for people: rate, interval, episodes."""
        lo, hi = self.success_ci95
        return (f"success {self.success_rate:.1%} (95% CI {lo:.1%}-{hi:.1%}) over "
                f"{self.episodes} episodes, mean return {self.mean_return:.2f}, "
                f"mean length {self.mean_length:.1f}")


def evaluate(
    env: gym.Env,
    agent: Agent,
    seeds: Sequence[int],
    *,
    perception: Perception | None = None,
    callbacks: Sequence[Callback] = (),
    progress: str | None = "evaluate",
) -> EvalSummary:
    """Run one episode per seed through the shared loop and summarize."""
    if not list(seeds):
        raise ConfigError("evaluate() got an empty list of seeds; pass at least one, e.g. "
                          "loop.evaluation.evaluation_seeds(50)")
    results = run_episodes(
        env, agent, seeds, perception=perception, callbacks=callbacks, progress=progress)
    return EvalSummary.from_results(results)

"""The one rollout loop: env -> perception -> agent -> env.step, with callbacks."""

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import Any

import gymnasium as gym
import numpy as np
from tqdm.auto import tqdm

from loop.protocols import Agent, Callback, Perception
from perception.identity import Identity


@dataclass
class Step:
    """One transition as the callbacks see it. ``obs`` is the observation the action was chosen on."""

    t: int
    obs: Any
    features: Any
    action: np.ndarray
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


def rollout(
    env: gym.Env,
    agent: Agent,
    *,
    seed: int | None = None,
    perception: Perception | None = None,
    callbacks: Sequence[Callback] = (),
) -> EpisodeResult:
    """Run one episode until it terminates or is truncated."""
    perception = perception or Identity()
    obs, info = env.reset(seed=seed)
    perception.reset()
    agent.reset()
    for cb in callbacks:
        cb.on_reset(obs, info, seed)
    total, t, done = 0.0, 0, False
    while not done:
        features = perception(obs)
        action = agent.act(features)
        next_obs, reward, terminated, truncated, info = env.step(action)
        step = Step(t, obs, features, action, float(reward), next_obs, terminated, truncated, info)
        for cb in callbacks:
            cb.on_step(step)
        total, t, obs = total + float(reward), t + 1, next_obs
        done = terminated or truncated
    success = bool(info.get("is_success", False))
    result = EpisodeResult(seed, total, t, success, terminated, truncated, _reason(info, success))
    for cb in callbacks:
        cb.on_episode_end(result)
    return result


def run_episodes(
    env: gym.Env,
    agent: Agent,
    seeds: Iterable[int],
    *,
    perception: Perception | None = None,
    callbacks: Sequence[Callback] = (),
    progress: str | None = None,
) -> list[EpisodeResult]:
    """One :func:`rollout` per seed, with a progress bar labelled ``progress`` if given."""
    seeds = list(seeds)
    bar = tqdm(seeds, desc=progress, unit="ep", disable=progress is None, dynamic_ncols=True)
    results = []
    for seed in bar:
        results.append(rollout(env, agent, seed=seed, perception=perception, callbacks=callbacks))
        bar.set_postfix(success=f"{np.mean([r.success for r in results]):.2f}", refresh=False)
    return results


def _reason(info: dict, success: bool) -> str:
    if success:
        return "success"
    return info.get("instability") or info.get("failure") or "time_limit"

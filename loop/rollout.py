"""The one rollout loop: env -> perception -> agent -> env.step, with callbacks."""

from collections.abc import Iterable, Sequence
from typing import Any

import gymnasium as gym
import numpy as np
from tqdm.auto import tqdm

from envs.errors import RoboloopError
from loop.protocols import Agent, Callback, EpisodeResult, Perception, Step
from perception.identity import Identity


class MissingSuccessError(RoboloopError, KeyError):
    """An env ended an episode without saying whether it succeeded (``info["is_success"]``)."""


def rollout(
    env: gym.Env,
    agent: Agent,
    *,
    seed: int | None = None,
    perception: Perception | None = None,
    callbacks: Sequence[Callback] = (),
) -> EpisodeResult:
    """Run one episode until it terminates or is truncated; ``agent.act`` runs once per step."""
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
    success = _success(env, info)
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


def _success(env: gym.Env, info: dict[str, Any]) -> bool:
    if "is_success" not in info:
        name = env.spec.id if env.spec is not None else type(env.unwrapped).__name__
        raise MissingSuccessError(
            f"{name} ended an episode without info['is_success'], which roboloop's statistics "
            f"count (info had {sorted(info)}). Wrap it, e.g. envs.SuccessFromReturn(env, "
            "threshold=...) (success = episode return >= threshold), or report is_success in info")
    return bool(info["is_success"])


def _reason(info: dict, success: bool) -> str:
    if success:
        return "success"
    return info.get("instability") or info.get("failure") or "time_limit"

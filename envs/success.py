"""Give envs that have no notion of success one: success = episode return >= a threshold."""

from typing import Any

import gymnasium as gym

from envs.errors import EnvConfigError


class SuccessFromReturn(gym.Wrapper):
    """Adds ``info["is_success"]``: True once the episode's return reaches ``threshold``.

    ``threshold`` defaults to the env spec's ``reward_threshold`` (e.g. 475 for CartPole-v1).
    Every step reports it, so the last step of an episode says whether the episode succeeded. An
    env that reports ``is_success`` itself keeps its own.
    """

    def __init__(self, env: gym.Env, threshold: float | None = None) -> None:
        super().__init__(env)
        if threshold is None:
            threshold = env.spec.reward_threshold if env.spec is not None else None
        if threshold is None:
            raise EnvConfigError(
                f"{env} has no reward_threshold in its spec; pass SuccessFromReturn(env, threshold=...)")
        self.threshold, self._return = float(threshold), 0.0

    def reset(self, **kwargs: Any) -> tuple[Any, dict]:
        """Start counting the return anew."""
        obs, info = self.env.reset(**kwargs)
        self._return = 0.0
        return obs, {"is_success": False, **info}

    def step(self, action: Any) -> tuple[Any, Any, bool, bool, dict]:
        """Step and report whether the return so far reaches the threshold."""
        obs, reward, terminated, truncated, info = self.env.step(action)
        self._return += float(reward)
        if "is_success" not in info:
            info = {**info, "is_success": self._return >= self.threshold}
        return obs, reward, terminated, truncated, info

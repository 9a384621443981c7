"""Any perception module as a Gymnasium ``ObservationWrapper``: the env's observations become features.

For tools that take an env rather than the loop's ``perception=`` argument (SB3, other libraries).
The module is reset with the env; ``passthrough`` keys of the raw observation (e.g. the privileged
``state`` an expert labeller needs) are added beside the features.
"""

from collections.abc import Sequence
from typing import Any

import gymnasium as gym
from gymnasium import spaces

from envs.errors import ConfigError
from perception.identity import ObservationKeyError


class PerceptionWrapper(gym.ObservationWrapper):
    """``obs -> perception(obs)`` (plus ``passthrough`` raw keys) on every reset and step."""

    def __init__(self, env: gym.Env, perception: Any, passthrough: Sequence[str] = ()) -> None:
        super().__init__(env)
        self.perception, self.passthrough = perception, list(passthrough)
        make_space = getattr(perception, "observation_space", None)
        if make_space is None:
            raise ConfigError(f"{type(perception).__name__} cannot wrap an env: it has no "
                              "observation_space(env_space) method giving its feature space")
        check = getattr(perception, "check_image_size", None)
        if check is not None and hasattr(env.unwrapped, "image_size"):
            check(env.unwrapped.image_size)
        space = make_space(env.observation_space)
        raw = env.observation_space
        missing = [k for k in self.passthrough if not isinstance(raw, spaces.Dict) or k not in raw.spaces]
        if missing:
            raise ObservationKeyError(f"passthrough keys {missing} are not in the env's observations "
                                      f"{sorted(getattr(raw, 'spaces', {}))}; e.g. make the env with "
                                      "privileged_state=True for 'state'")
        self.observation_space = spaces.Dict({**space.spaces, **{k: raw[k] for k in self.passthrough}})

    def reset(self, **kwargs: Any) -> tuple[Any, dict]:
        """Reset the env and the perception module (a new episode)."""
        self.perception.reset()
        return super().reset(**kwargs)

    def observation(self, observation: Any) -> dict[str, Any]:
        """Features of one raw observation, with the passthrough keys."""
        features = dict(self.perception(observation))
        features.update({k: observation[k] for k in self.passthrough})
        return features

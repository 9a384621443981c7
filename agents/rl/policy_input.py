"""What an SB3 policy consumes, made from loop features the same way in training and in acting.

:class:`PolicyInput` selects the configured keys of a dict observation, puts images channel-first
(SB3's CNNs expect (C, H, W) uint8 and scale by 1/255 themselves) and stacks the last
``frame_stack`` observations (images along channels, vectors end to end). Training wraps each env
in :class:`PolicyInputEnv`; the trained agent feeds its features through the same object, so the
two paths cannot drift apart.
"""

from collections import deque
from typing import Any

import gymnasium as gym
import numpy as np
from gymnasium import spaces

from envs.errors import ConfigError
from loop.protocols import Features, Perception


def is_image(space: gym.Space) -> bool:
    """(H, W, C) uint8 boxes with 1 or 3 channels: what cameras give."""
    return (isinstance(space, spaces.Box) and space.dtype == np.uint8 and len(space.shape) == 3
            and space.shape[-1] in (1, 3))


class PolicyInput:
    """Features -> policy observation; stateful only through the frame stack (``reset``)."""

    def __init__(self, feature_space: gym.Space, obs_keys: list[str] | None, frame_stack: int) -> None:
        self.obs_keys, self.frame_stack = obs_keys, frame_stack
        if isinstance(feature_space, spaces.Dict):
            keys = list(feature_space.spaces) if obs_keys is None else list(obs_keys)
            missing = [k for k in keys if k not in feature_space.spaces]
            if missing:
                raise ConfigError(f"obs_keys {missing} are not in the observation, which has "
                                  f"{sorted(feature_space.spaces)}; pick from those (or change obs_mode)")
            parts = {k: feature_space[k] for k in keys}
        elif obs_keys is not None:
            raise ConfigError(f"obs_keys={obs_keys} select keys of a dict observation, but the env gives "
                              f"one array {feature_space}; make the env with a dict obs_mode (e.g. "
                              "'rgb') or drop obs_keys")
        else:
            parts = {None: feature_space}
        self._only = None
        if len(parts) == 1 and None not in parts:  # one key: the policy takes that array alone (a CNN)
            self._only = next(iter(parts))
            parts = {None: parts[self._only]}
        self.keys = list(parts)
        self._images = {k for k, s in parts.items() if is_image(s)}
        self.space = self._space(parts)
        self._frames: deque = deque(maxlen=frame_stack)

    def _space(self, parts: dict) -> gym.Space:
        out = {}
        for key, s in parts.items():
            if key in self._images:
                h, w, c = s.shape
                out[key] = spaces.Box(0, 255, (c * self.frame_stack, h, w), np.uint8)
            elif isinstance(s, spaces.Box):
                low = np.tile(np.broadcast_to(s.low, s.shape).reshape(-1), self.frame_stack)
                high = np.tile(np.broadcast_to(s.high, s.shape).reshape(-1), self.frame_stack)
                out[key] = spaces.Box(low.astype(np.float32), high.astype(np.float32), dtype=np.float32)
            else:
                raise ConfigError(f"the policy cannot take observation {key!r} of space {s}; SB3 "
                                  "policies take vectors and images")
        return out[None] if None in out else spaces.Dict(out)

    @property
    def has_images(self) -> bool:
        """True if any part is a camera image."""
        return bool(self._images)

    def reset(self) -> None:
        """Forget the frames of the last episode."""
        self._frames.clear()

    def __call__(self, features: Features) -> Any:
        """One policy observation from this step's features."""
        if self._only is not None:
            features = features[self._only]
        frame = {k: self._convert(k, features if k is None else features[k]) for k in self.keys}
        if not self._frames:  # the first frame of an episode fills the whole stack
            self._frames.extend([frame] * self.frame_stack)
        else:
            self._frames.append(frame)
        axis = {k: 0 if k in self._images else -1 for k in self.keys}
        out = {k: np.concatenate([f[k] for f in self._frames], axis=axis[k]) if self.frame_stack > 1
               else frame[k] for k in self.keys}
        return out[None] if None in out else out

    def _convert(self, key: str | None, value: Any) -> np.ndarray:
        if key in self._images:
            return np.ascontiguousarray(np.moveaxis(np.asarray(value), -1, 0))
        return np.asarray(value, np.float32).reshape(-1)


def policy_name(choice: str, policy_input: PolicyInput) -> str:
    """SB3's policy alias for a policy input; an explicit choice must fit the observation."""
    images, many = policy_input.has_images, isinstance(policy_input.space, spaces.Dict)
    auto = "MultiInputPolicy" if many else "CnnPolicy" if images else "MlpPolicy"
    wanted = {"auto": auto, "mlp": "MlpPolicy", "cnn": "CnnPolicy", "multi": "MultiInputPolicy"}[choice]
    if wanted != auto:
        seen = f"{'a dict of ' if many else ''}{'images' if images else 'vectors'}"
        raise ConfigError(f"policy={choice} does not fit the observation ({seen}: {policy_input.space}); "
                          f"use policy=auto, or an obs_mode/obs_keys that give what {choice} takes")
    return wanted


class PolicyInputEnv(gym.Wrapper):
    """An env whose observations are policy inputs: perception, then :class:`PolicyInput`."""

    def __init__(self, env: gym.Env, perception: Perception | None, obs_keys: list[str] | None,
                 frame_stack: int) -> None:
        super().__init__(env)
        self.perception = perception
        feature_space = env.observation_space if perception is None else probe_space(env, perception)
        self.policy_input = PolicyInput(feature_space, obs_keys, frame_stack)
        self.observation_space = self.policy_input.space

    def reset(self, **kwargs: Any) -> tuple[Any, dict]:
        """Reset the env, the perception and the frame stack."""
        obs, info = self.env.reset(**kwargs)
        if self.perception is not None:
            self.perception.reset()
        self.policy_input.reset()
        return self._input(obs), info

    def step(self, action: Any) -> tuple[Any, Any, bool, bool, dict]:
        """Step and translate the observation."""
        obs, reward, terminated, truncated, info = self.env.step(action)
        return self._input(obs), reward, terminated, truncated, info

    def _input(self, obs: Any) -> Any:
        return self.policy_input(obs if self.perception is None else self.perception(obs))


def probe_space(env: gym.Env, perception: Perception) -> gym.Space:
    """The space of perception's output, read off one sample (perception has no space of its own)."""
    features = perception(env.observation_space.sample())
    if isinstance(features, dict):
        return spaces.Dict({k: _box_like(v) for k, v in features.items()})
    return _box_like(features)


def _box_like(value: Any) -> spaces.Box:
    value = np.asarray(value)
    if value.dtype == np.uint8:
        return spaces.Box(0, 255, value.shape, np.uint8)
    return spaces.Box(-np.inf, np.inf, value.shape, np.float32)


class SeededResets(gym.Wrapper):
    """Every reset takes the next of ``seeds``: each training episode has a known training seed.

    Worker ``i`` of ``n`` uses ``seeds[i], seeds[i + n], ...`` from ``first_index``; a seed passed
    to ``reset`` (SB3 passes ``seed + i`` at the first one) is replaced, so training never resets
    outside the training range and a resumed run continues from ``next_index``.
    """

    def __init__(self, env: gym.Env, seeds: range, first_index: int, stride: int) -> None:
        super().__init__(env)
        self.seeds, self.next_index, self.stride = seeds, first_index, stride

    def set_next_index(self, index: int) -> None:
        """Continue from ``index`` (a resumed run; called through the vector env's ``env_method``)."""
        self.next_index = index

    def reset(self, *, seed: int | None = None, options: dict | None = None) -> tuple[Any, dict]:
        """Reset with the next training seed."""
        if self.next_index >= len(self.seeds):
            raise ConfigError(f"training used up its seed range {self.seeds}; train for fewer steps")
        seed = self.seeds[self.next_index]
        self.next_index += self.stride
        return self.env.reset(seed=seed, options=options)

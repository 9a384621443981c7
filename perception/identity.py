"""The trivial perception modules: pass observations through, or pick some keys of a dict."""

from collections.abc import Sequence
from typing import Any

import numpy as np

from envs.errors import ConfigError, RoboloopError


class ObservationKeyError(RoboloopError, KeyError):
    """An observation lacks a key a module was built to read."""


def require_image_size(model: str, checkpoint: str, trained: int | None, rendered: int | tuple) -> None:
    """A ConfigError unless the env renders the ``trained`` size (None: the model did not record one)."""
    size = tuple(rendered) if isinstance(rendered, tuple) else (int(rendered), int(rendered))
    if trained is not None and size != (int(trained), int(trained)):
        raise ConfigError(f"the {model} in {checkpoint} was trained on {trained}x{trained} images but the "
                          f"env renders {size[0]}x{size[1]}; make the env with image_size={trained} or "
                          "retrain the model")


class Identity:
    """Features are the raw observation."""

    name = "identity"

    def spec(self) -> dict[str, Any]:
        """What rebuilds this module (``perception.make_perception``)."""
        return {"name": self.name, "config": {}}

    def reset(self) -> None:
        """Stateless."""

    def __call__(self, obs: Any) -> Any:
        """Return ``obs`` unchanged."""
        return obs


class SelectKeys:
    """Features are a subset of a dict observation (e.g. drop privileged ``state`` for a pixel agent)."""

    name = "select_keys"

    def __init__(self, keys: Sequence[str]) -> None:
        if isinstance(keys, str) or not keys:
            raise ConfigError(f"SelectKeys needs a non-empty list of observation keys, got {keys!r}")
        self.keys = tuple(keys)

    def spec(self) -> dict[str, Any]:
        """What rebuilds this module (``perception.make_perception``)."""
        return {"name": self.name, "config": {"keys": list(self.keys)}}

    def reset(self) -> None:
        """Stateless."""

    def __call__(self, obs: dict[str, np.ndarray]) -> dict[str, np.ndarray]:
        """``{k: obs[k] for k in keys}``; raises ``KeyError`` naming the available keys."""
        if not isinstance(obs, dict):
            raise ObservationKeyError(
                f"SelectKeys{list(self.keys)} needs a dict observation, got {type(obs).__name__}; "
                "make the env with a dict obs_mode (e.g. 'proprio' or 'rgb')")
        missing = [k for k in self.keys if k not in obs]
        if missing:
            raise ObservationKeyError(f"observation has no keys {missing}; available: {sorted(obs)}")
        return {k: obs[k] for k in self.keys}

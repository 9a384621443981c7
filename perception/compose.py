"""Several perception modules side by side: their feature dicts merged into one."""

from collections.abc import Sequence
from typing import Any

import numpy as np
from gymnasium import spaces

from envs.errors import ConfigError


class Compose:
    """Features of every module, merged; a key two modules both give must agree (e.g. kept ``proprio``)."""

    name = "compose"

    def __init__(self, modules: Sequence[Any]) -> None:
        from perception.registry import make_perception

        self.modules = [make_perception(m) if isinstance(m, dict) else m for m in modules]
        if not self.modules:
            raise ConfigError("Compose needs at least one perception module, got none")

    def spec(self) -> dict[str, Any]:
        """What rebuilds this module (``perception.make_perception``)."""
        from perception.registry import perception_spec

        return {"name": self.name, "config": {"modules": [perception_spec(m) for m in self.modules]}}

    def reset(self) -> None:
        """Reset every module."""
        for m in self.modules:
            m.reset()

    def __call__(self, obs: Any) -> dict[str, np.ndarray]:
        """The union of the modules' feature dicts."""
        out: dict[str, np.ndarray] = {}
        for m in self.modules:
            for key, value in m(obs).items():
                if key in out and not np.array_equal(out[key], value):
                    raise ConfigError(f"perception modules disagree on feature {key!r}; give them distinct "
                                      "keys")
                out[key] = value
        return out

    def observation_space(self, env_space: spaces.Space) -> spaces.Dict:
        """The union of the modules' feature spaces."""
        merged: dict[str, spaces.Space] = {}
        for m in self.modules:
            merged.update(m.observation_space(env_space).spaces)
        return spaces.Dict(merged)

    def check_image_size(self, image_size: int) -> None:
        """Every module's own check, where it has one."""
        for m in self.modules:
            check = getattr(m, "check_image_size", None)
            if check is not None:
                check(image_size)

"""The trivial perception modules: pass observations through, or pick some keys of a dict."""

from collections.abc import Sequence
from typing import Any

import numpy as np


class Identity:
    """Features are the raw observation."""

    def reset(self) -> None:
        """Stateless."""

    def __call__(self, obs: Any) -> Any:
        """Return ``obs`` unchanged."""
        return obs


class SelectKeys:
    """Features are a subset of a dict observation (e.g. drop privileged ``state`` for a pixel agent)."""

    def __init__(self, keys: Sequence[str]) -> None:
        self.keys = tuple(keys)

    def reset(self) -> None:
        """Stateless."""

    def __call__(self, obs: dict[str, np.ndarray]) -> dict[str, np.ndarray]:
        """``{k: obs[k] for k in keys}``; raises ``KeyError`` naming the available keys."""
        missing = [k for k in self.keys if k not in obs]
        if missing:
            raise KeyError(f"observation has no keys {missing}; available: {sorted(obs)}")
        return {k: obs[k] for k in self.keys}

"""Gymnasium spaces as plain data, so a checkpoint says what it can drive (weights-only loadable)."""

from typing import Any

import numpy as np
from gymnasium import spaces

from envs.errors import ConfigError


def space_to_dict(space: spaces.Space) -> dict[str, Any]:
    """Box, Discrete and Dict spaces as nested dicts of lists, numbers and strings."""
    if isinstance(space, spaces.Discrete):
        return {"type": "discrete", "n": int(space.n), "start": int(space.start)}
    if isinstance(space, spaces.Box):
        low, high = np.broadcast_to(space.low, space.shape), np.broadcast_to(space.high, space.shape)
        uniform = np.all(low == low.flat[0]) and np.all(high == high.flat[0]) if low.size else True
        return {"type": "box", "shape": list(space.shape), "dtype": str(space.dtype),
                "low": float(low.flat[0]) if uniform and low.size else low.tolist(),
                "high": float(high.flat[0]) if uniform and high.size else high.tolist()}
    if isinstance(space, spaces.Dict):
        return {"type": "dict", "spaces": {k: space_to_dict(v) for k, v in space.spaces.items()}}
    raise ConfigError(f"cannot describe a {type(space).__name__} space; roboloop agents handle Box, "
                      "Discrete and Dict spaces")


def space_from_dict(data: dict[str, Any]) -> spaces.Space:
    """Inverse of :func:`space_to_dict`."""
    kind = data["type"]
    if kind == "discrete":
        return spaces.Discrete(data["n"], start=data.get("start", 0))
    if kind == "box":
        dtype, shape = np.dtype(data["dtype"]), tuple(data["shape"])
        low, high = (np.broadcast_to(np.asarray(data[k], dtype), shape) for k in ("low", "high"))
        return spaces.Box(low, high, shape, dtype)
    if kind == "dict":
        return spaces.Dict({k: space_from_dict(v) for k, v in data["spaces"].items()})
    raise ConfigError(f"unknown space type {kind!r} in a checkpoint; expected box, discrete or dict")


def is_discrete(space: spaces.Space) -> bool:
    """True for ``Discrete`` action spaces (an integer per step)."""
    return isinstance(space, spaces.Discrete)

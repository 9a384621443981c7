"""Feature specs: what one observation entry or the action vector is (shape, dtype, bounds, names).

A :class:`Feature` converts to and from a Gymnasium ``Box`` and to and from plain JSON, so a robot
server can tell a client its spaces and the client rebuilds exactly the spaces of the simulated task.
"""

import math
from dataclasses import dataclass
from typing import Any

import numpy as np
from gymnasium import spaces

from envs.errors import ConfigError
from envs.real.errors import RobotError

DTYPES = ("float32", "float64", "uint8", "int32", "int64")  # what a feature (and a wire array) may be


@dataclass(frozen=True)
class Feature:
    """One array: ``shape``, ``dtype`` (one of :data:`DTYPES`), bounds, and optional entry names.

    ``low``/``high`` are a number (every entry) or a nested list of ``shape``; ``names`` label the
    entries of a 1-d feature (e.g. ``("dx", "dy", "dz")``), as LeRobot keys motors by name.
    """

    shape: tuple[int, ...]
    dtype: str = "float32"
    low: Any = -math.inf
    high: Any = math.inf
    names: tuple[str, ...] | None = None

    def __post_init__(self) -> None:
        shape = tuple(self.shape) if isinstance(self.shape, list | tuple) else None
        if shape is None or not all(isinstance(n, int) and not isinstance(n, bool) and n >= 0
                                    for n in shape):
            raise ConfigError(f"Feature.shape must be a tuple of non-negative ints, got {self.shape!r}; "
                              "e.g. (3,) for a vector or (96, 96, 3) for an image")
        object.__setattr__(self, "shape", shape)
        if self.dtype not in DTYPES:
            raise ConfigError(f"Feature.dtype={self.dtype!r} is not supported; valid choices: {list(DTYPES)}")
        if self.names is not None:
            names = tuple(self.names)
            if len(shape) != 1 or len(names) != shape[0]:
                raise ConfigError(f"Feature.names must name each entry of a 1-d feature: shape {shape}, "
                                  f"got {len(names)} names {names}")
            object.__setattr__(self, "names", names)
        try:
            low, high = self.bounds()
        except ValueError as e:
            raise ConfigError(f"Feature bounds low={self.low!r}, high={self.high!r} do not fit shape "
                              f"{shape}: {e}") from e
        if np.isnan(low).any() or np.isnan(high).any() or (low > high).any():
            raise ConfigError(f"Feature bounds need low <= high without NaN, got low={self.low!r}, "
                              f"high={self.high!r}")

    @property
    def size(self) -> int:
        """Number of entries."""
        return int(np.prod(self.shape, dtype=np.int64))

    def bounds(self) -> tuple[np.ndarray, np.ndarray]:
        """``low`` and ``high`` broadcast to ``shape`` (float64)."""
        low = np.broadcast_to(np.asarray(self.low, dtype=np.float64), self.shape)
        high = np.broadcast_to(np.asarray(self.high, dtype=np.float64), self.shape)
        return low, high

    def to_space(self) -> spaces.Box:
        """The Gymnasium Box this feature describes."""
        low, high = self.bounds()
        dtype = np.dtype(self.dtype)
        return spaces.Box(low.astype(dtype), high.astype(dtype), self.shape, dtype)

    @classmethod
    def from_space(cls, space: spaces.Space, names: tuple[str, ...] | None = None) -> "Feature":
        """The feature of a Box (uniform bounds are stored as one number)."""
        if not isinstance(space, spaces.Box):
            raise ConfigError(f"a robot feature must be a Box space, got {space}; discrete actions "
                              "need a continuous command interface on a robot")
        return cls(tuple(space.shape), str(space.dtype), _compact(space.low), _compact(space.high), names)

    def check(self, key: str, value: Any) -> np.ndarray:
        """``value`` as an array of this feature's shape and dtype, or a clear error."""
        arr = np.asarray(value)
        if arr.shape != self.shape or arr.dtype != np.dtype(self.dtype):
            raise RobotError(f"robot observation {key!r} is {arr.dtype}{list(arr.shape)}, but its feature "
                             f"declares {self.dtype}{list(self.shape)}; fix the driver's get_observation "
                             "or its observation_features")
        return arr

    def to_json(self) -> dict[str, Any]:
        """Plain JSON (non-finite bounds become the strings "inf"/"-inf")."""
        return {"shape": list(self.shape), "dtype": self.dtype, "low": _to_json(self.low),
                "high": _to_json(self.high), "names": list(self.names) if self.names else None}

    @classmethod
    def from_json(cls, data: Any) -> "Feature":
        """The inverse of :meth:`to_json`; raises ConfigError on anything else."""
        if not isinstance(data, dict) or set(data) != {"shape", "dtype", "low", "high", "names"}:
            raise ConfigError(f"a feature is a dict with shape, dtype, low, high, names; got {data!r}")
        names = tuple(data["names"]) if data["names"] is not None else None
        return cls(tuple(data["shape"]), data["dtype"], _from_json(data["low"]), _from_json(data["high"]),
                   names)


def features_to_space(features: dict[str, Feature]) -> spaces.Dict:
    """A Dict space with one Box per observation feature, keys in the robot's order."""
    return spaces.Dict({key: f.to_space() for key, f in features.items()})


def _compact(values: np.ndarray) -> Any:
    flat = np.asarray(values, dtype=np.float64).reshape(-1)
    if flat.size and (flat == flat[0]).all():
        return float(flat[0])
    return np.asarray(values, dtype=np.float64).tolist()


def _to_json(value: Any) -> Any:
    if isinstance(value, list | tuple | np.ndarray):
        return [_to_json(v) for v in np.asarray(value, dtype=np.float64).tolist()]
    value = float(value)
    return value if math.isfinite(value) else ("inf" if value > 0 else "-inf")


def _from_json(value: Any) -> Any:
    if isinstance(value, list):
        return [_from_json(v) for v in value]
    if value in ("inf", "-inf"):
        return float(value)
    if isinstance(value, int | float) and not isinstance(value, bool):
        return float(value)
    raise ConfigError(f"a feature bound must be a number, 'inf', '-inf' or a list of them; got {value!r}")

"""Safety limits on every command, on by default.

Action bounds, a maximum change per step, velocity limits and joint or workspace position limits:
:class:`ActionFilter` applies them in that order (position limits last, because they are the hard
ones) and names each intervention.

:class:`envs.real.safe_robot.SafeRobot` owns a filter, plus the watchdog, the e-stop and torque-off.
"""

import math
from dataclasses import dataclass, field, fields
from typing import Any

import numpy as np

from envs.errors import ConfigError, InvalidActionError
from envs.real.features import Feature

COMMANDS = ("delta", "absolute")  # how an action moves a limited position
ON_TIMEOUT = ("hold", "torque_off")  # what the watchdog does when commands stop


def _floats(name: str, value: Any, n: int | None = None) -> tuple[float, ...]:
    try:
        out = tuple(float(v) for v in (value if isinstance(value, list | tuple) else [value]))
    except (TypeError, ValueError) as e:
        raise ConfigError(f"{name} must be numbers, got {value!r}") from e
    if any(math.isnan(v) for v in out) or (n is not None and len(out) not in (1, n)):
        raise ConfigError(f"{name} must be one number or {n} numbers without NaN, got {value!r}")
    return out


@dataclass(frozen=True)
class PositionLimit:
    """A box a measured position must stay in: joint limits, or a workspace box for the TCP.

    The command may not take the position out of ``[low, high]``: with ``command="delta"`` the
    position moves by ``per_action * action[action_index]`` per step; with ``"absolute"`` the
    action is the target itself (``per_action * action``). ``max_speed`` (units/s, Euclidean over
    the entries) also caps how fast the command moves it.
    """

    name: str = "workspace"  # reported in info["safety"] when this limit clamps
    key: str = "proprio"  # the observation key holding the position
    index: tuple[int, ...] = ()  # its entries in observation[key]
    low: tuple[float, ...] = ()  # lower bound per entry (metres, radians, ...)
    high: tuple[float, ...] = ()  # upper bound per entry
    action_index: tuple[int, ...] | None = None  # action entries that move it; None: 0 .. len(index)-1
    per_action: tuple[float, ...] | float = 1.0  # position units per unit of action (per step for delta)
    command: str = "delta"  # "delta" | "absolute"
    max_speed: float | None = None  # units/s; None: no velocity limit on this position

    def __post_init__(self) -> None:
        n = len(self.index)
        if n == 0 or not all(isinstance(i, int) and i >= 0 for i in self.index):
            raise ConfigError(f"limit {self.name!r}: index must list >= 1 non-negative entries of "
                              f"observation[{self.key!r}], got {self.index!r}")
        object.__setattr__(self, "index", tuple(self.index))
        action_index = tuple(range(n)) if self.action_index is None else tuple(self.action_index)
        if len(action_index) != n:
            raise ConfigError(f"limit {self.name!r}: action_index {action_index} must have one entry per "
                              f"position entry (index has {n})")
        object.__setattr__(self, "action_index", action_index)
        low, high = _floats("low", self.low, n), _floats("high", self.high, n)
        if len(low) != n or len(high) != n or any(lo > hi for lo, hi in zip(low, high, strict=True)):
            raise ConfigError(f"limit {self.name!r}: low and high need {n} entries each with low <= high, "
                              f"got low={self.low!r}, high={self.high!r}")
        object.__setattr__(self, "low", low)
        object.__setattr__(self, "high", high)
        per = _floats("per_action", self.per_action, n)
        if any(p <= 0 or math.isinf(p) for p in per):
            raise ConfigError(f"limit {self.name!r}: per_action must be finite and > 0, got "
                              f"{self.per_action!r}")
        object.__setattr__(self, "per_action", per)
        if self.command not in COMMANDS:
            raise ConfigError(f"limit {self.name!r}: command={self.command!r}; valid choices: "
                              f"{list(COMMANDS)}")
        if self.max_speed is not None and not (self.max_speed > 0 and math.isfinite(self.max_speed)):
            raise ConfigError(f"limit {self.name!r}: max_speed must be > 0 (units/s) or None, "
                              f"got {self.max_speed!r}")


@dataclass(frozen=True)
class SafetyConfig:
    """Everything the safety layer enforces; the defaults keep it on."""

    action_low: tuple[float, ...] | float | None = None  # None: the robot's declared action bounds
    action_high: tuple[float, ...] | float | None = None
    max_step_change: float | None = 0.5  # per step, as a fraction of each entry's range; None: off
    limits: tuple[PositionLimit, ...] = ()  # joint / workspace boxes (with optional velocity limits)
    watchdog_timeout_s: float | None = 0.08  # no fresh command this long -> on_timeout; None: off
    on_timeout: str = "hold"  # "hold" (send the robot's hold action) | "torque_off"
    torque_off_on_disconnect: bool = True
    history: int = 2000  # commands kept in SafeRobot.history (time, action, source)

    def __post_init__(self) -> None:
        limits = tuple(PositionLimit(**lim) if isinstance(lim, dict) else lim for lim in self.limits)
        if not all(isinstance(lim, PositionLimit) for lim in limits):
            raise ConfigError(f"limits must be PositionLimit objects or dicts of their fields, got "
                              f"{self.limits!r}")
        object.__setattr__(self, "limits", limits)
        for name in ("action_low", "action_high"):
            value = getattr(self, name)
            if value is not None:
                object.__setattr__(self, name, _floats(name, value))
        if self.max_step_change is not None and not 0 < self.max_step_change <= 1:
            raise ConfigError(f"max_step_change must be in (0, 1] (a fraction of the action range per step) "
                              f"or None to turn it off, got {self.max_step_change!r}")
        timeout = self.watchdog_timeout_s
        if timeout is not None and not (0.001 <= timeout <= 10):
            raise ConfigError(f"watchdog_timeout_s must be in [0.001, 10] seconds or None, got {timeout!r}; "
                              "keep it a little above the control period (0.08 s at 20 Hz)")
        if self.on_timeout not in ON_TIMEOUT:
            raise ConfigError(f"on_timeout={self.on_timeout!r}; valid choices: {list(ON_TIMEOUT)}")
        if not isinstance(self.history, int) or self.history < 1:
            raise ConfigError(f"history must be an int >= 1, got {self.history!r}")

    @classmethod
    def from_dict(cls, data: dict[str, Any] | None) -> "SafetyConfig":
        """From a plain dict (a Hydra node); unknown keys are refused with the valid ones."""
        data = dict(data or {})
        valid = [f.name for f in fields(cls)]
        unknown = sorted(set(data) - set(valid))
        if unknown:
            raise ConfigError(f"unknown safety option(s) {unknown}; valid options: {valid}")
        return cls(**data)

    def to_dict(self) -> dict[str, Any]:
        """Plain JSON (what the server reports to its clients)."""
        out = {f.name: getattr(self, f.name) for f in fields(self) if f.name != "limits"}
        out["limits"] = [{f.name: getattr(lim, f.name) for f in fields(lim)} for lim in self.limits]
        return out


@dataclass
class ActionFilter:
    """Applies a :class:`SafetyConfig` to one command; returns the safe command and what changed."""

    config: SafetyConfig
    action: Feature
    control_dt: float | None = None  # seconds per command; velocity limits need it
    previous: np.ndarray | None = field(default=None, init=False)  # the last command sent

    def __post_init__(self) -> None:
        low, high = self.action.bounds()
        n = self.action.size
        if self.config.action_low is not None:
            low = np.broadcast_to(np.asarray(_floats("action_low", self.config.action_low, n)), (n,))
        if self.config.action_high is not None:
            high = np.broadcast_to(np.asarray(_floats("action_high", self.config.action_high, n)), (n,))
        self.low, self.high = np.asarray(low, float).reshape(-1), np.asarray(high, float).reshape(-1)
        if not (np.isfinite(self.low).all() and np.isfinite(self.high).all()) or (self.low > self.high).any():
            raise ConfigError(f"the safety layer needs finite action bounds, got low={self.low}, "
                              f"high={self.high}; declare them in action_features or set action_low/high")
        if any(lim.max_speed is not None for lim in self.config.limits) and not self.control_dt:
            raise ConfigError("a velocity limit (max_speed) needs the control period; give the robot a "
                              "control_hz or pass control_dt")
        for lim in self.config.limits:
            if max(lim.action_index) >= n:
                raise ConfigError(f"limit {lim.name!r}: action_index {lim.action_index} is out of range "
                                  f"for a ({n},) action")

    def check(self, action: Any) -> np.ndarray:
        """The action as float64 (Da,), or InvalidActionError (wrong shape, type, NaN or inf)."""
        a = np.asarray(action)
        if a.dtype.kind not in "fiu" or a.shape != self.action.shape:
            raise InvalidActionError(f"action must be real numbers of shape {self.action.shape}, got "
                                     f"{a.dtype}{list(a.shape)}; send one action per step")
        a = a.astype(np.float64).reshape(-1)
        if not np.isfinite(a).all():
            raise InvalidActionError(f"action contains NaN or inf: {a}; nothing was sent. Fix the policy "
                                     "output")
        return a

    def __call__(self, action: Any,
                 observation: dict[str, np.ndarray] | None) -> tuple[np.ndarray, list[str]]:
        """Safe command (Da,) in the action's dtype, and the names of the limits that changed it."""
        a = self.check(action)
        hits: list[str] = []
        a = _note(hits, "action_limit", a, np.clip(a, self.low, self.high))
        if self.config.max_step_change is not None and self.previous is not None:
            d = self.config.max_step_change * (self.high - self.low)
            a = _note(hits, "step_change", a, np.clip(a, self.previous - d, self.previous + d))
        for lim in self.config.limits:
            position = _position(lim, observation)
            if lim.max_speed is not None:
                a = _note(hits, f"velocity:{lim.name}", a, self._speed_limited(lim, a, position))
            a = _note(hits, lim.name, a, _inside(lim, a, position))
        a = np.clip(a, self.low, self.high)
        self.previous = a
        return a.reshape(self.action.shape).astype(self.action.dtype), hits

    def _speed_limited(self, lim: PositionLimit, a: np.ndarray, position: np.ndarray) -> np.ndarray:
        per, idx = np.asarray(lim.per_action), list(lim.action_index)
        move = per * a[idx] - (position if lim.command == "absolute" else 0.0)
        speed = float(np.linalg.norm(move)) / self.control_dt
        if speed <= lim.max_speed:
            return a
        out = a.copy()
        move = move * (lim.max_speed / speed)
        out[idx] = (move + (position if lim.command == "absolute" else 0.0)) / per
        return out


def _position(lim: PositionLimit, observation: dict[str, np.ndarray] | None) -> np.ndarray:
    if observation is None or lim.key not in observation:
        raise ConfigError(f"limit {lim.name!r} reads observation[{lim.key!r}], which the robot does not "
                          f"provide (it has {sorted(observation or {})}); fix the limit's key")
    values = np.asarray(observation[lim.key], float).reshape(-1)
    if max(lim.index) >= values.size:
        raise ConfigError(f"limit {lim.name!r}: index {lim.index} is out of range for observation"
                          f"[{lim.key!r}] of size {values.size}")
    return values[list(lim.index)]


def _inside(lim: PositionLimit, a: np.ndarray, position: np.ndarray) -> np.ndarray:
    """``a`` changed so that the position it leads to stays in the box."""
    per, idx = np.asarray(lim.per_action), list(lim.action_index)
    target = per * a[idx] + (0.0 if lim.command == "absolute" else position)
    clamped = np.clip(target, lim.low, lim.high)
    if np.array_equal(clamped, target):
        return a
    out = a.copy()
    out[idx] = (clamped - (0.0 if lim.command == "absolute" else position)) / per
    return out


def _note(hits: list[str], name: str, before: np.ndarray, after: np.ndarray) -> np.ndarray:
    if np.any(np.abs(after - before) > 1e-9):
        hits.append(name)
    return after

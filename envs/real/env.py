"""RealRobotEnv: any Robot as a ``gymnasium.Env`` with the simulated task's observations and actions.

The loop, recorders, evaluation and every agent see only this env, so a policy trained on the
task in simulation runs on the robot unchanged. Each ``step`` sends the action (through the
safety layer: the robot's own :class:`SafeRobot`, or the server's), waits for the end of the
control period (:class:`~envs.real.timing.RateLoop`) and reads the observation. ``info`` carries
``is_success`` (from the robot if it reports it, else ``success_fn``), ``sent_action`` (after
safety), ``safety`` (interventions this step, counts, e-stop) and ``timing`` (period, policy time,
a late start, missed deadlines, the link's round trip).
"""

import logging
import math
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import gymnasium as gym
import numpy as np

from envs.errors import EnvConfigError, InvalidActionError, ResetNeededError
from envs.real.errors import DeadlineMissedError, RobotError
from envs.real.features import features_to_space
from envs.real.robot import Robot
from envs.real.safe_robot import SafeRobot
from envs.real.safety import SafetyConfig
from envs.real.timing import RateLoop

logger = logging.getLogger(__name__)
ON_OVERRUN = ("warn", "raise")


@dataclass(frozen=True)
class RealRobotConfig:
    """How the env drives the robot."""

    control_hz: float | None = None  # None: the robot's own rate (Robot.control_hz)
    horizon: int = 150  # steps before truncation
    realtime: bool = True  # pace steps at control_hz; false only for lock-step simulator-backed robots
    on_overrun: str = "warn"  # a step that starts after its deadline: "warn" (logged, in info) | "raise"
    task_id: str | None = None  # the simulated task this robot stands in for: its spaces must match
    task_kwargs: dict[str, Any] = field(default_factory=dict)  # options of that task (obs_mode, ...)

    def __post_init__(self) -> None:
        hz = self.control_hz
        if hz is not None and not (isinstance(hz, int | float) and math.isfinite(hz) and 0 < hz <= 10_000):
            raise EnvConfigError(f"control_hz must be in (0, 10000] or None (the robot's rate), got {hz!r}")
        if not isinstance(self.horizon, int) or isinstance(self.horizon, bool) or self.horizon < 1:
            raise EnvConfigError(f"horizon must be an int >= 1, got {self.horizon!r}")
        if self.on_overrun not in ON_OVERRUN:
            raise EnvConfigError(f"on_overrun={self.on_overrun!r}; valid choices: {list(ON_OVERRUN)}")


class RealRobotEnv(gym.Env):
    """Wraps ``robot`` (in a :class:`SafeRobot` with ``safety`` unless it is already safe)."""

    metadata = {"render_modes": ["rgb_array"], "render_fps": 20}

    def __init__(self, robot: Robot, config: RealRobotConfig | None = None, *,
                 safety: SafetyConfig | None = None,
                 success_fn: Callable[[dict[str, np.ndarray]], bool] | None = None,
                 render_mode: str | None = None) -> None:
        self.config = config or RealRobotConfig()
        if render_mode not in (None, "rgb_array"):
            raise EnvConfigError(f"render_mode={render_mode!r}; valid choices: [None, 'rgb_array']")
        self.robot = robot if getattr(robot, "is_safe", False) else SafeRobot(robot, safety)
        self.success_fn, self.render_mode = success_fn, render_mode
        if not self.robot.is_connected:
            self.robot.connect()
        self._features = self.robot.observation_features
        self.observation_space = features_to_space(self._features)
        self.action_space = self.robot.action_features.to_space()
        if self.config.task_id is not None:
            self._check_task_spaces()
        hz = self.config.control_hz or self.robot.control_hz
        if hz is None:
            raise EnvConfigError(f"robot {self.robot.name!r} does not say its control rate; set control_hz")
        self.metadata = {**self.metadata, "render_fps": round(hz)}
        self.rate = RateLoop(hz, realtime=self.config.realtime)
        self._t, self._needs_reset, self._closed = 0, True, False
        self._obs: dict[str, np.ndarray] = {}
        self._warned_at = -math.inf

    def reset(self, *, seed: int | None = None, options: dict | None = None) -> tuple[dict, dict]:
        """Start an episode: the robot resets (the simulator-backed one with ``seed``)."""
        super().reset(seed=seed)
        self.robot.reset(seed)
        self._obs = self._observe()
        self._t, self._needs_reset = 0, False
        self.rate.start()  # the first deadline: one period after the observation is handed over
        return self._obs, {"is_success": False, "safety": self.robot.status().get("safety", {})}

    def step(self, action: Any) -> tuple[dict, float, bool, bool, dict]:
        """Send ``action`` (after safety), wait out the control period, observe."""
        if self._needs_reset:
            raise ResetNeededError("step() on an episode that has ended (or was never reset); call reset()")
        a = self._check_action(action)
        policy_s = self.rate.begin_step()
        late = self.rate.late
        if late:
            self._overrun(policy_s)
        sent = self.robot.send_action(a)
        period = self.rate.tick()
        self._obs = self._observe()
        status = self.robot.status()
        self.rate.end_step()
        self._t += 1
        success = bool(status.get("is_success", False))
        if not success and self.success_fn is not None:
            success = bool(self.success_fn(self._obs))
        failure = status.get("failure")
        terminated = success or failure is not None or bool(status.get("terminated", False))
        truncated = self._t >= self.config.horizon
        self._needs_reset = terminated or truncated
        info: dict[str, Any] = {"is_success": success, "sent_action": np.asarray(sent),
                                "safety": status.get("safety", {}),
                                "timing": self._timing(period, policy_s, late)}
        if failure is not None:
            info["failure"] = failure
        return self._obs, float(status.get("reward", 0.0)), terminated, truncated, info

    def render(self) -> np.ndarray | None:
        """The first camera image of the last observation (for videos)."""
        if self.render_mode is None:
            return None
        images = [v for k, v in self._obs.items() if k.endswith("_rgb")]
        if not images:
            raise EnvConfigError(f"render() needs a '<camera>_rgb' observation; the robot gives "
                                 f"{sorted(self._obs)}")
        return images[0]

    def close(self) -> None:
        """Release the robot (torque off locally; a remote robot is held by its server)."""
        if not self._closed:
            self._closed = self._needs_reset = True
            closer = getattr(self.robot, "close", None) or self.robot.disconnect
            closer()

    def _check_action(self, action: Any) -> np.ndarray:
        a = np.asarray(action)
        if a.dtype.kind not in "fiu" or a.shape != self.action_space.shape:
            raise InvalidActionError(f"action must be real numbers of shape {self.action_space.shape}, got "
                                     f"{a.dtype}{list(a.shape)} (action_space={self.action_space})")
        if not np.isfinite(a).all():
            raise InvalidActionError(f"action contains NaN or inf: {a}; nothing was sent. Fix the policy "
                                     "output")
        return np.clip(a.astype(np.float64), self.action_space.low, self.action_space.high).astype(
            self.action_space.dtype)

    def _observe(self) -> dict[str, np.ndarray]:
        obs = self.robot.get_observation()
        missing = [k for k in self._features if k not in obs]
        if missing:
            raise RobotError(f"robot observation lacks {missing} (it has {sorted(obs)}); its "
                             "observation_features promise them: fix the driver")
        return {k: f.check(k, obs[k]) for k, f in self._features.items()}

    def _timing(self, period: float, policy_s: float, late: bool) -> dict[str, Any]:
        out = {"period_s": period, "policy_s": policy_s, "late": late,
               "missed_deadlines": self.rate.stats.missed_deadlines}
        latency = getattr(self.robot, "latency", None)
        if latency is not None and latency.round_trips:
            out["round_trip_s"] = latency.round_trips[-1]
        return out

    def _overrun(self, policy_s: float) -> None:
        period_ms, took_ms, late_ms = 1e3 * self.rate.period_s, 1e3 * policy_s, 1e3 * self.rate.late_by
        cause = ("a policy slower than the control period: use a faster one or a lower control_hz"
                 if policy_s > self.rate.period_s else "the robot link was slow (see timing.round_trip_s)")
        message = (f"control step {self._t} started {late_ms:.1f} ms after its deadline (the policy took "
                   f"{took_ms:.1f} ms of a {period_ms:.1f} ms period; {self.rate.stats.missed_deadlines + 1} "
                   f"late so far); the robot held the last command meanwhile. Likely {cause}")
        if self.config.on_overrun == "raise":
            raise DeadlineMissedError(message)
        now = time.monotonic()
        if now - self._warned_at >= 1.0:  # at most once a second; every late step is in info
            logger.warning(message)
            self._warned_at = now

    def _check_task_spaces(self) -> None:
        from envs.registry import make

        task = make(self.config.task_id, **self.config.task_kwargs)
        try:
            obs_space = task.observation_space
            if not isinstance(obs_space, gym.spaces.Dict):
                obs_space = gym.spaces.Dict({"state": obs_space})  # the key convention's bare state
            problems = []
            if set(obs_space.spaces) != set(self.observation_space.spaces):
                problems.append(f"observation keys {sorted(self.observation_space.spaces)} vs the task's "
                                f"{sorted(obs_space.spaces)}")
            else:
                problems += [f"{k}: {self.observation_space[k]} vs the task's {s}"
                             for k, s in obs_space.spaces.items() if s != self.observation_space[k]]
            if task.action_space != self.action_space:
                problems.append(f"action {self.action_space} vs the task's {task.action_space}")
        finally:
            task.close()
        if problems:
            raise EnvConfigError(f"robot {self.robot.name!r} does not match {self.config.task_id} "
                                 f"{self.config.task_kwargs}: {'; '.join(problems)}. A policy trained on the "
                                 "task would not run unchanged: fix the robot's features or task_kwargs")


def make_real_robot_env(address: str = "tcp://127.0.0.1:5555", *, token_env: str = "ROBOLOOP_ROBOT_TOKEN",
                        timeout_s: float = 0.5, retries: int = 4, control_hz: float | None = None,
                        horizon: int = 150, realtime: bool = True, on_overrun: str = "warn",
                        task_id: str | None = None, task_kwargs: dict | None = None,
                        render_mode: str | None = None) -> RealRobotEnv:
    """Entry point of ``roboloop/RealRobot-v0``: the robot served at ``address``.

    The token is read from the environment variable ``token_env``, so datasets and checkpoints,
    which store these options, never hold it.
    """
    from envs.real.client import ClientConfig, RemoteRobot

    client = ClientConfig(address=address, token_env=token_env, timeout_s=timeout_s, retries=retries)
    robot = RemoteRobot(client)
    config = RealRobotConfig(control_hz=control_hz, horizon=horizon, realtime=realtime, on_overrun=on_overrun,
                             task_id=task_id, task_kwargs=dict(task_kwargs or {}))
    robot.connect()
    try:
        return RealRobotEnv(robot, config, render_mode=render_mode)
    except Exception:
        robot.disconnect()
        raise

"""SimRobot: any roboloop task behind the Robot interface, to exercise the whole real-robot path.

It serves the task env's own observations and actions, so a policy trained on that task runs
unchanged through :class:`~envs.real.env.RealRobotEnv` and the robot server. It is lock-step:
each command advances the simulation by one control period (the hold command the watchdog sends
included), which keeps results comparable with running the task directly; latency, jitter and
dropped messages are injected on the server (:class:`envs.real.faults.Faults`). After the task
ends (success or failure) it holds still until the next ``reset``. The env runs with an endless
horizon: the RealRobotEnv counts steps, as it must for a real robot.
"""

import importlib
import math
from typing import Any

import gymnasium as gym
import numpy as np

from envs.errors import EnvConfigError
from envs.real.errors import RobotNotConnectedError
from envs.real.features import Feature
from envs.real.robot import Robot
from envs.real.safety import PositionLimit

ENDLESS = 10**9  # steps: the sim never truncates; RealRobotEnv owns the horizon


class SimRobot(Robot):
    """The task ``env_id`` (made with ``env_kwargs``) as a robot; ``reset(seed)`` resets the task."""

    def __init__(self, env_id: str, env_kwargs: dict[str, Any] | None = None) -> None:
        self.env_id, self.env_kwargs = env_id, dict(env_kwargs or {})
        self.name = f"sim:{env_id}"
        self.env: gym.Env | None = None
        self.control_hz = None
        self._obs: dict[str, np.ndarray] = {}
        self._status: dict[str, Any] = {}
        self._ended, self._torque, self._steps = True, False, 0
        self._last = None

    @property
    def observation_features(self) -> dict[str, Feature]:
        """The task env's observation: each Dict entry, or ``state`` for a state-mode env."""
        space = self._require().observation_space
        items = space.spaces if isinstance(space, gym.spaces.Dict) else {"state": space}
        return {key: Feature.from_space(s) for key, s in items.items()}

    @property
    def action_features(self) -> Feature:
        """The task env's normalized action."""
        return Feature.from_space(self._require().action_space)

    @property
    def is_connected(self) -> bool:
        """True while the env is open."""
        return self.env is not None

    def connect(self) -> None:
        """Make the task env (continuous actions only: a robot takes commands, not menu choices)."""
        from envs.registry import make

        env = make(self.env_id, **{**self.env_kwargs, "horizon": ENDLESS})
        if not isinstance(env.action_space, gym.spaces.Box):
            env.close()
            raise EnvConfigError(f"{self.env_id} has {env.action_space} actions; a SimRobot serves tasks "
                                 "with continuous (Box) actions only")
        self.env, self._torque = env, True
        self.control_hz = 1.0 / env.unwrapped.scene.control_dt

    def reset(self, seed: int | None = None) -> None:
        """Reset the task with ``seed`` (the same layout as the task made directly with that seed)."""
        obs, _ = self._require().reset(seed=seed)
        self._keep(obs)
        self._ended, self._torque, self._steps = False, True, 0
        self._last = self._initial_hold()
        self._status = {"is_success": False, "failure": None, "reward": 0.0, "terminated": False}

    def get_observation(self) -> dict[str, np.ndarray]:
        """The observation after the last step (or reset)."""
        self._require()
        return dict(self._obs)

    def send_action(self, action: np.ndarray) -> np.ndarray:
        """One control period of the task with ``action`` (nothing moves after the end or torque-off)."""
        env = self._require()
        action = np.asarray(action, np.float32)
        if self._ended or not self._torque:
            return np.zeros_like(action)
        obs, reward, terminated, _, info = env.step(action)
        self._keep(obs)
        self._steps += 1
        self._last = action
        self._ended = bool(terminated)
        self._status = {"is_success": bool(info.get("is_success", False)), "failure": info.get("failure"),
                        "reward": float(reward), "terminated": bool(terminated)}
        return action

    def hold_action(self) -> np.ndarray:
        """Zero displacement (or velocity); a gripper entry keeps its last command (it is absolute)."""
        hold = np.zeros(self.action_features.shape, np.float32)
        controller = getattr(self._require().unwrapped.scene, "controller", None)
        if controller is not None and controller.gripper and self._last is not None:
            hold[-1] = self._last[-1]
        return hold

    def status(self) -> dict[str, Any]:
        """The task's outcome so far: ``is_success``, ``failure``, ``reward``, ``terminated``; steps."""
        return {**self._status, "sim_steps": self._steps}

    def torque_off(self) -> None:
        """The simulated arm stops taking commands until the next reset."""
        self._torque = False

    def disconnect(self) -> None:
        """Close the task env."""
        if self.env is not None:
            self.env.close()
            self.env = None

    def default_limits(self) -> tuple[PositionLimit, ...]:
        """Workspace (or joint) limits and velocity limits matching the task's own bounds.

        Read from ``proprio`` (or ``state`` in a state-mode env). Arm tasks: the TCP box of
        ``envs/robots/arm.py`` in ``ee_delta``, the joint limits in ``joint_delta``; pusher tasks:
        the pusher's range. Speeds are the task's own
        maximum, so the limits bind only on commands the simulator would also refuse.
        """
        from envs.robots import arm

        env = self._require().unwrapped
        key = "proprio" if "proprio" in self.observation_features else "state"
        names = list(env.task.proprio_names if key == "proprio" else env.task.state_names)
        dt, controller = env.scene.control_dt, getattr(env.scene, "controller", None)
        if controller is not None and controller.control_mode == "ee_delta":
            index = tuple(names.index(n) for n in ("ee_x", "ee_y", "ee_z"))
            return (PositionLimit("workspace", key, index, (-arm.R_MAX, -arm.R_MAX, arm.Z_MIN),
                                  (arm.R_MAX, arm.R_MAX, arm.Z_MAX), None, arm.MAX_EE_STEP, "delta",
                                  math.sqrt(3) * arm.MAX_EE_STEP / dt),)
        if controller is not None:
            index = tuple(names.index(f"q_{j}") for j in arm.JOINTS)
            return (PositionLimit("joints", key, index, arm.LOW, arm.HIGH, None, arm.MAX_JOINT_STEP,
                                  "delta", 2 * arm.MAX_JOINT_STEP / dt),)
        task = importlib.import_module(type(env.task).__module__)  # its constants: PUSHER_RANGE, MAX_SPEED
        if names[:2] == ["pusher_x", "pusher_y"] and hasattr(task, "PUSHER_RANGE"):
            r, speed = task.PUSHER_RANGE, task.MAX_SPEED
            return (PositionLimit("workspace", key, (0, 1), (-r, -r), (r, r), None, speed * dt, "delta",
                                  math.sqrt(2) * speed),)
        return ()

    def _keep(self, obs: Any) -> None:
        self._obs = dict(obs) if isinstance(obs, dict) else {"state": obs}

    def _initial_hold(self) -> np.ndarray:
        hold = np.zeros(self.env.action_space.shape, np.float32)
        controller = getattr(self.env.unwrapped.scene, "controller", None)
        if controller is not None and controller.gripper:
            hold[-1] = 1.0  # the gripper starts open
        return hold

    def _require(self) -> gym.Env:
        if self.env is None:
            raise RobotNotConnectedError(f"SimRobot({self.env_id!r}) is not connected; call connect() first")
        return self.env

"""The hardware seam: a :class:`Robot` and a :class:`Camera`, with LeRobot's method names.

A driver implements the abstract methods; safety (limits, rate, watchdog, e-stop, torque-off) is
added around it by :class:`envs.real.safe_robot.SafeRobot`, and :class:`envs.real.env.RealRobotEnv`
turns any robot into a ``gymnasium.Env`` with the simulated task's observation keys and actions.

Actions are one vector (Da,) whose meaning matches the simulated task (e.g. a normalized TCP
displacement); LeRobot keys actions by motor name, roboloop labels the entries with
``action_features.names`` instead. Observations are a dict following docs/envs.md (``proprio``,
``<camera>_rgb``, ...); a real robot has no privileged ``state``.
"""

import abc
from dataclasses import dataclass
from typing import Any

import numpy as np

from envs.real.features import Feature


class Robot(abc.ABC):
    """A robot: connect, read observations, send actions, disconnect; usable as a context manager."""

    name: str = "robot"
    control_hz: float | None = None  # the command rate the robot expects; None: the env config decides

    @property
    @abc.abstractmethod
    def observation_features(self) -> dict[str, Feature]:
        """Each observation key and its feature, e.g. ``{"proprio": Feature((11,)), "wrist_rgb": ...}``."""

    @property
    @abc.abstractmethod
    def action_features(self) -> Feature:
        """The action vector (Da,): bounds, dtype, and names of its entries."""

    @property
    @abc.abstractmethod
    def is_connected(self) -> bool:
        """True between ``connect()`` and ``disconnect()``."""

    @abc.abstractmethod
    def connect(self) -> None:
        """Open the driver session and enable the motors."""

    @abc.abstractmethod
    def get_observation(self) -> dict[str, np.ndarray]:
        """The latest reading of every observation feature."""

    @abc.abstractmethod
    def send_action(self, action: np.ndarray) -> np.ndarray:
        """Command the robot; returns the action actually sent (drivers may clip it further)."""

    @abc.abstractmethod
    def torque_off(self) -> None:
        """Cut motor power now. Safety calls it before disconnecting and after any driver error."""

    @abc.abstractmethod
    def disconnect(self) -> None:
        """Close the driver session (motors already torqued off by the safety layer)."""

    def hold_action(self) -> np.ndarray:
        """The command that keeps the robot where it is: zeros for delta or velocity commands.

        A robot commanded by absolute targets returns its present position instead.
        """
        return np.zeros(self.action_features.shape, np.dtype(self.action_features.dtype))

    def reset(self, seed: int | None = None) -> None:  # noqa: B027 (optional hook: nothing to do by default)
        """Start an episode; by default nothing happens.

        A real arm may move home here; the simulator-backed robot resets its task with ``seed`` (a
        real robot ignores the seed: the physical start is not reproducible).
        """

    def status(self) -> dict[str, Any]:
        """JSON-ready facts beyond the observation (none by default).

        A robot that knows the task outcome reports ``is_success``, ``failure``, ``reward`` and
        ``terminated`` (the simulator-backed one does).
        """
        return {}

    def __enter__(self) -> "Robot":
        """Connect (if not yet)."""
        if not self.is_connected:
            self.connect()
        return self

    def __exit__(self, *exc: object) -> None:
        """Disconnect, also on errors."""
        if self.is_connected:
            self.disconnect()


@dataclass(frozen=True)
class Frame:
    """One camera image and when it was captured."""

    image: np.ndarray  # (H, W, 3) uint8
    timestamp: float  # time.monotonic() seconds at capture, comparable with the robot's clock
    index: int  # frames read since connect


class Camera(abc.ABC):
    """A camera a robot reads from: ``connect``, ``read`` (a timestamped :class:`Frame`), intrinsics."""

    name: str = "camera"

    @property
    @abc.abstractmethod
    def intrinsics(self) -> np.ndarray:
        """K (3, 3): u = fx * x / z + cx, v = fy * y / z + cy, as ``env.camera_params`` reports."""

    @property
    @abc.abstractmethod
    def is_connected(self) -> bool:
        """True between ``connect()`` and ``disconnect()``."""

    @abc.abstractmethod
    def connect(self) -> None:
        """Open the device."""

    @abc.abstractmethod
    def read(self) -> Frame:
        """The newest image, with its capture time."""

    @abc.abstractmethod
    def disconnect(self) -> None:
        """Release the device."""

    def __enter__(self) -> "Camera":
        """Connect (if not yet)."""
        if not self.is_connected:
            self.connect()
        return self

    def __exit__(self, *exc: object) -> None:
        """Disconnect, also on errors."""
        if self.is_connected:
            self.disconnect()

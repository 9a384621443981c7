"""A mock robot that records every command it receives, and a mock camera: for tests and dry runs.

:class:`MockRobot` is a point (or a set of joints) that moves by ``step_size * action`` per command,
so safety, the server and the env can be checked against exactly what reached "the hardware".
"""

import threading
import time
from dataclasses import dataclass

import numpy as np

from envs.real.errors import RobotFaultError, RobotNotConnectedError
from envs.real.features import Feature
from envs.real.robot import Camera, Frame, Robot


@dataclass(frozen=True)
class Command:
    """One command as the mock received it."""

    t: float  # time.monotonic() at receipt
    action: np.ndarray


class MockCamera(Camera):
    """A synthetic camera: a dark image with a bright pixel where ``spot`` says."""

    def __init__(self, name: str = "wrist", size: int = 16) -> None:
        self.name, self.size = name, size
        self.spot = (0, 0)
        self._connected, self._index = False, 0

    @property
    def intrinsics(self) -> np.ndarray:
        """A pinhole with a 90 degree field of view."""
        f, c = self.size / 2, self.size / 2
        return np.array([[f, 0, c], [0, f, c], [0, 0, 1]], np.float64)

    @property
    def is_connected(self) -> bool:
        """True while connected."""
        return self._connected

    def connect(self) -> None:
        """Nothing to open."""
        self._connected = True

    def read(self) -> Frame:
        """A fresh synthetic frame."""
        if not self._connected:
            raise RobotNotConnectedError(f"camera {self.name!r} read before connect(); call connect() first")
        image = np.zeros((self.size, self.size, 3), np.uint8)
        image[self.spot[1] % self.size, self.spot[0] % self.size] = 255
        self._index += 1
        return Frame(image, time.monotonic(), self._index)

    def disconnect(self) -> None:
        """Nothing to release."""
        self._connected = False


class MockRobot(Robot):
    """``dof`` positions commanded by deltas in [-1, 1] (``step_size`` per unit); records everything.

    ``commands`` holds every action received (with its time), ``torque_offs`` counts torque-off
    calls; ``fail_after`` makes the n-th command raise (a driver fault).
    """

    name = "mock"

    def __init__(self, dof: int = 3, *, step_size: float = 0.01, control_hz: float | None = 20.0,
                 camera: MockCamera | None = None, fail_after: int | None = None) -> None:
        self.dof, self.step_size, self.control_hz = dof, step_size, control_hz
        self.camera, self.fail_after = camera, fail_after
        self.position = np.zeros(dof)
        self.commands: list[Command] = []
        self.torque_offs, self.resets, self.torque = 0, 0, False
        self._connected = False
        self._lock = threading.Lock()

    @property
    def observation_features(self) -> dict[str, Feature]:
        """``proprio``: the positions; ``<camera>_rgb`` if a camera is attached."""
        features = {"proprio": Feature((self.dof,), "float32")}
        if self.camera is not None:
            features[f"{self.camera.name}_rgb"] = Feature((self.camera.size, self.camera.size, 3), "uint8",
                                                          0, 255)
        return features

    @property
    def action_features(self) -> Feature:
        """Normalized deltas, one per degree of freedom."""
        return Feature((self.dof,), "float32", -1.0, 1.0, tuple(f"d{i}" for i in range(self.dof)))

    @property
    def is_connected(self) -> bool:
        """True while connected."""
        return self._connected

    def connect(self) -> None:
        """Power the motors (and the camera)."""
        self._connected, self.torque = True, True
        if self.camera is not None:
            self.camera.connect()

    def get_observation(self) -> dict[str, np.ndarray]:
        """Positions (and the camera image)."""
        self._check()
        obs = {"proprio": self.position.astype(np.float32)}
        if self.camera is not None:
            obs[f"{self.camera.name}_rgb"] = self.camera.read().image
        return obs

    def send_action(self, action: np.ndarray) -> np.ndarray:
        """Record the command and move (if torqued)."""
        self._check()
        action = np.asarray(action, np.float32).copy()
        with self._lock:
            self.commands.append(Command(time.monotonic(), action))
            if self.fail_after is not None and len(self.commands) >= self.fail_after:
                raise RobotFaultError(f"mock driver fault on command {len(self.commands)}")
            if self.torque:
                self.position = self.position + self.step_size * action
        return action

    def reset(self, seed: int | None = None) -> None:
        """Back to the origin, motors on."""
        self.position, self.torque = np.zeros(self.dof), self._connected
        self.resets += 1

    def torque_off(self) -> None:
        """Motors off: later commands are recorded but move nothing."""
        self.torque = False
        self.torque_offs += 1

    def disconnect(self) -> None:
        """Close (the safety layer torques off first)."""
        self._connected = False
        if self.camera is not None:
            self.camera.disconnect()

    def _check(self) -> None:
        if not self._connected:
            raise RobotNotConnectedError("MockRobot used before connect() or after disconnect(); "
                                         "call connect() (or use it as a context manager)")

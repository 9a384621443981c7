"""Real robots behind the env contract: interfaces, safety, timing, a networked robot, a simulated one.

``Robot`` / ``Camera`` are the hardware seam (LeRobot's names); ``SafeRobot`` puts limits, a
watchdog, a latching e-stop and torque-off around any robot; ``RealRobotEnv`` makes a robot a
``gymnasium.Env`` with the simulated task's observations and actions; ``RobotServer`` /
``RemoteRobot`` carry a robot over ZeroMQ; ``SimRobot`` serves any roboloop task as a robot.
See docs/plug_in_your_robot.md. Importing this package does not import ZeroMQ or a simulator.
"""

from envs.real.env import RealRobotConfig, RealRobotEnv
from envs.real.errors import (
    DeadlineMissedError,
    MessageError,
    RobotConnectionError,
    RobotError,
    RobotFaultError,
    RobotNotConnectedError,
    RobotRejectedError,
)
from envs.real.faults import Faults
from envs.real.features import Feature
from envs.real.mock import MockCamera, MockRobot
from envs.real.robot import Camera, Frame, Robot
from envs.real.safe_robot import EmergencyStopError, SafeRobot
from envs.real.safety import PositionLimit, SafetyConfig
from envs.real.sim_robot import SimRobot
from envs.real.timing import RateLoop

__all__ = [
    "Camera",
    "DeadlineMissedError",
    "EmergencyStopError",
    "Faults",
    "Feature",
    "Frame",
    "MessageError",
    "MockCamera",
    "MockRobot",
    "PositionLimit",
    "RateLoop",
    "RealRobotConfig",
    "RealRobotEnv",
    "Robot",
    "RobotConnectionError",
    "RobotError",
    "RobotFaultError",
    "RobotNotConnectedError",
    "RobotRejectedError",
    "SafeRobot",
    "SafetyConfig",
    "SimRobot",
]

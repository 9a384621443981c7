"""A proportional end-effector expert for Reach, and the arm command it is built on.

:func:`arm_action` turns "move the TCP towards this point" into a normalized action for either
control mode: ``ee_delta`` gets the displacement itself; ``joint_delta`` gets the joint change the
tool-down inverse kinematics (``envs/robots/arm.py``) asks for. The other arm experts reuse it.
"""

import numpy as np

from agents.experts.state import privileged_state
from envs.errors import EnvConfigError
from envs.robots import arm
from envs.tasks.reach import ReachTask

_NAMES = ReachTask.state_names
_Q = slice(_NAMES.index("q_yaw"), _NAMES.index("q_wrist") + 1)
_EE = slice(_NAMES.index("ee_x"), _NAMES.index("ee_z") + 1)
_TARGET = slice(_NAMES.index("target_x"), _NAMES.index("target_z") + 1)


def arm_action(q: np.ndarray, ee: np.ndarray, goal: np.ndarray, gain: float,
               control_mode: str = "ee_delta", max_step: float = arm.MAX_EE_STEP) -> np.ndarray:
    """Normalized arm action (3,) or (4,) moving the TCP ``gain`` of the way to ``goal`` this step.

    The TCP step is at most ``max_step`` per axis (``arm.MAX_EE_STEP`` at most). In ``joint_delta``
    the step's tool-down IK solution is compared with the measured joints ``q`` (4,).
    """
    step = np.clip(gain * (np.asarray(goal, float) - ee), -max_step, max_step)
    if control_mode == "ee_delta":
        return np.clip(step / arm.MAX_EE_STEP, -1.0, 1.0)
    if control_mode != "joint_delta":
        raise EnvConfigError(f"control_mode={control_mode!r} is not supported; valid choices: "
                         f"{list(arm.CONTROL_MODES)}")
    q_goal = arm.inverse(arm.clamp_to_workspace(*(ee + step).tolist()))
    if q_goal is None:
        return np.zeros(len(arm.JOINTS))
    return np.clip((np.asarray(q_goal) - q) / arm.MAX_JOINT_STEP, -1.0, 1.0)


class ReachExpert:
    """Moves the TCP straight at the target, closing ``gain`` of the error per step (saturating)."""

    def __init__(self, gain: float = 0.8, control_mode: str = "ee_delta") -> None:
        self.gain, self.control_mode = gain, control_mode

    def reset(self) -> None:
        """Stateless."""

    def act(self, features: np.ndarray | dict[str, np.ndarray]) -> np.ndarray:
        """Normalized action (3,) for ``ee_delta``, (4,) for ``joint_delta``; float32."""
        s = privileged_state(features)
        return arm_action(s[_Q], s[_EE], s[_TARGET], self.gain, self.control_mode).astype(np.float32)

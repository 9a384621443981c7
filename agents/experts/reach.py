"""A proportional end-effector expert for Reach (``control_mode="ee_delta"``, the default)."""

import numpy as np

from envs.robots.arm import MAX_EE_STEP
from envs.tasks.reach import ReachTask

_ERR = slice(ReachTask.state_names.index("target_minus_ee_x"),
             ReachTask.state_names.index("target_minus_ee_z") + 1)


class ReachExpert:
    """Moves the end-effector target straight at the target, saturating at full speed."""

    def __init__(self, gain: float = 0.8) -> None:
        self.gain = gain  # fraction of the remaining error closed per step

    def reset(self) -> None:
        """Stateless."""

    def act(self, features: np.ndarray | dict[str, np.ndarray]) -> np.ndarray:
        """Normalized end-effector displacement (3,) float32."""
        s = features["state"] if isinstance(features, dict) else features
        return np.clip(self.gain * s[_ERR] / MAX_EE_STEP, -1.0, 1.0).astype(np.float32)

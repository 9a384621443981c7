"""A multimodal expert for ReachTwoGoals: commits to one goal per episode, drawn at random.

The choice comes from the expert's own generator (``seed``) and is re-drawn by :meth:`reset`, so a
set of demonstrations holds both modes in about equal numbers while each episode goes straight to
one goal, as :class:`agents.experts.reach.ReachExpert` does.
"""

import numpy as np

from agents.experts.reach import arm_action
from agents.experts.state import privileged_state
from envs.tasks.reach_two_goals import TARGETS, ReachTwoGoalsTask

_NAMES = ReachTwoGoalsTask.state_names
_Q = slice(_NAMES.index("q_yaw"), _NAMES.index("q_wrist") + 1)
_EE = slice(_NAMES.index("ee_x"), _NAMES.index("ee_z") + 1)
_GOAL = tuple(slice(_NAMES.index(f"{g}_x"), _NAMES.index(f"{g}_z") + 1) for g in TARGETS)


class ReachTwoGoalsExpert:
    """Proportional TCP control towards the goal chosen at the last :meth:`reset`."""

    def __init__(self, seed: int = 0, gain: float = 0.8, control_mode: str = "ee_delta") -> None:
        self.gain, self.control_mode = gain, control_mode
        self._rng = np.random.default_rng(seed)
        self.reset()

    def reset(self) -> None:
        """Draw this episode's goal: 0 = ``goal_left`` (+y), 1 = ``goal_right`` (-y)."""
        self.choice = int(self._rng.integers(len(TARGETS)))

    def act(self, features: np.ndarray | dict[str, np.ndarray]) -> np.ndarray:
        """Normalized action (3,) for ``ee_delta``, (4,) for ``joint_delta``; float32."""
        s = privileged_state(features)
        goal = s[_GOAL[self.choice]]
        return arm_action(s[_Q], s[_EE], goal, self.gain, self.control_mode).astype(np.float32)

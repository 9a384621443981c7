"""A scripted pick-and-place expert: approach, descend, close, lift, move, lower, open.

The phase is read off the state at every step rather than remembered, so the expert is Markov and
recovers by itself (a cube that slips out of the grasp is simply approached again):

- **held** (the pads are closed on something cube-sized and the cube sits at the TCP): carry it,
  lifting to ``carry`` height before moving across, to above the target; lower it there; open once
  it rests on the table.
- **placed** (resting on the target, not held): open and rise; the task's success ends the episode.
- otherwise: rise to ``hover`` if low and away from the cube, move above the cube, descend with the
  gripper open, and close once the TCP is at grasp height.
"""

import math

import numpy as np

from agents.experts.reach import arm_action
from agents.experts.state import privileged_state
from envs.robots import arm
from envs.tasks.pick_place import CUBE_HALF, REST_HEIGHT, PickPlaceTask

_NAMES = PickPlaceTask.state_names
_I = {name: i for i, name in enumerate(_NAMES)}
_Q = slice(_I["q_yaw"], _I["q_wrist"] + 1)
_EE = slice(_I["ee_x"], _I["ee_z"] + 1)
_CUBE = slice(_I["cube_x"], _I["cube_z"] + 1)
_TARGET = slice(_I["target_x"], _I["target_y"] + 1)
OPEN, CLOSE = 1.0, -1.0
GRASP_Z = arm.Z_MIN + 0.002  # TCP height when closing on the cube (pads 5 mm above the table)
ALIGNED = 0.006  # m: TCP this close (xy) above its goal before descending
CONTACT_MARGIN = 0.003  # m: pads within this of the cube's width across them are touching it


class PickPlaceExpert:
    """Acts on the 28-d PickPlace state vector (or a dict holding it under ``"state"``)."""

    def __init__(self, hover: float = 0.09, carry: float = 0.1, gain: float = 0.7,
                 control_mode: str = "ee_delta") -> None:
        self.hover, self.carry, self.gain, self.control_mode = hover, carry, gain, control_mode

    def reset(self) -> None:
        """Stateless: the phase is read off the state."""

    def act(self, features: np.ndarray | dict[str, np.ndarray]) -> np.ndarray:
        """Normalized action (4,) for ``ee_delta``, (5,) for ``joint_delta``: arm, then gripper."""
        s = privileged_state(features)
        goal, gripper = self.plan(s)
        move = arm_action(s[_Q], s[_EE], goal, self.gain, self.control_mode)
        return np.append(move, gripper).astype(np.float32)

    def plan(self, s: np.ndarray) -> tuple[np.ndarray, float]:
        """Where the TCP should head (3,) and the gripper command, from the state (28,)."""
        ee, cube, target = s[_EE], s[_CUBE], s[_TARGET]
        opening = s[_I["finger_left"]] + s[_I["finger_right"]]
        # Pads on the cube: closed to its width across them, or (once it is off the table) to
        # anything up to its diagonal, since a held cube can turn a little between the pads.
        lifted = cube[2] > CUBE_HALF + 0.004
        widest = cube_width(s) if not lifted else 2 * math.sqrt(2) * CUBE_HALF
        held = (0.5 * CUBE_HALF < opening < widest + CONTACT_MARGIN
                and np.abs(cube - ee).max() < CUBE_HALF + 0.005)
        if held:
            to_target = math.hypot(*(target - cube[:2]))
            if to_target > ALIGNED:  # lift, then carry across at `carry` height
                if ee[2] < self.carry - 0.03 and to_target > 0.03:
                    return np.array((ee[0], ee[1], self.carry)), CLOSE
                return np.array((*(target + ee[:2] - cube[:2]), self.carry)), CLOSE
            if cube[2] > REST_HEIGHT - 0.002 and ee[2] > arm.Z_MIN + 0.003:  # lower it onto the table
                return np.array((*(target + ee[:2] - cube[:2]), GRASP_Z - 0.01)), CLOSE
            return np.array((ee[0], ee[1], ee[2])), OPEN
        if math.hypot(*(target - cube[:2])) < 0.015 and cube[2] < REST_HEIGHT:  # placed: let go, rise
            return np.array((ee[0], ee[1], self.hover)), OPEN
        to_cube = math.hypot(*(cube[:2] - ee[:2]))
        if to_cube > ALIGNED:  # rise if low, then move above the cube
            if ee[2] < self.hover - 0.03 and to_cube > 0.02:
                return np.array((ee[0], ee[1], self.hover)), OPEN
            return np.array((cube[0], cube[1], self.hover if to_cube > 0.02 else ee[2])), OPEN
        closing = ee[2] < GRASP_Z + 0.004
        return np.array((cube[0], cube[1], GRASP_Z)), CLOSE if closing else OPEN


def cube_width(s: np.ndarray) -> float:
    """The cube's extent (m) along the pads' closing axis (the hand's y), from the yaws in ``s``."""
    yaw = math.atan2(s[_I["cube_sin4yaw"]], s[_I["cube_cos4yaw"]]) / 4  # modulo the cube's 90 deg
    delta = yaw - s[_I["q_yaw"]]
    return 2 * CUBE_HALF * (abs(math.cos(delta)) + abs(math.sin(delta)))

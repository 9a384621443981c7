"""PickPlace simulated in MuJoCo: the arm of ``mujoco_arm.py``, a free cube and a target spot."""

import math

import mujoco

from envs.robots import arm
from envs.scenes.mujoco_arm import CONTACT, OBJECT_BITS, VISUAL_BITS, MujocoArmScene, scene_xml
from envs.tasks.pick_place import (
    CAMERAS,
    CUBE_FRICTION,
    CUBE_HALF,
    CUBE_MASS,
    LABELS,
    PLACE_TOLERANCE,
    PickPlaceLayout,
    PickPlaceState,
)

OBJECTS = f"""
<body name="cube" pos="0.25 0 {CUBE_HALF}">
  <freejoint name="cube"/>
  <geom name="cube" type="box" size="{CUBE_HALF} {CUBE_HALF} {CUBE_HALF}" mass="{CUBE_MASS}"
        rgba="0.9 0.2 0.2 1" friction="{CUBE_FRICTION} 0.005 0.0001" {OBJECT_BITS} {CONTACT}/>
</body>
<body name="target" mocap="true" pos="0.25 0 0.0005">
  <geom name="target" type="cylinder" size="{PLACE_TOLERANCE} 0.0005" rgba="0.2 0.8 0.2 0.6"
        {VISUAL_BITS}/>
</body>
"""


class MujocoPickPlaceScene(MujocoArmScene):
    """Named accessors over the PickPlace model; 20 Hz control (10 physics steps of 5 ms)."""

    dynamic_attrs = ("_target",)  # changed by reset/step (copied by get_state)

    def __init__(self, control_mode: str = "ee_delta", frame_skip: int = 10) -> None:
        super().__init__(scene_xml("pick_place", CAMERAS, OBJECTS), CAMERAS, LABELS, control_mode,
                         gripper=True, frame_skip=frame_skip)
        m = self.model
        self._cube_q = int(m.joint("cube").qposadr[0])
        self._cube_v = int(m.joint("cube").dofadr[0])
        self._target_mocap = int(m.body("target").mocapid[0])
        self._target = (0.0, 0.0)

    def reset(self, layout: PickPlaceLayout) -> None:
        """Arm at the layout's angles (gripper open), cube resting on the table, target placed."""
        self.reset_arm(layout.q)
        half = 0.5 * layout.cube_yaw
        i = self._cube_q
        self.data.qpos[i:i + 7] = (*layout.cube_xy, CUBE_HALF, math.cos(half), 0.0, 0.0, math.sin(half))
        self.data.mocap_pos[self._target_mocap] = (*layout.target_xy, 0.0005)
        self._target = (float(layout.target_xy[0]), float(layout.target_xy[1]))  # mocap: never moves
        mujoco.mj_forward(self.model, self.data)

    def read(self) -> PickPlaceState:
        """Arm and finger joints, TCP (forward kinematics), cube pose and velocity, target."""
        qpos, qvel = self._qpos.tolist(), self._qvel.tolist()
        q, qd, fingers = self.read_arm(qpos, qvel)
        i, v = self._cube_q, self._cube_v
        w, x, y, z = qpos[i + 3:i + 7]
        yaw = math.atan2(2.0 * (w * z + x * y), 1.0 - 2.0 * (y * y + z * z))
        return PickPlaceState(q, qd, fingers, arm.forward(q), (qpos[i], qpos[i + 1], qpos[i + 2]), yaw,
                              (qvel[v], qvel[v + 1], qvel[v + 2]), self._target)

"""PushCube simulated in MuJoCo: a pusher on two velocity-controlled slide joints and a free cube."""

import mujoco

from envs.scenes.mujoco_pusher import MujocoPusherScene, pusher_scene_xml
from envs.tasks.push_cube import (
    CAMERAS,
    CUBE_HALF,
    GOAL_TOLERANCE,
    LABELS,
    MAX_SPEED,
    PUSHER_RADIUS,
    PUSHER_RANGE,
    PushCubeLayout,
    PushCubeState,
)

XML = pusher_scene_xml("push_cube", CAMERAS, table_half=0.4, pusher_radius=PUSHER_RADIUS,
                       pusher_range=PUSHER_RANGE, max_speed=MAX_SPEED, bodies=f"""
    <body name="cube" pos="0 0 {CUBE_HALF}">
      <freejoint name="cube"/>
      <geom name="cube" type="box" size="{CUBE_HALF} {CUBE_HALF} {CUBE_HALF}" mass="0.1"
            rgba="0.9 0.2 0.2 1" friction="0.5 0.005 0.0001" contype="3" conaffinity="3"/>
    </body>
    <body name="goal" mocap="true" pos="0 0 0.0005">
      <geom name="goal" type="cylinder" size="{GOAL_TOLERANCE} 0.0005" rgba="0.2 0.8 0.2 0.6"
            contype="0" conaffinity="0"/>
    </body>""")


class MujocoPushCubeScene(MujocoPusherScene):
    """Named accessors over the PushCube model; 20 Hz control (10 physics steps of 5 ms)."""

    dynamic_attrs = ("_goal",)  # changed by reset/step (copied by get_state)

    def __init__(self, frame_skip: int = 10) -> None:
        super().__init__(XML, frame_skip, CAMERAS, LABELS, object_joint="cube")
        self._goal = (0.0, 0.0)

    def reset(self, layout: PushCubeLayout) -> None:
        """Place pusher, cube (resting on the table, rotated by yaw) and goal."""
        self.place(layout.pusher_xy, (*layout.cube_xy, CUBE_HALF), layout.cube_yaw)
        self.data.mocap_pos[self._goal_mocap] = (*layout.goal_xy, 0.0005)
        self._goal = (float(layout.goal_xy[0]), float(layout.goal_xy[1]))  # mocap: never moves
        mujoco.mj_forward(self.model, self.data)

    def read(self) -> PushCubeState:
        """Pusher position/velocity, cube position and yaw, goal position."""
        q, v = self._qpos.tolist(), self._qvel.tolist()
        x, y, yaw, _ = self.object_pose(q)
        return PushCubeState(*self.pusher_state(q, v), x, y, yaw, *self._goal)

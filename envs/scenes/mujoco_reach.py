"""Reach simulated in MuJoCo: the 3-joint arm of ``envs/robots/arm.py`` and a target sphere.

Shares with ``pybullet_reach.py``: link lengths, masses, capsule shapes, the PD servo law
(``<position kp kv>``), torque limits, gravity compensation (no gravity: only the arm moves),
5 ms physics and 20 Hz control.
"""

import mujoco
import numpy as np

from envs.cameras import mujoco_camera_xml
from envs.robots import arm
from envs.scenes.mujoco_base import MujocoScene
from envs.tasks.reach import CAMERAS, LABELS, TARGET_RADIUS, ReachLayout, ReachState

R = arm.LINK_RADIUS
XML = f"""
<mujoco model="reach">
  <compiler angle="radian"/>
  <option timestep="0.005" integrator="implicitfast" gravity="0 0 0"/>  <!-- gravity-compensated arm -->
  <visual>
    <global offwidth="640" offheight="640"/>
    <headlight ambient="0.3 0.3 0.3" diffuse="0.3 0.3 0.3" specular="0 0 0"/>
  </visual>
  <default><geom contype="0" conaffinity="0"/></default>
  <worldbody>
    <light pos="0 0 2" dir="0 0 -1" directional="true" castshadow="false" diffuse="0.5 0.5 0.5"/>
    <geom name="table" type="plane" size="0.8 0.8 0.01" rgba="0.6 0.6 0.55 1"/>
    {"".join(mujoco_camera_xml(c) for c in CAMERAS)}
    <body name="arm">
      <joint name="yaw" type="hinge" axis="0 0 1" range="{arm.LOW[0]} {arm.HIGH[0]}"/>
      <geom type="cylinder" size="0.04 {arm.BASE_HEIGHT / 2}" pos="0 0 {arm.BASE_HEIGHT / 2}"
            mass="{arm.LINK_MASS}" rgba="0.3 0.3 0.35 1"/>
      <body name="upper" pos="0 0 {arm.BASE_HEIGHT}">
        <joint name="shoulder" type="hinge" axis="0 1 0" range="{arm.LOW[1]} {arm.HIGH[1]}"/>
        <geom type="capsule" fromto="0 0 0 0 0 {arm.UPPER}" size="{R}" mass="{arm.LINK_MASS}"
              rgba="0.9 0.6 0.2 1"/>
        <body name="fore" pos="0 0 {arm.UPPER}">
          <joint name="elbow" type="hinge" axis="0 1 0" range="{arm.LOW[2]} {arm.HIGH[2]}"/>
          <geom type="capsule" fromto="0 0 0 0 0 {arm.FORE}" size="{R}" mass="{arm.LINK_MASS}"
                rgba="0.9 0.6 0.2 1"/>
          <site name="ee" pos="0 0 {arm.FORE}"/>
        </body>
      </body>
    </body>
    <body name="target" mocap="true">
      <geom name="target" type="sphere" size="{TARGET_RADIUS}" rgba="0.2 0.8 0.2 0.6"/>
    </body>
  </worldbody>
  <actuator>
    {"".join(f'<position joint="{j}" kp="{arm.KP}" kv="{arm.KD}" ctrlrange="{lo} {hi}" '
             f'forcerange="{-arm.MAX_TORQUE} {arm.MAX_TORQUE}"/>'
             for j, lo, hi in zip(arm.JOINTS, arm.LOW, arm.HIGH, strict=True))}
  </actuator>
</mujoco>
"""


class MujocoReachScene(MujocoScene):
    """Named accessors over the Reach model; actions become joint targets via ``ArmTargets``."""

    def __init__(self, control_mode: str = "ee_delta", frame_skip: int = 10) -> None:
        self.targets = arm.ArmTargets(control_mode)
        super().__init__(mujoco.MjModel.from_xml_string(XML), frame_skip, CAMERAS, LABELS)
        m = self.model
        self._q = [int(m.joint(n).qposadr[0]) for n in arm.JOINTS]
        self._v = [int(m.joint(n).dofadr[0]) for n in arm.JOINTS]
        self._mocap = int(m.body("target").mocapid[0])
        self._target = (0.0, 0.0, 0.0)

    def reset(self, layout: ReachLayout) -> None:
        """Joints at the layout's angles (and holding them), target sphere placed."""
        mujoco.mj_resetData(self.model, self.data)
        self.data.qpos[self._q] = layout.q
        self.targets.reset(np.array(layout.q))
        self.data.ctrl[:] = layout.q
        self.data.mocap_pos[self._mocap] = layout.target
        self._target = layout.target
        mujoco.mj_forward(self.model, self.data)

    def step(self, action: np.ndarray) -> str | None:
        """Move the joint targets by the action, then run the physics."""
        self._ctrl[:] = self.targets.update(action)
        mujoco.mj_step(self.model, self.data, nstep=self.frame_skip)
        return self.check_warnings()

    def read(self) -> ReachState:
        """Joint angles/velocities, end-effector (forward kinematics) and target."""
        q, v = self._qpos.tolist(), self._qvel.tolist()
        joints = tuple(q[i] for i in self._q)
        return ReachState(joints, tuple(v[i] for i in self._v), tuple(arm.forward(joints)),
                          self._target)

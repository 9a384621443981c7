"""CartPole simulated in MuJoCo: a cart on a frictionless slide joint and a pole on a free hinge.

Shares with ``pybullet_cart_pole.py``: the masses, the uniform 1 m pole, 10 N force, no friction
or damping, 5 ms physics steps, 4 per control step, collisions off (nothing touches anything).
"""

import mujoco

from envs.cameras import mujoco_camera_xml
from envs.scenes.mujoco_base import VISUAL_XML, MujocoScene
from envs.tasks.cart_pole import (
    CAMERAS,
    CART_MASS,
    FORCE,
    LABELS,
    POLE_HALF_LENGTH,
    POLE_MASS,
    CartPoleLayout,
    CartPoleState,
)

POLE_RADIUS = 0.02
XML = f"""
<mujoco model="cart_pole">
  <option timestep="0.005" integrator="Euler"/>
  {VISUAL_XML}
  <default><geom contype="0" conaffinity="0"/></default>
  <worldbody>
    <light pos="0 -2 4" dir="0 0.5 -1" directional="true" castshadow="false" diffuse="0.5 0.5 0.5"/>
    <geom name="floor" type="plane" size="4 2 0.01" pos="0 0 -0.3" rgba="0.6 0.6 0.55 1"/>
    <geom name="rail" type="box" size="2.6 0.02 0.02" pos="0 0 -0.06" rgba="0.3 0.3 0.3 1"/>
    {"".join(mujoco_camera_xml(c) for c in CAMERAS)}
    <body name="cart">
      <joint name="cart" type="slide" axis="1 0 0" limited="false"/>
      <geom name="cart" type="box" size="0.2 0.1 0.05" mass="{CART_MASS}" rgba="0.2 0.3 0.9 1"/>
      <body name="pole">
        <joint name="pole" type="hinge" axis="0 1 0" limited="false"/>
        <geom name="pole" type="cylinder" fromto="0 0 0 0 0 {2 * POLE_HALF_LENGTH}"
              size="{POLE_RADIUS}" mass="{POLE_MASS}" rgba="0.9 0.6 0.2 1"/>
      </body>
    </body>
  </worldbody>
  <actuator>
    <motor name="push" joint="cart" gear="{FORCE}" ctrlrange="-1 1"/>
  </actuator>
</mujoco>
"""


class MujocoCartPoleScene(MujocoScene):
    """Named accessors over the cart-pole model; 50 Hz control (4 physics steps of 5 ms)."""

    def __init__(self, frame_skip: int = 4) -> None:
        super().__init__(mujoco.MjModel.from_xml_string(XML), frame_skip, CAMERAS, LABELS)
        m = self.model
        self._q = [int(m.joint(n).qposadr[0]) for n in ("cart", "pole")]
        self._v = [int(m.joint(n).dofadr[0]) for n in ("cart", "pole")]

    def reset(self, layout: CartPoleLayout) -> None:
        """Set the four classic state variables."""
        mujoco.mj_resetData(self.model, self.data)
        self.data.qpos[self._q] = (layout.cart_x, layout.pole_angle)
        self.data.qvel[self._v] = (layout.cart_vx, layout.pole_angular_velocity)
        mujoco.mj_forward(self.model, self.data)

    def read(self) -> CartPoleState:
        """Cart position/velocity, pole angle (0 upright, + leans +x) and angular velocity."""
        q, v = self._qpos.tolist(), self._qvel.tolist()
        (qx, qa), (vx, va) = self._q, self._v
        return CartPoleState(q[qx], v[vx], q[qa], v[va])

"""CartPole simulated in PyBullet: a fixed base, a prismatic cart link and a revolute pole link.

Mirrors ``mujoco_cart_pole.py``: masses, a uniform 1 m pole (its inertia comes from the cylinder
shape, as MuJoCo's), 10 N force through TORQUE_CONTROL, no friction, damping or collisions, 5 ms
physics steps, 4 per control step.
"""

import math

import numpy as np
import pybullet as pb

from envs.scenes.pybullet_base import BLOW_UP_JOINT_SPEED, PybulletScene
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
CART, POLE = 0, 1  # joint (= link) indices


class PybulletCartPoleScene(PybulletScene):
    """Named accessors over the cart-pole multibody (DIRECT mode, no GL needed)."""

    dynamic_attrs = ("_stepped", "_force")  # changed by reset/step (copied by get_state)

    action_dim = 1

    def __init__(self, frame_skip: int = 4) -> None:
        super().__init__(frame_skip, CAMERAS, LABELS)
        c = self.client
        floor = c.createMultiBody(0, -1, c.createVisualShape(
            pb.GEOM_BOX, halfExtents=[4, 2, 0.01], rgbaColor=[0.6, 0.6, 0.55, 1]), [0, 0, -0.31])
        rail = c.createMultiBody(0, -1, c.createVisualShape(
            pb.GEOM_BOX, halfExtents=[2.6, 0.02, 0.02], rgbaColor=[0.3, 0.3, 0.3, 1]), [0, 0, -0.06])
        half = [0.2, 0.1, 0.05]
        length = 2 * POLE_HALF_LENGTH
        self.body = c.createMultiBody(
            baseMass=0, basePosition=[0, 0, 0],
            linkMasses=[CART_MASS, POLE_MASS],
            linkCollisionShapeIndices=[
                c.createCollisionShape(pb.GEOM_BOX, halfExtents=half),
                c.createCollisionShape(pb.GEOM_CYLINDER, radius=POLE_RADIUS, height=length,
                                       collisionFramePosition=[0, 0, POLE_HALF_LENGTH])],
            linkVisualShapeIndices=[
                c.createVisualShape(pb.GEOM_BOX, halfExtents=half, rgbaColor=[0.2, 0.3, 0.9, 1]),
                c.createVisualShape(pb.GEOM_CYLINDER, radius=POLE_RADIUS, length=length,
                                    visualFramePosition=[0, 0, POLE_HALF_LENGTH],
                                    rgbaColor=[0.9, 0.6, 0.2, 1])],
            linkPositions=[[0, 0, 0], [0, 0, 0]], linkOrientations=[[0, 0, 0, 1]] * 2,
            # The pole link's frame sits at the hinge; its shapes and mass are centred half-way up.
            linkInertialFramePositions=[[0, 0, 0], [0, 0, POLE_HALF_LENGTH]],
            linkInertialFrameOrientations=[[0, 0, 0, 1]] * 2, linkParentIndices=[0, 1],
            linkJointTypes=[pb.JOINT_PRISMATIC, pb.JOINT_REVOLUTE],
            linkJointAxis=[[1, 0, 0], [0, 1, 0]])
        for link in (-1, CART, POLE):
            c.setCollisionFilterGroupMask(self.body, link, 0, 0)
            c.changeDynamics(self.body, link, linearDamping=0.0, angularDamping=0.0,
                             jointDamping=0.0)
        # Release the default velocity motors so only the commanded force acts.
        c.setJointMotorControlArray(self.body, [CART, POLE], pb.VELOCITY_CONTROL, forces=[0, 0])
        self.label(floor, "floor")
        self.label(rail, "rail")
        self.label(self.body, "cart")
        self.label_link(self.body, POLE, "pole")
        self._stepped: CartPoleState | None = None
        self._force = 0.0  # N on the cart, set by apply_action

    def reset(self, layout: CartPoleLayout) -> None:
        """Set the four classic state variables."""
        c = self.client
        c.resetJointState(self.body, CART, layout.cart_x, layout.cart_vx)
        c.resetJointState(self.body, POLE, layout.pole_angle, layout.pole_angular_velocity)
        self._stepped, self._force = None, 0.0

    def apply_action(self, action: np.ndarray) -> None:
        """Force on the cart: the normalized action times 10 N (see :meth:`step`)."""
        self._force = float(action[0]) * FORCE

    def step(self, action: np.ndarray) -> str | None:
        """Apply the force before every physics step, read the state once, report a blow-up.

        PyBullet clears TORQUE_CONTROL forces after each ``stepSimulation``, whereas MuJoCo's
        ``ctrl`` persists, so the force is re-applied per physics step. The joint states read for
        the blow-up check are handed to the next :meth:`read` (one ``getJointStates`` per step).
        """
        self.apply_action(action)
        c, body, force = self.client, self.body, self._force
        control, step, torque = c.setJointMotorControl2, c.stepSimulation, pb.TORQUE_CONTROL
        for _ in range(self.frame_skip):
            control(body, CART, torque, force=force)
            step()
        self._stepped = s = self._read_joints()
        speed = max(abs(s.cart_vx), abs(s.pole_angular_velocity))
        if all(map(math.isfinite, s)) and speed <= BLOW_UP_JOINT_SPEED:  # False for NaN too
            return None
        return f"PyBullet cart-pole state diverged: {s}"

    def read(self) -> CartPoleState:
        """Cart position/velocity, pole angle (0 upright, + leans +x) and angular velocity."""
        state, self._stepped = self._stepped, None  # the step's own reading, used once
        return state if state is not None else self._read_joints()

    def _read_joints(self) -> CartPoleState:
        (x, vx, *_), (a, va, *_) = self.client.getJointStates(self.body, (CART, POLE))
        return CartPoleState(x, vx, a, va)

"""Reach simulated in PyBullet: the 3-joint arm of ``envs/robots/arm.py`` and a target sphere.

Mirrors ``mujoco_reach.py``: link lengths, masses, capsule shapes, the same PD servo law applied
as joint torques at every physics step (tau = KP (q* - q) - KD qd, clipped), torque limits,
gravity compensation (this scene has no gravity: only the arm moves), 5 ms physics, 20 Hz control.
"""

import numpy as np
import pybullet as pb

from envs.robots import arm
from envs.scenes.pybullet_base import PybulletScene
from envs.tasks.reach import CAMERAS, LABELS, TARGET_RADIUS, ReachLayout, ReachState

JOINTS = (0, 1, 2)


class PybulletReachScene(PybulletScene):
    """Named accessors over the arm multibody (DIRECT mode, no GL needed)."""

    action_dim = 3

    def __init__(self, control_mode: str = "ee_delta", frame_skip: int = 10) -> None:
        self.targets = arm.ArmTargets(control_mode)
        super().__init__(frame_skip, CAMERAS, LABELS)
        c = self.client
        c.setGravity(0, 0, 0)  # gravity compensation, as MuJoCo's gravcomp
        table = c.createMultiBody(0, -1, c.createVisualShape(
            pb.GEOM_BOX, halfExtents=[0.8, 0.8, 0.005], rgbaColor=[0.6, 0.6, 0.55, 1]), [0, 0, -0.005])
        self.target = c.createMultiBody(0, -1, c.createVisualShape(
            pb.GEOM_SPHERE, radius=TARGET_RADIUS, rgbaColor=[0.2, 0.8, 0.2, 0.6]))
        self.arm = self._build_arm()
        self.label(table, "table")
        self.label(self.arm, "arm")
        self.label(self.target, "target")
        self._target = (0.0, 0.0, 0.0)
        self._q_target = arm.HOME.copy()

    def _build_arm(self) -> int:
        c, r, h = self.client, arm.LINK_RADIUS, arm.BASE_HEIGHT
        orange, grey = [0.9, 0.6, 0.2, 1], [0.3, 0.3, 0.35, 1]

        def capsule(length: float) -> tuple[int, int]:
            return (c.createCollisionShape(pb.GEOM_CAPSULE, radius=r, height=length,
                                           collisionFramePosition=[0, 0, length / 2]),
                    c.createVisualShape(pb.GEOM_CAPSULE, radius=r, length=length,
                                        visualFramePosition=[0, 0, length / 2], rgbaColor=orange))

        column = (c.createCollisionShape(pb.GEOM_CYLINDER, radius=0.04, height=h,
                                         collisionFramePosition=[0, 0, h / 2]),
                  c.createVisualShape(pb.GEOM_CYLINDER, radius=0.04, length=h,
                                      visualFramePosition=[0, 0, h / 2], rgbaColor=grey))
        shapes = [column, capsule(arm.UPPER), capsule(arm.FORE)]
        body = c.createMultiBody(
            baseMass=0, basePosition=[0, 0, 0],
            linkMasses=[arm.LINK_MASS] * 3,
            linkCollisionShapeIndices=[s[0] for s in shapes],
            linkVisualShapeIndices=[s[1] for s in shapes],
            linkPositions=[[0, 0, 0], [0, 0, h], [0, 0, arm.UPPER]],
            linkOrientations=[[0, 0, 0, 1]] * 3,
            linkInertialFramePositions=[[0, 0, h / 2], [0, 0, arm.UPPER / 2], [0, 0, arm.FORE / 2]],
            linkInertialFrameOrientations=[[0, 0, 0, 1]] * 3, linkParentIndices=[0, 1, 2],
            linkJointTypes=[pb.JOINT_REVOLUTE] * 3, linkJointAxis=[[0, 0, 1], [0, 1, 0], [0, 1, 0]])
        for link in (-1, *JOINTS):
            c.setCollisionFilterGroupMask(body, link, 0, 0)
            c.changeDynamics(body, link, linearDamping=0.0, angularDamping=0.0, jointDamping=0.0)
        c.setJointMotorControlArray(body, JOINTS, pb.VELOCITY_CONTROL, forces=[0, 0, 0])
        return body

    def reset(self, layout: ReachLayout) -> None:
        """Joints at the layout's angles (and holding them), target sphere placed."""
        for j, q in zip(JOINTS, layout.q, strict=True):
            self.client.resetJointState(self.arm, j, q, 0.0)
        self.targets.reset(np.array(layout.q))
        self._q_target = np.array(layout.q)
        self._target = layout.target
        self.client.resetBasePositionAndOrientation(self.target, layout.target, [0, 0, 0, 1])

    def apply_action(self, action: np.ndarray) -> None:
        """Move the joint targets by the action (the PD law runs in :meth:`step`)."""
        self._q_target = self.targets.update(action)

    def step(self, action: np.ndarray) -> str | None:
        """PD torques towards the joint targets at every physics step, as MuJoCo's servos."""
        self.apply_action(action)
        cid, body, target = self.cid, self.arm, self._q_target.tolist()
        lim = arm.MAX_TORQUE
        for _ in range(self.frame_skip):
            states = pb.getJointStates(body, JOINTS, physicsClientId=cid)
            tau = [min(lim, max(-lim, arm.KP * (t - s[0]) - arm.KD * s[1]))
                   for t, s in zip(target, states, strict=True)]
            pb.setJointMotorControlArray(body, JOINTS, pb.TORQUE_CONTROL, forces=tau,
                                         physicsClientId=cid)
            pb.stepSimulation(physicsClientId=cid)
        return self.check_blow_up()

    def read(self) -> ReachState:
        """Joint angles/velocities, end-effector (forward kinematics) and target."""
        states = pb.getJointStates(self.arm, JOINTS, physicsClientId=self.cid)
        q = tuple(s[0] for s in states)
        return ReachState(q, tuple(s[1] for s in states), tuple(arm.forward(q)), self._target)

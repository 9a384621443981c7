"""Reach simulated in PyBullet: the arm of ``pybullet_arm.py`` and target spheres (visual only)."""

import pybullet as pb

from envs.robots import arm
from envs.scenes.pybullet_arm import PybulletArmScene
from envs.tasks import reach
from envs.tasks.reach import ReachLayout, ReachState


class PybulletReachScene(PybulletArmScene):
    """Named accessors over the Reach world; subclasses with other ``TARGETS`` reuse it."""

    dynamic_attrs = ("_targets",)  # changed by reset/step (copied by get_state)

    TARGETS, CAMERAS, LABELS = reach.TARGETS, reach.CAMERAS, reach.LABELS

    def __init__(self, control_mode: str = "ee_delta", frame_skip: int = 10) -> None:
        super().__init__(self.CAMERAS, self.LABELS, control_mode, gripper=False, frame_skip=frame_skip)
        c = self.client
        self.targets = []
        for name in self.TARGETS:
            body = c.createMultiBody(0, -1, c.createVisualShape(
                pb.GEOM_SPHERE, radius=reach.TARGET_RADIUS, rgbaColor=[0.2, 0.8, 0.2, 0.6]))
            self.targets.append(self.label(body, name))
        self._targets: tuple = ()

    def reset(self, layout: ReachLayout) -> None:
        """Arm at the layout's angles (holding them, gripper open), target spheres placed."""
        self.reset_arm(layout.q)
        for body, target in zip(self.targets, layout.targets, strict=True):
            self.client.resetBasePositionAndOrientation(body, target, [0, 0, 0, 1])
        self._targets = tuple(tuple(float(v) for v in t) for t in layout.targets)

    def read(self) -> ReachState:
        """Joint angles/velocities, TCP (forward kinematics) and targets."""
        q, qd, _ = self.read_arm()
        return ReachState(q, qd, arm.forward(q), self._targets)

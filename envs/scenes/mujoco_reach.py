"""Reach simulated in MuJoCo: the arm of ``mujoco_arm.py`` and target spheres (mocap, no contact)."""

import mujoco

from envs.robots import arm
from envs.scenes.mujoco_arm import VISUAL_BITS, MujocoArmScene, scene_xml
from envs.tasks import reach
from envs.tasks.reach import ReachLayout, ReachState


def targets_xml(names: tuple[str, ...], rgba: str = "0.2 0.8 0.2 0.6") -> str:
    """One mocap sphere per target name."""
    return "".join(f'<body name="{n}" mocap="true"><geom name="{n}" type="sphere" '
                   f'size="{reach.TARGET_RADIUS}" rgba="{rgba}" {VISUAL_BITS}/></body>' for n in names)


class MujocoReachScene(MujocoArmScene):
    """Named accessors over the Reach model; subclasses with other ``TARGETS`` reuse it."""

    dynamic_attrs = ("_targets",)  # changed by reset/step (copied by get_state)

    TARGETS, CAMERAS, LABELS, MODEL = reach.TARGETS, reach.CAMERAS, reach.LABELS, "reach"

    def __init__(self, control_mode: str = "ee_delta", frame_skip: int = 10) -> None:
        xml = scene_xml(self.MODEL, self.CAMERAS, targets_xml(self.TARGETS))
        super().__init__(xml, self.CAMERAS, self.LABELS, control_mode, gripper=False,
                         frame_skip=frame_skip)
        self._mocap = [int(self.model.body(n).mocapid[0]) for n in self.TARGETS]
        self._targets: tuple = ()

    def reset(self, layout: ReachLayout) -> None:
        """Arm at the layout's angles (holding them, gripper open), target spheres placed."""
        self.reset_arm(layout.q)
        for i, target in zip(self._mocap, layout.targets, strict=True):
            self.data.mocap_pos[i] = target
        self._targets = tuple(tuple(float(v) for v in t) for t in layout.targets)  # never move
        mujoco.mj_forward(self.model, self.data)

    def read(self) -> ReachState:
        """Joint angles/velocities, TCP (forward kinematics) and targets."""
        q, qd, _ = self.read_arm(self._qpos.tolist(), self._qvel.tolist())
        return ReachState(q, qd, arm.forward(q), self._targets)

"""The arm of ``envs/robots/arm.py`` on a table, in MuJoCo; arm tasks' scenes add their objects.

The MJCF is generated from :data:`envs.robots.arm.LINKS` (joint origins, axes, limits, shapes,
masses and inertias), as ``pybullet_arm.py`` generates its URDF from the same description.
Shared with PyBullet: all of that, the joint torque and finger force limits, finger friction,
5 ms physics and 20 Hz control (10 physics steps per env step). MuJoCo's servos are ``<position>``
actuators (``KP``/``KV``); the links carry ``gravcomp="1"`` (the arm's own weight is compensated).
The fingers are coupled (an equality constraint; a gear constraint in PyBullet), as a real parallel
gripper's are, so a held object cannot drift between two independently force-limited pads.

Collision bits: the hand and fingers (2) touch the table and objects; the table (1) touches the
hand, fingers and objects; objects use ``OBJECT_BITS``; the other links touch nothing.
"""

from collections.abc import Sequence

import mujoco

from envs.cameras import CameraSpec, mujoco_camera_xml
from envs.errors import EnvConfigError
from envs.robots import arm
from envs.scenes.mujoco_base import VISUAL_XML, MujocoScene

OBJECT_BITS = 'contype="1" conaffinity="3"'  # for a task's free objects: table, hand and fingers
VISUAL_BITS = 'contype="0" conaffinity="0"'  # for markers that touch nothing
# Stiff contacts (default timeconst 0.02 s) so squeezed objects are not pressed into the pads and out.
CONTACT = 'condim="4" solref="0.01 1" solimp="0.95 0.99 0.001"'
_ROBOT_BITS, _TABLE_BITS = 'contype="2" conaffinity="1"', 'contype="1" conaffinity="2"'


def _f(values: Sequence[float]) -> str:
    return " ".join(f"{float(v):.6g}" for v in values)


def _link_xml(link: arm.Link, children: str) -> str:
    if link.shape == "capsule":
        r, length = link.size
        geom = f'type="capsule" fromto="0 0 0 0 0 {length:.6g}" size="{r:.6g}"'
    else:
        geom = f'type="{link.shape}" pos="{_f(link.centre)}" size="{_f(link.size)}"'
    bits = _ROBOT_BITS if link.collides else VISUAL_BITS
    friction = f' friction="{arm.FRICTION} 0.005 0.0001" {CONTACT}' if link.collides else ""
    joint = arm.JOINT_OF[link.name]
    armature = f' armature="{arm.ARMATURE:g}"' if joint in arm.JOINTS else ""
    return (
        f'<body name="{link.name}" pos="{_f(link.origin)}" gravcomp="1">'
        f'<joint name="{joint}" type="{link.joint_type}" axis="{_f(link.axis)}" '
        f'range="{link.low:.6g} {link.high:.6g}"{armature}/>'
        f'<inertial pos="{_f(link.centre)}" mass="{link.mass:.6g}" diaginertia="{_f(link.inertia())}"/>'
        f'<geom name="{link.name}" {geom} rgba="{_f(link.rgba)}" {bits}{friction}/>'
        f'{children}</body>')


def arm_xml() -> str:
    """The ``arm`` body tree (pedestal, links, fingers, a TCP site named ``ee``) for a worldbody."""
    def subtree(parent: str | None) -> str:
        out = ""
        for link in arm.LINKS:
            if link.parent == parent:
                inner = subtree(link.name)
                if link.name == "hand":
                    inner += f'<site name="ee" pos="0 0 {arm.WRIST:.6g}" size="0.005"/>'
                out += _link_xml(link, inner)
        return out

    r, half = arm.PEDESTAL
    return (f'<body name="arm"><geom name="pedestal" type="cylinder" pos="0 0 {half:.6g}" '
            f'size="{r:.6g} {half:.6g}" rgba="{_f(arm.GREY)}" {VISUAL_BITS}/>{subtree(None)}</body>')


def _actuators_xml() -> str:
    out = []
    for link in arm.LINKS:
        joint = arm.JOINT_OF[link.name]
        if joint in arm.JOINTS:
            i = arm.JOINTS.index(joint)
            kp, kv, force = arm.KP[i], arm.KV[i], arm.JOINT_FORCE
        else:
            kp, kv, force = arm.FINGER_KP, arm.FINGER_KV, arm.FINGER_FORCE
        out.append(f'<position name="{joint}" joint="{joint}" kp="{kp:g}" kv="{kv:g}" '
                   f'ctrlrange="{link.low:.6g} {link.high:.6g}" forcerange="{-force:g} {force:g}"/>')
    return "".join(out)


def scene_xml(name: str, cameras: Sequence[CameraSpec], objects: str = "") -> str:
    """A complete MJCF: table, lights, cameras, the arm, its actuators and the task's ``objects``."""
    return f"""
<mujoco model="{name}">
  <compiler angle="radian"/>
  <option timestep="0.005" integrator="implicitfast" cone="elliptic" impratio="10"/>
  {VISUAL_XML}
  <worldbody>
    <light pos="0.2 0 1.5" dir="0 0 -1" directional="true" castshadow="false" diffuse="0.5 0.5 0.5"/>
    <geom name="table" type="plane" pos="0.2 0 0" size="0.6 0.6 0.01" rgba="0.6 0.6 0.55 1"
          friction="{arm.FRICTION} 0.005 0.0001" {_TABLE_BITS}/>
    {"".join(mujoco_camera_xml(c) for c in cameras)}
    {arm_xml()}
    {objects}
  </worldbody>
  <equality>
    <joint name="fingers" joint1="{arm.FINGERS[0]}" joint2="{arm.FINGERS[1]}" polycoef="0 1 0 0 0"
           solref="0.01 1"/>
  </equality>
  <actuator>{_actuators_xml()}</actuator>
</mujoco>
"""


class MujocoArmScene(MujocoScene):
    """The arm's actuation and reading; a task scene adds objects, ``reset`` and ``read``."""

    dynamic_attrs = ("controller",)  # changed by reset/step (copied by get_state)

    def __init__(self, xml: str, camera_specs: tuple[CameraSpec, ...], labels: tuple[str, ...],
                 control_mode: str, gripper: bool, frame_skip: int) -> None:
        self.controller = arm.ArmController(control_mode, gripper)
        super().__init__(mujoco.MjModel.from_xml_string(xml), frame_skip, camera_specs, labels)
        self.action_dim = self.controller.action_dim
        m = self.model
        names = (*arm.JOINTS, *arm.FINGERS)
        self._arm_q = [int(m.joint(n).qposadr[0]) for n in names]
        self._arm_v = [int(m.joint(n).dofadr[0]) for n in names]
        self._arm_ctrl = [int(m.actuator(n).id) for n in names]
        if self._arm_ctrl != list(range(m.nu)):  # the hot path writes ctrl as one slice
            raise EnvConfigError(f"the arm's actuators must be the model's only ones, in the order "
                                 f"{names}; got {[m.actuator(i).name for i in range(m.nu)]}")

    def reset_arm(self, q: Sequence[float], finger: float = arm.FINGER_OPEN) -> None:
        """Zero the world (``mj_resetData``), then put the arm at ``q`` (4,) holding it there."""
        mujoco.mj_resetData(self.model, self.data)
        values = (*q, finger, finger)
        self.data.qpos[self._arm_q] = values
        self.data.ctrl[self._arm_ctrl] = values
        self.controller.reset(tuple(q), finger)

    def step(self, action) -> str | None:
        """Move the servo targets by the action (``ArmController``), then run the physics."""
        q, f = self.controller.update(action.tolist())
        self._ctrl[:] = (*q, f, f)
        mujoco.mj_step(self.model, self.data, nstep=self.frame_skip)
        return self.check_warnings()

    def read_arm(self, qpos: list[float], qvel: list[float]) -> tuple[tuple, tuple, tuple]:
        """Joint angles (4,), joint velocities (4,) and finger positions (2,) from listed qpos/qvel."""
        iq, iv = self._arm_q, self._arm_v
        return ((qpos[iq[0]], qpos[iq[1]], qpos[iq[2]], qpos[iq[3]]),
                (qvel[iv[0]], qvel[iv[1]], qvel[iv[2]], qvel[iv[3]]),
                (qpos[iq[4]], qpos[iq[5]]))

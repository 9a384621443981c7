"""What every PyBullet scene shares: its own client, stepping with blow-up detection, sensors, DR.

A subclass builds bodies in ``self.client`` (one ``BulletClient`` per scene, never the implicit
global one, so several envs coexist in one process), names them with :meth:`label`, and adds
``reset``, ``read`` and ``apply_action``. Cameras come from the same :class:`CameraSpec` as the
MuJoCo scene, so images line up across backends; rendering uses TinyRenderer (no GL needed).
"""

import math
import weakref

import numpy as np
import pybullet as pb

from envs.cameras import (
    CameraParams,
    CameraSpec,
    intrinsics,
    linearize_depth,
    opengl_projection_matrix,
    opengl_view_matrix,
)
from envs.contracts import SceneState
from envs.errors import EnvConfigError, NotPicklableError
from envs.options import integer
from envs.randomization import SURFACES, EpisodeRandomization
from envs.scenes.bullet_client import BulletClient
from envs.scenes.snapshot import python_state, restore_python_state

TIMESTEP = 0.005  # physics step, as the MuJoCo scenes
BLOW_UP_SPEED = 50.0  # m/s: no body in these scenes can legitimately move this fast
BLOW_UP_JOINT_SPEED = 1000.0  # rad/s or m/s at any joint: likewise
# PyBullet caps joint speeds at 100 by default, below BLOW_UP_JOINT_SPEED, which would hide a
# blow-up as a merely fast joint. MuJoCo has no cap; lift PyBullet's well above the threshold.
MAX_JOINT_VELOCITY = 1e5
AMBIENT, DIFFUSE = 0.6, 0.35  # TinyRenderer lighting coefficients at light multiplier 1


class SavedBulletState:
    """A state saved in a PyBullet server (``saveState``), removed from it when garbage-collected."""

    def __init__(self, client: BulletClient) -> None:
        self.id = client.saveState()
        weakref.finalize(self, _remove_state, client, self.id)


def _remove_state(client: BulletClient, state_id: int) -> None:
    if client.connected:
        client.removeState(state_id)


class PybulletScene:
    """Owns a DIRECT-mode physics server; subclasses add bodies, ``reset``, ``read``, actions.

    ``client`` is public (one :class:`BulletClient` per scene) and every simulator call goes
    through it. Subclasses name their Python-side episode state in ``dynamic_attrs`` (snapshots).
    """

    action_dim: int
    client: BulletClient
    dynamic_attrs: tuple[str, ...] = ()

    def __init__(self, frame_skip: int, camera_specs: tuple[CameraSpec, ...],
                 labels: tuple[str, ...]) -> None:
        frame_skip = integer("frame_skip", frame_skip, 1, 1000)
        self.frame_skip, self.control_dt = frame_skip, TIMESTEP * frame_skip
        self.camera_specs = {spec.name: spec for spec in camera_specs}
        self.cameras = tuple(self.camera_specs)
        self.labels = labels
        self.near = min(s.near for s in camera_specs)
        self.far = max(s.far for s in camera_specs)
        self._poses = {name: spec.pose() for name, spec in self.camera_specs.items()}
        self._light = 1.0
        self._body_labels: dict[int, str] = {}
        self._link_labels: dict[tuple[int, int], str] = {}
        self._moving: list[tuple[int, bool, list[int]]] = []  # (body, free base?, movable joints)
        self._nominal: dict[tuple[int, int], dict] = {}
        self.client = BulletClient()
        self.client.setTimeStep(TIMESTEP)
        self.client.setGravity(0, 0, -9.81)

    def label(self, body: int, name: str) -> int:
        """Give ``body`` a segmentation label (one of ``labels``) and record its nominal dynamics."""
        if name not in self.labels:
            raise EnvConfigError(f"label {name!r} is not one of this scene's labels {self.labels}")
        self._body_labels[body] = name
        c = self.client
        joints = [j for j in range(c.getNumJoints(body)) if c.getJointInfo(body, j)[2] != pb.JOINT_FIXED]
        for joint in joints:
            c.changeDynamics(body, joint, maxJointVelocity=MAX_JOINT_VELOCITY)
        free_base = c.getDynamicsInfo(body, -1)[0] > 0  # mass 0 = fixed base
        if free_base or joints:  # static bodies (tables, goal markers) cannot blow up
            self._moving.append((body, free_base, joints))
        colours = {d[1]: d[7] for d in c.getVisualShapeData(body)}
        for link in range(-1, c.getNumJoints(body)):
            info = c.getDynamicsInfo(body, link)
            damping = c.getJointInfo(body, link)[6] if link >= 0 else 0.0
            self._nominal[(body, link)] = {"mass": info[0], "friction": info[1],
                                           "damping": damping, "rgba": colours.get(link)}
        return body

    def apply_action(self, action: np.ndarray) -> None:
        """Set motor targets from a normalized action (subclasses)."""
        raise NotImplementedError

    def step(self, action: np.ndarray) -> str | None:
        """Apply a normalized action, run ``frame_skip`` physics steps, report a blow-up."""
        self.apply_action(action)
        step = self.client.stepSimulation
        for _ in range(self.frame_skip):
            step()
        return self.check_blow_up()

    def check_blow_up(self) -> str | None:
        """Describe the first labelled moving body whose state is non-finite or implausibly fast."""
        c = self.client
        for body, free_base, joints in self._moving:
            if free_base:
                # Velocities alone: a diverging position always comes with a diverging velocity.
                lin, ang = c.getBaseVelocity(body)
                if not all(math.isfinite(v) for v in (*lin, *ang)) or max(map(abs, lin)) > BLOW_UP_SPEED:
                    pos, _ = c.getBasePositionAndOrientation(body)
                    return (f"PyBullet {self._body_labels[body]} state diverged: position {pos}, "
                            f"velocity {lin}")
            if joints:
                for joint, (q, qd, *_) in zip(joints, c.getJointStates(body, joints),
                                              strict=True):
                    if not (math.isfinite(q) and math.isfinite(qd)) or abs(qd) > BLOW_UP_JOINT_SPEED:
                        return (f"PyBullet {self._body_labels[body]} joint {joint} diverged: "
                                f"position {q}, velocity {qd}")
        return None

    def render(self, camera: str, width: int, height: int,
               modalities: tuple[str, ...] = ("rgb",)) -> dict[str, np.ndarray]:
        """Requested images from a named camera.

        ``rgb`` (H, W, 3) uint8, ``depth`` (H, W) float32 metres, ``segmentation`` (H, W) uint8
        label ids (0 where no labelled body is seen).
        """
        if camera not in self.camera_specs:
            raise EnvConfigError(f"camera={camera!r} unknown; valid choices: {list(self.cameras)}")
        spec = self.camera_specs[camera]
        flags = (pb.ER_SEGMENTATION_MASK_OBJECT_AND_LINKINDEX if "segmentation" in modalities
                 else pb.ER_NO_SEGMENTATION_MASK)
        _, _, rgba, zbuf, seg = self.client.getCameraImage(
            width, height, opengl_view_matrix(self._poses[camera]),
            opengl_projection_matrix(spec.fovy, width / height, self.near, self.far),
            lightDirection=[0.3, 0.3, 1.0], lightAmbientCoeff=AMBIENT * self._light,
            lightDiffuseCoeff=DIFFUSE * self._light, lightSpecularCoeff=0.0,
            renderer=pb.ER_TINY_RENDERER, flags=flags)
        out = {}
        if "rgb" in modalities:
            out["rgb"] = np.asarray(rgba, np.uint8).reshape(height, width, 4)[..., :3].copy()
        if "depth" in modalities:
            z = np.asarray(zbuf, np.float32).reshape(height, width)
            out["depth"] = np.minimum(linearize_depth(z, self.near, self.far), self.far)
        if "segmentation" in modalities:
            out["segmentation"] = self._segment(np.asarray(seg, np.int64).reshape(height, width))
        return out

    def _segment(self, values: np.ndarray) -> np.ndarray:
        """Map PyBullet's ``uid + (link + 1) << 24`` pixel values onto label ids."""
        seen = values >= 0  # -1: background
        uids = np.where(seen, values & 0xFFFFFF, -1)
        lut = np.zeros(max(self._body_labels, default=0) + 2, np.uint8)  # index uid + 1
        for body, name in self._body_labels.items():
            lut[body + 1] = self.labels.index(name) + 1
        out = lut[np.where(uids < len(lut) - 1, uids, -1) + 1]
        if self._link_labels:
            links = np.where(seen, (values >> 24) - 1, -2)
            for (body, link), name in self._link_labels.items():
                out[(uids == body) & (links == link)] = self.labels.index(name) + 1
        return out

    def label_link(self, body: int, link: int, name: str) -> None:
        """Give one link of a labelled body its own segmentation label (e.g. a pole on a cart)."""
        if name not in self.labels or body not in self._body_labels:
            raise EnvConfigError(f"label the body first and use one of {self.labels}; got {name!r}")
        self._link_labels[(body, link)] = name

    def camera_params(self, camera: str, width: int, height: int) -> CameraParams:
        """Intrinsics and the current (possibly jittered) extrinsics of a named camera."""
        spec = self.camera_specs[camera]
        return CameraParams(intrinsics(spec.fovy, width, height), self._poses[camera].copy(),
                            width, height, self.near, self.far)

    def nominal_camera_poses(self) -> dict[str, np.ndarray]:
        """Camera-to-world poses (OpenCV axes) as built, before any jitter."""
        return {name: spec.pose() for name, spec in self.camera_specs.items()}

    def randomize(self, sample: EpisodeRandomization) -> None:
        """Apply one episode's draw relative to the nominal bodies; call before ``reset``."""
        c = self.client
        for (body, link), nom in self._nominal.items():
            name = self._link_labels.get((body, link), self._body_labels[body])
            # PyBullet multiplies the two bodies' coefficients of a contact: sqrt on each scales
            # every contact by ``sample.friction``, as MuJoCo's scaling of every geom does.
            kwargs = {"lateralFriction": nom["friction"] * math.sqrt(sample.friction)}
            if nom["mass"] > 0:  # static bodies stay static
                kwargs["mass"] = nom["mass"] * sample.mass.get(name, 1.0)
            if link >= 0:
                kwargs["jointDamping"] = nom["damping"] * sample.damping
            c.changeDynamics(body, link, **kwargs)
            if nom["rgba"] is not None:
                offset = sample.colour.get(name, np.zeros(3))
                if name in SURFACES:
                    offset = offset + sample.texture[0]
                rgb = np.clip(np.asarray(nom["rgba"][:3]) + offset, 0, 1)
                c.changeVisualShape(body, link, rgbaColor=[*rgb, nom["rgba"][3]])
        self._light = sample.light
        self._poses = {name: sample.camera_poses.get(name, spec.pose())
                       for name, spec in self.camera_specs.items()}

    def get_state(self) -> SceneState:
        """A state saved in the server (bodies, joints, contacts) and the ``dynamic_attrs``."""
        return SceneState(id(self), SavedBulletState(self.client), python_state(self))

    def set_state(self, state: SceneState) -> None:
        """Restore :meth:`get_state`'s snapshot (``restoreState``: contacts included, so exact)."""
        restore_python_state(self, state)
        self.client.restoreState(stateId=state.physics.id)

    def close(self) -> None:
        """Disconnect this scene's physics server."""
        if self.client is not None:
            self.client.disconnect()
            self.client = None

    def __getstate__(self) -> dict:
        """PyBullet clients do not pickle."""
        raise NotPicklableError(f"{type(self).__name__} cannot be pickled (PyBullet clients do not pickle); "
                        "recreate the env with gymnasium.make and reset it with the same seed")

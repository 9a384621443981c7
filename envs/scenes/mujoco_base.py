"""What every MuJoCo scene shares: stepping with instability detection, actuation, sensors, DR.

A subclass builds its MJCF (placing cameras with :func:`envs.cameras.mujoco_camera_xml`), passes
the model, its camera specs and its segmentation labels here, and adds ``reset`` and ``read``.
Geoms are labelled by name: a geom whose own name, or whose top-level body's name, is in
``labels`` gets that label's id (``labels.index(name) + 1``); everything else reads 0. A numbered
name ``<label>_<k>`` (``particle_3``) counts as ``<label>``: MuJoCo names are unique, so many
objects of one kind share a label this way.
"""

import weakref

import mujoco
import numpy as np

from envs.cameras import CameraParams, CameraSpec, intrinsics
from envs.contracts import SceneState
from envs.errors import EnvConfigError
from envs.options import integer
from envs.randomization import SURFACES, EpisodeRandomization
from envs.scenes.mujoco_process import make_renderer
from envs.scenes.snapshot import python_state, restore_python_state

# Warnings after which MuJoCo has reset or corrupted the state (it resets on BADQACC/QPOS/QVEL).
_WARNING_NAMES = [n for n in mujoco.mjtWarning.__members__ if n != "mjNWARNING"]
_SNAPSHOT = mujoco.mjtState.mjSTATE_INTEGRATION  # physics + controls, mocap, warm start
_CV_TO_MJ = np.diag([1.0, -1.0, -1.0])  # OpenCV camera axes <-> MuJoCo's (y up, looking down -z)
_GEOM = int(mujoco.mjtObj.mjOBJ_GEOM)  # an int: comparing arrays with the enum costs ~1 us a pixel
MODALITIES = ("rgb", "depth", "segmentation")
# Every scene's <visual>: a soft headlight (lights add the rest) and no shadow map: no light casts
# shadows, and MuJoCo's default 4096^2 map alone costs 64 MB a renderer. The offscreen buffer is
# sized per renderer (envs.scenes.mujoco_process.make_renderer).
VISUAL_XML = """<visual>
    <quality shadowsize="0"/>
    <headlight ambient="0.3 0.3 0.3" diffuse="0.3 0.3 0.3" specular="0 0 0"/>
  </visual>"""


class MujocoScene:
    """Owns ``MjModel``/``MjData``; subclasses add named accessors, ``reset`` and ``read``.

    ``model`` and ``data`` are public: code beside the env (a raw-physics loop, a viewer) may read
    them. Subclasses name their Python-side episode state in ``dynamic_attrs`` (for snapshots).
    """

    model: mujoco.MjModel
    data: mujoco.MjData
    dynamic_attrs: tuple[str, ...] = ()

    def __init__(self, model: mujoco.MjModel, frame_skip: int, camera_specs: tuple[CameraSpec, ...],
                 labels: tuple[str, ...]) -> None:
        frame_skip = integer("frame_skip", frame_skip, 1, 1000)
        self.model, self.data = model, mujoco.MjData(model)
        self.frame_skip = frame_skip
        self.control_dt = model.opt.timestep * frame_skip
        self.action_dim = model.nu
        self.camera_specs = {spec.name: spec for spec in camera_specs}
        self.cameras = tuple(self.camera_specs)
        self.labels = labels
        self._set_clip_planes()
        self._geom_label = self._label_geoms()
        lo, hi = model.actuator_ctrlrange.T
        self._ctrl_mid, self._ctrl_half = (hi + lo) / 2, (hi - lo) / 2
        self._ctrl_offset = bool(self._ctrl_mid.any())  # symmetric ranges skip the add
        self._nominal = {name: getattr(model, name).copy() for name in _RANDOMIZED}
        self._bind_views()
        self._renderers: dict[tuple[int, int], mujoco.Renderer] = {}
        # Free GL contexts before interpreter teardown even if the user never calls close().
        weakref.finalize(self, _close_renderers, self._renderers)

    _VIEWS = ("_qpos", "_qvel", "_ctrl", "_warnings")

    def _bind_views(self) -> None:
        """Cache live numpy views of MjData fields: each ``data.<field>`` access builds a new one."""
        d = self.data
        self._qpos, self._qvel, self._ctrl, self._warnings = d.qpos, d.qvel, d.ctrl, d.warning.number

    def _set_clip_planes(self) -> None:
        """MuJoCo has one global near/far (as fractions of the model extent): take the specs'."""
        missing = [s.name for s in self.camera_specs.values()
                   if mujoco.mj_name2id(self.model, mujoco.mjtObj.mjOBJ_CAMERA, s.name) < 0]
        if missing:
            raise EnvConfigError(f"camera spec(s) {missing} have no <camera> in the MJCF; add them "
                                 "with envs.cameras.mujoco_camera_xml")
        near = min(s.near for s in self.camera_specs.values())
        far = max(s.far for s in self.camera_specs.values())
        extent = self.model.stat.extent
        self.model.vis.map.znear, self.model.vis.map.zfar = near / extent, far / extent
        self.near, self.far = near, far

    def _label_geoms(self) -> np.ndarray:
        m = self.model
        out = np.zeros(m.ngeom, np.uint8)
        for g in range(m.ngeom):
            root = m.body(m.body_rootid[m.geom_bodyid[g]]).name
            for name in (m.geom(g).name, root):
                name = label_of(name)
                if name in self.labels:
                    out[g] = self.labels.index(name) + 1
                    break
        return out

    def step(self, action: np.ndarray) -> str | None:
        """Apply a normalized action and run ``frame_skip`` physics steps; report MuJoCo warnings.

        The action in [-1, 1] maps onto each actuator's ctrlrange; returns None when all is well.
        """
        np.multiply(action, self._ctrl_half, out=self._ctrl)
        if self._ctrl_offset:
            self._ctrl += self._ctrl_mid
        mujoco.mj_step(self.model, self.data, nstep=self.frame_skip)
        return self.check_warnings()

    def check_warnings(self) -> str | None:
        """Describe (and clear) MuJoCo warnings raised since the last check, else None."""
        counts = self._warnings
        if any(counts.tolist()):
            raised = [f"{_WARNING_NAMES[i]} x{n}" for i, n in enumerate(counts.tolist()) if n]
            counts[:] = 0
            return f"MuJoCo warning {', '.join(raised)} near t={self.data.time:.3f}s"
        return None

    def render(self, camera: str, width: int, height: int,
               modalities: tuple[str, ...] = ("rgb",)) -> dict[str, np.ndarray]:
        """Requested images from a named camera; one renderer per size, created on first use.

        ``rgb`` (H, W, 3) uint8, ``depth`` (H, W) float32 metres, ``segmentation`` (H, W) uint8.
        """
        renderer = self._renderers.get((width, height))
        if renderer is None:
            renderer = self._renderers[(width, height)] = make_renderer(self.model, height, width)
        renderer.update_scene(self.data, camera=camera)
        out = {}
        if "rgb" in modalities:
            out["rgb"] = renderer.render()
        if "depth" in modalities:
            renderer.enable_depth_rendering()
            out["depth"] = np.minimum(renderer.render(), self.far).astype(np.float32)
            renderer.disable_depth_rendering()
        if "segmentation" in modalities:
            renderer.enable_segmentation_rendering()
            ids = renderer.render()
            renderer.disable_segmentation_rendering()
            is_geom = ids[..., 1] == _GEOM
            out["segmentation"] = np.where(is_geom, self._geom_label[ids[..., 0]], 0).astype(np.uint8)
        return out

    def camera_params(self, camera: str, width: int, height: int) -> CameraParams:
        """Intrinsics and the current (possibly jittered) extrinsics of a named camera."""
        i = self.model.camera(camera).id
        pose = np.eye(4)
        pose[:3, :3] = self.data.cam_xmat[i].reshape(3, 3) @ _CV_TO_MJ
        pose[:3, 3] = self.data.cam_xpos[i]
        K = intrinsics(float(self.model.cam_fovy[i]), width, height)
        return CameraParams(K, pose, width, height, self.near, self.far)

    def randomize(self, sample: EpisodeRandomization) -> None:
        """Apply one episode's draw relative to the nominal model; call before ``reset``."""
        m, nom = self.model, self._nominal
        m.geom_friction[:] = nom["geom_friction"]
        m.geom_friction[:, 0] *= sample.friction
        m.dof_damping[:] = nom["dof_damping"] * sample.damping
        m.light_diffuse[:] = nom["light_diffuse"] * sample.light
        m.light_specular[:] = nom["light_specular"] * sample.light
        m.body_mass[:], m.body_inertia[:] = nom["body_mass"], nom["body_inertia"]
        m.geom_rgba[:], m.mat_rgba[:] = nom["geom_rgba"], nom["mat_rgba"]
        m.cam_pos[:], m.cam_quat[:] = nom["cam_pos"], nom["cam_quat"]
        for g, label in enumerate(self._geom_label):
            if label:
                name = self.labels[label - 1]
                offset = sample.colour.get(name, np.zeros(3))
                if name in SURFACES:
                    offset = offset + sample.texture[0]
                m.geom_rgba[g, :3] = np.clip(nom["geom_rgba"][g, :3] + offset, 0, 1)
        for b in range(1, m.nbody):
            name = label_of(m.body(m.body_rootid[b]).name)
            if name in sample.mass:
                m.body_mass[b] = nom["body_mass"][b] * sample.mass[name]
                m.body_inertia[b] = nom["body_inertia"][b] * sample.mass[name]
        if m.nmat:
            m.mat_rgba[:, :3] = np.clip(nom["mat_rgba"][:, :3] + sample.texture[0], 0, 1)
        for name, pose in sample.camera_poses.items():
            i = m.camera(name).id
            m.cam_pos[i] = pose[:3, 3]
            mujoco.mju_mat2Quat(m.cam_quat[i], (pose[:3, :3] @ _CV_TO_MJ).reshape(-1))
        mujoco.mj_setConst(m, self.data)

    def nominal_camera_poses(self) -> dict[str, np.ndarray]:
        """Camera-to-world poses (OpenCV axes) as built, before any jitter."""
        return {name: spec.pose() for name, spec in self.camera_specs.items()}

    def get_state(self) -> SceneState:
        """The integration state (``mj_getState``) and the Python-side ``dynamic_attrs``."""
        physics = np.empty(mujoco.mj_stateSize(self.model, _SNAPSHOT))
        mujoco.mj_getState(self.model, self.data, physics, _SNAPSHOT)
        return SceneState(id(self), physics, python_state(self))

    def set_state(self, state: SceneState) -> None:
        """Restore :meth:`get_state`'s snapshot; derived quantities are recomputed for reading."""
        restore_python_state(self, state)
        mujoco.mj_setState(self.model, self.data, state.physics, _SNAPSHOT)
        mujoco.mj_forward(self.model, self.data)

    def close(self) -> None:
        """Free GL contexts now rather than at interpreter exit."""
        _close_renderers(self._renderers)

    def __getstate__(self) -> dict:
        """Pickle without renderers (GL contexts do not pickle; they are recreated lazily)."""
        state = self.__dict__.copy()
        state["_renderers"] = {}
        for name in self._VIEWS:  # views into the old MjData; rebuilt on unpickling
            del state[name]
        return state

    def __setstate__(self, state: dict) -> None:
        """Restore and re-arm the renderer finalizer."""
        self.__dict__.update(state)
        self._bind_views()
        weakref.finalize(self, _close_renderers, self._renderers)


def label_of(name: str) -> str:
    """The label a MuJoCo name stands for: ``particle_3`` -> ``particle``; other names unchanged."""
    base, _, index = name.rpartition("_")
    return base if base and index.isdigit() else name


_RANDOMIZED = ("geom_friction", "dof_damping", "light_diffuse", "light_specular", "body_mass",
               "body_inertia", "geom_rgba", "mat_rgba", "cam_pos", "cam_quat")


def _close_renderers(renderers: dict) -> None:
    for renderer in renderers.values():
        renderer.close()
    renderers.clear()

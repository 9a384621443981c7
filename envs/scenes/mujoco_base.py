"""What every MuJoCo scene shares: stepping with instability detection, actuation, rendering."""

import weakref

import mujoco
import numpy as np

from envs.errors import EnvConfigError

# Warnings after which MuJoCo has reset or corrupted the state (it resets on BADQACC/QPOS/QVEL).
_WARNING_NAMES = [n for n in mujoco.mjtWarning.__members__ if n != "mjNWARNING"]


class MujocoScene:
    """Owns ``MjModel``/``MjData``; subclasses add named accessors, ``reset`` and ``read``."""

    def __init__(self, model: mujoco.MjModel, frame_skip: int) -> None:
        if frame_skip < 1:
            raise EnvConfigError(f"frame_skip must be a positive integer, got {frame_skip}")
        self.model, self.data = model, mujoco.MjData(model)
        self.frame_skip = frame_skip
        self.control_dt = model.opt.timestep * frame_skip
        self.action_dim = model.nu
        self.cameras = tuple(model.camera(i).name for i in range(model.ncam))
        lo, hi = model.actuator_ctrlrange.T
        self._ctrl_mid, self._ctrl_half = (hi + lo) / 2, (hi - lo) / 2
        self._ctrl_offset = bool(self._ctrl_mid.any())  # symmetric ranges skip the add
        self._bind_views()
        self._renderers: dict[tuple[int, int], mujoco.Renderer] = {}
        # Free GL contexts before interpreter teardown even if the user never calls close().
        weakref.finalize(self, _close_renderers, self._renderers)

    _VIEWS = ("_qpos", "_qvel", "_ctrl", "_warnings")

    def _bind_views(self) -> None:
        """Cache live numpy views of MjData fields: each ``data.<field>`` access builds a new one."""
        d = self.data
        self._qpos, self._qvel, self._ctrl, self._warnings = d.qpos, d.qvel, d.ctrl, d.warning.number

    def step(self, action: np.ndarray) -> str | None:
        """Apply a normalized action and run ``frame_skip`` physics steps; report MuJoCo warnings.

        The action in [-1, 1] maps onto each actuator's ctrlrange; returns None when all is well.
        """
        np.multiply(action, self._ctrl_half, out=self._ctrl)
        if self._ctrl_offset:
            self._ctrl += self._ctrl_mid
        mujoco.mj_step(self.model, self.data, nstep=self.frame_skip)
        counts = self._warnings
        if any(counts.tolist()):
            raised = [f"{_WARNING_NAMES[i]} x{n}" for i, n in enumerate(counts.tolist()) if n]
            counts[:] = 0
            return f"MuJoCo warning {', '.join(raised)} near t={self.data.time:.3f}s"
        return None

    def render(self, camera: str, width: int, height: int) -> np.ndarray:
        """RGB image (height, width, 3) uint8; one renderer per size, created on first use."""
        renderer = self._renderers.get((width, height))
        if renderer is None:
            renderer = self._renderers[(width, height)] = mujoco.Renderer(
                self.model, height, width)
        renderer.update_scene(self.data, camera=camera)
        return renderer.render()

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


def _close_renderers(renderers: dict) -> None:
    for renderer in renderers.values():
        renderer.close()
    renderers.clear()

"""What MuJoCo does process-wide: GL contexts that must not cross a fork, and warnings that go to logging.

**Forks.** A process forked after its parent created a MuJoCo GL context hangs forever in
``mjr_readPixels`` (OSMesa) the first time it renders. :func:`make_renderer` remembers which
process made a context and refuses, with the fix in the message, to render in a process forked
after that; ``envs.make_vec`` starts its workers with ``spawn``, which is always safe.

**Warnings.** MuJoCo's default handler prints each warning and appends it to ``MUJOCO_LOG.TXT``
in the working directory. Scenes report instabilities themselves (``info["instability"]``), so
the text goes to the ``envs.mujoco`` logger instead (unless the user installed a handler).
"""

import logging
import os

import mujoco

from envs.errors import RoboloopError

logger = logging.getLogger("envs.mujoco")
_gl_pid: int | None = None  # the process that made a MuJoCo GL context, if any; copied by fork


class ForkedRendererError(RoboloopError, RuntimeError):
    """MuJoCo rendering was asked of a process forked after its parent had rendered."""


def make_renderer(model: mujoco.MjModel, height: int, width: int) -> mujoco.Renderer:
    """A ``mujoco.Renderer`` with an offscreen buffer of its own size.

    Refused in a fork of a process that already rendered: it would hang.
    """
    global _gl_pid
    if _gl_pid is not None and _gl_pid != os.getpid():
        raise ForkedRendererError(
            f"this process (pid {os.getpid()}) was forked from one that had created a MuJoCo GL "
            f"context (pid {_gl_pid}); rendering here would hang in OSMesa. Start workers with "
            "'spawn' or 'forkserver': envs.make_vec(...), gymnasium.make_vec(..., vector_kwargs="
            "{'context': 'spawn'}) or SubprocVecEnv(..., start_method='spawn')")
    # Each renderer owns a GL context and an offscreen buffer of the model's offwidth x offheight
    # (x4 samples): sized to this renderer's images, a 32x32 camera costs ~10 MB instead of ~28.
    model.vis.global_.offwidth, model.vis.global_.offheight = width, height
    renderer = mujoco.Renderer(model, height, width)
    _gl_pid = os.getpid()
    return renderer


def _log_warning(message: str) -> None:
    logger.warning("MuJoCo: %s", message.strip())


if mujoco.get_mju_user_warning() is None:
    mujoco.set_mju_user_warning(_log_warning)

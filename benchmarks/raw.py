"""Raw counterparts of an env step: the same scene's physics (and renderer) called directly.

One raw step is one env step's worth of work, on the env's own model or client:

- **MuJoCo**: ``mj_step(model, data, nstep=frame_skip)`` on a copy of the env's ``MjData`` taken
  after a seeded reset; every repeat starts from a fresh copy. Controls stay at their reset value.
- **PyBullet**: ``client.stepSimulation()`` ``frame_skip`` times on the env's own client. Each
  repeat first calls ``env.reset(seed=seed)`` (untimed): the env loops reset with the same seed at
  the start of each repeat, so both start from the same state. Motor targets stay as reset left them.

With a camera, each raw step then renders one ``size`` x ``size`` RGB image of the env's first
camera, with the call the scene itself makes (same camera, matrices, lighting and flags).
"""

import copy
import functools
import time
from collections.abc import Callable
from contextlib import ExitStack
from typing import Any

import mujoco

from benchmarks.timing import Timing

RawLoop = Callable[[int], Timing]


def time_mujoco(model: Any, data: Any, frame_skip: int, n: int, renderer: Any = None,
                camera: str | None = None) -> Timing:
    """``n`` calls of ``mj_step(model, data, nstep=frame_skip)``, each then rendering if asked."""
    mj_step, clock = mujoco.mj_step, time.perf_counter
    start = clock()
    if renderer is None:
        for _ in range(n):
            mj_step(model, data, nstep=frame_skip)
    else:
        update, render = renderer.update_scene, renderer.render
        for _ in range(n):
            mj_step(model, data, nstep=frame_skip)
            update(data, camera=camera)
            render()
    return {"elapsed_s": clock() - start}


def time_bullet(step: Callable[[], Any], frame_skip: int, n: int,
                render: Callable[[], Any] | None = None) -> Timing:
    """``n`` times: ``step()`` ``frame_skip`` times (``stepSimulation``), then ``render()`` if given."""
    inner, clock = range(frame_skip), time.perf_counter
    start = clock()
    if render is None:
        for _ in range(n):
            for _ in inner:
                step()
    else:
        for _ in range(n):
            for _ in inner:
                step()
            render()
    return {"elapsed_s": clock() - start}


def backend_of(env: Any) -> str:
    """``"pybullet"`` for a scene with a Bullet client, ``"mujoco"`` for one with an ``MjModel``."""
    owner = _physics_owner(env)
    if hasattr(owner, "client"):
        return "pybullet"
    if hasattr(owner, "model") and hasattr(owner, "data"):
        return "mujoco"
    raise TypeError(f"{type(owner).__name__} exposes neither `client` (PyBullet) nor `model` and "
                    "`data` (MuJoCo); the benchmark cannot time its raw physics")


def frame_skip_of(env: Any) -> int:
    """Physics steps per env step."""
    return int(_physics_owner(env).frame_skip)


def raw_loop(stack: ExitStack, env: Any, seed: int, image_size: int | None = None) -> tuple[str, RawLoop]:
    """A label and ``fn(n)`` timing ``n`` raw steps of ``env``'s scene (with a render if sized)."""
    if backend_of(env) == "mujoco":
        return _mujoco_loop(stack, env, seed, image_size)
    return _bullet_loop(env, seed, image_size)


def _physics_owner(env: Any) -> Any:
    """The roboloop scene of a ``TaskEnv``, or a Gymnasium MuJoCo env itself (e.g. Reacher)."""
    owner = env.unwrapped
    return getattr(owner, "scene", owner)


def _mujoco_loop(stack: ExitStack, env: Any, seed: int, image_size: int | None) -> tuple[str, RawLoop]:
    owner, frame_skip = _physics_owner(env), frame_skip_of(env)
    model = owner.model
    env.reset(seed=seed)
    snapshot = copy.copy(owner.data)  # each repeat starts from a fresh copy of this state
    label = f"mj_step(nstep={frame_skip})"
    renderer, camera = None, None
    if image_size is not None:
        renderer = mujoco.Renderer(model, image_size, image_size)
        stack.callback(renderer.close)
        camera = env.unwrapped.cameras[0]
        label += f" + update_scene(camera={camera!r}) + render() {image_size}x{image_size}"

    def fn(n: int) -> Timing:
        return time_mujoco(model, copy.copy(snapshot), frame_skip, n, renderer, camera)

    return label, fn


def _bullet_loop(env: Any, seed: int, image_size: int | None) -> tuple[str, RawLoop]:
    owner, frame_skip = _physics_owner(env), frame_skip_of(env)
    step = owner.client.stepSimulation  # BulletClient builds this partial on every access
    label = f"stepSimulation() x {frame_skip}"
    render = None
    if image_size is not None:
        camera = env.unwrapped.cameras[0]
        render = _bullet_render_call(owner, camera, image_size)
        label += f" + getCameraImage(camera={camera!r}, TinyRenderer) {image_size}x{image_size}"

    def fn(n: int) -> Timing:
        env.reset(seed=seed)
        return time_bullet(step, frame_skip, n, render)

    return label, fn


def _bullet_render_call(scene: Any, camera: str, size: int) -> Callable[[], Any]:
    """``getCameraImage`` as ``PybulletScene.render`` calls it for an RGB image of ``camera``."""
    import pybullet as pb

    from envs.cameras import opengl_projection_matrix, opengl_view_matrix
    from envs.scenes.pybullet_base import AMBIENT, DIFFUSE

    spec = scene.camera_specs[camera]
    view = opengl_view_matrix(spec.pose())
    proj = opengl_projection_matrix(spec.fovy, 1.0, scene.near, scene.far)
    return functools.partial(
        scene.client.getCameraImage, size, size, view, proj, lightDirection=[0.3, 0.3, 1.0],
        lightAmbientCoeff=AMBIENT, lightDiffuseCoeff=DIFFUSE, lightSpecularCoeff=0.0,
        renderer=pb.ER_TINY_RENDERER, flags=pb.ER_NO_SEGMENTATION_MASK)

"""Raw counterparts of an env step: the same scene's physics (and renderer) called directly.

A raw loop runs on its own copy of the env (built with the same options), so it can take turns
with the env loop without touching the env's state. One raw step is one env step's worth of
physics, driven by **the low-level commands the env issued** for the same seeded random actions,
and the raw trajectory restarts where the env's episodes restart. The raw loop therefore simulates
the same motion and contacts as the env loop (idle motors would be cheaper: nothing touches).
The commands are recorded once, untimed, by stepping the raw loop's env through the actions:

- **MuJoCo**: ``data.ctrl`` after each env step, and the integration state
  (``mj_getState(mjSTATE_INTEGRATION)``) after each episode reset. A raw step writes the control
  back (``ctrl[:] = ...``) and calls ``mj_step(model, data, nstep=frame_skip)``.
- **PyBullet**: every motor command (``setJointMotorControlArray``/``setJointMotorControl2``) and
  ``stepSimulation`` call, in order, with its arguments, and a ``saveState`` after each episode
  reset. A raw step replays the step's calls.

At the env's episode boundaries the raw loop restores the recorded state; restores are timed on
their own and excluded, as the env's resets are. With a camera, each raw step then renders one
``size`` x ``size`` RGB image of the env's first camera, with the call the scene itself makes.
"""

import functools
import time
from collections.abc import Callable, Iterator
from contextlib import ExitStack, contextmanager
from typing import Any

import mujoco
import numpy as np
import pybullet

from benchmarks.timing import Timing

Actions = Callable[[int], Any]  # n -> the first n actions of the run's seeded action sequence
MOTOR_CALLS = ("setJointMotorControlArray", "setJointMotorControl2")  # how PyBullet scenes actuate
Op = tuple[Callable[..., Any], tuple, dict]
_STATE = mujoco.mjtState.mjSTATE_INTEGRATION


def backend_of(env: Any) -> str:
    """``"pybullet"`` for a scene with a Bullet client, ``"mujoco"`` for one with an ``MjModel``."""
    owner = physics_owner(env)
    if hasattr(owner, "client"):
        return "pybullet"
    if hasattr(owner, "model") and hasattr(owner, "data"):
        return "mujoco"
    raise TypeError(f"{type(owner).__name__} exposes neither `client` (PyBullet) nor `model` and "
                    "`data` (MuJoCo); the benchmark cannot time its raw physics")


def frame_skip_of(env: Any) -> int:
    """Physics steps per env step."""
    return int(physics_owner(env).frame_skip)


def physics_owner(env: Any) -> Any:
    """The roboloop scene of a ``TaskEnv``, or a Gymnasium MuJoCo env itself (e.g. Reacher)."""
    owner = env.unwrapped
    return getattr(owner, "scene", owner)


def raw_loop(stack: ExitStack, env: Any, actions: Actions, seed: int,
             image_size: int | None = None) -> tuple[str, Any]:
    """A label and the raw loop of ``env`` (its own copy: the env loop must use another)."""
    if backend_of(env) == "mujoco":
        loop = MujocoRawLoop(env, actions, seed)
        label = f"ctrl[:] = recorded; mj_step(nstep={loop.frame_skip})"
        if image_size is not None:
            renderer = mujoco.Renderer(loop.model, image_size, image_size)
            stack.callback(renderer.close)
            camera = env.unwrapped.cameras[0]
            loop.render = functools.partial(_mujoco_render, renderer, loop.data, camera)
            label += f" + update_scene(camera={camera!r}) + render() {image_size}x{image_size}"
        return label, loop
    loop = BulletRawLoop(env, actions, seed)
    label = f"recorded motor commands + stepSimulation() x {loop.frame_skip}"
    if image_size is not None:
        camera = env.unwrapped.cameras[0]
        loop.render = _bullet_render_call(physics_owner(env), camera, image_size)
        label += f" + getCameraImage(camera={camera!r}, TinyRenderer) {image_size}x{image_size}"
    return label, loop


class _RawLoop:
    """Record the env's commands (untimed) and replay them; subclasses say what is recorded."""

    def __init__(self, env: Any, actions: Actions, seed: int) -> None:
        self.env, self.actions, self.seed = env, actions, seed
        self.owner, self.frame_skip = physics_owner(env), frame_skip_of(env)
        self.render: Callable[[], Any] | None = None
        self.steps: list[Any] = []  # per step: (commands, state to restore after it or None)
        self.initial: Any = None
        self.i = 0

    def _record(self, n: int) -> None:
        """Step the env through the first ``n`` actions from its seeded reset."""
        env, steps = self.env, []
        with self._recording() as commands:
            env.reset(seed=self.seed)
            self.initial = self._save()
            for action in self.actions(n):
                _, _, terminated, truncated, _ = env.step(action)
                cmd = commands()
                restore = None
                if terminated or truncated:
                    env.reset()
                    restore = self._save()
                steps.append((cmd, restore))
        self.steps = steps

    def start(self) -> None:
        if not self.steps:
            self._record(1024)
        self._restore(self.initial)
        self.i = 0

    def run(self, n: int) -> Timing:
        self._ensure(n)
        steps = self.steps[self.i:self.i + n]
        self.i += n
        return self._replay(steps)

    def advance(self) -> None:
        """Replay the next recorded step alone (restoring the recorded state at an episode end)."""
        self._ensure(1)
        commands, state = self.steps[self.i]
        self.i += 1
        self._apply(commands)
        if state is not None:
            self._restore(state)

    def _ensure(self, n: int) -> None:
        """Make sure ``n`` more steps are recorded: record further, then replay (untimed) back to i."""
        if self.i + n > len(self.steps):
            i = self.i
            self._record(max(self.i + n, 2 * len(self.steps)))
            self.start()
            if i:
                self.run(i)


class MujocoRawLoop(_RawLoop):
    """``ctrl[:] = recorded; mj_step(model, data, nstep=frame_skip)`` on the env copy's model."""

    def __init__(self, env: Any, actions: Actions, seed: int) -> None:
        super().__init__(env, actions, seed)
        self.model, self.data = self.owner.model, self.owner.data
        self._size = mujoco.mj_stateSize(self.model, _STATE)
        self.before_physics: Callable[[], None] | None = None  # see physics_after

    @contextmanager
    def _recording(self) -> Iterator[Callable[[], Any]]:
        yield lambda: self.data.ctrl.copy()

    def _save(self) -> np.ndarray:
        state = np.empty(self._size)
        mujoco.mj_getState(self.model, self.data, state, _STATE)
        return state

    def _restore(self, state: np.ndarray) -> None:
        mujoco.mj_setState(self.model, self.data, state, _STATE)

    def _apply(self, ctrl: np.ndarray) -> None:
        """One step of :meth:`_replay`'s loop, untimed (``_replay`` inlines it: it is the timed path)."""
        self.data.ctrl[:] = ctrl
        if self.before_physics is not None:
            self.before_physics()
        mujoco.mj_step(self.model, self.data, nstep=self.frame_skip)
        if self.render is not None:
            self.render()

    def _replay(self, steps: list[Any]) -> Timing:
        model, data, nstep, render = self.model, self.data, self.frame_skip, self.render
        mj_step, set_state, ctrl, clock = mujoco.mj_step, mujoco.mj_setState, data.ctrl, time.perf_counter
        if self.before_physics is not None:
            mj_step = _after(self.before_physics, mj_step)
        restores, restore_s = 0, 0.0
        start = clock()
        for c, state in steps:
            ctrl[:] = c
            mj_step(model, data, nstep=nstep)
            if render is not None:
                render()
            if state is not None:
                t = clock()
                set_state(model, data, state, _STATE)
                restore_s += clock() - t
                restores += 1
        return {"elapsed_s": clock() - start, "reset_s": restore_s, "resets": restores}


class BulletRawLoop(_RawLoop):
    """The env copy's recorded motor commands and ``stepSimulation`` calls, replayed."""

    def __init__(self, env: Any, actions: Actions, seed: int) -> None:
        super().__init__(env, actions, seed)
        self.cid = self.owner.cid

    @contextmanager
    def _recording(self) -> Iterator[Callable[[], Any]]:
        for _, state in self.steps:  # drop the saved states of an earlier recording
            if state is not None:
                pybullet.removeState(state, physicsClientId=self.cid)
        if self.initial is not None:
            pybullet.removeState(self.initial, physicsClientId=self.cid)
        with _recording_bullet_calls() as ops:
            def commands() -> list[Op]:
                step = ops[:]
                ops.clear()
                return step
            yield commands

    def _save(self) -> int:
        return pybullet.saveState(physicsClientId=self.cid)

    def _restore(self, state: int) -> None:
        pybullet.restoreState(stateId=state, physicsClientId=self.cid)

    def _apply(self, ops: list[Op]) -> None:
        """One step of :meth:`_replay`'s loop, untimed (``_replay`` inlines it: it is the timed path)."""
        for fn, args, kwargs in ops:
            fn(*args, **kwargs)
        if self.render is not None:
            self.render()

    def _replay(self, steps: list[Any]) -> Timing:
        render, restore, cid, clock = self.render, pybullet.restoreState, self.cid, time.perf_counter
        restores, restore_s = 0, 0.0
        start = clock()
        for ops, state in steps:
            for fn, args, kwargs in ops:
                fn(*args, **kwargs)
            if render is not None:
                render()
            if state is not None:
                t = clock()
                restore(stateId=state, physicsClientId=cid)
                restore_s += clock() - t
                restores += 1
        return {"elapsed_s": clock() - start, "reset_s": restore_s, "resets": restores}


def physics_after(host: _RawLoop, guest: Any) -> None:
    """Make every physics step of ``guest`` come right after one step of ``host``'s raw physics.

    ``guest`` is a Gymnasium MuJoCo env (e.g. Reacher-v5) or its :class:`MujocoRawLoop`. Its Python
    then runs on caches that ``host``'s physics has just used, as a task's step code does after its
    own scene's physics; the env and its raw loop get the same hook, so the host's time cancels in
    their difference.
    """
    if isinstance(guest, MujocoRawLoop):
        guest.before_physics = host.advance
        return
    owner = guest.unwrapped
    owner._step_mujoco_simulation = _after(host.advance, owner._step_mujoco_simulation)


def _after(first: Callable[[], None], fn: Callable[..., Any]) -> Callable[..., Any]:
    def call(*args: Any, **kwargs: Any) -> Any:
        first()
        return fn(*args, **kwargs)
    return call


@contextmanager
def _recording_bullet_calls() -> Iterator[list[Op]]:
    """Record (fn, args, kwargs) of every motor command and ``stepSimulation`` made meanwhile.

    Scenes call these as ``pybullet.<name>`` (looked up at call time, as ``BulletClient`` does), so
    wrapping the module attributes sees every call. The originals are restored on exit.
    """
    ops: list[Op] = []
    originals = {name: getattr(pybullet, name) for name in (*MOTOR_CALLS, "stepSimulation")}

    def recorder(fn: Callable[..., Any]) -> Callable[..., Any]:
        def call(*args: Any, **kwargs: Any) -> Any:
            ops.append((fn, args, kwargs))
            return fn(*args, **kwargs)
        return call

    try:
        for name, fn in originals.items():
            setattr(pybullet, name, recorder(fn))
        yield ops
    finally:
        for name, fn in originals.items():
            setattr(pybullet, name, fn)


def _mujoco_render(renderer: Any, data: Any, camera: str) -> None:
    renderer.update_scene(data, camera=camera)
    renderer.render()


def _bullet_render_call(scene: Any, camera: str, size: int) -> Callable[[], Any]:
    """``getCameraImage`` as ``PybulletScene.render`` calls it for an RGB image of ``camera``."""
    from envs.cameras import opengl_projection_matrix, opengl_view_matrix
    from envs.scenes.pybullet_base import AMBIENT, DIFFUSE

    spec = scene.camera_specs[camera]
    view = opengl_view_matrix(spec.pose())
    proj = opengl_projection_matrix(spec.fovy, 1.0, scene.near, scene.far)
    return functools.partial(
        pybullet.getCameraImage, size, size, view, proj, lightDirection=[0.3, 0.3, 1.0],
        lightAmbientCoeff=AMBIENT, lightDiffuseCoeff=DIFFUSE, lightSpecularCoeff=0.0,
        renderer=pybullet.ER_TINY_RENDERER, flags=pybullet.ER_NO_SEGMENTATION_MASK,
        physicsClientId=scene.cid)

"""What one timed step is: an env step, one env step's worth of raw physics, or one beside another.

A *stepper* walks a fixed tape of seeded actions: ``start()`` goes to its start (untimed), each
call does one step and returns the seconds to leave out (an env reset, a state restore), else 0.0,
and after the last step it starts over. An env's raw copies, recorded along its tape
(:func:`record`), therefore stay on the env's exact trajectory however long they run.

Recording steps a copy of the env once, untimed, and keeps what it issued: MuJoCo ``data.ctrl``
(replayed as ``ctrl[:] = recorded; mj_step(model, data, nstep=frame_skip)``), or every non-read
call a PyBullet scene made through ``scene.client`` (the motor commands and ``stepSimulation``,
logged by a proxy put in the copy's ``client`` attribute; replayed in order). Where an episode
ended, the copy is reset like the env and ``get_state()`` saved, for ``set_state`` there.
"""

import copy
import functools
import time
from collections.abc import Callable
from typing import Any, Protocol

import gymnasium as gym
import mujoco
import numpy as np

SEED = 0
READS = ("get", "calculate", "compute", "is")  # PyBullet calls that change nothing: not replayed
_INTEGRATION = mujoco.mjtState.mjSTATE_INTEGRATION
clock = time.perf_counter


class Stepper(Protocol):
    """One seeded trajectory: ``start()`` goes to its start, a call does one step (see above)."""

    def start(self) -> None: ...

    def __call__(self) -> float: ...


def sample_actions(space: gym.Space, n: int) -> list[Any]:
    """``n`` seeded random actions from a Box or Discrete space."""
    rng = np.random.default_rng(SEED)
    if isinstance(space, gym.spaces.Discrete):
        return [int(a) for a in rng.integers(space.start, space.start + space.n, n)]
    if isinstance(space, gym.spaces.Box) and space.is_bounded():
        return list(rng.uniform(space.low, space.high, (n, *space.shape)).astype(space.dtype))
    raise TypeError(f"expected a bounded Box or a Discrete action space, got {space}")


class _GymMujoco:
    """A Gymnasium ``MujocoEnv`` (Reacher-v5) seen as a scene, through its public model and data."""

    def __init__(self, env: Any) -> None:
        self.model, self.data, self.frame_skip = env.model, env.data, env.frame_skip

    def get_state(self) -> np.ndarray:
        state = np.empty(mujoco.mj_stateSize(self.model, _INTEGRATION))
        mujoco.mj_getState(self.model, self.data, state, _INTEGRATION)
        return state

    def set_state(self, state: np.ndarray) -> None:
        mujoco.mj_setState(self.model, self.data, state, _INTEGRATION)


def scene_of(env: gym.Env) -> Any:
    """A roboloop env's scene, or a Gymnasium MuJoCo env seen as one."""
    u = env.unwrapped
    return u.scene if hasattr(u, "scene") else _GymMujoco(u)


class RecordingClient:
    """Stands in for a scene's ``BulletClient`` during one step: passes calls on, logs non-reads."""

    def __init__(self, client: Any) -> None:
        self.client, self.calls = client, []

    def __getattr__(self, name: str) -> Any:
        attribute = getattr(self.client, name)
        if not callable(attribute) or name.startswith(READS):
            return attribute

        def call(*args: Any, **kwargs: Any) -> Any:
            self.calls.append((attribute, copy.deepcopy(args), copy.deepcopy(kwargs)))
            return attribute(*args, **kwargs)
        return call


def record(env: gym.Env, actions: list[Any], min_steps: int | None = None) -> tuple[list, list]:
    """Step ``env`` (a copy no timed loop uses) along ``actions`` from its seeded reset.

    Returns per step the commands (MuJoCo ctrl, or PyBullet ``[(fn, args, kwargs), ...]``) and
    the state to restore after it (the state saved where an episode restarted, else None; the
    initial state after the last step). With ``min_steps`` the tape ends at the first episode end
    after that many steps.
    """
    scene = scene_of(env)
    env.reset(seed=SEED)
    initial, commands, after = scene.get_state(), [], []
    for action in actions:
        if hasattr(scene, "client"):
            client = scene.client
            scene.client = proxy = RecordingClient(client)
            try:
                _, _, terminated, truncated, _ = env.step(action)
            finally:
                scene.client = client
            commands.append(proxy.calls)
        else:
            _, _, terminated, truncated, _ = env.step(action)
            commands.append(scene.data.ctrl.copy())
        if terminated or truncated:
            env.reset()
        after.append(scene.get_state() if terminated or truncated else None)
        if after[-1] is not None and min_steps is not None and len(after) >= min_steps:
            break
    after[-1] = initial
    return commands, after


class EnvStep:
    """``env.step`` along the tape; ``reset()`` where an episode ends, ``reset(seed)`` at the end."""

    def __init__(self, env: gym.Env, actions: list[Any]) -> None:
        self.env, self.actions, self.n, self.i = env, actions, len(actions), 0
        self._step, self._reset = env.step, env.reset

    def start(self) -> None:
        self._reset(seed=SEED)
        self.i = 0

    def __call__(self) -> float:
        _, _, terminated, truncated, _ = self._step(self.actions[self.i])
        self.i += 1
        if self.i < self.n and not (terminated or truncated):
            return 0.0
        t = clock()
        if self.i == self.n:
            self._reset(seed=SEED)
            self.i = 0
        else:
            self._reset()
        return clock() - t


class RawStep:
    """One env step's worth of a copy's recorded physics, then a render per camera (if any)."""

    def __init__(self, env: gym.Env, recording: tuple[list, list], cameras: tuple[str, ...] = (),
                 size: int = 0, modalities: tuple[str, ...] = ("rgb",)) -> None:
        self.scene = s = scene_of(env)
        self.commands, self.after = recording
        self.n, self.i = len(self.commands), 0
        self.renders = tuple(functools.partial(s.render, c, size, size, modalities) for c in cameras)
        self._apply: Callable[[Any], None] = (
            _replay_calls if hasattr(s, "client") else
            functools.partial(_mj_step, s.model, s.data, s.data.ctrl, s.frame_skip))

    def start(self) -> None:
        self.scene.set_state(self.after[-1])
        self.i = 0

    def __call__(self) -> float:
        i = self.i
        self._apply(self.commands[i])
        for render in self.renders:
            render()
        self.i = i + 1 if i + 1 < self.n else 0
        if self.after[i] is None:
            return 0.0
        t = clock()
        self.scene.set_state(self.after[i])
        return clock() - t


def _mj_step(model: Any, data: Any, ctrl: np.ndarray, nstep: int, command: np.ndarray) -> None:
    ctrl[:] = command
    mujoco.mj_step(model, data, nstep=nstep)


def _replay_calls(calls: list[tuple[Callable[..., Any], tuple, dict]]) -> None:
    for fn, args, kwargs in calls:
        fn(*args, **kwargs)


class Beside:
    """``host()`` then ``guest()``: the guest's step runs right after a step of the host's physics."""

    def __init__(self, host: RawStep, guest: Stepper) -> None:
        self.host, self.guest = host, guest

    def start(self) -> None:
        self.host.start()
        self.guest.start()

    def __call__(self) -> float:
        return self.host() + self.guest()


class VectorStep:
    """``vec.step`` along a tape of batched actions; the sub-envs reset inside their workers."""

    def __init__(self, vec: gym.vector.VectorEnv, actions: list[Any]) -> None:
        self.vec, self.actions, self.i = vec, actions, 0

    def start(self) -> None:
        self.vec.reset(seed=SEED)
        self.i = 0

    def __call__(self) -> float:
        self.vec.step(self.actions[self.i % len(self.actions)])
        self.i += 1
        return 0.0

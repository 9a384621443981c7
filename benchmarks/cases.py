"""What a run measures: env/raw pairs per task x backend, Reacher-v5, cameras and vector envs.

Every measurement is built, warmed up and given its step count here. A task x backend that fails
any of that becomes an error row (``{"section", "key", "env_id", "backend", "error"}``) instead of
stopping the run; a backend that a task does not declare is simply not measured.
"""

import functools
import importlib
from collections.abc import Callable, Sequence
from contextlib import ExitStack
from dataclasses import dataclass
from typing import Any

import gymnasium as gym
import numpy as np

import envs
from benchmarks.raw import backend_of, frame_skip_of, physics_after, raw_loop
from benchmarks.timing import Case, EnvLoop, VectorLoop, prepare

REACHER = "Reacher-v5"  # Gymnasium's reference for the per-step cost beyond physics
PUSH_CUBE = "roboloop/PushCube-v0"  # the camera and vector-env measurements use this task
BACKENDS = ("mujoco", "pybullet")
SECTIONS = ("state", "camera", "vector")
IMAGE_SIZE = 96
VECTOR_WORKERS = (1, 2)
VECTOR_BACKEND = "mujoco"
SEED = 0


@dataclass(frozen=True)
class Plan:
    """What to measure and for how long."""

    ids: tuple[str, ...]  # roboloop env ids for the state section
    backends: tuple[str, ...]  # for the state and camera sections
    sections: tuple[str, ...]  # subset of SECTIONS
    seconds: float  # target duration of one measurement in one repeat (when its steps are not fixed)
    steps: dict[str, int | None]  # section -> fixed steps per measurement, None = calibrate to seconds


def short(env_id: str) -> str:
    """``roboloop/PushCube-v0`` -> ``PushCube-v0``."""
    return env_id.split("/")[-1]


def sample_actions(space: gym.Space, n: int, seed: int) -> Any:
    """``n`` seeded random actions from ``space``: an array of them for Box and Discrete spaces."""
    rng = np.random.default_rng(seed)
    if isinstance(space, gym.spaces.Box) and space.is_bounded():
        return rng.uniform(space.low, space.high, (n, *space.shape)).astype(space.dtype)
    if isinstance(space, gym.spaces.Discrete):
        return rng.integers(space.start, space.start + space.n, n)
    space.seed(seed)
    return [space.sample() for _ in range(n)]


class ActionTape:
    """The first ``n`` of a seeded action sequence, regenerated (same seed) when it must grow."""

    def __init__(self, space: gym.Space, seed: int) -> None:
        self.space, self.seed, self._actions = space, seed, sample_actions(space, 0, seed)

    def take(self, n: int) -> Any:
        """Actions ``0..n-1`` (generating them is never timed)."""
        if n > len(self._actions):
            self._actions = sample_actions(self.space, max(n, 2 * len(self._actions)), self.seed)
        return self._actions[:n]


def declared_backends(env_id: str, wanted: Sequence[str]) -> list[str]:
    """The ``wanted`` backends that a task declares (``BACKENDS`` in its entry point's module).

    A task whose module declares none is tried on every wanted backend.
    """
    entry_point = gym.spec(env_id).entry_point  # raises for an unregistered id
    if isinstance(entry_point, str):
        declared = getattr(importlib.import_module(entry_point.split(":")[0]), "BACKENDS", None)
        if declared is not None:
            return [b for b in wanted if b in declared]
    return list(wanted)


# ---------------------------------------------------------------------------------------------
# Builders: each returns the cases of one row, closing what it opens through ``stack``.


def state_pair(stack: ExitStack, env_id: str, backend: str) -> list[Case]:
    """Env steps with ``obs_mode="state"`` and random actions, and the raw physics of its scene.

    A roboloop row also gets its own Reacher-v5 env and raw pair (keys ``ref_env``, ``ref_raw``),
    measured in the same group, so its ratio compares two envs that ran side by side, and the
    same pair run step by step after this row's raw physics (``ref_env_matched``,
    ``ref_raw_matched``, see :func:`matched_reference`).
    """
    if env_id == REACHER:
        return _env_and_raw(stack, "state", REACHER, "mujoco", {}, None)
    kwargs = {"backend": backend, "obs_mode": "state"}
    cases = _env_and_raw(stack, "state", env_id, backend, kwargs, None)
    reference = _env_and_raw(stack, "state", REACHER, "mujoco", {}, None)
    for case, what in zip(reference, ("ref_env", "ref_raw"), strict=True):
        case.key = f"state/{short(env_id)}/{backend}/{what}"
    return cases + reference + matched_reference(stack, env_id, backend, kwargs)


def matched_reference(stack: ExitStack, env_id: str, backend: str,
                      kwargs: dict[str, Any]) -> list[Case]:
    """Reacher-v5's env and its raw physics, each stepped right after a step of this row's physics.

    Each runs beside its own copy of the row's raw loop. Python code after a physics step runs on
    caches that the physics has just used: the more the physics touches (contacts, more bodies,
    more substeps), the more the same code costs. Reacher-v5 has two contact-free substeps of a
    two-link model, so its own figure is measured under far less of that than a contact-rich task.
    Here Reacher-v5's step code pays this row's physics' cache pressure too: the difference of the
    two is its time beyond physics *beside this scene*.
    """
    cases = []
    for what in ("env", "raw"):
        host_env, reacher = gym.make(env_id, **kwargs), gym.make(REACHER)
        stack.callback(host_env.close)
        stack.callback(reacher.close)
        host_label, host = raw_loop(stack, host_env, ActionTape(host_env.action_space, SEED).take,
                                    SEED)
        tape = ActionTape(reacher.action_space, SEED)
        if what == "env":
            label, loop = f"gymnasium.make({REACHER!r}).step", EnvLoop(reacher, tape.take, SEED)
            physics_after(host, reacher)
        else:
            label, loop = raw_loop(stack, reacher, tape.take, SEED)
            physics_after(host, loop)
        cases.append(Case("state", f"state/{short(env_id)}/{backend}/ref_{what}_matched",
                          f"{REACHER}: {label}, each physics step after one of {short(env_id)} "
                          f"{backend}'s ({host_label})", REACHER, "mujoco", frame_skip_of(reacher), loop))
    return cases


def camera_pair(stack: ExitStack, env_id: str, backend: str) -> list[Case]:
    """Env steps with one ``IMAGE_SIZE`` RGB camera, and raw physics + the scene's renderer."""
    kwargs = {"backend": backend, "obs_mode": "rgb", "image_size": IMAGE_SIZE}
    return _env_and_raw(stack, "camera", env_id, backend, kwargs, IMAGE_SIZE)


def _env_and_raw(stack: ExitStack, section: str, env_id: str, backend: str, kwargs: dict[str, Any],
                 image_size: int | None) -> list[Case]:
    """The env loop, and the raw loop on a second env built alike (so the two can take turns)."""
    env, raw_env = gym.make(env_id, **kwargs), gym.make(env_id, **kwargs)
    stack.callback(env.close)
    stack.callback(raw_env.close)
    if backend_of(env) != backend:
        raise RuntimeError(f"{env_id} with {kwargs} built a {backend_of(env)} scene, expected {backend}")
    tape, frame_skip = ActionTape(env.action_space, SEED), frame_skip_of(env)
    raw_label, raw = raw_loop(stack, raw_env, tape.take, SEED, image_size)
    key = f"{section}/{short(env_id)}/{backend}"
    args = ", ".join(f"{k}={v!r}" for k, v in kwargs.items())
    return [Case(section, f"{key}/env", f"gymnasium.make({env_id!r}{', ' * bool(args)}{args}).step",
                 env_id, backend, frame_skip, EnvLoop(env, tape.take, SEED)),
            Case(section, f"{key}/raw", raw_label, env_id, backend, frame_skip, raw)]


def vector_cases(stack: ExitStack, env_id: str, backend: str) -> list[Case]:
    """``AsyncVectorEnv`` of ``env_id`` (state observations) with 1 and with 2 worker processes.

    Workers are spawned (not forked), so they never inherit this process's renderers or clients;
    each builds its env from a picklable ``functools.partial(envs.make, ...)``.
    """
    make_one = functools.partial(envs.make, env_id, backend=backend, obs_mode="state")
    cases = []
    for workers in VECTOR_WORKERS:
        vec = gym.vector.AsyncVectorEnv([make_one] * workers, context="spawn")
        stack.callback(vec.close)
        tape = ActionTape(vec.action_space, SEED)
        cases.append(Case(
            "vector", f"vector/{short(env_id)}/{backend}/{workers}",
            f"AsyncVectorEnv({workers} x {short(env_id)} {backend} state).step, spawned workers",
            env_id, backend, None, VectorLoop(vec, tape.take, SEED), envs_per_step=workers))
    return cases


# ---------------------------------------------------------------------------------------------
# The whole plan.


Builder = Callable[[ExitStack, str, str], list[Case]]


def make_cases(stack: ExitStack, plan: Plan) -> tuple[list[Case], list[dict[str, Any]]]:
    """Build, warm up and size every measurement of ``plan``, in the order each repeat runs them.

    Each row's cases form one group (they take turns with each other; groups run one after
    another, see :func:`benchmarks.timing.measure`).

    Returns the cases and the rows (one per task x backend x section, in the same order), each row
    ``{"section", "key", "env_id", "backend"}`` plus ``"error"`` where building or warming failed.
    """
    cases: list[Case] = []
    rows: list[dict[str, Any]] = []

    def add(section: str, env_id: str, backend: str, build: Builder) -> None:
        row = {"section": section, "key": f"{short(env_id)}/{backend}", "env_id": env_id,
               "backend": backend}
        rows.append(row)
        try:
            with ExitStack() as own:
                new = build(own, env_id, backend)
                for case in new:
                    case.group = len(rows)
                    prepare(case, plan.steps.get(section), plan.seconds)
                stack.push(own.pop_all())  # keep it open until the run ends
            cases.extend(new)
        except Exception as e:  # noqa: BLE001  (any failure is reported as this row's result)
            row["error"] = f"{type(e).__name__}: {e}"

    if "state" in plan.sections:
        add("state", REACHER, "mujoco", state_pair)
        for env_id in plan.ids:
            for backend in _backends_or_error(rows, "state", env_id, plan.backends):
                add("state", env_id, backend, state_pair)
    if "camera" in plan.sections:
        for backend in _backends_or_error(rows, "camera", PUSH_CUBE, plan.backends):
            add("camera", PUSH_CUBE, backend, camera_pair)
    if "vector" in plan.sections:
        add("vector", PUSH_CUBE, VECTOR_BACKEND, vector_cases)
    return cases, rows


def _backends_or_error(rows: list[dict[str, Any]], section: str, env_id: str,
                       wanted: Sequence[str]) -> list[str]:
    """``declared_backends``; if the task cannot even be looked up, one error row per backend."""
    try:
        return declared_backends(env_id, wanted)
    except Exception as e:  # noqa: BLE001  (reported as error rows)
        rows.extend({"section": section, "key": f"{short(env_id)}/{b}", "env_id": env_id,
                     "backend": b, "error": f"{type(e).__name__}: {e}"} for b in wanted)
        return []

"""What a run measures: one group of cases per table row (the cases of a group take turns).

- ``state/Reacher-v5/mujoco``: Gymnasium's Reacher-v5 step (``env``) and its raw physics (``raw``).
- ``state/<task>/<backend>``, per roboloop id x backend with ``obs_mode="state"``: the env step
  (``env``), its raw physics (``raw``), and Reacher-v5's env step and raw physics, each right after
  one raw step of this row's physics (``ref_env``: ``host(); reacher_env.step(a)``; ``ref_raw``:
  ``host(); reacher_raw()``; each side has its own host copy on the row's tape).
- ``camera/PushCube-v0/<backend>/<sensor>``: the env with one 96x96 camera giving ``rgb`` or
  ``segmentation``, and raw physics followed by ``scene.render`` of that modality on the raw copy.
- ``vector/PushCube-v0/mujoco``: ``AsyncVectorEnv`` with 1 and 2 spawned workers.
"""

import functools
from contextlib import ExitStack
from dataclasses import dataclass
from typing import Any

import gymnasium as gym

import envs
from benchmarks.steps import Beside, EnvStep, RawStep, VectorStep, record, sample_actions
from benchmarks.timing import Case, warm_up

REACHER = "Reacher-v5"  # Gymnasium's reference for the per-step cost beyond physics
PUSH_CUBE = "roboloop/PushCube-v0"
BACKENDS = ("mujoco", "pybullet")
SECTIONS = ("state", "camera", "vector")
IMAGE_SIZE = 96
CAMERA_SENSORS = ("rgb", "segmentation")
VECTOR_BLOCK_S = 0.1  # vector envs take turns in longer blocks: idle workers wake up slowly


@dataclass(frozen=True)
class Plan:
    """What to measure and for how long."""

    ids: tuple[str, ...]  # roboloop ids for the state table
    backends: tuple[str, ...]  # for the state and camera tables
    sections: tuple[str, ...]  # subset of SECTIONS
    seconds: float  # each case's time per repeat
    repeats: int
    warmup_s: float  # untimed running of each case before the first repeat
    tape_min: int  # a tape ends at the first episode end after this many steps,
    tape_max: int  # or here


def short(env_id: str) -> str:
    """``roboloop/PushCube-v0`` -> ``PushCube-v0``."""
    return env_id.split("/")[-1]


def _make(stack: ExitStack, env_id: str, kwargs: dict[str, Any]) -> gym.Env:
    env = gym.make(env_id, **kwargs)
    stack.callback(env.close)
    return env


def _call(env_id: str, kwargs: dict[str, Any]) -> str:
    return f"gymnasium.make({', '.join([repr(env_id), *(f'{k}={v!r}' for k, v in kwargs.items())])})"


def env_and_raw(stack: ExitStack, env_id: str, kwargs: dict[str, Any], plan: Plan,
                image_size: int = 0, sensor: str = "rgb") -> tuple[EnvStep, RawStep, str]:
    """The env's step, the raw physics of a copy recorded along the env's tape, and its label.

    With ``image_size`` the raw step also renders each of the env's cameras at that size.
    """
    env, twin = _make(stack, env_id, kwargs), _make(stack, env_id, kwargs)
    recording = record(twin, sample_actions(env.action_space, plan.tape_max), plan.tape_min)
    cameras = tuple(env.unwrapped.cameras) if image_size else ()
    raw = RawStep(twin, recording, cameras, image_size, (sensor,))
    if hasattr(raw.scene, "client"):
        names = dict.fromkeys(fn.func.__name__ for calls in raw.commands for fn, _, _ in calls)
        label = f"recorded client calls replayed in order ({', '.join(names)})"
    else:
        label = f"data.ctrl[:] = recorded; mj_step(model, data, nstep={raw.scene.frame_skip})"
    label += "".join(f" + scene.render({c!r}, {image_size}, {image_size}, ({sensor!r},))" for c in cameras)
    return EnvStep(env, sample_actions(env.action_space, raw.n)), raw, label


def state_row(stack: ExitStack, env_id: str, backend: str, plan: Plan) -> list[Case]:
    """A task's env and raw physics, and Reacher-v5's pair each beside a copy of that physics.

    Reacher-v5's own row is its env and raw physics alone.
    """
    kwargs = {"backend": backend, "obs_mode": "state"} if env_id != REACHER else {}
    env, raw, label = env_and_raw(stack, env_id, kwargs, plan)
    key = f"state/{short(env_id)}/{backend}"
    cases = [Case(f"{key}/env", f"{_call(env_id, kwargs)}.step(a)", env), Case(f"{key}/raw", label, raw)]
    if env_id == REACHER:
        return cases
    ref_env, ref_raw, ref_label = env_and_raw(stack, REACHER, {}, plan)
    host_env, host_raw = (_make(stack, env_id, kwargs) for _ in range(2))
    return [*cases,
            Case(f"{key}/ref_env", f"host raw step; {_call(REACHER, {})}.step(a)",
                 Beside(RawStep(host_env, record(host_env, env.actions)), ref_env)),
            Case(f"{key}/ref_raw", f"host raw step; {REACHER} {ref_label}",
                 Beside(RawStep(host_raw, record(host_raw, env.actions)), ref_raw))]


def camera_row(stack: ExitStack, env_id: str, backend: str, plan: Plan, sensor: str) -> list[Case]:
    """The env with one camera giving ``sensor``, and raw physics + the raw copy's ``scene.render``."""
    kwargs = {"backend": backend, "obs_mode": sensor, "image_size": IMAGE_SIZE}
    env, raw, label = env_and_raw(stack, env_id, kwargs, plan, IMAGE_SIZE, sensor)
    key = f"camera/{short(env_id)}/{backend}/{sensor}"
    return [Case(f"{key}/env", f"{_call(env_id, kwargs)}.step(a)", env), Case(f"{key}/raw", label, raw)]


def vector_row(stack: ExitStack, env_id: str, backend: str, plan: Plan) -> list[Case]:
    """``AsyncVectorEnv`` of the state env with 1 and 2 spawned workers (no renderer crosses a fork)."""
    make_one = functools.partial(envs.make, env_id, backend=backend, obs_mode="state")
    cases = []
    for workers in (1, 2):
        vec = gym.vector.AsyncVectorEnv([make_one] * workers, context="spawn")
        stack.callback(vec.close)
        cases.append(Case(f"vector/{short(env_id)}/{backend}/{workers}",
                          f"AsyncVectorEnv({workers} x {short(env_id)} {backend} state, spawn).step(a)",
                          VectorStep(vec, sample_actions(vec.action_space, 256)), workers))
    return cases


def build(stack: ExitStack, plan: Plan) -> tuple[list[list[Case]], list[dict[str, Any]]]:
    """Build and warm up every group of ``plan``, in run order; a row that fails gets an ``error``.

    Returns the groups and the rows (``{"section", "key", "env_id", "backend"}``, one per group).
    """
    state = [(REACHER, "mujoco"), *((i, b) for i in plan.ids for b in plan.backends)]
    todo = [("state", i, b, state_row, None) for i, b in state if "state" in plan.sections]
    todo += [("camera", PUSH_CUBE, b, functools.partial(camera_row, sensor=s), s) for b in plan.backends
             for s in CAMERA_SENSORS if "camera" in plan.sections]
    todo += [("vector", PUSH_CUBE, "mujoco", vector_row, None)] if "vector" in plan.sections else []
    groups, rows = [], []
    for section, env_id, backend, builder, sensor in todo:
        key = f"{short(env_id)}/{backend}" + (f"/{sensor}" if sensor else "")
        rows.append({"section": section, "key": key, "env_id": env_id, "backend": backend,
                     **({"sensor": sensor} if sensor else {})})
        try:
            with ExitStack() as own:
                cases = builder(own, env_id, backend, plan)
                for case in cases:
                    warm_up(case, plan.warmup_s, min(VECTOR_BLOCK_S, plan.seconds) if section == "vector"
                            else None)
                stack.push(own.pop_all())
            groups.append(cases)
        except Exception as e:  # noqa: BLE001  (reported as the row's result; the run goes on)
            rows[-1]["error"] = f"{type(e).__name__}: {e}"
    return groups, rows

"""Task registration with Gymnasium (lazy string entry points) and a ``make`` that lists valid ids."""

from typing import Any

import gymnasium as gym

from envs.success import SuccessFromReturn

NAMESPACE = "roboloop"

# id -> entry point. Bump the version when dynamics, reward or observations change.
_TASKS: dict[str, str] = {
    f"{NAMESPACE}/CartPole-v0": "envs.tasks.cart_pole:make_cart_pole_env",
    f"{NAMESPACE}/PickPlace-v0": "envs.tasks.pick_place:make_pick_place_env",
    f"{NAMESPACE}/PushCube-v0": "envs.tasks.push_cube:make_push_cube_env",
    f"{NAMESPACE}/PushParticles-v0": "envs.tasks.push_particles:make_push_particles_env",
    f"{NAMESPACE}/PushT-v0": "envs.tasks.push_t:make_push_t_env",
    f"{NAMESPACE}/Reach-v0": "envs.tasks.reach:make_reach_env",
    f"{NAMESPACE}/ReachTwoGoals-v0": "envs.tasks.reach_two_goals:make_reach_two_goals_env",
}


# A robot served by scripts/robot_server.py (envs/real/): not a simulated task, so not in _TASKS.
REAL_ROBOT_ID = f"{NAMESPACE}/RealRobot-v0"


def register_all() -> None:
    """Register every roboloop id with Gymnasium; idempotent."""
    if REAL_ROBOT_ID not in gym.registry:
        gym.register(id=REAL_ROBOT_ID, entry_point="envs.real.env:make_real_robot_env", order_enforce=False,
                     disable_env_checker=True)
    for env_id, entry_point in _TASKS.items():
        if env_id not in gym.registry:
            # TaskEnv enforces its own horizon, refuses step() before reset() and validates every
            # action, so Gymnasium's TimeLimit, OrderEnforcing and passive-checker wrappers would
            # only repeat that work on the hot path (~2.4 us/step here); the full checkers run in
            # the test suite over every registered id instead.
            gym.register(id=env_id, entry_point=entry_point, order_enforce=False,
                         disable_env_checker=True)


def registered_ids() -> list[str]:
    """All roboloop env ids, sorted."""
    return sorted(_TASKS)


def make(env_id: str, **kwargs: Any) -> gym.Env:
    """``gymnasium.make`` for roboloop ids and any other registered id, failing on a typo.

    The error lists the roboloop ids. Another Gymnasium id (e.g. ``CartPole-v1``) takes one more
    option, ``success_threshold``: episodes whose return reaches it count as successes
    (``SuccessFromReturn``); it defaults to the spec's ``reward_threshold``, and ``None`` leaves
    the env as it is (it must then report ``info["is_success"]`` itself for evaluation).
    """
    from envs.errors import EnvConfigError

    if env_id in _TASKS:
        return gym.make(env_id, **kwargs)
    if env_id not in gym.registry:
        raise EnvConfigError(
            f"unknown env id {env_id!r}; valid roboloop ids: {', '.join(registered_ids())}. "
            "Pick one of them (ids are case-sensitive and carry a version suffix), or any id "
            "registered with Gymnasium (gymnasium.register).")
    threshold = kwargs.pop("success_threshold", gym.spec(env_id).reward_threshold)
    env = gym.make(env_id, **kwargs)
    return env if threshold is None else SuccessFromReturn(env, threshold)


def make_vec(env_id: str, num_envs: int, *, vectorization_mode: str = "async",
             context: str = "spawn", **kwargs: Any) -> gym.vector.VectorEnv:
    """``num_envs`` copies of ``env_id`` in a Gymnasium vector env, safe with cameras.

    Async workers start with ``spawn`` by default: a worker forked from a process that has
    rendered with MuJoCo would hang in OSMesa (``envs.scenes.mujoco_process``), and spawned
    workers never inherit a GL context. ``"forkserver"`` is safe too; ``"fork"`` is refused.
    """
    from envs.errors import EnvConfigError

    if vectorization_mode not in ("async", "sync"):
        raise EnvConfigError(f"vectorization_mode={vectorization_mode!r}; valid: 'async', 'sync'")
    if context not in ("spawn", "forkserver"):
        raise EnvConfigError(f"context={context!r} is not safe for rendering workers; use 'spawn' "
                             "or 'forkserver'")
    make(env_id, **kwargs).close()  # a typo or bad option fails here, not in every worker
    vector_kwargs = {"context": context} if vectorization_mode == "async" else {}
    return gym.make_vec(env_id, num_envs, vectorization_mode=vectorization_mode,
                        vector_kwargs=vector_kwargs, **kwargs)


register_all()

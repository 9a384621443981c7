"""Task registration with Gymnasium (lazy string entry points) and a ``make`` that lists valid ids."""

from typing import Any

import gymnasium as gym

NAMESPACE = "roboloop"

# id -> entry point. Bump the version when dynamics, reward or observations change.
_TASKS: dict[str, str] = {
    f"{NAMESPACE}/CartPole-v0": "envs.tasks.cart_pole:make_cart_pole_env",
    f"{NAMESPACE}/PickPlace-v0": "envs.tasks.pick_place:make_pick_place_env",
    f"{NAMESPACE}/PushCube-v0": "envs.tasks.push_cube:make_push_cube_env",
    f"{NAMESPACE}/PushT-v0": "envs.tasks.push_t:make_push_t_env",
    f"{NAMESPACE}/Reach-v0": "envs.tasks.reach:make_reach_env",
    f"{NAMESPACE}/ReachTwoGoals-v0": "envs.tasks.reach_two_goals:make_reach_two_goals_env",
}


def register_all() -> None:
    """Register every roboloop id with Gymnasium; idempotent."""
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

    The error lists the roboloop ids (other Gymnasium ids, e.g. ``CartPole-v1``, work too).
    """
    if env_id not in _TASKS and env_id not in gym.registry:
        from envs.errors import EnvConfigError

        raise EnvConfigError(
            f"unknown env id {env_id!r}; valid roboloop ids: {', '.join(registered_ids())}. "
            "Pick one of them (ids are case-sensitive and carry a version suffix), or any id "
            "registered with Gymnasium (gymnasium.register).")
    return gym.make(env_id, **kwargs)


register_all()

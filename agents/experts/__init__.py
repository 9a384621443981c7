"""Scripted experts that act on the privileged ``state`` observation, for demonstrations."""

from typing import Any

from agents.experts.cart_pole import CartPoleExpert
from agents.experts.pick_place import PickPlaceExpert
from agents.experts.push_cube import PushCubeExpert
from agents.experts.push_t import PushTExpert
from agents.experts.reach import ReachExpert
from agents.experts.reach_two_goals import ReachTwoGoalsExpert
from envs.errors import EnvConfigError

EXPERTS = {
    "roboloop/CartPole-v0": CartPoleExpert,
    "roboloop/PickPlace-v0": PickPlaceExpert,
    "roboloop/PushCube-v0": PushCubeExpert,
    "roboloop/PushT-v0": PushTExpert,
    "roboloop/Reach-v0": ReachExpert,
    "roboloop/ReachTwoGoals-v0": ReachTwoGoalsExpert,
}


def make_expert(env_id: str) -> Any:
    """The scripted expert for ``env_id``; lists the ids that have one on a miss."""
    if env_id not in EXPERTS:
        raise EnvConfigError(
            f"no scripted expert for {env_id!r}; experts exist for: {sorted(EXPERTS)}")
    return EXPERTS[env_id]()


__all__ = ["EXPERTS", "CartPoleExpert", "PickPlaceExpert", "PushCubeExpert", "PushTExpert", "ReachExpert",
           "ReachTwoGoalsExpert", "make_expert"]

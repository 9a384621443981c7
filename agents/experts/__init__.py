"""Experts that label and demonstrate.

Scripted experts act on the privileged ``state``; the planner simulates on the env itself; people
act through teleoperation (``agents.teleop``).
"""

from typing import Any

import gymnasium as gym

from agents.experts.cart_pole import CartPoleExpert
from agents.experts.pick_place import PickPlaceExpert
from agents.experts.planner import SimPlanner
from agents.experts.push_cube import PushCubeExpert
from agents.experts.push_particles import PushParticlesExpert
from agents.experts.push_t import PushTExpert
from agents.experts.reach import ReachExpert
from agents.experts.reach_two_goals import ReachTwoGoalsExpert
from envs.errors import EnvConfigError

EXPERTS = {
    "roboloop/CartPole-v0": CartPoleExpert,
    "roboloop/PickPlace-v0": PickPlaceExpert,
    "roboloop/PushCube-v0": PushCubeExpert,
    "roboloop/PushParticles-v0": PushParticlesExpert,
    "roboloop/PushT-v0": PushTExpert,
    "roboloop/Reach-v0": ReachExpert,
    "roboloop/ReachTwoGoals-v0": ReachTwoGoalsExpert,
}


KINDS = ("scripted", "planner", "keyboard")  # who acts: a script, a planner on the simulator, a person


def make_expert(env_id: str, kind: str = "scripted", env: gym.Env | None = None, **options: Any) -> Any:
    """An expert Agent for ``env_id``: the task's script, a planner on ``env``, or keyboard teleop.

    ``options`` go to the planner (:class:`SimPlanner`) or the keyboard teleop; ``env`` is the env
    the expert will act in (the planner simulates on it; teleop reads its action size).
    """
    if kind == "scripted":
        if env_id not in EXPERTS:
            raise EnvConfigError(f"no scripted expert for {env_id!r}; experts exist for: {sorted(EXPERTS)}; "
                                 "expert=planner plans on any roboloop task")
        return EXPERTS[env_id](**options)
    if kind not in KINDS:
        raise EnvConfigError(f"expert={kind!r}; valid choices: {list(KINDS)}")
    if env is None:
        raise EnvConfigError(f"the {kind} expert acts through the env: pass env=")
    if kind == "planner":
        return SimPlanner(env, **options)
    from agents.teleop import KeyboardTeleop

    if not isinstance(env.action_space, gym.spaces.Box):
        raise EnvConfigError(f"keyboard teleop sets continuous actions; {env_id} has {env.action_space}")
    return KeyboardTeleop(env.action_space.shape[0], **options)


__all__ = ["EXPERTS", "KINDS", "CartPoleExpert", "PickPlaceExpert", "PushCubeExpert", "PushParticlesExpert",
           "PushTExpert",
           "ReachExpert", "ReachTwoGoalsExpert", "SimPlanner", "make_expert"]

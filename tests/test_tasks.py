"""Every task on every backend: its expert succeeds on seeded episodes, and a physics blow-up is reported.

One row of ``CASES`` per task x backend holds what differs: the env id, the expert, the episodes and
success rate each tier needs (default tier and ``slow``), the reward terms on the step that succeeds,
and how to make that backend's scene blow up. Checks that belong to one task live in
``tests/test_task_<task>.py``.
"""

import logging
import math
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass
from typing import Any

import gymnasium as gym
import numpy as np
import pytest

from agents.experts import (
    CartPoleExpert,
    PickPlaceExpert,
    PushCubeExpert,
    PushParticlesExpert,
    PushTExpert,
    ReachExpert,
    ReachTwoGoalsExpert,
)
from envs import ResetNeededError
from envs.robots.arm import CONTROL_MODES
from envs.scenes.pybullet_cart_pole import POLE
from loop import Agent, Callback, EpisodeResult, Step, evaluate
from tests.conftest import PUSH_CUBE

CART_POLE, PICK_PLACE, PUSH_T = "roboloop/CartPole-v0", "roboloop/PickPlace-v0", "roboloop/PushT-v0"
PARTICLES = "roboloop/PushParticles-v0"
REACH, TWO_GOALS = "roboloop/Reach-v0", "roboloop/ReachTwoGoals-v0"


# Fault injections: each puts one scene into a state its integrator cannot recover from.

def mujoco_huge_qvel(scene: Any) -> None:
    scene.data.qvel[:] = 1e12  # what a diverging integrator produces; MuJoCo flags BADQVEL


def pybullet_nan_pole(scene: Any) -> None:
    scene.client.resetJointState(scene.body, POLE, float("nan"), 0.0)  # PyBullet clamps speeds


def pybullet_flung_cube(scene: Any) -> None:
    scene.client.resetBaseVelocity(scene.cube, [1e6, 0, 0], [0, 0, 0])


def pybullet_flung_block(scene: Any) -> None:
    scene.client.resetBaseVelocity(scene.block, [1e6, 0, 0], [0, 0, 0])


def pybullet_flung_particle(scene: Any) -> None:
    scene.client.resetBaseVelocity(scene.particles[3], [1e6, 0, 0], [0, 0, 0])


def pybullet_nan_upper_arm(scene: Any) -> None:
    scene.client.resetJointState(scene.arm, scene.link_index("upper"), float("nan"), 0.0)


def pybullet_infinite_forearm_speed(scene: Any) -> None:
    scene.client.resetJointState(scene.arm, scene.link_index("fore"), 0.0, float("inf"))


@dataclass(frozen=True)
class Tier:
    """One success check: the expert runs seeds ``0..episodes-1`` and succeeds on ``min_success`` of them."""

    episodes: int
    min_success: float
    mean_length: tuple[float, float] = (0.0, math.inf)  # the mean episode length lies in [lo, hi)
    control_mode: str | None = None  # passed to env and expert; None: their default

    @property
    def id(self) -> str:
        return f"{self.episodes}ep" + (f"-{self.control_mode}" if self.control_mode else "")


@dataclass(frozen=True)
class Case:
    """One task on one backend."""

    env_id: str
    backend: str
    expert: Callable[..., Agent]
    fast: tuple[Tier, ...]  # default tier
    slow: tuple[Tier, ...]  # `-m slow`
    success_terms: Mapping[str, tuple[float, float]]  # inclusive ranges of reward terms when it succeeds
    blow_up: Callable[[Any], None]  # fault injection on env.unwrapped.scene
    instability: str  # expected in info["instability"]

    @property
    def id(self) -> str:
        return f"{self.env_id.split('/')[1].removesuffix('-v0')}-{self.backend}"


FIVE, HUNDRED = (Tier(5, 1.0),), (Tier(100, 0.95),)
ARM_100 = tuple(Tier(100, 0.95, control_mode=mode) for mode in CONTROL_MODES)
BALANCES_100 = (Tier(100, 1.0, mean_length=(500, 501)),)  # every episode lasts the 500-step horizon
PLACES_5 = (Tier(5, 1.0, mean_length=(0, 80)),)
REACHES_5 = (Tier(5, 1.0, mean_length=(0, 20)),)
ALIVE, BONUS_1, BONUS_5 = {"alive": (1.0, 1.0)}, {"success": (1.0, 1.0)}, {"success": (5.0, 5.0)}
COVERED = {**BONUS_5, "coverage": (0.95, 1.0)}
GATHERED = {**BONUS_5, "in_goal": (0.8, 1.0)}
THIRTY = (Tier(30, 0.95),)  # measured 30/30 on seeds 0-29 on each backend
CUBE_DIVERGED = "cube state diverged"
ARM_DIVERGED = "arm joint"  # NaN spreads over the arm in one step, and the first joint is named

CASES = [
    # env id, backend, expert, fast tiers, slow tiers, terms on success, blow-up, expected instability
    Case(CART_POLE, "mujoco", CartPoleExpert, BALANCES_100, (), ALIVE, mujoco_huge_qvel, "BADQVEL"),
    Case(CART_POLE, "pybullet", CartPoleExpert, BALANCES_100, (), ALIVE, pybullet_nan_pole,
         "cart-pole state diverged"),
    Case(PICK_PLACE, "mujoco", PickPlaceExpert, PLACES_5, ARM_100, BONUS_5, mujoco_huge_qvel, "BADQVEL"),
    Case(PICK_PLACE, "pybullet", PickPlaceExpert, PLACES_5, ARM_100, BONUS_5, pybullet_flung_cube,
         CUBE_DIVERGED),
    Case(PUSH_CUBE, "mujoco", PushCubeExpert, HUNDRED, (), BONUS_5, mujoco_huge_qvel, "BADQVEL"),
    Case(PUSH_CUBE, "pybullet", PushCubeExpert, HUNDRED, (), BONUS_5, pybullet_flung_cube, CUBE_DIVERGED),
    # PushParticles' fast expert check lives in test_task_push_particles.py (a few seeds per backend).
    Case(PARTICLES, "mujoco", PushParticlesExpert, (), THIRTY, GATHERED, mujoco_huge_qvel, "BADQVEL"),
    Case(PARTICLES, "pybullet", PushParticlesExpert, (), THIRTY, GATHERED, pybullet_flung_particle,
         "particle 3 state diverged"),
    Case(PUSH_T, "mujoco", PushTExpert, FIVE, HUNDRED, COVERED, mujoco_huge_qvel, "BADQVEL"),
    Case(PUSH_T, "pybullet", PushTExpert, FIVE, HUNDRED, COVERED, pybullet_flung_block,
         "block state diverged"),
    Case(REACH, "mujoco", ReachExpert, (*REACHES_5, Tier(3, 1.0, control_mode="joint_delta")), ARM_100,
         BONUS_1, mujoco_huge_qvel, "BADQVEL"),
    Case(REACH, "pybullet", ReachExpert, REACHES_5, ARM_100, BONUS_1, pybullet_nan_upper_arm, ARM_DIVERGED),
    Case(TWO_GOALS, "mujoco", ReachTwoGoalsExpert, FIVE, ARM_100, BONUS_1, mujoco_huge_qvel, "BADQVEL"),
    Case(TWO_GOALS, "pybullet", ReachTwoGoalsExpert, FIVE, ARM_100, BONUS_1, pybullet_infinite_forearm_speed,
         ARM_DIVERGED),
]


def tiers() -> Iterator[Any]:
    for case in CASES:
        yield from (pytest.param(case, tier, id=f"{case.id}-{tier.id}") for tier in case.fast)
        yield from (pytest.param(case, tier, id=f"{case.id}-{tier.id}", marks=pytest.mark.slow)
                    for tier in case.slow)


class EnvContract(Callback):
    """Reward terms sum to the reward; success ends the episode (at the horizon for survival tasks)."""

    def __init__(self, env: gym.Env, success_terms: Mapping[str, tuple[float, float]]) -> None:
        self.env, self.success_terms = env.unwrapped, success_terms

    def on_reset(self, obs, info, seed) -> None:
        assert info["is_success"] is False

    def on_step(self, step: Step) -> None:
        terms = step.info["reward_terms"]
        total = sum(terms.values())  # compared with pytest.approx's tolerances, at a fraction of its cost
        assert math.isclose(step.reward, total, rel_tol=1e-6, abs_tol=1e-12), (step.reward, terms)
        if step.info["is_success"]:
            for name, (lo, hi) in self.success_terms.items():
                assert lo - 1e-9 <= terms[name] <= hi + 1e-9, (name, terms)

    def on_episode_end(self, result: EpisodeResult) -> None:
        if not result.success:
            return
        if self.env.task.success_at_horizon:
            assert result.truncated and result.length == self.env.horizon, result
        else:
            assert result.terminated, result


@pytest.mark.parametrize(("case", "tier"), list(tiers()))
def test_expert_succeeds_on_seeded_episodes(case: Case, tier: Tier) -> None:
    mode = {} if tier.control_mode is None else {"control_mode": tier.control_mode}
    env = gym.make(case.env_id, backend=case.backend, **mode)
    summary = evaluate(env, case.expert(**mode), range(tier.episodes),
                       callbacks=[EnvContract(env, case.success_terms)], progress=None)
    assert summary.success_rate >= tier.min_success, (summary.headline(), summary.outcomes)
    lo, hi = tier.mean_length
    assert lo <= summary.mean_length < hi, summary.headline()


def zero_action(env: gym.Env) -> Any:
    space = env.action_space
    return 0 if isinstance(space, gym.spaces.Discrete) else np.zeros(space.shape, space.dtype)


@pytest.mark.parametrize("case", CASES, ids=lambda c: c.id)
def test_blow_up_is_reported_and_never_continued(case: Case, caplog: pytest.LogCaptureFixture) -> None:
    env = gym.make(case.env_id, backend=case.backend)
    action = zero_action(env)
    env.reset(seed=0)
    case.blow_up(env.unwrapped.scene)
    with caplog.at_level(logging.WARNING):
        _, _, terminated, truncated, info = env.step(action)
    assert truncated and not terminated and not info["is_success"]
    assert case.instability in info["instability"]
    assert "physics unstable" in caplog.text and case.instability in caplog.text
    with pytest.raises(ResetNeededError, match="reset"):
        env.step(action)


# A PyBullet arm's fixed base goes NaN with its joints; reset_arm resets the base too.
@pytest.mark.parametrize("case", [pytest.param(c, id=c.id) for c in CASES])
def test_a_reset_after_a_blow_up_recovers(case: Case) -> None:
    env = gym.make(case.env_id, backend=case.backend)
    action = zero_action(env)
    env.reset(seed=0)
    case.blow_up(env.unwrapped.scene)
    env.step(action)
    env.reset(seed=0)
    obs, _, _, truncated, info = env.step(action)
    assert np.isfinite(obs).all() and not truncated and "instability" not in info, info.get("instability")

"""ReachTwoGoals: mirrored goals, success at either, and a multimodal expert that commits per episode."""

import math

import gymnasium as gym
import numpy as np
import pytest

from agents.experts import ReachTwoGoalsExpert
from envs.robots import arm
from envs.tasks import reach
from envs.tasks.reach import ReachState
from envs.tasks.reach_two_goals import ReachTwoGoalsTask
from loop.rollout import run_episodes

TWO_GOALS = "roboloop/ReachTwoGoals-v0"
BACKENDS = ["mujoco", "pybullet"]
NAMES = ReachTwoGoalsTask.state_names
EE = [NAMES.index(f"ee_{a}") for a in "xyz"]
GOALS = [[NAMES.index(f"{g}_{a}") for a in "xyz"] for g in ("goal_left", "goal_right")]


def test_expert_reaches_both_goals_across_episodes_and_commits_within_each() -> None:
    env = gym.make(TWO_GOALS)
    expert = ReachTwoGoalsExpert(seed=0)
    reached = []
    for seed in range(24):
        obs, _ = env.reset(seed=seed)
        expert.reset()
        choice, done = expert.choice, False
        distances = []
        while not done:
            obs, _, terminated, truncated, info = env.step(expert.act(obs))
            distances.append([math.dist(obs[EE], obs[g]) for g in GOALS])
            done = terminated or truncated
            assert expert.choice == choice  # committed for the whole episode
        d = np.array(distances)
        assert info["is_success"] and d[-1, choice] < reach.SUCCESS_DISTANCE
        assert (np.diff(d[:, choice]) < 1e-3).all()  # heads straight for its goal
        reached.append(choice)
    assert 6 <= sum(reached) <= 18  # both modes, in roughly equal numbers


def test_expert_choices_are_seeded() -> None:
    def choices(seed: int) -> list[int]:
        expert = ReachTwoGoalsExpert(seed=seed)
        out = []
        for _ in range(20):
            expert.reset()
            out.append(expert.choice)
        return out

    assert choices(0) == choices(0) and choices(0) != choices(1)


def test_goals_mirror_each_other_and_the_start_sits_on_the_mirror_plane() -> None:
    task, rng = ReachTwoGoalsTask(), np.random.default_rng(0)
    for _ in range(200):
        layout = task.sample_layout(rng)
        left, right = layout.targets
        assert right == pytest.approx((left[0], -left[1], left[2]))
        assert left[1] > 0.05 and arm.inverse(left) is not None and arm.inverse(right) is not None
        start = arm.forward(layout.q)
        assert abs(start[1]) <= 0.01 + 1e-9
        assert abs(math.dist(start, left) - math.dist(start, right)) < 0.025  # neither is favoured


def test_success_and_reward_at_either_goal() -> None:
    task = ReachTwoGoalsTask()
    q = arm.home_pose()
    ee = arm.forward(q)
    for goals in (((ee[0], ee[1] + 0.01, ee[2]), (ee[0], -0.3, ee[2])),
                  ((ee[0], 0.3, ee[2]), (ee[0], ee[1] - 0.01, ee[2]))):
        state = ReachState(q, (0.0,) * 4, ee, goals)
        assert task.outcome(state) == (True, None)
        terms = task.reward_terms(state, np.zeros(3))
        assert terms["success"] == 1.0 and terms["distance"] == pytest.approx(-0.01)
    far = ReachState(q, (0.0,) * 4, ee, ((ee[0], 0.3, ee[2]), (ee[0], -0.3, ee[2])))
    assert task.outcome(far) == (False, None)


def test_same_seed_same_layout_on_both_backends_and_seeded_rollouts_repeat() -> None:
    for seed in range(3):
        first = [gym.make(TWO_GOALS, backend=b).reset(seed=seed)[0] for b in BACKENDS]
        np.testing.assert_allclose(first[0], first[1], atol=1e-6)
        assert first[0].shape == (len(NAMES),)
    runs = [run_episodes(gym.make(TWO_GOALS, backend="pybullet"), ReachTwoGoalsExpert(seed=3), [5, 6])
            for _ in range(2)]
    assert [r.episode_return for r in runs[0]] == [r.episode_return for r in runs[1]]


@pytest.mark.parametrize("backend", BACKENDS)
def test_segmentation_tells_the_two_goals_apart(backend: str) -> None:
    env = gym.make(TWO_GOALS, backend=backend, obs_mode="segmentation", cameras="top", image_size=64)
    obs, _ = env.reset(seed=0)
    labels = env.unwrapped.segmentation_labels
    seg = obs["top_segmentation"]
    for name in ("goal_left", "goal_right"):
        assert (seg == labels.index(name) + 1).sum() >= 3, name

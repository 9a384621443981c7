"""Reach: layouts, reward, success geometry and determinism on both backends."""

import math

import gymnasium as gym
import numpy as np
import pytest

from agents.experts import ReachExpert
from envs.robots import arm
from envs.tasks import reach
from envs.tasks.reach import ReachState, ReachTask

REACH = "roboloop/Reach-v0"
BACKENDS = ["mujoco", "pybullet"]
NAMES = ReachTask.state_names


def field(obs: np.ndarray, *names: str) -> np.ndarray:
    return obs[[NAMES.index(n) for n in names]]


def test_same_seed_same_layout_on_both_backends_and_names_match_the_vector() -> None:
    for seed in range(3):
        first = [gym.make(REACH, backend=b).reset(seed=seed)[0] for b in BACKENDS]
        np.testing.assert_allclose(first[0], first[1], atol=1e-6)
        assert first[0].shape == (len(NAMES),)


def test_layouts_start_hand_down_near_home_with_a_reachable_target_away_from_it() -> None:
    task, rng = ReachTask(), np.random.default_rng(0)
    for _ in range(200):
        layout = task.sample_layout(rng)
        start = arm.forward(layout.q)
        assert np.abs(np.subtract(start, arm.HOME_EE)).max() <= reach.START_NOISE + 1e-9
        assert sum(layout.q[1:]) == pytest.approx(math.pi)
        (target,) = layout.targets
        assert math.dist(target, start) >= reach.MIN_START_DISTANCE
        assert reach.TARGET_Z[0] <= target[2] <= reach.TARGET_Z[1]
        assert arm.inverse(target) is not None


def test_success_is_within_two_centimetres() -> None:
    task = ReachTask()
    q = arm.home_pose()
    ee = arm.forward(q)
    near = ReachState(q, (0.0,) * 4, ee, ((ee[0], ee[1], ee[2] + 0.019),))
    far = ReachState(q, (0.0,) * 4, ee, ((ee[0], ee[1], ee[2] + 0.021),))
    assert task.outcome(near) == (True, None) and task.outcome(far) == (False, None)
    assert task.reward_terms(near, np.zeros(3))["success"] == 1.0
    assert task.reward_terms(far, np.zeros(3))["success"] == 0.0


@pytest.mark.parametrize("backend", BACKENDS)
def test_distance_term_is_minus_the_tcp_to_target_distance(backend: str) -> None:
    env = gym.make(REACH, backend=backend)
    obs, _ = env.reset(seed=5)
    expert, done = ReachExpert(), False
    while not done:
        obs, _, terminated, truncated, info = env.step(expert.act(obs))
        assert info["reward_terms"]["distance"] == pytest.approx(
            -np.linalg.norm(field(obs, "target_minus_ee_x", "target_minus_ee_y", "target_minus_ee_z")),
            abs=1e-6)
        done = terminated or truncated


@pytest.mark.parametrize("backend", BACKENDS)
def test_seeded_rollouts_repeat_exactly(backend: str) -> None:
    def rollout() -> np.ndarray:
        env = gym.make(REACH, backend=backend)
        obs, _ = env.reset(seed=9)
        env.action_space.seed(0)
        return np.stack([obs] + [env.step(env.action_space.sample())[0] for _ in range(10)])

    np.testing.assert_array_equal(rollout(), rollout())


@pytest.mark.parametrize("backend", BACKENDS)
def test_segmentation_sees_arm_and_target(backend: str) -> None:
    env = gym.make(REACH, backend=backend, obs_mode="segmentation", cameras="all", image_size=64)
    obs, _ = env.reset(seed=0)
    labels = env.unwrapped.segmentation_labels
    for cam in env.unwrapped.cameras:
        seen = set(np.unique(obs[f"{cam}_segmentation"]).tolist())
        assert {labels.index(n) + 1 for n in ("table", "arm", "target")} <= seen, cam

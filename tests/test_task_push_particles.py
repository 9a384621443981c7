"""PushParticles: layout, labels, batched reward and success, expert, exact replays on both backends."""

import gymnasium as gym
import numpy as np
import pytest
import torch

from agents.experts import PushParticlesExpert
from envs.tasks.push_particles import (
    GOAL_RADIUS,
    GOAL_SEPARATION,
    LABELS,
    N_PARTICLES,
    NEEDED,
    OUT_OF_REACH,
    PARTICLE_RADIUS,
    PushParticlesState,
    PushParticlesTask,
)
from loop import evaluate

ID = "roboloop/PushParticles-v0"
BACKENDS = ["mujoco", "pybullet"]


def test_layouts_keep_particles_apart_and_the_goal_away_from_them() -> None:
    task, rng = PushParticlesTask(), np.random.default_rng(0)
    for _ in range(20):
        layout = task.sample_layout(rng)
        xy = np.array(layout.particles_xy)
        gaps = np.hypot(*(xy[:, None] - xy[None]).transpose(2, 0, 1)) + np.eye(N_PARTICLES)
        assert xy.shape == (N_PARTICLES, 2) and gaps.min() > 2 * PARTICLE_RADIUS
        assert np.hypot(*(xy.mean(0) - layout.goal_xy)) > GOAL_SEPARATION - 0.07
    assert len(task.state_names) == 6 + 2 * N_PARTICLES and task.state_names[4:6] == ("particle_0_x",
                                                                                     "particle_0_y")
    assert NEEDED == 10


def state_with(inside: int, lost: int = 0) -> PushParticlesState:
    """``inside`` particles at the goal (0.1, 0), ``lost`` beyond reach, the rest at the origin."""
    xy = [(0.1, 0.0)] * inside + [(OUT_OF_REACH + 0.01, 0.0)] * lost
    xy += [(-0.1, 0.0)] * (N_PARTICLES - len(xy))
    return PushParticlesState(0.0, 0.0, 0.0, 0.0, tuple(c for p in xy for c in p), 0.1, 0.0)


def test_success_needs_most_particles_in_the_goal_and_failure_too_many_lost() -> None:
    task = PushParticlesTask()
    assert task.outcome(state_with(NEEDED)) == (True, None)
    assert task.outcome(state_with(NEEDED - 1)) == (False, None)
    assert task.outcome(state_with(0, lost=N_PARTICLES - NEEDED)) == (False, None)
    assert task.outcome(state_with(0, lost=N_PARTICLES - NEEDED + 1)) == (False, "particles_out_of_reach")
    states = np.stack([task.state_vector(state_with(k)) for k in (NEEDED - 1, NEEDED)])
    assert task.batch_success(states).tolist() == [False, True]
    terms = task.reward_terms(state_with(NEEDED), np.zeros(2))
    assert terms["success"] == 5.0 and terms["in_goal"] == NEEDED / N_PARTICLES


@pytest.mark.parametrize("backend", BACKENDS)
def test_batched_reward_and_success_match_the_env_on_expert_transitions(backend: str) -> None:
    env = gym.make(ID, backend=backend, horizon=60)
    obs, _ = env.reset(seed=5)
    expert, rng, rows = PushParticlesExpert(), np.random.default_rng(0), []
    for _ in range(60):
        action = np.clip(expert.act(obs) + 0.3 * rng.standard_normal(2), -1, 1).astype(np.float32)
        obs, reward, terminated, truncated, info = env.step(action)
        rows.append((obs, action, reward, info["is_success"]))
        if terminated or truncated:
            break
    task = env.unwrapped.task
    states, actions = np.stack([r[0] for r in rows]), np.stack([r[1] for r in rows])
    expected = np.array([r[2] for r in rows])
    assert np.ptp(expected) > 0.01  # the particles moved
    np.testing.assert_allclose(task.batch_reward(states, actions), expected, atol=1e-5)
    torch_reward = task.batch_reward(torch.from_numpy(states), torch.from_numpy(actions))
    np.testing.assert_allclose(torch_reward.numpy(), expected, atol=1e-5)
    np.testing.assert_array_equal(task.batch_success(states), [r[3] for r in rows])
    env.close()


@pytest.mark.parametrize(("backend", "seeds"), [("mujoco", range(3)), ("pybullet", range(1))])
def test_the_expert_gathers_the_particles_into_the_goal(backend: str, seeds: range) -> None:
    env = gym.make(ID, backend=backend)
    summary = evaluate(env, PushParticlesExpert(), seeds, progress=None)
    assert summary.success_rate == 1.0, summary.headline()
    env.close()


@pytest.mark.parametrize("backend", BACKENDS)
def test_a_snapshot_replays_an_expert_trajectory_through_contacts_exactly(backend: str) -> None:
    env = gym.make(ID, backend=backend).unwrapped
    obs, _ = env.reset(seed=1)
    expert = PushParticlesExpert()
    for _ in range(40):  # into contact with the group
        obs, *_ = env.step(expert.act(obs))
    snapshot, actions, first = env.get_state(), [], []
    for _ in range(30):
        actions.append(expert.act(obs))
        obs, reward, *_ = env.step(actions[-1])
        first.append((obs, reward))
    assert np.abs(first[-1][0][4:-2] - first[0][0][4:-2]).max() > 1e-3  # particles were pushed
    for _ in range(2):
        env.set_state(snapshot)
        for a, (o, r) in zip(actions, first, strict=True):
            o2, r2, *_ = env.step(a)
            np.testing.assert_array_equal(o2, o)
            assert r2 == r
    env.close()


@pytest.mark.parametrize("backend", BACKENDS)
def test_every_particle_is_segmented_as_particle(backend: str) -> None:
    env = gym.make(ID, backend=backend, obs_mode="segmentation+pointcloud", image_size=64)
    obs, _ = env.reset(seed=0)
    seg = obs["top_segmentation"]
    particle = LABELS.index("particle") + 1
    pixels = int((seg == particle).sum())
    # A pixel of the top camera at 64 px spans ~1 cm on the table: twelve 4.5 cm^2 discs ~ 52 px.
    assert 35 < pixels < 80, pixels
    points = obs["top_pointcloud"][seg.reshape(-1) == particle]
    assert np.allclose(points[:, 2], 0.016, atol=0.01)  # the pucks' tops
    env.close()


def test_mass_randomization_reaches_every_particle_on_mujoco() -> None:
    env = gym.make(ID, randomization={"mass": [2.0, 2.0]}).unwrapped
    env.reset(seed=0)
    model = env.scene.model
    masses = [model.body(f"particle_{i}").mass[0] for i in range(N_PARTICLES)]
    np.testing.assert_allclose(masses, 0.02)
    env.close()


def test_the_goal_disk_is_the_success_radius() -> None:
    env = gym.make(ID).unwrapped
    assert env.scene.model.geom("goal").size[0] == GOAL_RADIUS
    env.close()

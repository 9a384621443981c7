"""Extensible envs: state snapshots on both backends, task memory, registered sensors, no-state obs."""

from typing import Any

import gymnasium as gym
import numpy as np
import pytest

import envs
from envs import EnvConfigError
from envs.sensors import SENSORS, Sensor, register_sensor
from tests.conftest import PUSH_CUBE

BACKENDS = ["mujoco", "pybullet"]
IDS = envs.registered_ids()


def run(env: Any, actions: list) -> list[tuple]:
    """Step through ``actions`` (stopping at the episode's end): (obs, reward, terminated, truncated)."""
    out = []
    for a in actions:
        obs, reward, terminated, truncated, _ = env.step(a)
        out.append((np.asarray(obs).copy(), reward, terminated, truncated))
        if terminated or truncated:
            break
    return out


def assert_same(first: list[tuple], second: list[tuple]) -> None:
    assert len(first) == len(second)
    for (o1, r1, te1, tr1), (o2, r2, te2, tr2) in zip(first, second, strict=True):
        np.testing.assert_array_equal(o1, o2)
        assert (r1, te1, tr1) == (r2, te2, tr2)


def snapshot_mid_episode(env_id: str, backend: str) -> tuple:
    """An env 15 random steps into seed 3's episode, its snapshot, the actions, and the rest of the run."""
    env = gym.make(env_id, backend=backend).unwrapped
    env.reset(seed=3)
    env.action_space.seed(0)
    actions = [env.action_space.sample() for _ in range(50)]
    run(env, actions[:15])
    snapshot = env.get_state()
    return env, snapshot, actions[15:], run(env, actions[15:])


@pytest.mark.parametrize("env_id", IDS)
@pytest.mark.parametrize("backend", BACKENDS)
def test_restoring_a_snapshot_then_replaying_reproduces_the_trajectory_exactly(
        env_id: str, backend: str) -> None:
    env, snapshot, actions, original = snapshot_mid_episode(env_id, backend)
    assert len(original) > 5
    for _ in range(2):  # as planning uses it: restore, roll out, restore again
        env.set_state(snapshot)
        assert_same(original, run(env, actions))


@pytest.mark.parametrize("env_id", IDS)
@pytest.mark.parametrize("backend", BACKENDS)
def test_a_snapshot_still_restores_after_other_episodes(env_id: str, backend: str) -> None:
    env, snapshot, actions, original = snapshot_mid_episode(env_id, backend)
    env.reset(seed=9)
    run(env, actions[:7])
    env.set_state(snapshot)
    replay = run(env, actions)
    if (env_id, backend) != ("roboloop/PushT-v0", "pybullet"):
        assert_same(original, replay)
        return
    # Bullet matches saved contacts to the T's two boxes by body pair, so after contacts made in
    # another episode the warm start differs in the last bits: equal to ~1e-6 m, not bit for bit.
    for (o1, *_), (o2, *_) in zip(original, replay, strict=True):
        np.testing.assert_allclose(o1, o2, atol=1e-5)


@pytest.mark.parametrize("backend", BACKENDS)
def test_set_state_returns_the_observation_of_the_snapshot(backend: str) -> None:
    env = gym.make(PUSH_CUBE, backend=backend, obs_mode="rgb", image_size=32,
                   privileged_state=True).unwrapped
    first, _ = env.reset(seed=0)
    snapshot = env.get_state()
    for _ in range(10):
        env.step(np.ones(2, np.float32))
    restored = env.set_state(snapshot)
    np.testing.assert_array_equal(restored["state"], first["state"])
    np.testing.assert_array_equal(restored["top_rgb"], first["top_rgb"])


def test_a_snapshot_restores_only_the_env_that_took_it() -> None:
    a, b = gym.make(PUSH_CUBE).unwrapped, gym.make(PUSH_CUBE).unwrapped
    a.reset(seed=0)
    b.reset(seed=0)
    with pytest.raises(ValueError, match="only restores the scene"):
        b.set_state(a.get_state())
    with pytest.raises(TypeError, match="EnvState"):
        b.set_state({"t": 3})


def test_pybullet_snapshots_are_freed_with_their_state() -> None:
    env = gym.make(PUSH_CUBE, backend="pybullet").unwrapped
    env.reset(seed=0)
    ids = [env.get_state().scene.physics.id for _ in range(5)]
    assert len(set(ids)) < 5  # each dropped snapshot's slot was removed from the server and reused


def test_snapshots_carry_the_latency_queue_and_the_noise_generator() -> None:
    env = gym.make(PUSH_CUBE, randomization={"action_latency": 2, "obs_noise": 0.01}).unwrapped
    env.reset(seed=0)
    rng = np.random.default_rng(0)
    actions = list(rng.uniform(-1, 1, (30, 2)).astype(np.float32))
    run(env, actions[:4])
    snapshot = env.get_state()
    original = run(env, actions[4:])
    env.set_state(snapshot)
    assert_same(original, run(env, actions[4:]))


class CountingTask(envs.tasks.push_cube.PushCubeTask):
    """PushCube that counts steps spent near the goal in its per-episode memory."""

    def outcome(self, s: Any) -> tuple[bool, str | None]:
        self.memory["steps"] = self.memory.get("steps", 0) + 1
        return super().outcome(s)


def test_task_memory_is_cleared_per_episode_and_travels_with_snapshots() -> None:
    from envs.task_env import make_task_env
    from envs.tasks.push_cube import BACKENDS as PUSH_CUBE_SCENES

    task = CountingTask()
    env = make_task_env(task, PUSH_CUBE_SCENES)
    env.reset(seed=0)
    zero = np.zeros(2, np.float32)
    for _ in range(3):
        env.step(zero)
    snapshot = env.get_state()
    env.step(zero)
    assert task.memory == {"steps": 4}
    env.set_state(snapshot)
    assert task.memory == {"steps": 3}
    env.reset(seed=1)
    assert task.memory == {}


def test_a_new_sensor_is_one_registration_away() -> None:
    def read(env: Any, state: Any, camera: str | None, images: dict) -> np.ndarray:
        return np.array([state.cube_x - state.goal_x, state.cube_y - state.goal_y], np.float32)

    name = "goal_offset_test_sensor"
    if name not in SENSORS:
        register_sensor(Sensor(name, lambda env: gym.spaces.Box(-1, 1, (2,), np.float32), read,
                               per_camera=False))
    env = gym.make(PUSH_CUBE, obs_mode=f"rgb+{name}", image_size=24, privileged_state=True)
    obs, _ = env.reset(seed=0)
    assert set(obs) == {"state", "proprio", "top_rgb", name}
    assert obs[name] == pytest.approx(obs["state"][12:14] * -1, abs=1e-6)
    assert env.observation_space[name].shape == (2,)
    with pytest.raises(EnvConfigError, match="already registered"):
        register_sensor(SENSORS[name])


def test_the_privileged_state_is_in_dict_observations_only_when_asked_for() -> None:
    for privileged in (None, False):
        env = gym.make(PUSH_CUBE, obs_mode="rgb", privileged_state=privileged, image_size=24)
        obs, _ = env.reset(seed=0)
        assert set(obs) == {"proprio", "top_rgb"} == set(env.observation_space)
    env = gym.make(PUSH_CUBE, obs_mode="rgb", privileged_state=True, image_size=24)
    assert set(env.reset(seed=0)[0]) == {"state", "proprio", "top_rgb"}
    with pytest.raises(EnvConfigError, match="privileged_state=False"):
        gym.make(PUSH_CUBE, obs_mode="state", privileged_state=False)


@pytest.mark.parametrize("env_id", [i for i in IDS if "CartPole" not in i])
@pytest.mark.parametrize("backend", BACKENDS)
def test_out_of_range_actions_act_and_score_as_their_clipped_values(env_id: str, backend: str) -> None:
    big, clipped = gym.make(env_id, backend=backend), gym.make(env_id, backend=backend)
    big.reset(seed=1)
    clipped.reset(seed=1)
    signs = np.resize([1.0, -1.0], big.action_space.shape).astype(np.float32)
    for scale in (5.0, 1.5, 30.0):
        a = signs * scale
        obs, reward, *_, info = big.step(a)
        obs_c, reward_c, *_, info_c = clipped.step(np.clip(a, -1, 1))
        np.testing.assert_array_equal(obs, obs_c)
        assert reward == reward_c and info["reward_terms"] == info_c["reward_terms"]


@pytest.mark.parametrize("env_id", IDS)
@pytest.mark.parametrize("backend", BACKENDS)
def test_a_snapshot_right_after_reset_restores(env_id: str, backend: str) -> None:
    env = gym.make(env_id, backend=backend).unwrapped
    first, _ = env.reset(seed=2)
    snapshot = env.get_state()
    env.action_space.seed(0)
    run(env, [env.action_space.sample() for _ in range(5)])
    np.testing.assert_array_equal(env.set_state(snapshot), first)


@pytest.mark.parametrize("backend", BACKENDS)
def test_observe_renders_any_sensors_of_the_current_scene_and_leaves_the_episode_alone(backend: str) -> None:
    """A state-mode env observed now and then sees what a pixel env sees; its episode is unchanged."""
    noise = {"obs_noise": 0.01, "depth_noise": 0.002}
    pixels = gym.make(PUSH_CUBE, backend=backend, obs_mode="rgb+depth+segmentation", privileged_state=True,
                      randomization=noise).unwrapped
    state = gym.make(PUSH_CUBE, backend=backend, randomization=noise).unwrapped
    with pytest.raises(envs.ResetNeededError, match="reset"):
        state.observe("rgb")
    pixels.reset(seed=5)
    state.reset(seed=5)
    actions = list(np.random.default_rng(0).uniform(-1, 1, (6, 2)).astype(np.float32))
    observed = []
    for i, a in enumerate(actions):
        wanted, *_ = pixels.step(a)
        state.step(a)
        if i % 2:
            seen = state.observe("rgb+depth+segmentation", privileged_state=True)
            assert set(seen) == set(wanted)
            for key in ("top_rgb", "top_segmentation"):
                np.testing.assert_array_equal(seen[key], wanted[key])
            assert np.abs(seen["top_depth"] - wanted["top_depth"]).max() < 0.02  # noise drawn apart
            observed.append(state.observe().copy())  # its own mode: the noisy state vector
    plain = gym.make(PUSH_CUBE, backend=backend, randomization=noise).unwrapped
    plain.reset(seed=5)
    unobserved = run(plain, actions)
    state.reset(seed=5)
    assert_same(unobserved, run(state, actions))  # observing drew no noise from the episode's generator
    assert len(observed) == 3 and observed[0].shape == (plain.observation_space.shape[0],)
    for env in (pixels, state, plain):
        env.close()
    with pytest.raises(envs.EnvClosedError):
        state.observe()

"""The env contract: Gymnasium/SB3 checks, determinism, reward terms, bad input, instability."""

import pickle

import gymnasium as gym
import numpy as np
import pytest
from gymnasium.utils.env_checker import check_env
from stable_baselines3.common.env_checker import check_env as sb3_check_env

import envs
from envs import EnvConfigError, InvalidActionError, ResetNeededError
from envs.tasks.push_cube import PushCubeTask
from tests.conftest import PUSH_CUBE

OBS_MODES = ["state", "proprio", "rgb", "depth", "segmentation", "pointcloud"]
BACKENDS = ["mujoco", "pybullet"]
IDS = envs.registered_ids()


# SB3's checker advises flattening depth, segmentation and point-cloud arrays and >= 36 px images
# for its default CNN, and Gymnasium's warns about unbounded boxes (state vectors are unbounded):
# roboloop's spaces are deliberate, so that advice is not a failure here.
@pytest.mark.filterwarnings("ignore::UserWarning:stable_baselines3.common.env_checker")
@pytest.mark.filterwarnings("ignore:.*Box observation space m..imum value is .*infinity:UserWarning")
@pytest.mark.parametrize("env_id", IDS)
@pytest.mark.parametrize("obs_mode", OBS_MODES)
@pytest.mark.parametrize("backend", BACKENDS)
def test_gymnasium_and_sb3_check_env(env_id: str, obs_mode: str, backend: str) -> None:
    env = gym.make(env_id, backend=backend, obs_mode=obs_mode, cameras="all",
                   render_mode="rgb_array", image_size=32, render_size=32)
    check_env(env.unwrapped, skip_render_check=False)
    sb3_check_env(env.unwrapped, warn=True)
    env.close()


def random_rollout(env_id: str, backend: str, seed: int, steps: int = 25) -> np.ndarray:
    env = gym.make(env_id, backend=backend)
    obs, _ = env.reset(seed=seed)
    env.action_space.seed(123)
    states = [obs]
    for _ in range(steps):
        obs, _, terminated, truncated, _ = env.step(env.action_space.sample())
        states.append(obs)
        if terminated or truncated:
            break
    env.close()
    return np.stack(states)


@pytest.mark.parametrize("env_id", IDS)
@pytest.mark.parametrize("backend", BACKENDS)
def test_every_env_is_seeded_deterministic(env_id: str, backend: str) -> None:
    np.testing.assert_array_equal(random_rollout(env_id, backend, 7), random_rollout(env_id, backend, 7))
    assert not np.array_equal(random_rollout(env_id, backend, 7, 0), random_rollout(env_id, backend, 8, 0))


@pytest.mark.parametrize("env_id", IDS)
def test_every_env_starts_from_the_same_layout_on_both_backends(env_id: str) -> None:
    for seed in (0, 1, 2):
        first = [random_rollout(env_id, backend, seed, 0)[0] for backend in BACKENDS]
        np.testing.assert_allclose(first[0], first[1], atol=1e-4)


@pytest.mark.parametrize("env_id", IDS)
def test_every_mujoco_env_pickles_and_continues_identically(env_id: str) -> None:
    env = gym.make(env_id).unwrapped
    env.reset(seed=4)
    env.action_space.seed(0)
    env.step(env.action_space.sample())
    clone = pickle.loads(pickle.dumps(env))
    a = env.action_space.sample()
    np.testing.assert_allclose(env.step(a)[0], clone.step(a)[0])
    with pytest.raises(TypeError, match="recreate the env"):
        pickle.dumps(gym.make(env_id, backend="pybullet").unwrapped)


@pytest.mark.parametrize("env_id", IDS)
@pytest.mark.parametrize("backend", BACKENDS)
def test_every_env_renders_at_the_requested_size(env_id: str, backend: str) -> None:
    env = gym.make(env_id, backend=backend, obs_mode="rgb", cameras="all", render_mode="rgb_array",
                   image_size=40, render_size=56)
    obs, _ = env.reset(seed=0)
    for cam in env.unwrapped.cameras:
        assert obs[f"{cam}_rgb"].shape == (40, 40, 3) and obs[f"{cam}_rgb"].std() > 3
    assert env.render().shape == (56, 56, 3)
    env.close()


def test_registration_is_lazy() -> None:
    import subprocess
    import sys

    code = "import sys, envs; print('mujoco' in sys.modules, 'pybullet' in sys.modules)"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.split() == ["False", "False"]


def test_layout_comes_from_the_task_alone() -> None:
    task = PushCubeTask()
    a = task.sample_layout(np.random.default_rng(3))
    b = task.sample_layout(np.random.default_rng(3))
    assert a == b
    # The env seeds Gymnasium's generator and hands it to the task: the scene only places things.
    obs, _ = gym.make(PUSH_CUBE).reset(seed=3)
    rng, _ = gym.utils.seeding.np_random(3)
    expected = PushCubeTask().sample_layout(rng)
    assert tuple(obs[4:6]) == pytest.approx(expected.cube_xy, abs=1e-6)
    assert tuple(obs[8:10]) == pytest.approx(expected.goal_xy, abs=1e-6)


@pytest.mark.parametrize("backend", BACKENDS)
def test_reward_terms_sum_to_reward_and_success_is_reported(backend: str) -> None:
    from agents.experts import PushCubeExpert

    env = gym.make(PUSH_CUBE, backend=backend)
    obs, info = env.reset(seed=0)
    assert info["is_success"] is False
    expert, done = PushCubeExpert(), False
    while not done:
        obs, reward, terminated, truncated, info = env.step(expert.act(obs))
        assert reward == pytest.approx(sum(info["reward_terms"].values()))
        done = terminated or truncated
    assert terminated and info["is_success"]
    assert info["reward_terms"]["success"] > 0


def test_truncates_at_the_horizon() -> None:
    env = gym.make(PUSH_CUBE, horizon=5)
    env.reset(seed=0)
    flags = [env.step(np.zeros(2, np.float32))[3] for _ in range(5)]
    assert flags == [False] * 4 + [True]


@pytest.mark.parametrize("bad", [np.zeros(3), np.zeros((1, 2)), np.zeros(())])
def test_wrong_shaped_action_names_the_expected_shape(bad: np.ndarray) -> None:
    env = gym.make(PUSH_CUBE)
    env.reset(seed=0)
    with pytest.raises(ValueError, match=r"expected \(2,\)"):
        env.step(bad)


@pytest.mark.parametrize("value", [np.nan, np.inf])
def test_non_finite_action_raises(value: float) -> None:
    env = gym.make(PUSH_CUBE)
    env.reset(seed=0)
    with pytest.raises(InvalidActionError, match="NaN or inf"):
        env.step(np.array([0.0, value], np.float32))


def test_out_of_range_actions_are_clipped_to_the_box() -> None:
    big, clipped = gym.make(PUSH_CUBE), gym.make(PUSH_CUBE)
    big.reset(seed=1)
    clipped.reset(seed=1)
    a = np.array([5.0, -7.0], np.float32)
    np.testing.assert_array_equal(big.step(a)[0], clipped.step(np.clip(a, -1, 1))[0])


def test_unknown_names_list_the_valid_ones() -> None:
    with pytest.raises(EnvConfigError, match="PushCube-v0"):
        envs.make("roboloop/PushCub-v0")
    with pytest.raises(EnvConfigError, match=r"registered sensors \['depth', .*'rgb'.*joined with '\+'"):
        gym.make(PUSH_CUBE, obs_mode="rgbd")
    with pytest.raises(EnvConfigError, match=r"valid choices: \['top', 'front'\]"):
        gym.make(PUSH_CUBE, obs_mode="rgb", cameras=["top", "side"])
    with pytest.raises(EnvConfigError, match="unknown randomization option.*friction"):
        gym.make(PUSH_CUBE, randomization={"frcition": [0.5, 1.5]})
    with pytest.raises(EnvConfigError, match=r"\['mujoco', 'pybullet'\]"):
        gym.make(PUSH_CUBE, backend="bullet")
    with pytest.raises(EnvConfigError, match="rgb_array"):
        gym.make(PUSH_CUBE, render_mode="human")
    with pytest.raises(EnvConfigError, match="valid options.*horizon"):
        gym.make(PUSH_CUBE, horizn=10)
    with pytest.raises(EnvConfigError, match=r"image_size must be an integer in \[1, 640\]"):
        gym.make(PUSH_CUBE, image_size=0)


@pytest.mark.parametrize("env_id", IDS)
def test_mujoco_offscreen_buffers_fit_each_image_up_to_the_largest_allowed(env_id: str) -> None:
    from envs.task_env import MAX_IMAGE_SIZE

    env = gym.make(env_id, backend="mujoco", obs_mode="rgb", image_size=24, render_mode="rgb_array",
                   render_size=MAX_IMAGE_SIZE)
    env.reset(seed=0)
    g = env.unwrapped.scene.model.vis.global_
    assert (g.offwidth, g.offheight) == (24, 24)  # the observation camera's buffer, no larger
    assert env.render().shape == (MAX_IMAGE_SIZE, MAX_IMAGE_SIZE, 3)
    env.close()


def test_step_before_reset_raises() -> None:
    with pytest.raises(ResetNeededError, match="reset"):
        gym.make(PUSH_CUBE).step(np.zeros(2, np.float32))


@pytest.mark.parametrize("backend", BACKENDS)
def test_rgb_observation_and_render_shapes(backend: str) -> None:
    env = gym.make(PUSH_CUBE, backend=backend, obs_mode="rgb", render_mode="rgb_array", render_size=64,
                   privileged_state=True)
    obs, _ = env.reset(seed=0)
    assert obs["top_rgb"].shape == (96, 96, 3) and obs["top_rgb"].dtype == np.uint8
    assert obs["top_rgb"].std() > 5  # an actual picture, not a blank buffer
    assert obs["state"].shape == (14,) and obs["proprio"].shape == (4,)
    assert env.render().shape == (64, 64, 3)
    env.close()


@pytest.mark.parametrize("env_id", [PUSH_CUBE, "roboloop/PushT-v0"])
def test_pybullet_pusher_scenes_report_a_nan_pusher(env_id: str) -> None:
    env = gym.make(env_id, backend="pybullet")
    env.reset(seed=0)
    scene = env.unwrapped.scene
    scene.client.resetJointState(scene.pusher, 0, float("nan"), float("nan"))
    *_, truncated, info = env.step(np.zeros(2, np.float32))
    assert truncated and "pusher state diverged" in info["instability"]


def test_pybullet_envs_are_independent_and_refuse_pickling() -> None:
    a, b = gym.make(PUSH_CUBE, backend="pybullet"), gym.make(PUSH_CUBE, backend="pybullet")
    a.reset(seed=1)
    b.reset(seed=2)
    assert not np.allclose(a.step(np.zeros(2, np.float32))[0], b.step(np.zeros(2, np.float32))[0])
    with pytest.raises(TypeError, match="recreate the env"):
        pickle.dumps(a.unwrapped)


class FourWayPushCube(PushCubeTask):
    """PushCube with four discrete pusher directions, to test discrete action tables."""

    action_table = np.array([[1, 0], [-1, 0], [0, 1], [0, -1]], np.float32)
    action_names = ("east", "west", "north", "south")


def test_discrete_action_tables_validate_and_record(tmp_path) -> None:
    from dataset import DatasetWriter, DemoDataset
    from envs.task_env import make_task_env
    from envs.tasks.push_cube import BACKENDS
    from loop.collect import collect

    env = make_task_env(FourWayPushCube(), BACKENDS, "mujoco", horizon=5)
    assert env.action_space == gym.spaces.Discrete(4)
    check_env(env)
    obs, _ = env.reset(seed=0)
    moved = env.step(np.int64(0))[0]
    assert moved[0] > obs[0] and moved[1] == pytest.approx(obs[1], abs=1e-4)  # east = +x
    for bad in (4, -1, 0.5, np.array([1, 2])):
        with pytest.raises(InvalidActionError, match=r"integer in \[0, 3\].*east, west"):
            env.step(bad)

    class North:
        def reset(self) -> None:
            pass

        def act(self, features) -> int:
            return 2

    collect(env, North(), [0], DatasetWriter(tmp_path / "ds", env_id="x", env_kwargs={}, fps=20),
            progress=None)
    actions = DemoDataset(tmp_path / "ds").episode(0).actions
    assert actions.shape == (5, 1) and (actions == 2).all()

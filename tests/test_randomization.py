"""Domain randomization: off by default, seed-reproducible on both backends, relative to nominal."""

import gymnasium as gym
import numpy as np
import pytest

from envs import EnvConfigError
from envs.randomization import Randomization
from tests.conftest import PUSH_CUBE

BACKENDS = ["mujoco", "pybullet"]
STRONG = {"friction": [0.5, 1.5], "mass": [0.5, 2.0], "damping": [0.5, 2.0], "colour": 0.3,
          "texture": 0.3, "light": [0.5, 1.5], "camera_position": 0.02, "camera_angle": 3.0}


def cube_friction_and_mass(env) -> tuple[float, float]:
    """The cube-table contact's sliding friction (as each engine combines the two) and cube mass."""
    scene = env.unwrapped.scene
    if hasattr(scene, "model"):  # MuJoCo takes the larger of the two geoms' coefficients
        m = scene.model
        friction = max(m.geom("cube").friction[0], m.geom("table").friction[0])
        return float(friction), float(m.body("cube").mass[0])
    info = scene.client.getDynamicsInfo(scene.cube, -1)  # PyBullet multiplies them
    return info[1] * scene.client.getDynamicsInfo(scene.table, -1)[1], info[0]


@pytest.mark.parametrize("backend", BACKENDS)
def test_off_by_default_and_nominal(backend: str) -> None:
    env = gym.make(PUSH_CUBE, backend=backend)
    env.reset(seed=0)
    assert env.unwrapped.randomization == Randomization()
    assert env.unwrapped.randomization_sample is None
    assert cube_friction_and_mass(env) == pytest.approx((1.0, 0.1))  # the same on both engines
    env.close()


@pytest.mark.parametrize("backend", BACKENDS)
def test_physics_is_scaled_relative_to_nominal_every_episode(backend: str) -> None:
    env = gym.make(PUSH_CUBE, backend=backend, randomization=STRONG)
    for seed in (0, 1, 2):  # a second draw must not compound on the first
        env.reset(seed=seed)
        sample = env.unwrapped.randomization_sample
        friction, mass = cube_friction_and_mass(env)
        assert friction == pytest.approx(1.0 * sample.friction, rel=1e-5)
        assert mass == pytest.approx(0.1 * sample.mass["cube"], rel=1e-5)
    env.close()


def test_a_seed_draws_the_same_perturbation_on_both_backends() -> None:
    samples = []
    for backend in BACKENDS:
        env = gym.make(PUSH_CUBE, backend=backend, randomization=STRONG)
        env.reset(seed=11)
        samples.append(env.unwrapped.randomization_sample)
        env.close()
    a, b = samples
    assert (a.friction, a.mass, a.damping, a.light) == (b.friction, b.mass, b.damping, b.light)
    for name in a.camera_poses:
        np.testing.assert_array_equal(a.camera_poses[name], b.camera_poses[name])


@pytest.mark.parametrize("backend", BACKENDS)
def test_appearance_and_camera_pose_change_the_images(backend: str) -> None:
    def first_obs(randomization):
        env = gym.make(PUSH_CUBE, backend=backend, obs_mode="rgb", randomization=randomization,
                       privileged_state=True)
        obs, _ = env.reset(seed=4)
        pose = env.unwrapped.camera_params("top").extrinsics
        env.close()
        return obs, pose

    (plain, plain_pose), (varied, varied_pose) = first_obs(None), first_obs(STRONG)
    np.testing.assert_array_equal(plain["state"], varied["state"])  # same layout
    assert np.abs(plain["top_rgb"].astype(int) - varied["top_rgb"]).mean() > 5
    assert 0.001 < np.abs(varied_pose[:3, 3] - plain_pose[:3, 3]).max() < 0.1


@pytest.mark.parametrize("backend", BACKENDS)
def test_action_latency_delays_actions_by_k_steps(backend: str) -> None:
    def pusher_track(latency: int) -> np.ndarray:
        env = gym.make(PUSH_CUBE, backend=backend, randomization={"action_latency": latency})
        obs, _ = env.reset(seed=0)
        track = [obs[:2]]
        for _ in range(6):
            obs, *_ = env.step(np.array([1.0, 0.0], np.float32))
            track.append(obs[:2])
        env.close()
        return np.array(track)

    now, late = pusher_track(0), pusher_track(2)
    np.testing.assert_allclose(late[:3], late[0][None].repeat(3, 0), atol=1e-6)  # idle for 2 steps
    np.testing.assert_allclose(late[2:], now[:5], atol=1e-5)


def test_observation_noise_has_the_configured_scale() -> None:
    clean = gym.make(PUSH_CUBE)
    noisy = gym.make(PUSH_CUBE, randomization={"obs_noise": 0.01})
    diffs = [noisy.reset(seed=s)[0] - clean.reset(seed=s)[0] for s in range(200)]
    assert np.std(diffs) == pytest.approx(0.01, rel=0.1)


def test_depth_noise_perturbs_depth_only() -> None:
    env = gym.make(PUSH_CUBE, obs_mode="rgb+depth", randomization={"depth_noise": 0.005})
    ref = gym.make(PUSH_CUBE, obs_mode="rgb+depth")
    a, b = env.reset(seed=0)[0], ref.reset(seed=0)[0]
    np.testing.assert_array_equal(a["top_rgb"], b["top_rgb"])
    assert np.std(a["top_depth"] - b["top_depth"]) == pytest.approx(0.005, rel=0.1)


def test_bad_randomization_options_say_what_is_valid() -> None:
    with pytest.raises(EnvConfigError, match="low must be <= high"):
        gym.make(PUSH_CUBE, randomization={"friction": [1.5, 0.5]})
    with pytest.raises(EnvConfigError, match="action_latency must be an integer"):
        gym.make(PUSH_CUBE, randomization={"action_latency": 1.5})
    with pytest.raises(EnvConfigError, match=r"obs_noise must be in \[0.0, 1.0\]"):
        gym.make(PUSH_CUBE, randomization={"obs_noise": -1})
    # Ranges that are no longer a perturbation are refused, not simulated.
    with pytest.raises(EnvConfigError, match=r"randomization.mass must be in \[0.05, 20.0\], got 1e-09"):
        gym.make(PUSH_CUBE, randomization={"mass": [1e-9, 1e-9]})
    with pytest.raises(EnvConfigError, match="must be a real number, got True"):
        gym.make(PUSH_CUBE, randomization={"colour": True})


def test_hydra_group_selects_a_preset() -> None:
    from hydra import compose, initialize_config_dir

    from tests.conftest import ROOT

    with initialize_config_dir(config_dir=str(ROOT / "configs"), version_base=None):
        nominal = compose("collect_demos").env.kwargs.randomization
        preset = compose("collect_demos", overrides=["randomization=sim2real"]).env.kwargs.randomization
    assert Randomization.from_dict(dict(nominal)) == Randomization()
    assert Randomization.from_dict(dict(preset)).physical
    env = gym.make(PUSH_CUBE, randomization=dict(preset))
    env.reset(seed=0)
    env.step(np.zeros(2, np.float32))
    env.close()

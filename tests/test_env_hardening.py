"""Env hardening: fork-safe rendering, strict input checks, one lifecycle on both backends, quiet
simulators, blow-ups PyBullet can no longer hide, and no privileged state unless asked for."""

import logging
import os
import subprocess
import sys
import textwrap

import gymnasium as gym
import numpy as np
import pytest

import envs
from envs import EnvClosedError, EnvConfigError, InvalidActionError, ResetNeededError
from tests.conftest import PUSH_CUBE, ROOT

BACKENDS = ["mujoco", "pybullet"]
CART_POLE = "roboloop/CartPole-v0"


def run_python(code: str, timeout: float = 120) -> subprocess.CompletedProcess:
    """Run ``code`` in a fresh interpreter; a hang fails the test instead of the suite."""
    script = textwrap.dedent(code)
    return subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, cwd=ROOT,
                          timeout=timeout)


FORKED_AFTER_RENDERING = """
    import envs, gymnasium as gym, numpy as np
    e = gym.make("roboloop/PushCube-v0", obs_mode="rgb"); e.reset(seed=0); e.close()
    {make}
    try:
        v.reset()
        v.step(np.zeros((2, 2), np.float32))
        print("STEPPED")
    except Exception as error:
        print("ERROR", type(error).__name__, error)
    finally:
        v.close()
"""


@pytest.mark.parametrize("make", [
    'v = gym.make_vec("roboloop/PushCube-v0", 2, vectorization_mode="async", obs_mode="rgb")',
    "from stable_baselines3.common.vec_env import SubprocVecEnv\n"
    "    v = SubprocVecEnv([lambda: gym.make('roboloop/PushCube-v0', obs_mode='rgb')] * 2,"
    " start_method='fork')",
])
def test_forked_workers_of_a_process_that_rendered_fail_fast_instead_of_hanging(make: str) -> None:
    proc = run_python(FORKED_AFTER_RENDERING.format(make=make), timeout=90)
    assert "STEPPED" not in proc.stdout
    assert "ForkedRendererError" in proc.stdout + proc.stderr
    assert "spawn" in proc.stdout + proc.stderr  # the message names the fix


def test_roboloops_vector_helper_is_safe_after_rendering() -> None:
    proc = run_python("""
        import envs, gymnasium as gym, numpy as np

        if __name__ == "__main__":
            e = gym.make("roboloop/PushCube-v0", obs_mode="rgb"); e.reset(seed=0); e.close()
            v = envs.make_vec("roboloop/PushCube-v0", 2, obs_mode="rgb", image_size=32)
            obs, _ = v.reset(seed=0)
            obs, *_ = v.step(np.zeros((2, 2), np.float32))
            print("SHAPE", obs["top_rgb"].shape)
            v.close()
    """)
    assert "SHAPE (2, 32, 32, 3)" in proc.stdout, proc.stderr[-2000:]
    with pytest.raises(EnvConfigError, match="not safe"):
        envs.make_vec(PUSH_CUBE, 2, context="fork")


@pytest.mark.parametrize("backend", BACKENDS)
@pytest.mark.parametrize("bad", ["a", np.array(["0.5", "0.1"]), np.array([True, False]),
                                 np.array([1 + 1j, 0]), None, [[0.1, 0.2]], {"x": 1}])
def test_every_invalid_box_action_names_expected_and_got(backend: str, bad) -> None:
    env = gym.make(PUSH_CUBE, backend=backend)
    env.reset(seed=0)
    with pytest.raises(InvalidActionError, match=r"expected|dtype"):
        env.step(bad)


@pytest.mark.parametrize("backend", BACKENDS)
def test_finite_huge_actions_clip_and_integer_actions_pass(backend: str) -> None:
    a, b = gym.make(PUSH_CUBE, backend=backend), gym.make(PUSH_CUBE, backend=backend)
    a.reset(seed=0)
    b.reset(seed=0)
    np.testing.assert_array_equal(a.step([1e39, -5])[0], b.step(np.array([1, -1], np.float32))[0])
    np.testing.assert_array_equal(a.step(np.array([1, 0]))[0], b.step(np.array([1.0, 0.0]))[0])


@pytest.mark.parametrize("backend", BACKENDS)
def test_discrete_actions_take_integers_in_any_form_and_nothing_else(backend: str) -> None:
    env = gym.make(CART_POLE, backend=backend)
    env.reset(seed=0)
    for good in (1, np.int64(0), np.array(1), np.array([1]), np.array([0], np.uint8)):
        env.step(good)
    for bad in (True, 1.0, np.array([2]), np.array([[1]]), "1", np.array([0.0])):
        with pytest.raises(InvalidActionError, match=r"expected one integer in \[0, 1\]"):
            env.step(bad)


@pytest.mark.parametrize("backend", BACKENDS)
@pytest.mark.parametrize(("option", "value", "message"), [
    ("frame_skip", 2.5, "frame_skip must be an integer, got 2.5"),
    ("frame_skip", "4", "frame_skip must be an integer, got '4'"),
    ("frame_skip", 0, r"frame_skip must be an integer in \[1, 1000\]"),
    ("image_size", True, "image_size must be an integer, got True"),
    ("horizon", 10.0, "horizon must be an integer"),
    ("randomization", {"mass": [1e-9, 1e-9]}, r"randomization.mass must be in \[0.05, 20.0\]"),
    ("randomization", {"friction": [0.5, 100.0]}, r"randomization.friction must be in"),
    ("randomization", {"action_latency": True}, "action_latency must be an integer, got True"),
    ("privileged_state", "yes", "privileged_state must be True, False or None"),
])
def test_options_are_validated_at_make_time(backend: str, option: str, value, message: str) -> None:
    with pytest.raises(EnvConfigError, match=message):
        gym.make(PUSH_CUBE, backend=backend, **{option: value})


@pytest.mark.parametrize("backend", BACKENDS)
def test_numpy_integers_are_integers(backend: str) -> None:
    env = gym.make(PUSH_CUBE, backend=backend, obs_mode="rgb", image_size=np.int64(24),
                   horizon=np.int32(5), frame_skip=np.int16(10))
    obs, _ = env.reset(seed=0)
    assert obs["top_rgb"].shape == (24, 24, 3) and env.unwrapped.horizon == 5
    env.close()


@pytest.mark.parametrize("backend", BACKENDS)
def test_the_lifecycle_is_the_same_on_both_backends(backend: str) -> None:
    env = gym.make(PUSH_CUBE, backend=backend, render_mode="rgb_array", render_size=32)
    with pytest.raises(ResetNeededError, match="reset"):
        env.render()
    with pytest.raises(ResetNeededError, match="reset"):
        env.step(np.zeros(2, np.float32))
    env.reset(seed=0)
    assert env.render().std() > 3
    env.close()
    env.close()  # idempotent
    for call in (lambda: env.step(np.zeros(2, np.float32)), lambda: env.reset(seed=0), env.render,
                 env.unwrapped.get_state):
        with pytest.raises(EnvClosedError, match="closed env"):
            call()


def test_pybullet_joint_blow_ups_are_detected_not_capped() -> None:
    env = gym.make(CART_POLE, backend="pybullet").unwrapped
    scene = env.scene
    for link in (0, 1):  # far below what randomization allows: the physics cannot cope
        scene.client.changeDynamics(scene.body, link, mass=1e-9)
    env.reset(seed=0)
    _, _, terminated, truncated, info = env.step(1)
    assert truncated and not terminated and "diverged" in info["instability"]
    assert not info["is_success"]


def test_simulators_print_nothing_and_mujoco_writes_no_log_file(tmp_path, capfd, caplog,
                                                                 monkeypatch) -> None:
    monkeypatch.chdir(tmp_path)
    for backend in BACKENDS:
        gym.make(PUSH_CUBE, backend=backend).reset(seed=0)
    out, err = capfd.readouterr()
    assert "argv[0]" not in out + err and "build time" not in out + err
    env = gym.make(PUSH_CUBE).unwrapped
    env.reset(seed=0)
    env.scene.data.qvel[:] = 1e30
    with caplog.at_level(logging.WARNING):
        info = env.step(np.zeros(2, np.float32))[-1]
    assert "BADQVEL" in info["instability"]
    assert not os.path.exists(tmp_path / "MUJOCO_LOG.TXT")
    assert any("MuJoCo: Nan, Inf or huge value in QVEL" in r.getMessage() for r in caplog.records)


@pytest.mark.parametrize("env_id", envs.registered_ids())
def test_mujoco_scenes_allocate_no_shadow_map(env_id: str) -> None:
    # No light casts shadows; MuJoCo's default 4096^2 shadow map cost 64 MB per renderer.
    assert gym.make(env_id).unwrapped.scene.model.vis.quality.shadowsize == 0


@pytest.mark.parametrize("backend", BACKENDS)
def test_pixel_observations_hold_no_privileged_state_unless_asked(backend: str) -> None:
    from stable_baselines3 import PPO

    env = gym.make(PUSH_CUBE, backend=backend, obs_mode="rgb", image_size=36)
    assert "state" not in env.observation_space.spaces
    model = PPO("MultiInputPolicy", env, n_steps=8, batch_size=8, device="cpu")
    assert set(model.policy.observation_space.spaces) == {"proprio", "top_rgb"}
    env.close()

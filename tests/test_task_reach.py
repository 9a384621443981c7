"""Reach and the shared arm: kinematics against both simulators, control modes, the expert."""

import gymnasium as gym
import numpy as np
import pybullet as pb
import pytest

from agents.experts import ReachExpert
from envs import EnvConfigError
from envs.robots import arm
from loop.evaluation import evaluate

REACH = "roboloop/Reach-v0"
BACKENDS = ["mujoco", "pybullet"]


def simulator_ee(env) -> np.ndarray:
    """The end-effector as the simulator itself places it."""
    scene = env.unwrapped.scene
    if hasattr(scene, "model"):
        import mujoco

        mujoco.mj_kinematics(scene.model, scene.data)  # mj_step leaves xpos one substep behind
        return scene.data.site("ee").xpos.copy()
    pos, quat = scene.client.getLinkState(scene.arm, 2, computeForwardKinematics=True)[4:6]
    rot = np.array(pb.getMatrixFromQuaternion(quat)).reshape(3, 3)
    return np.array(pos) + rot @ np.array([0.0, 0.0, arm.FORE])


def test_inverse_kinematics_round_trips() -> None:
    rng = np.random.default_rng(0)
    for _ in range(200):
        q = rng.uniform([-3.0, -0.1, 0.05], [3.0, 1.8, 2.5])
        solved = arm.inverse(arm.forward(q))
        assert solved is not None
        np.testing.assert_allclose(arm.forward(solved), arm.forward(q), atol=1e-9)
    assert arm.inverse(np.array([2.0, 0.0, 0.1])) is None  # beyond reach


@pytest.mark.parametrize("backend", BACKENDS)
def test_forward_kinematics_matches_the_simulator(backend: str) -> None:
    env = gym.make(REACH, backend=backend)
    obs, _ = env.reset(seed=1)
    for _ in range(5):
        np.testing.assert_allclose(obs[6:9], simulator_ee(env), atol=1e-6)
        obs, *_ = env.step(env.action_space.sample())


@pytest.mark.parametrize("backend", BACKENDS)
def test_expert_reaches_100_seeded_targets(backend: str) -> None:
    summary = evaluate(gym.make(REACH, backend=backend), ReachExpert(), range(100), progress=None)
    assert summary.success_rate == 1.0


@pytest.mark.parametrize("backend", BACKENDS)
def test_ee_delta_moves_the_end_effector_along_the_command(backend: str) -> None:
    env = gym.make(REACH, backend=backend)
    obs, _ = env.reset(seed=2)
    start = obs[6:9].copy()
    for _ in range(5):
        obs, *_ = env.step(np.array([0.0, 0.0, -1.0], np.float32))  # straight down, 2 cm per step
    for _ in range(10):  # let the servos settle on the last target
        obs, *_ = env.step(np.zeros(3, np.float32))
    moved = obs[6:9] - start
    assert moved[2] == pytest.approx(-5 * arm.MAX_EE_STEP, abs=0.005)
    assert np.abs(moved[:2]).max() < 0.02


@pytest.mark.parametrize("backend", BACKENDS)
def test_joint_delta_moves_joints_and_respects_limits(backend: str) -> None:
    env = gym.make(REACH, backend=backend, control_mode="joint_delta")
    obs, _ = env.reset(seed=3)
    q0 = obs[:3].copy()
    for _ in range(5):
        obs, *_ = env.step(np.array([1.0, 0.0, 0.0], np.float32))
    assert obs[0] - q0[0] == pytest.approx(5 * arm.MAX_JOINT_STEP, abs=0.1)
    assert np.abs(obs[1:3] - q0[1:3]).max() < 0.05
    for _ in range(40):
        obs, _, terminated, truncated, _ = env.step(np.array([0.0, 0.0, 1.0], np.float32))
        if terminated or truncated:
            break
    assert obs[2] <= arm.HIGH[2] + 0.05


def test_unknown_control_mode_lists_the_valid_ones() -> None:
    with pytest.raises(EnvConfigError, match=r"\['ee_delta', 'joint_delta'\]"):
        gym.make(REACH, control_mode="torque")


@pytest.mark.parametrize("backend", BACKENDS)
def test_blow_up_is_reported(backend: str) -> None:
    env = gym.make(REACH, backend=backend)
    env.reset(seed=0)
    scene = env.unwrapped.scene
    if backend == "mujoco":
        scene.data.qvel[:] = 1e12
    else:
        scene.client.resetJointState(scene.arm, 1, float("nan"), 0.0)
    _, _, terminated, truncated, info = env.step(np.zeros(3, np.float32))
    assert truncated and not terminated and not info["is_success"] and info["instability"]


def test_targets_are_reachable_and_above_the_table() -> None:
    for seed in range(50):
        target = gym.make(REACH).reset(seed=seed)[0][9:12]
        assert target[2] > 0.05 and arm.inverse(target) is not None

"""The shared arm: kinematics against both simulators, the two control modes, limits, the model."""

import math

import gymnasium as gym
import numpy as np
import pybullet as pb
import pytest

from envs import EnvConfigError
from envs.robots import arm

REACH = "roboloop/Reach-v0"
BACKENDS = ["mujoco", "pybullet"]
Q, EE = slice(0, 4), slice(8, 11)  # Reach's state vector: q (4), qd (4), TCP (3), ...


def simulator_tcp(scene) -> np.ndarray:
    """The TCP as the simulator itself places it (MuJoCo's ``ee`` site; PyBullet's hand frame)."""
    if hasattr(scene, "model"):
        import mujoco

        mujoco.mj_kinematics(scene.model, scene.data)  # mj_step leaves xpos one substep behind
        return scene.data.site("ee").xpos.copy()
    pos, quat = scene.client.getLinkState(scene.arm, scene.link_index("hand"),
                                          computeForwardKinematics=True)[4:6]
    rot = np.array(pb.getMatrixFromQuaternion(quat)).reshape(3, 3)
    return np.array(pos) + rot @ np.array([0.0, 0.0, arm.WRIST])


def random_workspace_point(rng: np.random.Generator) -> tuple[float, float, float]:
    r, yaw = rng.uniform(arm.R_MIN, arm.R_MAX), rng.uniform(-arm.YAW_MAX, arm.YAW_MAX)
    return r * math.cos(yaw), r * math.sin(yaw), rng.uniform(arm.Z_MIN, arm.Z_MAX)


def test_inverse_kinematics_round_trips_with_the_hand_down() -> None:
    rng = np.random.default_rng(0)
    for _ in range(500):
        p = random_workspace_point(rng)
        q = arm.inverse(p)
        assert q is not None
        np.testing.assert_allclose(arm.forward(q), p, atol=1e-9)
        assert q[1] + q[2] + q[3] == pytest.approx(math.pi)  # pitches sum to pi: pointing down
    assert arm.inverse((0.8, 0.0, 0.1)) is None  # beyond reach
    assert arm.inverse((-0.3, 0.01, 0.1)) is None  # behind the base: yaw beyond its limit


def test_every_workspace_grid_point_has_a_solution_inside_the_limits() -> None:
    for r in np.linspace(arm.R_MIN, arm.R_MAX, 13):
        for z in np.linspace(arm.Z_MIN, arm.Z_MAX, 13):
            for yaw in (-arm.YAW_MAX, 0.0, arm.YAW_MAX):
                assert arm.inverse((r * math.cos(yaw), r * math.sin(yaw), z)) is not None, (r, z, yaw)


def test_clamp_to_workspace_projects_onto_the_cylinder_sector() -> None:
    assert arm.clamp_to_workspace(0.2, 0.1, 0.1) == (0.2, 0.1, 0.1)  # inside: unchanged
    x, y, z = arm.clamp_to_workspace(0.9, 0.0, -0.5)
    assert (x, y, z) == pytest.approx((arm.R_MAX, 0.0, arm.Z_MIN))
    x, y, _ = arm.clamp_to_workspace(-0.3, -0.001, 0.1)
    assert math.atan2(y, x) == pytest.approx(-arm.YAW_MAX)


@pytest.mark.parametrize("backend", BACKENDS)
def test_forward_kinematics_matches_the_simulator(backend: str) -> None:
    env = gym.make(REACH, backend=backend, control_mode="joint_delta")
    env.reset(seed=1)
    scene = env.unwrapped.scene
    rng = np.random.default_rng(1)
    for _ in range(20):  # anywhere in the joint limits, not only hand-down poses
        q = rng.uniform(arm.LOW, arm.HIGH)
        scene.reset_arm(q)
        np.testing.assert_allclose(arm.forward(q), simulator_tcp(scene), atol=1e-6)
    obs, _ = env.reset(seed=2)
    for _ in range(5):  # and what the env reports while moving
        obs, *_ = env.step(env.action_space.sample())
        np.testing.assert_allclose(obs[EE], simulator_tcp(scene), atol=1e-6)


def test_both_backends_build_the_same_masses_and_inertias() -> None:
    envs_ = {b: gym.make(REACH, backend=b).unwrapped.scene for b in BACKENDS}
    m, p = envs_["mujoco"], envs_["pybullet"]
    for link in arm.LINKS:
        info = p.client.getDynamicsInfo(p.arm, p.link_index(link.name))
        body = m.model.body(link.name)
        assert info[0] == pytest.approx(body.mass[0]) == pytest.approx(link.mass)
        np.testing.assert_allclose(info[2], body.inertia, rtol=1e-4)


@pytest.mark.parametrize("backend", BACKENDS)
def test_ee_delta_moves_the_tcp_as_commanded_keeping_the_hand_down(backend: str) -> None:
    env = gym.make(REACH, backend=backend)
    obs, _ = env.reset(seed=2)
    start = obs[EE].copy()
    command = np.array([0.5, -1.0, -0.5], np.float32)
    for _ in range(4):
        obs, *_ = env.step(command)
    for _ in range(6):  # let the servos settle on the last target
        obs, *_ = env.step(np.zeros(3, np.float32))
    np.testing.assert_allclose(obs[EE] - start, 4 * arm.MAX_EE_STEP * command, atol=0.003)
    q = obs[Q]
    assert q[1] + q[2] + q[3] == pytest.approx(math.pi, abs=0.01)


@pytest.mark.parametrize("backend", BACKENDS)
def test_ee_delta_target_stays_in_the_workspace(backend: str) -> None:
    env = gym.make(REACH, backend=backend, horizon=200)
    env.reset(seed=3)
    for command in ([0, 0, -1], [1, 0, 0]):  # into the table, then out of reach
        for _ in range(25):
            obs, *_ = env.step(np.array(command, np.float32))
        assert obs[EE][2] > arm.Z_MIN - 0.004
        assert math.hypot(*obs[EE][:2]) < arm.R_MAX + 0.004
    target = env.unwrapped.scene.controller.ee
    assert target == pytest.approx((arm.R_MAX, target[1], arm.Z_MIN), abs=0.02)


@pytest.mark.parametrize("backend", BACKENDS)
def test_joint_delta_moves_each_joint_and_respects_its_limits(backend: str) -> None:
    env = gym.make(REACH, backend=backend, control_mode="joint_delta", horizon=500)
    obs, _ = env.reset(seed=3)
    for j in range(4):
        q0 = obs[Q].copy()
        action = np.zeros(4, np.float32)
        action[j] = -1.0 if j == 1 else 1.0
        for _ in range(3):
            obs, *_ = env.step(action)
        for _ in range(4):
            obs, *_ = env.step(np.zeros(4, np.float32))
        moved = obs[Q] - q0
        assert moved[j] == pytest.approx(3 * arm.MAX_JOINT_STEP * action[j], abs=0.01)
        assert np.abs(np.delete(moved, j)).max() < 0.01
    for _ in range(40):  # push every joint past its upper limit
        obs, *_ = env.step(np.ones(4, np.float32))
    assert env.unwrapped.scene.controller.q == pytest.approx(arm.HIGH)
    assert (obs[Q] <= np.array(arm.HIGH) + 0.01).all()


@pytest.mark.parametrize("backend", BACKENDS)
def test_servos_settle_within_two_control_steps_on_both_backends(backend: str) -> None:
    env = gym.make(REACH, backend=backend, control_mode="joint_delta")
    obs, _ = env.reset(seed=4)
    target = obs[Q] + arm.MAX_JOINT_STEP
    obs, *_ = env.step(np.ones(4, np.float32))
    assert np.abs(obs[Q] - target).max() < 0.35 * arm.MAX_JOINT_STEP  # most of the way in 50 ms
    obs, *_ = env.step(np.zeros(4, np.float32))
    assert np.abs(obs[Q] - target).max() < 0.05 * arm.MAX_JOINT_STEP


def test_gripper_action_says_where_the_fingers_go_at_a_limited_rate() -> None:
    controller = arm.ArmController("ee_delta", gripper=True)
    assert controller.action_dim == 4
    shut = [controller.update([0.0, 0.0, 0.0, -1.0])[1] for _ in range(10)]
    assert shut[0] == pytest.approx(arm.FINGER_OPEN - arm.MAX_FINGER_STEP) and shut[-1] == 0.0
    assert controller.update([0.0, 0.0, 0.0, 0.0])[1] == pytest.approx(arm.MAX_FINGER_STEP)
    for _ in range(10):
        finger = controller.update([0.0, 0.0, 0.0, 0.0])[1]
    assert finger == pytest.approx(arm.FINGER_OPEN / 2)  # 0 is half open
    assert arm.ArmController("joint_delta", gripper=True).action_dim == 5
    assert arm.ArmController("joint_delta", gripper=False).action_dim == 4


def test_unknown_control_mode_lists_the_valid_ones() -> None:
    with pytest.raises(EnvConfigError, match=r"\['ee_delta', 'joint_delta'\]"):
        gym.make(REACH, control_mode="torque")

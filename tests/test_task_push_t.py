"""PushT: coverage geometry, layouts, reward and outcomes, mirrored physics and the expert's push model."""

import math

import gymnasium as gym
import numpy as np
import pytest

from agents.experts.push_t import quasi_static_twist
from envs.tasks.push_t import (
    GOAL_POSE,
    MAX_START_COVERAGE,
    PUSHER_CLEARANCE,
    PUSHER_RADIUS,
    RECTS,
    T_AREA,
    PushTLayout,
    PushTState,
    PushTTask,
    coverage,
    distance_to_t,
)

PUSH_T = "roboloop/PushT-v0"
BACKENDS = ["mujoco", "pybullet"]


def inside_t(points: np.ndarray, pose: tuple[float, float, float]) -> np.ndarray:
    x, y, yaw = pose
    c, s = math.cos(yaw), math.sin(yaw)
    u = c * (points[:, 0] - x) + s * (points[:, 1] - y)
    v = c * (points[:, 1] - y) - s * (points[:, 0] - x)
    return np.any([(abs(u - cx) <= hx) & (abs(v - cy) <= hy) for cx, cy, hx, hy in RECTS], axis=0)


def test_coverage_of_identical_and_far_apart_poses() -> None:
    assert coverage(GOAL_POSE, GOAL_POSE) == pytest.approx(1.0, abs=1e-12)
    assert coverage((0.3, 0.1, 2.0), (0.3, 0.1, 2.0)) == pytest.approx(1.0, abs=1e-12)
    assert coverage((0.2, 0.0, 0.0), (0.0, 0.0, 0.0)) == 0.0
    assert coverage((0.0, 0.0, 0.0), (0.0, 0.17, 1.0)) == 0.0  # bounding circles apart


def test_coverage_of_shifted_and_flipped_poses_matches_hand_computation() -> None:
    # Shifting the T by d along its own y uncovers a 0.12 m x d strip in all (bar and stem ends).
    d = 0.01
    assert coverage((0.0, d, 0.0), (0.0, 0.0, 0.0)) == pytest.approx(1 - 0.12 * d / T_AREA)
    assert T_AREA == pytest.approx(0.0063)
    # Along its own x: the bar loses 0.03 d, the stem 0.09 d; the same in the goal's rotated frame.
    g = GOAL_POSE
    shifted = (g[0] + d * math.cos(g[2]), g[1] + d * math.sin(g[2]), g[2])
    assert coverage(shifted, g) == pytest.approx(1 - 0.12 * d / T_AREA)
    # Upside down about the centroid: each stem end overlaps the other's bar (0.03 x 0.03 each)
    # and the stems overlap over 2 x 0.0107 m: 0.002443 of 0.0063 m^2.
    junction = RECTS[0][1] - RECTS[0][3]  # the bar's underside, 0.0107 m above the centroid
    expected = (2 * 0.03 * 0.03 + 0.03 * 2 * junction) / T_AREA
    assert coverage((0.0, 0.0, math.pi), (0.0, 0.0, 0.0)) == pytest.approx(expected)
    assert expected == pytest.approx(0.3878, abs=1e-4)


def test_coverage_agrees_with_monte_carlo_and_is_symmetric() -> None:
    rng = np.random.default_rng(0)
    points = rng.uniform(-0.12, 0.12, (400_000, 2))
    goal = inside_t(points, GOAL_POSE)
    for _ in range(4):
        pose = (*rng.uniform(-0.04, 0.04, 2), rng.uniform(-math.pi, math.pi))
        estimate = (inside_t(points, pose) & goal).mean() * 0.24 ** 2 / T_AREA
        assert coverage(pose, GOAL_POSE) == pytest.approx(estimate, abs=0.01)
        assert coverage(pose, GOAL_POSE) == pytest.approx(coverage(GOAL_POSE, pose), abs=1e-12)


def test_layouts_start_clear_of_the_goal_and_the_pusher_clear_of_the_block() -> None:
    task = PushTTask()
    for seed in range(50):
        layout = task.sample_layout(np.random.default_rng(seed))
        assert layout.goal_pose == GOAL_POSE
        assert coverage(layout.block_pose, layout.goal_pose) <= MAX_START_COVERAGE
        assert distance_to_t(layout.pusher_xy, layout.block_pose) >= PUSHER_RADIUS + PUSHER_CLEARANCE


def test_same_seed_same_layout_on_both_backends() -> None:
    for seed in range(4):
        first = [gym.make(PUSH_T, backend=b).reset(seed=seed)[0] for b in BACKENDS]
        np.testing.assert_allclose(first[0], first[1], atol=1e-6)
    env = gym.make(PUSH_T)
    assert not np.allclose(env.reset(seed=0)[0], env.reset(seed=1)[0])


@pytest.mark.parametrize("backend", BACKENDS)
def test_state_vector_names_and_block_frame_terms(backend: str) -> None:
    env = gym.make(PUSH_T, backend=backend, obs_mode="state")
    obs, _ = env.reset(seed=3)
    names = PushTTask.state_names
    assert obs.shape == (len(names),) == (20,)
    i = {n: k for k, n in enumerate(names)}
    yaw = math.atan2(obs[i["block_sin_yaw"]], obs[i["block_cos_yaw"]])
    rel = obs[[i["pusher_x"], i["pusher_y"]]] - obs[[i["block_x"], i["block_y"]]]
    local = (math.cos(yaw) * rel[0] + math.sin(yaw) * rel[1], math.cos(yaw) * rel[1] - math.sin(yaw) * rel[0])
    assert tuple(obs[[i["pusher_in_block_x"], i["pusher_in_block_y"]]]) == pytest.approx(local, abs=1e-6)
    assert obs[i["goal_cos_yaw"]] == pytest.approx(math.cos(GOAL_POSE[2]), abs=1e-6)


@pytest.mark.parametrize("backend", BACKENDS)
def test_seeded_rollouts_are_deterministic(backend: str) -> None:
    actions = np.random.default_rng(0).uniform(-1, 1, (30, 2)).astype(np.float32)

    def run() -> np.ndarray:
        env = gym.make(PUSH_T, backend=backend)
        obs, _ = env.reset(seed=11)
        return np.stack([obs] + [env.step(a)[0] for a in actions])

    np.testing.assert_array_equal(run(), run())


def test_outcomes_success_out_of_reach_and_tipped_over() -> None:
    task = PushTTask()
    gx, gy, gyaw = GOAL_POSE

    def state(x: float, y: float, yaw: float, upright: float = 1.0) -> PushTState:
        return PushTState(0.2, 0.2, 0.0, 0.0, x, y, yaw, upright, gx, gy, gyaw)

    assert task.outcome(state(gx, gy, gyaw)) == (True, None)
    assert task.outcome(state(gx + 0.001, gy, gyaw)) == (True, None)  # 98% covered
    assert task.outcome(state(gx + 0.01, gy, gyaw)) == (False, None)  # 81%
    assert task.outcome(state(0.26, 0.0, 0.0)) == (False, "block_out_of_reach")
    assert task.outcome(state(0.0, -0.26, 0.0)) == (False, "block_out_of_reach")
    assert task.outcome(state(0.1, 0.1, 0.0, upright=0.5)) == (False, "block_tipped_over")
    terms = task.reward_terms(state(gx, gy, gyaw), np.zeros(2, np.float32))
    assert terms["coverage"] == pytest.approx(1.0) and terms["success"] > 0 and terms["pose"] == 0.0


def test_both_backends_share_the_blocks_mass_centroid_and_inertia() -> None:
    mj = gym.make(PUSH_T).unwrapped.scene
    pb = gym.make(PUSH_T, backend="pybullet").unwrapped.scene
    body = mj.model.body("block")
    info = pb.client.getDynamicsInfo(pb.block, -1)
    assert body.mass[0] == pytest.approx(info[0]) == pytest.approx(0.1)
    np.testing.assert_allclose(body.ipos, 0.0, atol=1e-9)  # the pose is the centroid's
    np.testing.assert_allclose(sorted(body.inertia), sorted(info[2]), rtol=1e-6)


@pytest.mark.parametrize("backend", BACKENDS)
def test_a_centred_push_translates_the_block_without_turning_it(backend: str) -> None:
    env = gym.make(PUSH_T, backend=backend)
    task = env.unwrapped.task
    stem_bottom = RECTS[1][1] - RECTS[1][3]
    layout = PushTLayout((0.0, stem_bottom - PUSHER_RADIUS - 0.002), (0.0, 0.0, 0.0), GOAL_POSE)
    task.sample_layout = lambda rng: layout
    env.reset(seed=0)
    for _ in range(10):
        obs, *_ = env.step(np.array([0.0, 0.4], np.float32))  # 0.1 m/s along +y for 0.5 s
    # Measured: 41 mm (MuJoCo) and 48 mm (PyBullet) of the pusher's 50 mm, no turn, no drift.
    assert 0.035 < obs[5] < 0.05 and abs(obs[4]) < 1e-3 and abs(obs[7]) < 0.01


def test_quasi_static_model_translates_through_the_centroid_and_turns_off_it() -> None:
    r = np.array([[0.0, -0.08], [0.02, -0.08], [0.0, -0.08]])
    n = np.array([[0.0, 1.0]] * 3)
    u = np.array([[0.0, 1.0], [0.0, 1.0], [0.0, -1.0]])
    twist, slip = quasi_static_twist(r, n, u)
    assert twist[0] == pytest.approx([0.0, 1.0, 0.0])  # straight through the centroid
    assert twist[1, 1] > 0 and twist[1, 2] > 0 and abs(slip[1]) < 1e-12  # off-centre: turns, sticks
    assert twist[2] == pytest.approx([0.0, 0.0, 0.0])  # pulling away moves nothing


@pytest.mark.parametrize("backend", BACKENDS)
def test_segmentation_sees_every_label(backend: str) -> None:
    env = gym.make(PUSH_T, backend=backend, obs_mode="segmentation", image_size=96)
    obs, _ = env.reset(seed=0)
    assert set(np.unique(obs["top_segmentation"]).tolist()) == {1, 2, 3, 4}
    assert env.unwrapped.segmentation_labels == ("table", "pusher", "block", "goal")

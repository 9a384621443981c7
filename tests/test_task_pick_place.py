"""PickPlace: layouts, the success and failure geometry and the friction grasp, per backend."""

import math

import gymnasium as gym
import numpy as np
import pytest

from agents.experts import PickPlaceExpert
from agents.experts.pick_place import GRASP_Z
from envs.robots import arm
from envs.tasks import pick_place
from envs.tasks.pick_place import CUBE_HALF, PickPlaceState, PickPlaceTask

PICK_PLACE = "roboloop/PickPlace-v0"
BACKENDS = ["mujoco", "pybullet"]
NAMES = PickPlaceTask.state_names
CUBE = [NAMES.index(f"cube_{a}") for a in "xyz"]
EE = [NAMES.index(f"ee_{a}") for a in "xyz"]
FINGERS = [NAMES.index("finger_left"), NAMES.index("finger_right")]


def state(cube=(0.25, 0.0, CUBE_HALF), velocity=(0.0, 0.0, 0.0), fingers=(0.04, 0.04),
          target=(0.25, 0.0)) -> PickPlaceState:
    q = arm.home_pose()
    return PickPlaceState(q, (0.0,) * 4, fingers, arm.forward(q), cube, 0.0, velocity, target)


@pytest.mark.parametrize("backend", BACKENDS)
def test_grasp_holds_the_cube_between_the_pads_through_fast_moves(backend: str) -> None:
    env = gym.make(PICK_PLACE, backend=backend, horizon=300)
    obs, _ = env.reset(seed=2)
    expert = PickPlaceExpert()
    while obs[CUBE[2]] < CUBE_HALF + 0.01:  # the expert has grasped and started lifting
        obs, *_ = env.step(expert.act(obs))
    # The cube's faces keep at least 1 cm of overlap with the pads. (MuJoCo's soft contacts let it
    # creep about 1 cm under these 2 cm-per-step jerks; PyBullet's hold it within 1 mm.)
    overlap = np.array(arm.FINGER_PAD) + CUBE_HALF - 0.01
    for command in ([0, 0, 1], [1, 1, 0], [-1, -1, 0], [0, -1, 0.5], [0.5, 1, -0.5]):  # 2 cm per step
        for _ in range(5):
            obs, *_ = env.step(np.array([*command, -1.0], np.float32))
            offset = np.abs(obs[CUBE] - obs[EE])
            assert offset[2] < overlap[2] and math.hypot(*offset[:2]) < overlap[0]
            assert abs(obs[FINGERS[0]] - obs[FINGERS[1]]) < 0.008  # coupled fingers keep it centred
    assert obs[CUBE[2]] > 0.08  # carried, not dragged


def test_same_seed_same_layout_on_both_backends() -> None:
    for seed in range(3):
        first = [gym.make(PICK_PLACE, backend=b).reset(seed=seed)[0] for b in BACKENDS]
        np.testing.assert_allclose(first[0], first[1], atol=1e-6)
        assert first[0].shape == (len(NAMES),)


def test_layouts_put_cube_and_target_apart_in_reach() -> None:
    task, rng = PickPlaceTask(), np.random.default_rng(0)
    yaws = []
    for _ in range(300):
        layout = task.sample_layout(rng)
        assert math.dist(layout.cube_xy, layout.target_xy) >= pick_place.MIN_SEPARATION
        for x, y in (layout.cube_xy, layout.target_xy):
            assert pick_place.SPAWN_R[0] <= math.hypot(x, y) <= pick_place.SPAWN_R[1]
            assert arm.inverse((x, y, GRASP_Z)) is not None
        yaws.append(layout.cube_yaw)
    assert np.ptp(yaws) > 6.0  # any yaw: the pads square the cube up as they close


def test_success_needs_the_cube_resting_on_the_target_and_released() -> None:
    task = PickPlaceTask()
    assert task.outcome(state()) == (True, None)
    assert task.reward_terms(state(), np.zeros(4))["success"] == 5.0
    assert not task.outcome(state(fingers=(CUBE_HALF, CUBE_HALF)))[0]  # still held
    assert not task.outcome(state(cube=(0.25 + pick_place.PLACE_TOLERANCE + 0.001, 0.0, CUBE_HALF)))[0]
    assert not task.outcome(state(cube=(0.25, 0.0, CUBE_HALF + 0.01)))[0]  # in the air
    assert not task.outcome(state(velocity=(0.1, 0.0, 0.0)))[0]  # sliding through
    assert task.outcome(state(cube=(0.5, 0.0, CUBE_HALF))) == (False, "cube_out_of_reach")
    assert task.outcome(state(cube=(0.05, 0.0, CUBE_HALF))) == (False, "cube_out_of_reach")


@pytest.mark.parametrize("backend", BACKENDS)
def test_a_cube_knocked_out_of_reach_fails_the_episode(backend: str) -> None:
    env = gym.make(PICK_PLACE, backend=backend)
    env.reset(seed=0)
    scene = env.unwrapped.scene
    if backend == "mujoco":
        scene.data.qpos[scene.model.joint("cube").qposadr[0]] = 0.48
    else:
        scene.client.resetBasePositionAndOrientation(scene.cube, [0.48, 0.0, CUBE_HALF], [0, 0, 0, 1])
    _, _, terminated, truncated, info = env.step(np.zeros(4, np.float32))
    assert terminated and not truncated and info["failure"] == "cube_out_of_reach"


@pytest.mark.parametrize("backend", BACKENDS)
def test_seeded_episodes_repeat_whatever_ran_before(backend: str) -> None:
    env = gym.make(PICK_PLACE, backend=backend)
    expert = PickPlaceExpert()

    def episode(seed: int, steps: int = 30) -> np.ndarray:
        obs, _ = env.reset(seed=seed)
        out = [obs]
        for _ in range(steps):
            out.append(env.step(expert.act(obs))[0])
            obs = out[-1]
        return np.stack(out)

    first = episode(1)
    episode(2)  # a different episode in between must not leak into the next (cached contacts)
    np.testing.assert_array_equal(first, episode(1))


@pytest.mark.parametrize("backend", BACKENDS)
def test_segmentation_labels_cube_target_and_arm(backend: str) -> None:
    env = gym.make(PICK_PLACE, backend=backend, obs_mode="segmentation", cameras="all", image_size=64)
    obs, _ = env.reset(seed=0)
    labels = env.unwrapped.segmentation_labels
    seen = {int(v) for cam in ("top", "front") for v in np.unique(obs[f"{cam}_segmentation"])}
    assert {labels.index(n) + 1 for n in labels} <= seen

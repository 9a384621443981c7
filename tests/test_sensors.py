"""Cameras and sensors: depth in metres, world-frame point clouds, segmentation, intrinsics/extrinsics."""

import gymnasium as gym
import numpy as np
import pytest

from envs.cameras import CameraSpec, intrinsics, look_at
from envs.tasks.push_cube import CUBE_HALF, LABELS
from tests.conftest import PUSH_CUBE

BACKENDS = ["mujoco", "pybullet"]
ALL = "rgb+depth+segmentation+pointcloud"
TABLE, PUSHER, CUBE = (LABELS.index(n) + 1 for n in ("table", "pusher", "cube"))


def numpy_back_projection(depth: np.ndarray, K: np.ndarray, T: np.ndarray) -> np.ndarray:
    """Reference: one pixel at a time, straight from the pinhole equations."""
    h, w = depth.shape
    out = np.empty((h, w, 3))
    Kinv = np.linalg.inv(K)
    for r in range(h):
        for c in range(w):
            ray = Kinv @ np.array([c + 0.5, r + 0.5, 1.0])
            out[r, c] = T[:3, :3] @ (ray * depth[r, c]) + T[:3, 3]
    return out.reshape(-1, 3)


@pytest.fixture(scope="module", params=BACKENDS)
def observed(request: pytest.FixtureRequest):
    env = gym.make(PUSH_CUBE, backend=request.param, obs_mode=ALL, cameras="all", image_size=48,
                   privileged_state=True)
    obs, _ = env.reset(seed=3)
    yield env.unwrapped, obs
    env.close()


@pytest.mark.parametrize("camera", ["top", "front"])
def test_pointcloud_equals_numpy_back_projection_of_depth(observed, camera: str) -> None:
    env, obs = observed
    p = env.camera_params(camera)
    expected = numpy_back_projection(obs[f"{camera}_depth"], p.intrinsics, p.extrinsics)
    np.testing.assert_allclose(obs[f"{camera}_pointcloud"], expected, atol=1e-4)


@pytest.mark.parametrize("camera", ["top", "front"])
def test_depth_and_points_match_the_known_geometry(observed, camera: str) -> None:
    """Table pixels lie on z = 0 and the cube's top face at z = 2 * CUBE_HALF, in metres."""
    env, obs = observed
    seg = obs[f"{camera}_segmentation"].reshape(-1)
    points = obs[f"{camera}_pointcloud"]
    assert (seg == TABLE).sum() > 100 and (seg == CUBE).sum() > 5
    np.testing.assert_allclose(points[seg == TABLE][:, 2], 0.0, atol=0.01)  # PyBullet z-buffer: ~4 mm
    cube_z = points[seg == CUBE][:, 2]
    assert cube_z.max() == pytest.approx(2 * CUBE_HALF, abs=0.005) and cube_z.min() > -0.005
    state = obs["state"]
    cube_xy = points[seg == CUBE][:, :2]
    assert np.abs(np.median(cube_xy, axis=0) - state[4:6]).max() < CUBE_HALF


def test_top_camera_depth_is_its_height_above_the_table(observed) -> None:
    env, obs = observed
    seg = obs["top_segmentation"]
    assert np.median(obs["top_depth"][seg == TABLE]) == pytest.approx(0.8, abs=0.003)
    assert obs["top_depth"].dtype == np.float32 and obs["top_depth"].max() <= env.scene.far


def test_pixels_that_see_nothing_read_far_and_label_zero(observed) -> None:
    env, obs = observed
    sky = obs["front_segmentation"] == 0
    assert sky.any()
    np.testing.assert_allclose(obs["front_depth"][sky], env.scene.far, rtol=1e-3)


def test_images_line_up_across_backends() -> None:
    """Cameras are built from one CameraSpec: objects land on the same pixels on both backends."""
    segs = []
    for backend in BACKENDS:
        env = gym.make(PUSH_CUBE, backend=backend, obs_mode="segmentation", cameras="all", image_size=64)
        obs, _ = env.reset(seed=5)
        segs.append(obs)
        env.close()
    for cam in ("top", "front"):
        a, b = (s[f"{cam}_segmentation"] for s in segs)
        for label in (PUSHER, CUBE):
            ca, cb = (np.argwhere(x == label).mean(axis=0) for x in (a, b))
            assert np.abs(ca - cb).max() < 1.5, (cam, label, ca, cb)
        assert (a == b).mean() > 0.97


def test_camera_params_follow_opencv_conventions() -> None:
    spec = CameraSpec("c", eye=(0.0, 0.0, 1.0), target=(0.0, 0.0, 0.0), up=(0.0, 1.0, 0.0), fovy=90.0)
    T = spec.pose()
    np.testing.assert_allclose(T[:3, 2], [0, 0, -1])  # z looks at the target
    np.testing.assert_allclose(T[:3, 0], [1, 0, 0])  # x right
    np.testing.assert_allclose(T[:3, 1], [0, -1, 0])  # y down: world +y is image up
    K = intrinsics(90.0, 64, 48)
    assert K[1, 1] == pytest.approx(24.0) and K[0, 0] == K[1, 1] and tuple(K[:2, 2]) == (32, 24)
    with pytest.raises(ValueError, match="parallel"):
        look_at((0, 0, 1), (0, 0, 0), (0, 0, 1))


@pytest.mark.parametrize("backend", BACKENDS)
def test_extrinsics_match_the_spec(backend: str) -> None:
    from envs.tasks.push_cube import CAMERAS

    env = gym.make(PUSH_CUBE, backend=backend, obs_mode="depth", cameras="all")
    env.reset(seed=0)
    for spec in CAMERAS:
        np.testing.assert_allclose(env.unwrapped.camera_params(spec.name).extrinsics, spec.pose(),
                                   atol=1e-6)
    env.close()


@pytest.mark.parametrize("mode", ["proprio", "rgb", "depth", "segmentation", "pointcloud",
                                  "rgb+depth"])
def test_obs_modes_give_the_documented_keys(mode: str) -> None:
    sensors = [] if mode == "proprio" else mode.split("+")
    for privileged in (None, True):  # the privileged state only when asked for
        env = gym.make(PUSH_CUBE, obs_mode=mode, cameras=["top", "front"], image_size=32,
                       privileged_state=privileged)
        obs, _ = env.reset(seed=0)
        expected = {"proprio"} | {f"{c}_{s}" for c in ("top", "front") for s in sensors}
        expected |= {"state"} if privileged else set()
        assert set(obs) == expected == set(env.observation_space.spaces)
        assert env.observation_space.contains(obs)
        env.close()


def test_segmentation_labels_name_the_ids() -> None:
    env = gym.make(PUSH_CUBE, obs_mode="segmentation")
    assert env.unwrapped.segmentation_labels == LABELS
    env.close()


def test_every_sensor_round_trips_through_a_dataset(tmp_path) -> None:
    from agents.experts import PushCubeExpert
    from dataset import DatasetWriter, DemoDataset
    from loop.collect import collect

    kwargs = {"obs_mode": "rgb+depth+segmentation+pointcloud", "cameras": "all", "image_size": 24,
              "privileged_state": True}
    env = gym.make(PUSH_CUBE, **kwargs)
    writer = DatasetWriter(tmp_path / "ds", env_id=PUSH_CUBE, env_kwargs=kwargs, fps=20)
    collect(env, PushCubeExpert(), [0], writer, progress=None)
    first, _ = env.reset(seed=0)
    stored = DemoDataset(tmp_path / "ds").episode(0).observations
    assert set(stored) == set(first)
    for key, value in first.items():
        np.testing.assert_array_equal(stored[key][0], value, err_msg=key)  # rgb is lossless too
    env.close()

"""The point-cloud pipeline: fusion against the envs' back-projection, each step, and bad input."""

import gymnasium as gym
import numpy as np
import pytest

import envs  # noqa: F401
from envs.errors import ConfigError
from perception import make_perception
from perception.pointcloud import (
    Cloud,
    CloudConfig,
    CloudPipeline,
    EmptyCloudError,
    MissingCameraError,
    crop,
    estimate_normals,
    farthest_point_indices,
    fuse,
    process,
    remove_plane,
    voxel_downsample,
)

ENV = "roboloop/PushCube-v0"


@pytest.fixture(scope="module", params=["mujoco", "pybullet"])
def scene(request):
    """One PushCube observation from both cameras, and the env's camera parameters."""
    env = gym.make(ENV, backend=request.param, obs_mode="rgb+depth+segmentation+pointcloud", cameras="all",
                   image_size=48)
    obs, _ = env.reset(seed=5)
    params = {c: env.unwrapped.camera_params(c) for c in ("top", "front")}
    env.close()
    return request.param, obs, params


def open3d_backprojection(depth: np.ndarray, params) -> np.ndarray:
    """Open3D's own depth -> world points (its pixel centres sit at integer coordinates)."""
    import open3d as o3d

    h, w = depth.shape
    K = params.intrinsics
    intr = o3d.camera.PinholeCameraIntrinsic(w, h, K[0, 0], K[1, 1], K[0, 2] - 0.5, K[1, 2] - 0.5)
    image = o3d.geometry.Image(np.ascontiguousarray(depth, np.float32))
    pcd = o3d.geometry.PointCloud.create_from_depth_image(
        image, intr, np.linalg.inv(params.extrinsics), depth_scale=1.0, depth_trunc=1e6, stride=1,
        project_valid_depth_only=False)
    return np.asarray(pcd.points)


def test_fused_cloud_matches_the_envs_backprojection(scene) -> None:
    backend, obs, params = scene
    fused = fuse(obs, ["top", "front"])
    n = 48 * 48
    assert fused.points.shape == (2 * n, 3) and fused.labels.shape == (2 * n,)
    for i, cam in enumerate(("top", "front")):
        part = fused.points[i * n:(i + 1) * n]
        np.testing.assert_array_equal(part, obs[f"{cam}_pointcloud"])
        reference = open3d_backprojection(obs[f"{cam}_depth"], params[cam])
        np.testing.assert_allclose(part, reference, atol=1e-4, err_msg=f"{backend} {cam}")
        np.testing.assert_array_equal(fused.labels[i * n:(i + 1) * n], obs[f"{cam}_segmentation"].reshape(-1))
        np.testing.assert_allclose(fused.colors[i * n:(i + 1) * n] * 255, obs[f"{cam}_rgb"].reshape(-1, 3))
    # Depth with the camera parameters gives the same cloud as the env's point clouds.
    depth_only = {k: v for k, v in obs.items() if not k.endswith("_pointcloud")}
    np.testing.assert_allclose(fuse(depth_only, ["top", "front"], params).points, fused.points, atol=1e-6)


def test_pipeline_keeps_objects_and_the_goal_marker_and_drops_the_table(scene) -> None:
    backend, obs, _ = scene
    config = CloudConfig(cameras=["top", "front"], num_points=256)
    cropped = crop(fuse(obs, config.cameras), config.workspace)
    kept = remove_plane(cropped, config.plane_threshold, config.plane_keep_color)
    before, after = np.bincount(cropped.labels, minlength=5), np.bincount(kept.labels, minlength=5)
    # What is left of the table are pixels at object borders, coloured like the object.
    assert after[1] < 0.02 * before[1], f"{backend}: table points left {after} of {before}"
    assert (after[2:] >= 0.6 * before[2:]).all(), f"{backend}: objects lost: {after} of {before}"
    cloud = process(fuse(obs, config.cameras), config)
    assert cloud.points.shape == (256, 3) and cloud.colors.shape == (256, 3) and cloud.labels.shape == (256,)
    lo, hi = np.array(config.workspace[0::2]), np.array(config.workspace[1::2])
    assert ((cloud.points >= lo) & (cloud.points <= hi)).all()
    assert (np.bincount(cloud.labels, minlength=5)[2:] > 0).all()


def test_crop_drops_outside_and_non_finite_points() -> None:
    pts = np.array([[0, 0, 0], [1, 0, 0], [np.nan, 0, 0], [0.1, -0.1, 0.05]], np.float32)
    cloud = Cloud(pts, np.zeros_like(pts), np.arange(4, dtype=np.uint8))
    out = crop(cloud, [-0.5, 0.5, -0.5, 0.5, -0.1, 0.1])
    assert out.labels.tolist() == [0, 3]


def test_remove_plane_keeps_points_off_the_plane_and_coloured_markers() -> None:
    rng = np.random.default_rng(0)
    table = np.c_[rng.uniform(-0.3, 0.3, (500, 2)), np.zeros(500)]
    box = np.c_[rng.uniform(0, 0.05, (50, 2)), rng.uniform(0.01, 0.05, 50)]
    colors = np.full((550, 3), 0.6)
    colors[:20] = (0.2, 0.8, 0.2)  # a green marker lying on the table
    labels = np.r_[np.full(500, 1), np.full(50, 2)].astype(np.uint8)
    labels[:20] = 4
    cloud = Cloud(np.r_[table, box].astype(np.float32), colors.astype(np.float32), labels)
    out = remove_plane(cloud, threshold=0.005, keep_color=0.2)
    assert sorted(np.unique(out.labels).tolist()) == [2, 4]
    assert (out.labels == 2).sum() == 50 and (out.labels == 4).sum() == 20
    assert (remove_plane(cloud, threshold=0.005, keep_color=0.0).labels == 2).all()


def test_voxel_downsample_keeps_one_labelled_point_per_voxel() -> None:
    pts = np.array([[0.001, 0, 0], [0.002, 0, 0], [0.011, 0, 0], [0.5, 0.5, 0.5]], np.float32)
    cloud = Cloud(pts, np.zeros_like(pts), np.array([1, 2, 3, 4], np.uint8))
    assert voxel_downsample(cloud, 0.01).labels.tolist() == [1, 3, 4]


def test_farthest_point_sampling_spreads_and_pads() -> None:
    rng = np.random.default_rng(1)
    pts = rng.uniform(0, 1, (2000, 3))
    idx = farthest_point_indices(pts, 64)
    assert idx.shape == (64,) and len(np.unique(idx)) == 64

    def min_gap(p):
        d = np.linalg.norm(p[:, None] - p[None], axis=-1) + np.eye(len(p)) * 9
        return d.min()

    assert min_gap(pts[idx]) > 2 * min_gap(pts[rng.choice(2000, 64, replace=False)])
    assert farthest_point_indices(pts[:5], 12).tolist() == [0, 1, 2, 3, 4] * 2 + [0, 1]


def test_normals_of_a_plane_point_up() -> None:
    rng = np.random.default_rng(2)
    pts = np.c_[rng.uniform(-0.1, 0.1, (300, 2)), np.zeros(300)]
    normals = estimate_normals(pts, 0.03, np.array([0.0, 0.0, 1.0]))
    np.testing.assert_allclose(normals, np.tile([0, 0, 1], (300, 1)), atol=1e-3)


def test_bad_input_raises_clear_errors(scene) -> None:
    _, obs, params = scene
    config = CloudConfig(cameras=["top"], num_points=8)
    with pytest.raises(EmptyCloudError, match="empty"):
        process(Cloud(np.zeros((0, 3), np.float32), np.zeros((0, 3), np.float32)), config)
    nan = np.full((10, 3), np.nan, np.float32)
    with pytest.raises(EmptyCloudError, match="non-finite"):
        process(Cloud(nan, np.zeros_like(nan)), config)
    far = np.full((10, 3), 5.0, np.float32)
    with pytest.raises(EmptyCloudError, match="workspace"):
        process(Cloud(far, np.zeros_like(far)), config)
    with pytest.raises(MissingCameraError, match="wrist.*'front', 'top'"):
        fuse(obs, ["wrist"])
    depth_only = {k: v for k, v in obs.items() if not k.endswith("_pointcloud")}
    with pytest.raises(ConfigError, match="intrinsics"):
        fuse(depth_only, ["top"])
    with pytest.raises(ConfigError, match="workspace"):
        CloudConfig(workspace=[1, 0, 0, 1, 0, 1])


def test_cloud_pipeline_is_a_registered_perception(scene) -> None:
    _, obs, params = scene
    module = make_perception({"name": "point_cloud", "cameras": ["top", "front"], "num_points": 128,
                              "normals": True})
    features = module(obs)
    assert {k: v.shape for k, v in features.items()} == {"points": (128, 3), "colors": (128, 3),
                                                         "normals": (128, 3)}
    assert make_perception(module.spec()).config == module.config
    assert isinstance(CloudPipeline(params, cameras=["top"])(obs)["points"], np.ndarray)

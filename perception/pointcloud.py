"""Point clouds from camera observations: fuse cameras, crop, remove the table, down-sample, sample N.

One cloud per observation, built in this order (each step optional where a config says so):

1. **fuse**: every camera's ``<cam>_pointcloud`` (world frame, from the env) or, without it,
   ``<cam>_depth`` back-projected through that camera's intrinsics and extrinsics, with the
   pixel's ``<cam>_rgb`` colour and ``<cam>_segmentation`` label when the observation has them;
2. **crop** to the workspace box (non-finite points are dropped first);
3. **remove the table plane** (Open3D RANSAC); inliers coloured unlike the plane (a goal marker
   lying on the table) are kept;
4. **voxel down-sample** (one point per voxel, numpy: Open3D's ``voxel_down_sample`` averages
   attributes, which cannot carry integer labels);
5. **farthest-point sample** to exactly ``num_points`` (Open3D; a cloud with fewer points is
   padded by repeating its points, which a max-pooling network does not notice);
6. **normals** (Open3D, oriented towards the first camera), if asked for.

Open3D's legacy API is used (its tensor API is ~100x slower on this CPU) and imported lazily.
"""

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from envs.cameras import CameraParams, depth_to_pointcloud
from envs.errors import ConfigError, InvalidObservationError


class EmptyCloudError(InvalidObservationError):
    """A point cloud has no usable point (empty, all non-finite, or nothing inside the workspace)."""


class MissingCameraError(ConfigError, KeyError):
    """A pipeline asks for a camera the observation (the env) does not have."""


@dataclass
class CloudConfig:
    """How an observation becomes one fixed-size point cloud."""

    cameras: list[str] = field(default_factory=lambda: ["top"])  # cameras fused, in this order
    workspace: list[float] = field(  # crop box: xmin, xmax, ymin, ymax, zmin, zmax (world, metres)
        default_factory=lambda: [-0.32, 0.32, -0.32, 0.32, -0.01, 0.25])
    remove_plane: bool = True  # drop the dominant plane (the table)
    plane_threshold: float = 0.008  # RANSAC inlier distance, metres (PyBullet depth errs by up to ~7 mm)
    plane_iterations: int = 30  # RANSAC iterations (the table is most of the cloud: a few suffice)
    plane_sample: int = 2000  # RANSAC fits the plane on this many random points (0: all), then all are tested
    plane_keep_color: float = 0.2  # keep inliers whose rgb is this far (0..1, L2) from the plane's median
    voxel_size: float = 0.0  # metres; 0 turns voxel down-sampling off
    num_points: int = 1024  # N: points in every cloud
    normals: bool = False  # estimate normals (costs ~2 ms at 1024 points)
    normal_radius: float = 0.02  # neighbourhood for normals, metres
    seed: int = 0  # RANSAC seed, so the same observation gives the same cloud

    def __post_init__(self) -> None:
        """Validate values so a bad config fails before any work is done."""
        if isinstance(self.cameras, str) or not self.cameras:
            raise ConfigError(f"CloudConfig.cameras must be a non-empty list of names, got {self.cameras!r}")
        self.cameras, self.workspace = list(self.cameras), [float(v) for v in self.workspace]
        w = self.workspace
        if len(w) != 6 or w[0] >= w[1] or w[2] >= w[3] or w[4] >= w[5]:
            raise ConfigError("CloudConfig.workspace must be [xmin, xmax, ymin, ymax, zmin, zmax] with "
                              f"each min < max, got {self.workspace}")
        if self.num_points < 1 or self.plane_iterations < 1 or self.plane_sample < 0:
            raise ConfigError(f"CloudConfig.num_points and plane_iterations must be >= 1 and plane_sample "
                              f">= 0, got {self.num_points}, {self.plane_iterations}, {self.plane_sample}")
        for name in ("plane_threshold", "normal_radius"):
            if getattr(self, name) <= 0:
                raise ConfigError(f"CloudConfig.{name} must be > 0 metres, got {getattr(self, name)}")
        if self.voxel_size < 0 or self.plane_keep_color < 0:
            raise ConfigError(f"CloudConfig.voxel_size and plane_keep_color must be >= 0, got "
                              f"{self.voxel_size} and {self.plane_keep_color}")


@dataclass
class Cloud:
    """A point cloud with per-point attributes; ``N`` points."""

    points: np.ndarray  # (N, 3) float32, world frame, metres
    colors: np.ndarray  # (N, 3) float32 in [0, 1] (0.5 grey when the observation has no rgb)
    labels: np.ndarray | None = None  # (N,) uint8 segmentation ids (0 = nothing), when known
    normals: np.ndarray | None = None  # (N, 3) float32 unit normals, when estimated

    def __len__(self) -> int:
        """Number of points."""
        return len(self.points)

    def select(self, index: np.ndarray) -> "Cloud":
        """The points at ``index`` (an int array or a boolean mask), attributes kept."""
        pick = (lambda a: None if a is None else a[index])  # noqa: E731
        return Cloud(self.points[index], self.colors[index], pick(self.labels), pick(self.normals))


def fuse(obs: Mapping[str, Any], cameras: Sequence[str],
         params: Mapping[str, CameraParams] | None = None) -> Cloud:
    """One world-frame cloud from every camera in ``cameras``: (sum of H*W, 3), rgb and labels if present.

    A camera's points come from ``<cam>_pointcloud``, else from ``<cam>_depth`` back-projected with
    ``params[cam]`` (``env.unwrapped.camera_params(cam)``); depth without them is refused.
    """
    if not isinstance(obs, Mapping):
        raise InvalidObservationError(f"point clouds need a dict observation, got {type(obs).__name__}; "
                                      "make the env with obs_mode='pointcloud' (or 'depth') and rgb")
    parts = [_camera_cloud(obs, cam, params) for cam in cameras]
    has_labels = all(p.labels is not None for p in parts)
    return Cloud(np.concatenate([p.points for p in parts]), np.concatenate([p.colors for p in parts]),
                 np.concatenate([p.labels for p in parts]) if has_labels else None)


def _camera_cloud(obs: Mapping[str, Any], cam: str, params: Mapping[str, CameraParams] | None) -> Cloud:
    if f"{cam}_pointcloud" in obs:
        points = np.asarray(obs[f"{cam}_pointcloud"], np.float32).reshape(-1, 3)
    elif f"{cam}_depth" in obs:
        if params is None or cam not in params:
            raise ConfigError(f"camera {cam!r} gives depth but no intrinsics/extrinsics were given; pass "
                              f"params={{'{cam}': env.unwrapped.camera_params('{cam}')}} or make the env "
                              "with obs_mode including 'pointcloud'")
        p = params[cam]
        points = depth_to_pointcloud(np.asarray(obs[f"{cam}_depth"]), p.intrinsics, p.extrinsics)
    else:
        seen = sorted({k.rsplit("_", 1)[0] for k in obs if k.endswith(("_pointcloud", "_depth", "_rgb"))})
        raise MissingCameraError(f"the observation has no point cloud or depth from camera {cam!r}; cameras "
                                 f"in it: {seen} (keys: {sorted(obs)}); make the env with cameras='all' "
                                 "or name one of those")
    n = len(points)
    rgb = obs.get(f"{cam}_rgb")
    colors = (np.full((n, 3), 0.5, np.float32) if rgb is None
              else np.asarray(rgb, np.float32).reshape(-1, 3) / np.float32(255.0))
    seg = obs.get(f"{cam}_segmentation")
    labels = None if seg is None else np.asarray(seg, np.uint8).reshape(-1)
    if len(colors) != n or (labels is not None and len(labels) != n):
        raise InvalidObservationError(f"camera {cam!r}: {n} points but {len(colors)} rgb pixels and "
                                      f"{None if labels is None else len(labels)} labels; all must match")
    return Cloud(points, colors, labels)


def crop(cloud: Cloud, workspace: Sequence[float]) -> Cloud:
    """Finite points inside the box ``[xmin, xmax, ymin, ymax, zmin, zmax]``."""
    p = cloud.points
    lo, hi = np.asarray(workspace[0::2], np.float32), np.asarray(workspace[1::2], np.float32)
    with np.errstate(invalid="ignore"):  # NaN compares False: dropped
        inside = np.all((p >= lo) & (p <= hi), axis=1)
    return cloud.select(inside)


def remove_plane(cloud: Cloud, threshold: float, keep_color: float = 0.0, seed: int = 0,
                 iterations: int = 30, sample: int = 2000) -> Cloud:
    """Drop the dominant plane's inliers (Open3D RANSAC), keeping inliers coloured unlike the plane.

    The plane is fitted on ``sample`` random points (0: all; RANSAC's cost grows with the points and
    the table is most of them), then every point within ``threshold`` of it is an inlier.
    ``keep_color`` > 0 keeps an inlier whose rgb is farther than that (L2, 0..1) from the inliers'
    median colour: a flat marker such as PushCube's goal disk lies within a millimetre of the table.
    """
    import open3d as o3d

    if len(cloud) < 3:
        return cloud
    points = cloud.points
    if 3 <= sample < len(points):
        points = points[np.random.default_rng(seed).integers(len(points), size=sample)]
    o3d.utility.random.seed(seed)
    pcd = o3d.geometry.PointCloud(o3d.utility.Vector3dVector(points.astype(np.float64)))
    (a, b, c, d), _ = pcd.segment_plane(distance_threshold=threshold, ransac_n=3, num_iterations=iterations)
    distance = np.abs(cloud.points.astype(np.float64) @ np.array([a, b, c]) + d) / np.linalg.norm([a, b, c])
    inlier = distance <= threshold
    if keep_color > 0 and inlier.any():
        median = np.median(cloud.colors[inlier], axis=0)
        inlier &= np.linalg.norm(cloud.colors - median, axis=1) <= keep_color
    return cloud.select(~inlier)


def voxel_downsample(cloud: Cloud, voxel_size: float) -> Cloud:
    """One point (the first) per occupied voxel of edge ``voxel_size``, attributes kept; order kept."""
    cells = np.floor(cloud.points / voxel_size).astype(np.int64)
    cells -= cells.min(axis=0)
    dims = cells.max(axis=0) + 1
    keys = (cells[:, 0] * dims[1] + cells[:, 1]) * dims[2] + cells[:, 2]  # one int per voxel: a 1-D unique
    _, first = np.unique(keys, return_index=True)
    return cloud.select(np.sort(first))


def farthest_point_indices(points: np.ndarray, n: int) -> np.ndarray:
    """Indices (n,) of a farthest-point sample of ``points`` (M, 3) starting at point 0 (Open3D).

    With M < n every point is taken and the indices repeat (cyclically) up to n.
    """
    import open3d as o3d

    m = len(points)
    if m == 0:
        raise EmptyCloudError("cannot sample points from an empty cloud")
    if m <= n:
        return np.resize(np.arange(m), n)
    pcd = o3d.geometry.PointCloud(o3d.utility.Vector3dVector(points.astype(np.float64)))
    # The sample keeps each chosen point's attributes: carry the index in the normals to read it back.
    pcd.normals = o3d.utility.Vector3dVector(np.repeat(np.arange(m, dtype=np.float64)[:, None], 3, axis=1))
    sampled = pcd.farthest_point_down_sample(n)
    return np.asarray(sampled.normals)[:, 0].round().astype(np.int64)


def estimate_normals(points: np.ndarray, radius: float, towards: np.ndarray) -> np.ndarray:
    """Unit normals (N, 3) float32 from neighbourhoods of ``radius`` (Open3D), facing ``towards``."""
    import open3d as o3d

    pcd = o3d.geometry.PointCloud(o3d.utility.Vector3dVector(points.astype(np.float64)))
    pcd.estimate_normals(o3d.geometry.KDTreeSearchParamHybrid(radius=radius, max_nn=16))
    pcd.orient_normals_towards_camera_location(np.asarray(towards, np.float64))
    return np.asarray(pcd.normals, np.float32)


def process(cloud: Cloud, config: CloudConfig, eye: np.ndarray | None = None) -> Cloud:
    """Steps 2-6 of the module docstring on a fused cloud; exactly ``config.num_points`` points."""
    if len(cloud) == 0 or not np.isfinite(cloud.points).any():
        raise EmptyCloudError(f"the point cloud is empty or all non-finite ({len(cloud)} points); check the "
                              "camera's depth")
    cloud = crop(cloud, config.workspace)
    if config.remove_plane:
        cloud = remove_plane(cloud, config.plane_threshold, config.plane_keep_color, config.seed,
                             config.plane_iterations, config.plane_sample)
    if config.voxel_size > 0:
        cloud = voxel_downsample(cloud, config.voxel_size)
    if len(cloud) == 0:
        raise EmptyCloudError(f"no point left after cropping to the workspace {config.workspace} and "
                              "removing the table plane; check the cameras and the workspace box")
    cloud = cloud.select(farthest_point_indices(cloud.points, config.num_points))
    if config.normals:
        towards = np.array([0.0, 0.0, 10.0]) if eye is None else eye  # from above
        cloud.normals = estimate_normals(cloud.points, config.normal_radius, towards)
    return cloud


class CloudPipeline:
    """Perception: observation -> ``{"points" (N, 3), "colors" (N, 3)[, "normals" (N, 3)]}``.

    ``params`` (camera name -> ``CameraParams``) are needed only for cameras that give depth
    rather than point clouds; the first camera's position orients the normals.
    """

    name = "point_cloud"

    def __init__(self, params: Mapping[str, CameraParams] | None = None, **config: Any) -> None:
        self.config = CloudConfig(**config)
        self.params = dict(params or {})

    def spec(self) -> dict[str, Any]:
        """What rebuilds this module (``perception.make_perception``)."""
        return {"name": self.name, "config": dict(vars(self.config))}

    def reset(self) -> None:
        """Stateless."""

    def cloud(self, obs: Mapping[str, Any]) -> Cloud:
        """The processed cloud of one observation, labels included when the observation has them."""
        first = self.params.get(self.config.cameras[0])
        eye = None if first is None else first.extrinsics[:3, 3]
        return process(fuse(obs, self.config.cameras, self.params), self.config, eye)

    def __call__(self, obs: Mapping[str, Any]) -> dict[str, np.ndarray]:
        """Features: points and colours (and normals), each (N, 3) float32."""
        c = self.cloud(obs)
        out = {"points": c.points, "colors": c.colors}
        if c.normals is not None:
            out["normals"] = c.normals
        return out

"""What the simulator knows about a scene, as perception training targets.

Centroids: a task's entry maps its privileged ``state`` vector to the centroid (world frame,
metres) of each segmentation label; labels without a meaningful centroid (the table) are NaN and
are not trained on. Keypoints: named 3-D points from the state, projected into a camera. Boxes:
the extent of each label's segmentation mask.
"""

from collections.abc import Callable, Sequence

import numpy as np

from envs.errors import ConfigError
from envs.tasks import push_cube, push_particles

PUSHER_HALF_HEIGHT = 0.03  # the pusher cylinder's half height (envs/scenes/*_pusher.py)
GOAL_HALF_HEIGHT = 0.0005  # PushCube's goal disk


def push_cube_centroids(state: np.ndarray) -> np.ndarray:
    """(4, 3) centroids of PushCube's labels (table, pusher, cube, goal) from its 14-d state."""
    i = {name: k for k, name in enumerate(push_cube.PushCubeTask.state_names)}
    s = np.asarray(state, np.float64)
    return np.array([
        [np.nan, np.nan, np.nan],
        [s[i["pusher_x"]], s[i["pusher_y"]], PUSHER_HALF_HEIGHT],
        [s[i["cube_x"]], s[i["cube_y"]], push_cube.CUBE_HALF],
        [s[i["goal_x"]], s[i["goal_y"]], GOAL_HALF_HEIGHT],
    ], np.float32)


KEYPOINT_NAMES = ("cube_corner",) * 4 + ("cube_top", "pusher_tip", "goal")


def push_cube_keypoints(state: np.ndarray) -> np.ndarray:
    """(7, 3) world keypoints of PushCube: the cube's 4 top corners, its top centre, the pusher tip, the goal.

    The corners form one unordered set (the cube looks the same turned by 90 degrees, and its state
    holds yaw only modulo 90 degrees: cos and sin of 4 * yaw).
    """
    i = {name: k for k, name in enumerate(push_cube.PushCubeTask.state_names)}
    s = np.asarray(state, np.float64)
    cx, cy, h = s[i["cube_x"]], s[i["cube_y"]], push_cube.CUBE_HALF
    yaw = np.arctan2(s[i["cube_sin4yaw"]], s[i["cube_cos4yaw"]]) / 4
    rot = np.array([[np.cos(yaw), -np.sin(yaw)], [np.sin(yaw), np.cos(yaw)]])
    corners = (rot @ (h * np.array([[1, 1, -1, -1], [1, -1, -1, 1]]))).T + (cx, cy)
    return np.array([*[(x, y, 2 * h) for x, y in corners], (cx, cy, 2 * h),
                     (s[i["pusher_x"]], s[i["pusher_y"]], 2 * PUSHER_HALF_HEIGHT),
                     (s[i["goal_x"]], s[i["goal_y"]], 2 * GOAL_HALF_HEIGHT)], np.float32)


KEYPOINTS: dict[str, tuple[Sequence[str], Callable[[np.ndarray], np.ndarray]]] = {
    "roboloop/PushCube-v0": (KEYPOINT_NAMES, push_cube_keypoints),
}


def keypoint_targets(env_id: str) -> tuple[Sequence[str], Callable[[np.ndarray], np.ndarray]]:
    """The keypoint names of ``env_id`` (repeated names form one unordered set) and state -> (K, 3)."""
    if env_id not in KEYPOINTS:
        raise ConfigError(f"no keypoints for {env_id!r}; tasks with them: {sorted(KEYPOINTS)} "
                          "(add one to perception/targets.py: KEYPOINTS)")
    return KEYPOINTS[env_id]


def project(points: np.ndarray, intrinsics: np.ndarray, extrinsics: np.ndarray) -> np.ndarray:
    """World points (K, 3) -> pixel coordinates (K, 2) ``(u, v)``; a pixel's centre is at +0.5."""
    world_to_cam = np.linalg.inv(extrinsics)
    cam = np.asarray(points, np.float64) @ world_to_cam[:3, :3].T + world_to_cam[:3, 3]
    uv = cam @ np.asarray(intrinsics, np.float64).T
    return (uv[:, :2] / uv[:, 2:3]).astype(np.float32)


def boxes_from_segmentation(seg: np.ndarray, classes: Sequence[int]) -> tuple[np.ndarray, np.ndarray]:
    """Axis-aligned boxes (M, 4) ``x0, y0, x1, y1`` in pixels (edges) and their label ids (M,).

    One box per id in ``classes`` present in the (H, W) segmentation image: its mask's extent.
    """
    boxes, ids = [], []
    for c in classes:
        rows, cols = np.nonzero(seg == c)
        if len(rows):
            boxes.append((cols.min(), rows.min(), cols.max() + 1, rows.max() + 1))
            ids.append(c)
    return np.asarray(boxes, np.float32).reshape(-1, 4), np.asarray(ids, np.int64)


def push_particles_outlines(state: np.ndarray) -> np.ndarray:
    """(N, 32, 3) world points on each puck's top and bottom rims (N = 12 pucks, from the state)."""
    n, r, h = push_particles.N_PARTICLES, push_particles.PARTICLE_RADIUS, push_particles.PARTICLE_HALF_HEIGHT
    xy = np.asarray(state, np.float64)[4:4 + 2 * n].reshape(n, 2)
    a = np.linspace(0.0, 2 * np.pi, 16, endpoint=False)
    rim = np.stack([r * np.cos(a), r * np.sin(a)], axis=1)
    ring = np.concatenate([np.c_[rim, np.zeros(16)], np.c_[rim, np.full(16, 2 * h)]])  # (32, 3)
    return (ring[None] + np.c_[xy, np.zeros(n)][:, None]).astype(np.float32)


# Labels that name many objects (every puck is "particle"): one segmentation extent would box the
# whole group, so each instance's box comes from its projected outline instead.
INSTANCES: dict[str, tuple[str, Callable[[np.ndarray], np.ndarray]]] = {
    "roboloop/PushParticles-v0": ("particle", push_particles_outlines),
}


def instance_boxes(outlines: np.ndarray, intrinsics: np.ndarray, extrinsics: np.ndarray, seg: np.ndarray,
                   label_id: int, min_visible: float = 0.3) -> np.ndarray:
    """Boxes (M, 4) of the instances whose projected outline (M of the (N, P, 3) ``outlines``) is seen.

    An instance is seen when at least ``min_visible`` of its box (clipped to the image) is
    ``label_id`` in the segmentation image; instances under another object or outside the image
    are dropped. Boxes are in pixel edges, like :func:`boxes_from_segmentation`.
    """
    h, w = seg.shape
    boxes = []
    for outline in outlines:
        uv = project(outline, intrinsics, extrinsics)
        x0, y0 = np.clip(uv.min(axis=0), 0, (w, h))
        x1, y1 = np.clip(uv.max(axis=0), 0, (w, h))
        area = (x1 - x0) * (y1 - y0)
        if area <= 0:
            continue
        patch = seg[int(y0):int(np.ceil(y1)), int(x0):int(np.ceil(x1))]
        if (patch == label_id).sum() >= min_visible * area:
            boxes.append((x0, y0, x1, y1))
    return np.asarray(boxes, np.float32).reshape(-1, 4)


CENTROIDS: dict[str, tuple[Sequence[str], Callable[[np.ndarray], np.ndarray]]] = {
    "roboloop/PushCube-v0": (push_cube.LABELS, push_cube_centroids),
}


def instance_targets(env_id: str) -> tuple[str, Callable[[np.ndarray], np.ndarray]] | None:
    """The label of ``env_id`` that names many objects and its state -> (N, P, 3) outlines, or None."""
    return INSTANCES.get(env_id)


def centroid_targets(env_id: str) -> tuple[Sequence[str], Callable[[np.ndarray], np.ndarray]]:
    """The labels of ``env_id`` and its state -> (len(labels), 3) centroid function."""
    if env_id not in CENTROIDS:
        raise ConfigError(f"no centroid targets for {env_id!r}; tasks with them: {sorted(CENTROIDS)} "
                          "(add one to perception/targets.py: CENTROIDS)")
    return CENTROIDS[env_id]


def point_offsets(points: np.ndarray, labels: np.ndarray, centroids: np.ndarray) -> np.ndarray:
    """Per-point offset targets (N, 3): the centroid of the point's label minus the point.

    ``labels`` are segmentation ids (0 = nothing, ``i`` = ``centroids[i - 1]``); points whose
    label has no centroid get NaN (masked out of the loss).
    """
    table = np.concatenate([np.full((1, 3), np.nan, np.float32), np.asarray(centroids, np.float32)])
    return table[np.asarray(labels, np.int64)] - points

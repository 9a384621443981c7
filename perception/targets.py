"""What the simulator knows about a scene, as perception training targets: object centroids by label.

A task's entry maps its privileged ``state`` vector to the centroid (world frame, metres) of each
segmentation label; labels without a meaningful centroid (the table) are NaN and are not trained on.
"""

from collections.abc import Callable, Sequence

import numpy as np

from envs.errors import ConfigError
from envs.tasks import push_cube

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


CENTROIDS: dict[str, tuple[Sequence[str], Callable[[np.ndarray], np.ndarray]]] = {
    "roboloop/PushCube-v0": (push_cube.LABELS, push_cube_centroids),
}


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

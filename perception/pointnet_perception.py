"""A trained PointNet as a Perception: point-cloud observation -> object centroids (+ proprio).

Features (float32; the keys join the convention of docs/envs.md):

| key | shape | meaning |
|---|---|---|
| ``<label>_centroid`` | (3,) | world-frame centroid of each object in ``objects`` (e.g.
  ``cube_centroid``), voted by the points segmented as it; the last one seen while it is hidden |
| ``centroid_visible`` | (len(objects),) | 1 where the object had points in this frame, else 0 |
| ``point_features`` | (G,) | the max-pooled global feature (with ``point_features=True``) |
| kept keys | as in the env | e.g. ``proprio``, passed through unchanged |
"""

from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np
from gymnasium import spaces

from envs.cameras import CameraParams
from envs.errors import ConfigError
from perception.identity import ObservationKeyError, require_image_size
from perception.pointcloud import CloudConfig, fuse, process
from perception.train_pointnet import load_pointnet


class PointNetPerception:
    """Runs the cloud pipeline and PointNet of a checkpoint on every observation."""

    name = "pointnet"

    def __init__(self, checkpoint: str, objects: Sequence[str] = ("cube", "goal"),
                 keep: Sequence[str] = ("proprio",), point_features: bool = False,
                 params: Mapping[str, CameraParams] | None = None) -> None:
        if not checkpoint:
            raise ConfigError("PointNetPerception needs checkpoint=<path to a PointNet checkpoint> (train "
                              "one with scripts/train_perception.py)")
        self.checkpoint, self.keep, self.point_features = str(checkpoint), list(keep), bool(point_features)
        self.predictor, self.meta = load_pointnet(self.checkpoint)
        self.labels = list(self.meta["labels"])
        self.objects = list(objects)
        unknown = [o for o in self.objects if o not in self.labels]
        if unknown or not self.objects:
            raise ConfigError(f"objects {self.objects} must be non-empty and among the checkpoint's labels "
                              f"{self.labels}; unknown: {unknown}")
        self.cloud_config = CloudConfig(**self.meta["cloud"])
        self.image_size = self.meta.get("extra", {}).get("image_size")
        self.params = dict(params or {})
        self.reset()

    def spec(self) -> dict[str, Any]:
        """What rebuilds this module (``perception.make_perception``)."""
        return {"name": self.name, "config": {"checkpoint": self.checkpoint, "objects": self.objects,
                                              "keep": self.keep, "point_features": self.point_features}}

    def reset(self) -> None:
        """Forget the last seen centroids (a new episode)."""
        self._last = np.zeros((len(self.objects), 3), np.float32)

    def check_image_size(self, image_size: int) -> None:
        """Refuse an env whose images differ in size from the ones the model was trained on."""
        require_image_size("PointNet", self.checkpoint, self.image_size, image_size)

    def _check_obs(self, obs: Any) -> None:
        if not isinstance(obs, Mapping):
            raise ObservationKeyError(f"PointNetPerception needs a dict observation with point clouds, got "
                                      f"{type(obs).__name__}; make the env with obs_mode='rgb+pointcloud'")
        missing = [k for k in self.keep if k not in obs]
        if missing:
            raise ObservationKeyError(f"observation has no keys {missing} to keep; available: {sorted(obs)}")
        for cam in self.cloud_config.cameras:
            cloud = obs.get(f"{cam}_pointcloud")
            if cloud is not None and self.image_size is not None and len(cloud) != int(self.image_size) ** 2:
                side = int(round(len(cloud) ** 0.5))
                self.check_image_size(side)

    def __call__(self, obs: Mapping[str, Any]) -> dict[str, np.ndarray]:
        """Features of one observation (see the module docstring)."""
        self._check_obs(obs)
        cloud = process(fuse(obs, self.cloud_config.cameras, self.params), self.cloud_config)
        out = self.predictor(cloud.points[None], cloud.colors[None])
        cents = out["centroids"][0]
        features: dict[str, np.ndarray] = {}
        visible = np.zeros(len(self.objects), np.float32)
        for j, name in enumerate(self.objects):
            c = cents[self.labels.index(name)]
            if np.isfinite(c).all():
                self._last[j], visible[j] = c, 1.0
            features[f"{name}_centroid"] = self._last[j].copy()
        features["centroid_visible"] = visible
        if self.point_features:
            features["point_features"] = out["global"][0].astype(np.float32)
        for k in self.keep:
            features[k] = np.asarray(obs[k])
        return features

    def observation_space(self, env_space: spaces.Space) -> spaces.Dict:
        """The feature space, given the env's (dict) observation space."""
        if not isinstance(env_space, spaces.Dict):
            raise ConfigError(f"PointNetPerception needs a dict observation space, got {env_space}")
        box = lambda n: spaces.Box(-np.inf, np.inf, (n,), np.float32)  # noqa: E731
        out = {f"{name}_centroid": box(3) for name in self.objects}
        out["centroid_visible"] = spaces.Box(0.0, 1.0, (len(self.objects),), np.float32)
        if self.point_features:
            out["point_features"] = box(int(self.meta["model"]["global_widths"][-1]))
        missing = [k for k in self.keep if k not in env_space.spaces]
        if missing:
            raise ObservationKeyError(f"the env's observations have no keys {missing} to keep; available: "
                                      f"{sorted(env_space.spaces)}")
        out.update({k: env_space[k] for k in self.keep})
        return spaces.Dict(out)

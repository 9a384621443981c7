"""Render simulator-labelled scenes for perception training, split by seed.

    python scripts/make_perception_data.py                          # PushCube, MuJoCo (~3 min)
    python scripts/make_perception_data.py env.kwargs.backend=pybullet splits.train.episodes=0
    python scripts/make_perception_data.py env=reach clouds=false   # images only: the detector, any task
    python scripts/make_perception_data.py env=cart_pole clouds=false image_camera=front \
        "env.kwargs.cameras=[front]"

The task's expert drives each episode (with action noise, so scenes include states the expert
avoids) and every ``every`` steps the scene is recorded (``SceneRecorder``): the observation
through the cloud pipeline (``perception/pointcloud.py``) with its segmentation labels and each
label's centroid from the privileged state (``perception/targets.py``; tasks with centroid
targets only); with ``image_camera``, that camera's rgb, depth and segmentation images, the task's
keypoints in the world and in pixels where it has them, and one box per instance for labels that
name many objects (PushParticles' pucks). Writes ``<split>.npz`` and ``meta.json`` (env, labels,
cloud config, image size, keypoint names, seeds) to the run dir.
"""

import io
import logging
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import hydra
import numpy as np
from gymnasium import spaces
from omegaconf import DictConfig
from tqdm.auto import tqdm

import envs
from agents.experts import make_expert
from dataset.atomic import atomic_write_bytes
from envs.errors import ConfigError
from perception.pointcloud import CloudConfig, fuse, process
from perception.targets import (
    CENTROIDS,
    KEYPOINTS,
    centroid_targets,
    instance_boxes,
    instance_targets,
    keypoint_targets,
    project,
)
from runs import plain, start_run, write_json

log = logging.getLogger("roboloop")


@dataclass
class SceneRecorder:
    """What one scene yields: its cloud (with centroids), one camera's images and the task's targets.

    Each part is on when configured and the task has what it needs: ``cloud`` needs the task's
    centroids (``perception/targets.py: CENTROIDS``); keypoints come with the images where the task
    has them (``KEYPOINTS``); labels naming many objects (``INSTANCES``) get one box per instance.
    """

    env: Any
    cloud: CloudConfig | None
    image_camera: str | None
    centroids: Any = None
    keypoints: Any = None
    instances: tuple[int, Any] | None = None  # (segmentation id, state -> (N, P, 3) outlines)

    @classmethod
    def for_task(cls, env, cloud: CloudConfig | None, image_camera: str | None) -> "SceneRecorder":
        env_id, labels = env.unwrapped.spec.id, list(env.unwrapped.segmentation_labels)
        if cloud is None and not image_camera:
            raise ConfigError("nothing to record: clouds=false and image_camera=null; turn one on")
        centroids = centroid_targets(env_id)[1] if cloud is not None else None
        if image_camera and image_camera not in env.unwrapped.cameras:
            raise ConfigError(f"image_camera={image_camera!r} is not among the env's cameras "
                              f"{list(env.unwrapped.cameras)}; add it to env.kwargs.cameras")
        keypoints = KEYPOINTS[env_id][1] if image_camera and env_id in KEYPOINTS else None
        inst = instance_targets(env_id) if image_camera else None
        instances = (labels.index(inst[0]) + 1, inst[1]) if inst else None
        return cls(env, cloud, image_camera, centroids, keypoints, instances)

    def __call__(self, obs: dict) -> dict[str, Any]:
        rows: dict[str, Any] = {}
        if self.cloud is not None:
            c = process(fuse(obs, self.cloud.cameras), self.cloud)
            rows.update(points=c.points, colors=c.colors, labels=c.labels,
                        centroids=self.centroids(obs["state"]))
        if self.image_camera:
            cam = self.image_camera
            rows.update(image_rgb=obs[f"{cam}_rgb"], image_depth=obs[f"{cam}_depth"],
                        image_segmentation=obs[f"{cam}_segmentation"])
            params = self.env.unwrapped.camera_params(cam)  # after reset: jitter included
            if self.keypoints is not None:
                world = self.keypoints(obs["state"])
                rows.update(keypoints_world=world,
                            keypoints_px=project(world, params.intrinsics, params.extrinsics))
            if self.instances is not None:
                label_id, outlines = self.instances
                shapes = outlines(obs["state"])
                boxes = instance_boxes(shapes, params.intrinsics, params.extrinsics,
                                       obs[f"{cam}_segmentation"], label_id)
                padded = np.full((len(shapes), 4), np.nan, np.float32)  # NaN rows: instances not seen
                padded[:len(boxes)] = boxes
                rows["instance_boxes"] = padded
        return rows


def noisy(env, action, rng: np.random.Generator, noise: float):
    """The expert's action with noise: Gaussian if continuous; if discrete, a random one w.p. ``noise``."""
    if isinstance(env.action_space, spaces.Discrete):
        return int(rng.integers(env.action_space.n)) if rng.random() < noise else action
    return np.clip(action + rng.normal(0.0, noise, env.action_space.shape), -1, 1).astype(np.float32)


def render_split(env, expert, record: SceneRecorder, seeds: range, every: int, noise: float,
                 desc: str, sensors: str) -> dict[str, np.ndarray]:
    """Scenes of the episodes on ``seeds``: one every ``every`` steps, from the first observation on.

    ``env`` steps on the privileged state alone; only the recorded steps render ``sensors``
    (``TaskEnv.observe``), so a scene every 40 steps costs one render, not 40.
    """
    rng = np.random.default_rng(seeds.start)
    rows: dict[str, list] = {"seeds": []}
    for seed in tqdm(seeds, desc=desc):
        obs, _ = env.reset(seed=seed)
        expert.reset()
        t, done = 0, False
        while not done:
            if t % every == 0:
                rows["seeds"].append(seed)
                for key, value in record(env.unwrapped.observe(sensors, privileged_state=True)).items():
                    rows.setdefault(key, []).append(value)
            obs, _, terminated, truncated, _ = env.step(noisy(env, expert.act(obs), rng, noise))
            t, done = t + 1, terminated or truncated
    return {k: np.asarray(v) for k, v in rows.items()}


def save_npz(path: Path, arrays: dict[str, np.ndarray]) -> None:
    """Compressed ``.npz``, written atomically."""
    buffer = io.BytesIO()
    np.savez_compressed(buffer, **arrays)
    atomic_write_bytes(path, buffer.getvalue())


@hydra.main(config_path="../configs", config_name="make_perception_data", version_base="1.3")
def main(cfg: DictConfig) -> None:
    """Render every split and write it."""
    out = Path(cfg.out_dir) if cfg.out_dir else start_run(cfg)
    out.mkdir(parents=True, exist_ok=True)
    cloud = CloudConfig(**plain(cfg.cloud)) if cfg.clouds else None
    if cloud is not None and cfg.env.id not in CENTROIDS:
        raise ConfigError(f"clouds=true needs centroid targets, which {cfg.env.id} lacks (tasks with them: "
                          f"{sorted(CENTROIDS)}); pass clouds=false to render images only (the detector)")
    env_kwargs = plain(cfg.env.kwargs)
    sensors = env_kwargs.get("obs_mode", "state")
    if sensors == "state":
        raise ConfigError("env.kwargs.obs_mode='state' renders nothing; name the sensors to record, "
                          "e.g. rgb+depth+segmentation+pointcloud")
    env = envs.make(cfg.env.id, **{**env_kwargs, "obs_mode": "state", "privileged_state": None})
    record = SceneRecorder.for_task(env, cloud, cfg.image_camera)
    expert = make_expert(cfg.env.id, "scripted", env)
    counts = {}
    try:
        for split, s in cfg.splits.items():
            if s.episodes <= 0:
                continue
            seeds = range(s.start_seed, s.start_seed + s.episodes)
            arrays = render_split(env, expert, record, seeds, cfg.every, cfg.action_noise, split, sensors)
            save_npz(out / f"{split}.npz", arrays)
            counts[split] = len(arrays["seeds"])
            log.info("%s: %d scenes from seeds %d..%d -> %s", split, counts[split], seeds.start,
                     seeds.stop - 1, out / f"{split}.npz")
        image_size = env.unwrapped.image_size
        labels = list(env.unwrapped.segmentation_labels)
        camera = None
        if cfg.image_camera:
            p = env.unwrapped.camera_params(cfg.image_camera)  # the last scene's (nominal without jitter)
            camera = {"intrinsics": p.intrinsics.tolist(), "extrinsics": p.extrinsics.tolist(),
                      "width": p.width, "height": p.height, "near": p.near, "far": p.far}
    finally:
        env.close()
    names = list(keypoint_targets(cfg.env.id)[0]) if record.keypoints is not None else None
    instances = instance_targets(cfg.env.id)[0] if record.instances is not None else None
    write_json(out / "meta.json", {"env_id": cfg.env.id, "env_kwargs": env_kwargs, "labels": labels,
                                   "cloud": vars(cloud) if cloud else None, "image_size": image_size,
                                   "scenes": counts, "image_camera": cfg.image_camera,
                                   "keypoint_names": names, "instance_label": instances,
                                   "camera_params": camera, "splits": plain(cfg.splits), "every": cfg.every,
                                   "action_noise": cfg.action_noise})


if __name__ == "__main__":
    main()

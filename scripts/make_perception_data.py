"""Render simulator-labelled point-cloud scenes for perception training, split by seed.

    python scripts/make_perception_data.py                          # PushCube, MuJoCo (~3 min)
    python scripts/make_perception_data.py env.kwargs.backend=pybullet splits.train.episodes=0

The task's expert drives each episode (with action noise, so scenes include states the expert
avoids) and every ``every`` steps the observation goes through the cloud pipeline
(``perception/pointcloud.py``) with its segmentation labels; the privileged state gives each
label's centroid (``perception/targets.py``). Writes ``<split>.npz`` (points, colors, labels,
centroids, seeds; with ``image_camera``, that camera's rgb, depth and segmentation images and the
task's keypoints in the world and projected to pixels) and ``meta.json`` (env, labels, cloud
config, image size, keypoint names, seeds) to the run dir.
"""

import io
import logging
from pathlib import Path

import hydra
import numpy as np
from omegaconf import DictConfig
from tqdm.auto import tqdm

import envs
from agents.experts import make_expert
from dataset.atomic import atomic_write_bytes
from perception.pointcloud import CloudConfig, fuse, process
from perception.targets import centroid_targets, keypoint_targets, project
from runs import plain, start_run, write_json

log = logging.getLogger("roboloop")


def image_rows(obs: dict, camera: str, params, keypoints) -> dict[str, np.ndarray]:
    """One camera's images and the projected keypoints (pixels) of one scene."""
    world = keypoints(obs["state"])
    return {"image_rgb": obs[f"{camera}_rgb"], "image_depth": obs[f"{camera}_depth"],
            "image_segmentation": obs[f"{camera}_segmentation"], "keypoints_world": world,
            "keypoints_px": project(world, params.intrinsics, params.extrinsics)}


def render_split(env, expert, cloud: CloudConfig, centroids, seeds: range, every: int,
                 noise: float, desc: str, image_camera: str | None = None) -> dict[str, np.ndarray]:
    """Scenes of the episodes on ``seeds``: one every ``every`` steps, from the first observation on."""
    rng = np.random.default_rng(seeds.start)
    rows: dict[str, list] = {"points": [], "colors": [], "labels": [], "centroids": [], "seeds": []}
    if image_camera:
        _, keypoints = keypoint_targets(env.unwrapped.spec.id)
    for seed in tqdm(seeds, desc=desc):
        obs, _ = env.reset(seed=seed)
        expert.reset()
        t, done = 0, False
        while not done:
            if t % every == 0:
                c = process(fuse(obs, cloud.cameras), cloud)
                for key, value in (("points", c.points), ("colors", c.colors), ("labels", c.labels),
                                   ("centroids", centroids(obs["state"])), ("seeds", seed)):
                    rows[key].append(value)
                if image_camera:
                    params = env.unwrapped.camera_params(image_camera)  # after reset: jitter included
                    for key, value in image_rows(obs, image_camera, params, keypoints).items():
                        rows.setdefault(key, []).append(value)
            action = np.clip(expert.act(obs) + rng.normal(0.0, noise, env.action_space.shape), -1, 1)
            obs, _, terminated, truncated, _ = env.step(action.astype(np.float32))
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
    cloud = CloudConfig(**plain(cfg.cloud))
    labels, centroids = centroid_targets(cfg.env.id)
    env_kwargs = plain(cfg.env.kwargs)
    env = envs.make(cfg.env.id, **env_kwargs)
    expert = make_expert(cfg.env.id, "scripted", env)
    counts = {}
    try:
        for split, s in cfg.splits.items():
            if s.episodes <= 0:
                continue
            seeds = range(s.start_seed, s.start_seed + s.episodes)
            arrays = render_split(env, expert, cloud, centroids, seeds, cfg.every, cfg.action_noise, split,
                                  cfg.image_camera)
            save_npz(out / f"{split}.npz", arrays)
            counts[split] = len(arrays["seeds"])
            log.info("%s: %d scenes from seeds %d..%d -> %s", split, counts[split], seeds.start,
                     seeds.stop - 1, out / f"{split}.npz")
        image_size = env.unwrapped.image_size
        camera = None
        if cfg.image_camera:
            p = env.unwrapped.camera_params(cfg.image_camera)  # the last scene's (nominal without jitter)
            camera = {"intrinsics": p.intrinsics.tolist(), "extrinsics": p.extrinsics.tolist(),
                      "width": p.width, "height": p.height, "near": p.near, "far": p.far}
    finally:
        env.close()
    names = list(keypoint_targets(cfg.env.id)[0]) if cfg.image_camera else None
    write_json(out / "meta.json", {"env_id": cfg.env.id, "env_kwargs": env_kwargs, "labels": list(labels),
                                   "cloud": vars(cloud), "image_size": image_size, "scenes": counts,
                                   "image_camera": cfg.image_camera,
                                   "keypoint_names": names, "camera_params": camera,
                                   "splits": plain(cfg.splits), "every": cfg.every,
                                   "action_noise": cfg.action_noise})


if __name__ == "__main__":
    main()

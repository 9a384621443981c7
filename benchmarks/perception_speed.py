"""``python -m benchmarks.perception_speed``: per-frame latency of the perception stack at 96x96.

One PushCube observation (MuJoCo, top + front cameras, rgb + point clouds at 96x96) goes through
each step of the cloud pipeline (perception/pointcloud.py), the PointNet forward pass at 512 and
1024 points, and the whole ``PointNetPerception`` (pipeline + PointNet + centroid votes). The
farthest-point sample and the normals are also timed on the cropped cloud with the table still in
it (~15k points), where sampling has work to do. Median and 10th percentile of repeated calls
after warm-up, one torch thread. Weights are untrained (speed does not depend on them); widths are
configs/train_perception.yaml's. Writes ``benchmarks/results/perception_speed.{json,md}``.
Goal: the whole stack <= 10 ms per frame.
"""

import argparse
import json
import os
import platform
import time
from dataclasses import replace
from pathlib import Path
from tempfile import TemporaryDirectory

import gymnasium as gym
import numpy as np
import torch

import envs  # noqa: F401
from dataset import atomic_write_text
from perception.pointcloud import (
    CloudConfig,
    crop,
    estimate_normals,
    farthest_point_indices,
    fuse,
    process,
    remove_plane,
    voxel_downsample,
)
from perception.pointnet import PointNetConfig
from perception.pointnet_perception import PointNetPerception
from perception.train_pointnet import Normalization, PointNetTrainer

OUT = Path(__file__).resolve().parent / "results"
WIDTHS = {"local_widths": [64, 64], "global_widths": [64, 128, 128], "head_widths": [64],
          "tnet_widths": [32, 64, 128]}
LABELS = ["table", "pusher", "cube", "goal"]


def observation() -> dict:
    """A PushCube observation a few steps into an episode."""
    env = gym.make("roboloop/PushCube-v0", obs_mode="rgb+pointcloud", cameras=["top", "front"])
    obs, _ = env.reset(seed=100_000)
    for _ in range(5):
        obs, *_ = env.step(np.array([0.5, 0.5], np.float32))
    env.close()
    return obs


def checkpoint(folder: Path, points: int) -> str:
    """An untrained PushCube PointNet checkpoint whose cloud has ``points`` points."""
    trainer = PointNetTrainer(LABELS, CloudConfig(cameras=["top", "front"], num_points=points),
                              PointNetConfig(seg_classes=5, cls_classes=5, **WIDTHS))
    path = folder / f"pointnet_{points}.pt"
    torch.save(trainer.checkpoint({"image_size": 96}), path)
    return str(path)


def times_ms(fn, repeats: int) -> tuple[list[float], list[float]]:
    """Wall and CPU times (this process, every thread) of ``fn()`` in milliseconds, after two warm-ups."""
    fn()
    fn()
    wall, cpu = [], []
    for _ in range(repeats):
        t0, c0 = time.perf_counter(), time.process_time()
        fn()
        wall.append(1000 * (time.perf_counter() - t0))
        cpu.append(1000 * (time.process_time() - c0))
    return wall, cpu


def measure(repeats: int) -> dict[str, dict[str, float]]:
    """Median and 10th-percentile wall ms per frame of every case, and its median CPU ms.

    The machine is shared: the 10th percentile of wall time is the closest to what an idle machine
    gives, and the CPU time (every thread of this process) is what a frame costs whatever else runs.
    """

    def stats(fn) -> dict[str, float]:
        wall, cpu = times_ms(fn, repeats)
        return {"median": float(np.median(wall)), "p10": float(np.percentile(wall, 10)),
                "cpu_median": float(np.median(cpu))}

    obs = observation()
    config = CloudConfig(cameras=["top", "front"], num_points=1024)
    fused = fuse(obs, config.cameras)
    cropped = crop(fused, config.workspace)
    sampled = cropped.points[farthest_point_indices(cropped.points, 1024)]
    rows = {
        "fuse 2 cameras (18432 points)": lambda: fuse(obs, config.cameras),
        f"crop to the workspace (-> {len(cropped)})": lambda: crop(fused, config.workspace),
        "remove the table plane (RANSAC)": lambda: remove_plane(cropped, config.plane_threshold,
                                                                config.plane_keep_color),
        "voxel down-sample, 5 mm (numpy)": lambda: voxel_downsample(cropped, 0.005),
        f"farthest-point sample {len(cropped)} -> 1024": lambda: farthest_point_indices(cropped.points, 1024),
        "normals at 1024 points": lambda: estimate_normals(sampled, 0.02, np.array([0, 0, 1.0])),
        "cloud pipeline, 1024 points (fuse..sample)": lambda: process(fuse(obs, config.cameras), config),
    }
    out = {name: stats(fn) for name, fn in rows.items()}
    with TemporaryDirectory() as tmp:
        for points in (512, 1024):
            module = PointNetPerception(checkpoint(Path(tmp), points))
            cloud = process(fuse(obs, config.cameras), replace(config, num_points=points))
            x = Normalization.from_workspace(config.workspace).inputs(cloud.points[None], cloud.colors[None])
            model = module.predictor.model

            def forward(model=model, x=x) -> None:
                with torch.no_grad():
                    model(x)

            out[f"PointNet forward, {points} points"] = stats(forward)
            whole = f"whole stack (PointNetPerception), {points} points"
            out[whole] = stats(lambda m=module: m(obs))
    return out


def to_markdown(result: dict) -> str:
    """Results table."""
    lines = [f"PushCube, MuJoCo, 96x96, top + front cameras; {result['threads']} torch thread; ms per frame "
             f"over {result['repeats']} calls; load average {result['load_average']:.1f} on "
             f"{result['cpus']} CPUs while it ran. CPU ms: this process's CPU time (every thread).", "",
             "| step | median ms | p10 ms | median CPU ms |", "|---|---:|---:|---:|"]
    lines += [f"| {k} | {v['median']:.2f} | {v['p10']:.2f} | {v['cpu_median']:.2f} |"
              for k, v in result["ms"].items()]
    return "\n".join(lines) + "\n"


def main() -> None:
    """Measure and write JSON + Markdown."""
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--repeats", type=int, default=50)
    parser.add_argument("--out", type=Path, default=OUT)
    args = parser.parse_args()
    torch.set_num_threads(1)
    result = {"repeats": args.repeats, "threads": 1, "machine": platform.processor() or platform.machine(),
              "cpus": os.cpu_count(), "torch": torch.__version__, "ms": measure(args.repeats),
              "load_average": os.getloadavg()[0]}
    args.out.mkdir(parents=True, exist_ok=True)
    atomic_write_text(args.out / "perception_speed.json", json.dumps(result, indent=2))
    atomic_write_text(args.out / "perception_speed.md", to_markdown(result))
    print(to_markdown(result))


if __name__ == "__main__":
    main()

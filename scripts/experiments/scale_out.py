"""Episodes on Ray workers: the same per-seed results as in this process, the speed-up, a killed worker.

    python scripts/experiments/scale_out.py            # ~5 min on 2 CPU cores
    python scripts/experiments/scale_out.py --quick    # a minute, for checking the pipeline

Collects PushCube demos (in this process and on 2 Ray workers: the datasets must be identical),
trains a small BC policy, then evaluates it on 100 held-out seeds four ways: ``loop.evaluate``
with the agent in memory, the local runner, and Ray with 1 and 2 workers (each timed over
repeats, on a warm Ray). Every way must give the same per-seed results. Finally a Ray worker is
killed mid-evaluation (SIGKILL on its first attempt at one seed): Ray retries its task and every
seed is counted once. Writes docs/results/scale_out.{json,md}.
"""

import argparse
import functools
import json
import os
import platform
import signal
import statistics
import tempfile
import time
from dataclasses import asdict
from pathlib import Path

import numpy as np
import ray
import torch

import envs
from agents import TrainingSource
from agents.bc import BCAgent, BCConfig
from agents.portable import CheckpointAgents, ExpertDemos
from dataset import DatasetWriter, DemoDataset, atomic_write_text
from loop import evaluate
from loop.evaluation import EvalSummary, evaluation_seeds
from loop.runners import REPO_ROOT, EpisodeJob, LocalRunner, RayRunner, RunnerConfig

ENV_ID = "roboloop/PushCube-v0"
KWARGS = {"obs_mode": "state", "privileged_state": True}
RGB = {"obs_mode": "rgb", "privileged_state": True, "image_size": 96}  # a renderer in every worker
OUT = Path(__file__).resolve().parents[2] / "docs" / "results"


class KillOnce:
    """Agent factory that SIGKILLs its worker the first time it reaches ``seed`` (a marker file)."""

    def __init__(self, inner: CheckpointAgents, seed: int, marker: str) -> None:
        self.inner, self.seed, self.marker = inner, seed, marker

    def __call__(self, env, seed: int):
        """The inner agent, after killing this process once at ``seed``."""
        if seed == self.seed and not os.path.exists(self.marker):
            Path(self.marker).write_text(str(os.getpid()))
            os.kill(os.getpid(), signal.SIGKILL)
        return self.inner(env, seed)


def busy(n: int) -> float:
    """Pure-Python CPU work, no I/O: what 2 workers could gain on this machine right now."""
    total = 0
    for i in range(n):
        total += i * i
    return float(total)


def cpu_ceiling(repeats: int) -> float:
    """Speed-up of 2 Ray tasks over 1 on the same total pure-CPU work (median over repeats)."""
    task = ray.remote(num_cpus=1)(busy)
    ratios = []
    for _ in range(repeats):
        t0 = time.perf_counter()
        ray.get([task.remote(4_000_000)])
        one = time.perf_counter() - t0
        t0 = time.perf_counter()
        ray.get([task.remote(2_000_000), task.remote(2_000_000)])
        ratios.append(one / (time.perf_counter() - t0))
    return statistics.median(ratios)


def rendered_episodes(seeds: list[int], repeats: int) -> dict:
    """The scripted expert on camera observations (each worker renders): local vs Ray 1 and 2 workers."""
    job = EpisodeJob(functools.partial(envs.make, ENV_ID, **RGB), ExpertDemos(ENV_ID))
    out, reference = {}, None
    for name, runner in (("local runner", LocalRunner()), ("ray, 1 worker", ray_runner(1)),
                         ("ray, 2 workers", ray_runner(2))):
        rollouts, seconds = timed(lambda r=runner: r.run(job, seeds), repeats)
        results = [asdict(r.result) for r in rollouts]
        reference = reference or results
        out[name] = {"seconds": [round(x, 3) for x in seconds],
                     "median_seconds": round(statistics.median(seconds), 3),
                     "per_seed_equal_to_local_runner": results == reference}
        print(f"rendered, {name}: {statistics.median(seconds):.2f}s")
    out["speedup_2_over_1_ray_workers"] = round(out["ray, 1 worker"]["median_seconds"]
                                                / out["ray, 2 workers"]["median_seconds"], 2)
    out["env_kwargs"] = RGB
    return out


def ray_runner(workers: int, **kwargs) -> RayRunner:
    return RayRunner(RunnerConfig(kind="ray", workers=workers, **kwargs))


def collect(root: Path, runner, seeds: list[int]) -> tuple[DemoDataset, float]:
    """DART demos through ``runner``; only this process writes. The dataset and the seconds it took."""
    job = EpisodeJob(functools.partial(envs.make, ENV_ID, **KWARGS), ExpertDemos(ENV_ID, noise_std=0.6),
                     record=True, extra={"expert": "scripted", "action_noise": 0.6})
    t0 = time.perf_counter()
    writer = DatasetWriter(root, env_id=ENV_ID, env_kwargs=KWARGS, fps=20)
    for r in runner.run(job, seeds):
        for episode in r.episodes:
            writer.add_episode(episode)
    return DemoDataset(root), time.perf_counter() - t0


def same_episodes(a: DemoDataset, b: DemoDataset) -> bool:
    """Every episode's actions and observations are bitwise equal."""
    if a.seeds != b.seeds:
        return False
    return all(np.array_equal(a.episode(i).actions, b.episode(i).actions)
               and np.array_equal(a.episode(i).observations["state"], b.episode(i).observations["state"])
               for i in range(len(a)))


def timed(fn, repeats: int) -> tuple[list, list[float]]:
    """The result of the last call and the wall-clock seconds of each."""
    seconds, out = [], None
    for _ in range(repeats):
        t0 = time.perf_counter()
        out = fn()
        seconds.append(time.perf_counter() - t0)
    return out, seconds


def main() -> None:
    """Run everything and write the results."""
    parser = argparse.ArgumentParser()
    parser.add_argument("--quick", action="store_true")
    args = parser.parse_args()
    torch.set_num_threads(1)
    demos, steps, episodes, repeats = (20, 300, 20, 1) if args.quick else (100, 3000, 100, 5)
    tmp = Path(tempfile.mkdtemp())
    t0 = time.perf_counter()
    ray.init(num_cpus=2, include_dashboard=False, log_to_driver=False,
             runtime_env={"env_vars": {"PYTHONPATH": str(REPO_ROOT), "OMP_NUM_THREADS": "1"}})
    ray_start = time.perf_counter() - t0
    ray_runner(2).run(EpisodeJob(functools.partial(envs.make, ENV_ID, **KWARGS), ExpertDemos(ENV_ID)),
                      [0, 1], progress=None)  # warm-up: both workers import roboloop once

    local_data, local_collect_s = collect(tmp / "local", LocalRunner(), list(range(demos)))
    ray_data, ray_collect_s = collect(tmp / "ray", ray_runner(2), list(range(demos)))
    print(f"collect {demos}: local {local_collect_s:.1f}s, ray x2 {ray_collect_s:.1f}s")

    cfg = BCConfig(steps=steps, hidden_sizes=[256, 256], seed=0)
    agent = BCAgent.fit(cfg, TrainingSource.from_dataset(local_data, progress=False))
    seeds = evaluation_seeds(episodes)
    env = envs.make(ENV_ID, **KWARGS)
    direct, direct_s = timed(lambda: evaluate(env, agent, seeds, progress=None), repeats)
    env.close()
    job = EpisodeJob(functools.partial(envs.make, ENV_ID, **KWARGS), CheckpointAgents.of(agent))
    ways = {"loop.evaluate (agent in memory)": (direct.per_episode, direct_s)}
    for name, runner in (("local runner", LocalRunner()), ("ray, 1 worker", ray_runner(1)),
                         ("ray, 2 workers", ray_runner(2))):
        rollouts, seconds = timed(lambda r=runner: r.run(job, seeds), repeats)
        ways[name] = ([asdict(r.result) for r in rollouts], seconds)
        print(f"{name}: {statistics.median(seconds):.2f}s")

    rendered = rendered_episodes(seeds, min(repeats, 3))
    ceiling = cpu_ceiling(repeats)
    marker = str(tmp / "killed")
    killed_job = EpisodeJob(job.make_env, KillOnce(job.make_agent, seeds[len(seeds) * 3 // 4], marker))
    t0 = time.perf_counter()
    killed = ray_runner(2, max_retries=3).run(killed_job, seeds)
    killed_s = time.perf_counter() - t0
    killed_results = [asdict(r.result) for r in killed]

    reference = direct.per_episode
    median = {name: statistics.median(s) for name, (_, s) in ways.items()}
    table = {name: {"seconds": [round(s, 3) for s in secs], "median_seconds": round(median[name], 3),
                    "per_seed_equal_to_loop_evaluate": res == reference}
             for name, (res, secs) in ways.items()}
    one, two = median["ray, 1 worker"], median["ray, 2 workers"]
    result = {
        "machine": {"cpus": os.cpu_count(), "python": platform.python_version(), "torch": torch.__version__,
                    "ray": ray.__version__, "load_average_at_end": list(os.getloadavg())},
        "env_id": ENV_ID, "env_kwargs": KWARGS, "demos": demos, "bc": asdict(cfg),
        "collection": {"episodes": demos, "local_seconds": round(local_collect_s, 2),
                       "ray_2_workers_seconds": round(ray_collect_s, 2),
                       "datasets_identical": same_episodes(local_data, ray_data)},
        "evaluation": {"episodes": episodes, "seeds": [seeds[0], seeds[-1]], "repeats": repeats,
                       "ray_start_seconds": round(ray_start, 2),
                       "ways": table, "speedup_2_over_1_ray_workers": round(one / two, 2),
                       "speedup_ray_2_over_local_runner": round(median["local runner"] / two, 2),
                       "cpu_bound_speedup_ceiling_2_over_1": round(ceiling, 2),
                       "rendered": rendered,
                       "summary": EvalSummary.from_results([r.result for r in killed]).headline()},
        "killed_worker": {"killed_at_seed": killed_job.make_agent.seed,
                          "worker_was_killed": os.path.exists(marker),
                          "killed_pid": int(Path(marker).read_text()) if os.path.exists(marker) else None,
                          "seeds_returned": len(killed_results),
                          "each_seed_once": [r["seed"] for r in killed_results] == seeds,
                          "per_seed_equal_to_loop_evaluate": killed_results == reference,
                          "seconds": round(killed_s, 2)},
    }
    ray.shutdown()
    OUT.mkdir(parents=True, exist_ok=True)
    suffix = "_quick" if args.quick else ""
    atomic_write_text(OUT / f"scale_out{suffix}.json", json.dumps(result, indent=2) + "\n")
    atomic_write_text(OUT / f"scale_out{suffix}.md", to_markdown(result))
    print(to_markdown(result))


def to_markdown(r: dict) -> str:
    """The results page."""
    ev, col, kill = r["evaluation"], r["collection"], r["killed_worker"]
    lines = [f"# Scale-out: {ev['episodes']} PushCube evaluation episodes on Ray workers", "",
             f"Machine: {r['machine']['cpus']} CPU cores (shared with other jobs; load average at the end "
             f"{', '.join(f'{x:.2f}' for x in r['machine']['load_average_at_end'])}), torch "
             f"{r['machine']['torch']}, Ray {r['machine']['ray']}. BC ({r['bc']['steps']} steps, hidden "
             f"{r['bc']['hidden_sizes']}) trained on {r['demos']} DART demos; evaluation seeds "
             f"{ev['seeds'][0]}..{ev['seeds'][1]}. Times are the median of {ev['repeats']} runs on a warm "
             f"Ray (starting it took {ev['ray_start_seconds']} s); {ev['summary']}.", "",
             "| how | wall-clock (median) | runs (s) | per-seed results equal to `loop.evaluate` |",
             "|---|---:|---|---|"]
    for name, w in ev["ways"].items():
        runs = ", ".join(f"{s:.2f}" for s in w["seconds"])
        lines.append(f"| {name} | {w['median_seconds']:.2f} s | {runs} | "
                     f"{'yes' if w['per_seed_equal_to_loop_evaluate'] else 'NO'} |")
    lines += ["", f"Speed-up of 2 Ray workers over 1: **{ev['speedup_2_over_1_ray_workers']}x**; over the "
              f"local runner: {ev['speedup_ray_2_over_local_runner']}x. For scale, on the same machine at "
              "the same time 2 Ray tasks finished a pure-CPU busy loop "
              f"{ev['cpu_bound_speedup_ceiling_2_over_1']}x faster than 1 (the most the shared cores "
              "allowed).", "",
              f"**Rendered observations** (the scripted expert on {ev['rendered']['env_kwargs']}, every "
              "worker building its own MuJoCo renderer; heavier episodes, so Ray's fixed cost weighs "
              "less):", "",
              "| how | wall-clock (median) | runs (s) | per-seed results equal to the local runner |",
              "|---|---:|---|---|"]
    for name in ("local runner", "ray, 1 worker", "ray, 2 workers"):
        w = ev["rendered"][name]
        runs = ", ".join(f"{s:.2f}" for s in w["seconds"])
        lines.append(f"| {name} | {w['median_seconds']:.2f} s | {runs} | "
                     f"{'yes' if w['per_seed_equal_to_local_runner'] else 'NO'} |")
    lines += ["", f"Speed-up of 2 Ray workers over 1 on rendered episodes: "
              f"**{ev['rendered']['speedup_2_over_1_ray_workers']}x**.", "",
              f"Collection of {col['episodes']} demos: {col['local_seconds']} s in this process, "
              f"{col['ray_2_workers_seconds']} s on 2 Ray workers; the two datasets are "
              f"{'bitwise identical' if col['datasets_identical'] else 'DIFFERENT'} (actions and "
              "observations of every episode).", "",
              f"Killed worker: the worker running seed {kill['killed_at_seed']} was SIGKILLed on its first "
              f"attempt ({'it was' if kill['worker_was_killed'] else 'it was NOT'} killed); Ray retried the "
              "task. "
              f"{kill['seeds_returned']} results came back, each seed "
              f"{'exactly once' if kill['each_seed_once'] else 'NOT exactly once'}, "
              f"{'equal' if kill['per_seed_equal_to_loop_evaluate'] else 'NOT equal'} to `loop.evaluate` "
              f"seed by seed ({kill['seconds']} s in all).", "",
              "Reproduce: `python scripts/experiments/scale_out.py`.", ""]
    return "\n".join(lines)


if __name__ == "__main__":
    main()

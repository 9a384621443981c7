"""Data-parallel BC: 2 gloo processes at global batch B against 1 process at B, and the seed-to-seed noise.

    python scripts/experiments/distributed_training.py            # ~5 min on 2 CPU cores
    python scripts/experiments/distributed_training.py --quick    # a minute, for checking the pipeline

Collects PushCube demos, then trains the same BC policy (same seed, same global batch) in one
process and in two processes (torch.multiprocessing, gloo, DDP; each rank trains on its half of
every global batch), and once more in one process with another seed, which shows how far curves
that differ only by chance lie apart. The two processes must end with identical parameters (checked
on every rank) and follow the 1-process loss curve. Each policy is evaluated on held-out seeds.
Writes docs/results/distributed_training.{json,md,png}.
"""

import argparse
import json
import os
import socket
import tempfile
import time
from pathlib import Path

import matplotlib
import numpy as np
import torch

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402

import envs  # noqa: E402
from agents import TrainingSource, distributed, load_agent  # noqa: E402
from agents.bc import BCAgent, BCConfig  # noqa: E402
from agents.experts import PushCubeExpert  # noqa: E402
from dataset import DatasetWriter, DemoDataset, atomic_write_text  # noqa: E402
from loop import Relabelled, evaluate  # noqa: E402
from loop.collect import collect  # noqa: E402
from loop.evaluation import evaluation_seeds  # noqa: E402

ENV_ID = "roboloop/PushCube-v0"
OUT = Path(__file__).resolve().parents[2] / "docs" / "results"


def train(data_root: str, cfg: BCConfig) -> tuple[BCAgent, dict[int, float], float]:
    """Fit BC (in whatever process group this process is in); the agent, loss by step, seconds."""
    losses: dict[int, float] = {}
    t0 = time.perf_counter()
    source = TrainingSource.from_dataset(DemoDataset(data_root), progress=False,
                                         log=lambda step, s: losses.update({step: s["loss"]}))
    agent = BCAgent.fit(cfg, source)
    return agent, losses, time.perf_counter() - t0


def rank_main(rank: int, world: int, port: int, data_root: str, cfg: BCConfig, out: str) -> None:
    """One rank of the 2-process run; rank 0 writes the result (the ranks' parameters must agree)."""
    os.environ.update(MASTER_ADDR="127.0.0.1", MASTER_PORT=str(port), RANK=str(rank), WORLD_SIZE=str(world),
                      LOCAL_RANK=str(rank))
    torch.set_num_threads(1)
    distributed.init_from_env()
    agent, losses, seconds = train(data_root, cfg)  # minimize checks the ranks agree at the end
    distributed.shutdown()
    if rank == 0:
        agent.save(Path(out) / "checkpoint.pt")
        atomic_write_text(Path(out) / "losses.json", json.dumps({"losses": losses, "seconds": seconds}))


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def main() -> None:
    """Collect, train three ways, evaluate, write the results."""
    parser = argparse.ArgumentParser()
    parser.add_argument("--quick", action="store_true")
    args = parser.parse_args()
    torch.set_num_threads(1)
    demos, steps, episodes = (20, 300, 10) if args.quick else (100, 2000, 50)
    tmp = Path(tempfile.mkdtemp())
    writer = DatasetWriter(tmp / "demos", env_id=ENV_ID, env_kwargs={}, fps=20)
    collect(envs.make(ENV_ID), Relabelled(PushCubeExpert(), noise_std=0.6), range(demos), writer,
            progress=None)
    base = BCConfig(steps=steps, batch_size=256, hidden_sizes=[256, 256], seed=0)
    runs = {}
    other_seed = BCConfig(**{**vars(base), "seed": 1})
    for name, cfg in (("1 process, seed 0", base), ("1 process, seed 1", other_seed)):
        agent, losses, seconds = train(str(tmp / "demos"), cfg)
        runs[name] = {"agent": agent, "losses": losses, "seconds": seconds}
    torch.multiprocessing.spawn(rank_main, args=(2, free_port(), str(tmp / "demos"), base, str(tmp)),
                                nprocs=2)
    two = json.loads((tmp / "losses.json").read_text())
    runs["2 processes (gloo), seed 0"] = {"agent": load_agent(tmp / "checkpoint.pt"),
                                          "losses": {int(k): v for k, v in two["losses"].items()},
                                          "seconds": two["seconds"]}
    seeds = evaluation_seeds(episodes)
    result = {"env_id": ENV_ID, "demos": demos, "bc": vars(base), "global_batch": base.batch_size,
              "cpus": os.cpu_count(), "load_average_at_end": None, "eval_episodes": episodes, "runs": {}}
    for name, run in runs.items():
        summary = evaluate(envs.make(ENV_ID), run["agent"], seeds, progress=None)
        result["runs"][name] = {"losses": {str(k): v for k, v in sorted(run["losses"].items())},
                                "train_seconds": round(run["seconds"], 1),
                                "success_rate": summary.success_rate,
                                "success_ci95": list(summary.success_ci95)}
    a, b, c = (np.array(list(result["runs"][n]["losses"].values())) for n in runs)
    result["max_abs_loss_gap_2proc_vs_1proc"] = float(np.abs(c - a).max())
    result["max_abs_loss_gap_seed1_vs_seed0"] = float(np.abs(b - a).max())
    result["load_average_at_end"] = list(os.getloadavg())
    OUT.mkdir(parents=True, exist_ok=True)
    suffix = "_quick" if args.quick else ""
    atomic_write_text(OUT / f"distributed_training{suffix}.json", json.dumps(result, indent=2) + "\n")
    atomic_write_text(OUT / f"distributed_training{suffix}.md", to_markdown(result))
    plot(result, OUT / f"distributed_training{suffix}.png")
    print(to_markdown(result))


def plot(result: dict, path: Path) -> None:
    """Loss curves of the three runs (log scale)."""
    fig, ax = plt.subplots(figsize=(6, 3.8))
    for (name, run), style in zip(result["runs"].items(), ("-", ":", "--"), strict=True):
        steps = [int(k) for k in run["losses"]]
        ax.plot(steps, list(run["losses"].values()), style, marker="o", ms=3, label=name)
    ax.set(xlabel="global step", ylabel="training loss (global batch)", yscale="log",
           title=f"BC on PushCube, global batch {result['global_batch']}")
    ax.legend()
    fig.tight_layout()
    fig.savefig(path, dpi=120)
    plt.close(fig)


def to_markdown(r: dict) -> str:
    """The results page."""
    lines = [f"# Data-parallel BC: 2 processes against 1 at global batch {r['global_batch']}", "",
             f"BC (MLP {r['bc']['hidden_sizes']}, {r['bc']['steps']} steps, lr {r['bc']['lr']}) on "
             f"{r['demos']} PushCube DART demos, {r['cpus']} CPU cores shared with other jobs "
             "(load average at the end "
             f"{', '.join(f'{x:.2f}' for x in r['load_average_at_end'])}); success on {r['eval_episodes']} "
             "held-out seeds (from 100000).", "",
             "| run | final loss | training time | held-out success (95% CI) |", "|---|---:|---:|---|"]
    for name, run in r["runs"].items():
        last = list(run["losses"].values())[-1]
        lo, hi = run["success_ci95"]
        lines.append(f"| {name} | {last:.5f} | {run['train_seconds']} s | {run['success_rate']:.0%} "
                     f"({lo:.0%}-{hi:.0%}) |")
    lines += ["", f"Largest gap between the 2-process and the 1-process loss curve (same seed, logged every "
              f"100 steps): {r['max_abs_loss_gap_2proc_vs_1proc']:.2e}; between two 1-process seeds: "
              f"{r['max_abs_loss_gap_seed1_vs_seed0']:.2e}. The two ranks ended with identical parameters "
              "(`agents.distributed.check_in_sync` after training; `tests/test_distributed.py` checks it "
              "after every step).", "", "![loss curves](distributed_training.png)", "",
              "Reproduce: `python scripts/experiments/distributed_training.py`.", ""]
    return "\n".join(lines)


if __name__ == "__main__":
    main()

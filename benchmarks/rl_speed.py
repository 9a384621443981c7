"""``python -m benchmarks.rl_speed``: roboloop's DQN against plain stable-baselines3, same run.

Both train DQN with RL Zoo's CartPole-v1 hyperparameters for the same number of env steps,
taking turns (plain, roboloop, plain, ...) so that drifting machine load hits both alike. The
figure is training env steps per second, whole calls timed (env and model construction
included): plain ``DQN(...).learn(n)`` against ``DQNAgent.fit`` (seeded resets, policy-input
wrapper, progress callback; validation off, so both do the same work). Goal: roboloop >= 0.95x.
Writes ``benchmarks/results/rl_speed.{json,md}``.
"""

import argparse
import json
import platform
import statistics
import time
from pathlib import Path

import torch

from dataset import atomic_write_text

GOAL = 0.95
ENV_ID = "CartPole-v1"
ZOO = dict(learning_rate=2.3e-3, batch_size=64, buffer_size=100_000, learning_starts=1000, gamma=0.99,
           target_update_interval=10, train_freq=256, gradient_steps=128, exploration_fraction=0.16,
           exploration_final_eps=0.04)
OUT = Path(__file__).resolve().parent / "results"


def plain_sb3(steps: int, seed: int) -> float:
    """Seconds for plain SB3 DQN to build and train ``steps`` env steps."""
    import gymnasium as gym
    from stable_baselines3 import DQN

    started = time.perf_counter()
    model = DQN("MlpPolicy", gym.make(ENV_ID), seed=seed, device="cpu",
                policy_kwargs={"net_arch": [256, 256]}, **ZOO)
    model.learn(steps)
    return time.perf_counter() - started


def roboloop(steps: int, seed: int) -> float:
    """Seconds for roboloop's DQN learner (same hyperparameters, no validation) to do the same."""
    from agents import TrainingSource, find_method, make_config

    started = time.perf_counter()
    config = make_config("dqn", {**ZOO, "net_arch": [256, 256], "total_steps": steps, "eval_every": 0,
                                 "select": "last", "seed": seed})
    find_method("dqn").fit(config, TrainingSource(ENV_ID, progress=False))
    return time.perf_counter() - started


def run(steps: int, repeats: int) -> dict:
    """Alternate the two ``repeats`` times; steps/s per repeat and the median ratio."""
    seconds: dict[str, list[float]] = {"plain SB3": [], "roboloop": []}
    for repeat in range(repeats):
        seconds["plain SB3"].append(plain_sb3(steps, repeat))
        seconds["roboloop"].append(roboloop(steps, repeat))
    rates = {k: [steps / s for s in v] for k, v in seconds.items()}
    ratio = statistics.median(r / p for r, p in zip(rates["roboloop"], rates["plain SB3"], strict=True))
    return {"env_id": ENV_ID, "steps": steps, "repeats": repeats, "hyperparameters": ZOO,
            "machine": {"platform": platform.platform(), "python": platform.python_version(),
                        "torch": torch.__version__, "torch_threads": torch.get_num_threads()},
            "steps_per_second": rates, "ratio_median": ratio, "goal": GOAL, "pass": ratio >= GOAL}


def to_markdown(result: dict) -> str:
    """The table people read."""
    rows = [f"| {name} | {statistics.median(r):,.0f} | {min(r):,.0f}-{max(r):,.0f} |"
            for name, r in result["steps_per_second"].items()]
    verdict = "PASS" if result["pass"] else "FAIL"
    return ("| DQN on CartPole-v1 (RL Zoo hyperparameters) | training steps/s (median) | min-max |\n"
            "|---|---:|---:|\n" + "\n".join(rows) + "\n\n"
            f"roboloop / plain SB3 (median of per-repeat ratios): **{result['ratio_median']:.2f}** "
            f"(goal >= {GOAL}: {verdict}); {result['steps']:,} env steps x {result['repeats']} repeats.\n")


def main(argv: list[str] | None = None) -> int:
    """CLI: run, print and write the results."""
    parser = argparse.ArgumentParser(description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--steps", type=int, default=6000)
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--out", type=Path, default=OUT)
    args = parser.parse_args(argv)
    torch.set_num_threads(1)
    result = run(args.steps, args.repeats)
    args.out.mkdir(parents=True, exist_ok=True)
    atomic_write_text(args.out / "rl_speed.json", json.dumps(result, indent=1) + "\n")
    text = to_markdown(result)
    atomic_write_text(args.out / "rl_speed.md", text)
    print(text)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())

"""Covariate shift, the point of DAgger: success vs expert labels for BC and DAgger under action noise.

    python scripts/experiments/covariate_shift.py                  # ~30 min (one core, beside other work)
    python scripts/experiments/covariate_shift.py --quick          # ~15 s: checks the pipeline
    python scripts/experiments/covariate_shift.py --no-imitation   # without the library comparison
    python scripts/experiments/covariate_shift.py --plot-only      # redraw the PNG from the JSON
    python scripts/experiments/covariate_shift.py --clean-dagger-rollouts --no-imitation \
        --out runs/experiments/covariate_shift_clean_rollouts      # DAgger's rollouts without noise

The comparison with the `imitation` library needs the ``compare`` extra (``make compare-deps``).

Task: PushCube-v0 (MuJoCo, state observations). At test time every executed action carries
Gaussian noise (``--noise``, normalized units; ``Relabelled(policy, noise_std=noise)``); the
scripted expert still succeeds under it. BC learns from clean expert demonstrations (seeds
0..N-1, no noise: the classic covariate-shift setting) and never sees a state off the expert's
path. DAgger starts from a few of the same demonstrations; each round the learner drives in the
task, perturbations included (the states it will meet when tested; ``--clean-dagger-rollouts``
drives without them), the expert labels every visited state with its clean action, and BC is
trained on the aggregate (continuing from the last round's learner). Its x-axis value is
demonstration frames + expert labels, the same count as BC's frames. DAgger's curve at a budget
B uses, per training seed, the last round trained on <= B labels. Every policy is tested on the
same held-out seeds (100000+), pooled over training seeds with a Wilson 95% interval.

Why the policies drift is measured on the test episodes: for each visited state, the distance to
the nearest state of the clean demonstrations (the largest BC point's training set, a superset
of every smaller one and of DAgger's start), per dimension in units of the demonstrations'
standard deviation (RMS over dimensions).

Beside ours, the `imitation` library's ``SimpleDAggerTrainer`` runs on the same task, expert
(an SB3 policy around our scripted expert), demonstrations, MLP sizes, beta schedule, episodes
per round, gradient steps per round and label budget; its final policy is tested through
``loop.evaluate`` on the same seeds with the same noise. Writes
docs/results/covariate_shift.{json,md,png} (--quick: runs/experiments/covariate_shift_quick).
"""

import argparse
import json
import tempfile
import time
import warnings
from dataclasses import asdict, dataclass, replace
from pathlib import Path
from typing import Any

import gymnasium as gym
import matplotlib
import numpy as np
import torch

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402

import envs  # noqa: E402
from agents import TrainingSource, load_agent  # noqa: E402
from agents.bc import BCAgent, BCConfig  # noqa: E402
from agents.dagger import DAggerAgent, DAggerConfig  # noqa: E402
from agents.experts import make_expert  # noqa: E402
from dataset import DatasetWriter, DemoDataset, atomic_write_text  # noqa: E402
from dataset.tools import copy_episodes  # noqa: E402
from envs.errors import ConfigError  # noqa: E402
from loop import Callback, Relabelled, evaluate, rollout  # noqa: E402
from loop.collect import collect  # noqa: E402
from loop.evaluation import evaluation_seeds, pooled_success  # noqa: E402

OUT = Path(__file__).resolve().parents[2] / "docs" / "results"
NAME = "covariate_shift"


@dataclass(frozen=True)
class Design:
    """What is measured: task, perturbation, budgets, learners, seeds."""

    env_id: str = "roboloop/PushCube-v0"
    noise: float = 1.0  # std of the Gaussian noise on every executed action at test time
    dagger_noise: bool = True  # DAgger's rollouts run in the perturbed task (as the learner is tested)
    bc_demos: tuple[int, ...] = (4, 8, 16, 32, 64)  # clean demonstrations per BC point
    dagger_demos: int = 4  # DAgger's starting demonstrations (the first N of the same set)
    episodes_per_round: int = 4  # learner episodes the expert labels per DAgger round
    beta: float = 0.5  # DAgger: probability of executing the expert's label in round 1
    beta_decay: float = 0.7  # beta_i = beta * beta_decay^(i-1)
    steps: int = 2000  # BC gradient steps per fit (DAgger's rounds continue from the last learner)
    batch_size: int = 256
    hidden: tuple[int, ...] = (512, 512, 512)
    seeds: tuple[int, ...] = (0, 1, 2)  # training seeds
    episodes: int = 50  # held-out test episodes per policy
    noise_seed: int = 12345  # the test-time noise stream of every evaluation

    def bc_config(self, seed: int) -> BCConfig:
        """The BC learner of every point (and of every DAgger round)."""
        return BCConfig(steps=self.steps, batch_size=self.batch_size, hidden_sizes=list(self.hidden),
                        seed=seed)


QUICK = Design(bc_demos=(2, 8), dagger_demos=2, episodes_per_round=1, steps=30, batch_size=64,
               hidden=(64, 64), seeds=(0,), episodes=5)


class NoisyActions(gym.ActionWrapper):
    """The perturbed task for DAgger's rollouts: Gaussian noise on every executed action, clipped."""

    def __init__(self, env: gym.Env, std: float, seed: int) -> None:
        super().__init__(env)
        self.std, self.rng = std, np.random.default_rng(seed)

    def action(self, action: np.ndarray) -> np.ndarray:
        """The executed action: ``action`` plus noise, clipped to [-1, 1]."""
        noisy = action + self.rng.normal(0.0, self.std, size=np.shape(action))
        return np.clip(noisy, -1.0, 1.0).astype(np.float32)


class StateLog(Callback):
    """Loop callback: the states (observations an action was chosen on) of every episode."""

    def __init__(self) -> None:
        self.episodes: list[np.ndarray] = []
        self._states: list[np.ndarray] = []

    def on_reset(self, obs, info, seed) -> None:
        self._states = []

    def on_step(self, step) -> None:
        self._states.append(np.asarray(step.obs, dtype=np.float32))

    def on_episode_end(self, result) -> None:
        self.episodes.append(np.stack(self._states))


class DemoDistance:
    """Normalized distance of states to the nearest demonstrated state (RMS over dimensions)."""

    def __init__(self, demo_states: np.ndarray) -> None:
        self.mean = demo_states.mean(axis=0)
        self.scale = np.maximum(demo_states.std(axis=0), 1e-3)  # constant dims: 1 mm / 1e-3 units
        self.ref = torch.from_numpy(self._z(demo_states))

    def _z(self, states: np.ndarray) -> np.ndarray:
        return ((states - self.mean) / self.scale).astype(np.float32)

    def __call__(self, states: np.ndarray) -> np.ndarray:
        """(N, D) states -> (N,) distances."""
        z = torch.from_numpy(self._z(states))
        d = torch.cat([torch.cdist(chunk, self.ref).min(dim=1).values for chunk in z.split(4096)])
        return (d / np.sqrt(z.shape[1])).numpy()

    def per_step(self, episodes: list[np.ndarray], horizon: int) -> dict[str, Any]:
        """Mean distance over the states visited, and its mean at each time step t (episodes alive at t)."""
        dists = [self(ep) for ep in episodes]
        sums, counts = np.zeros(horizon), np.zeros(horizon)
        for d in dists:
            sums[:len(d)] += d
            counts[:len(d)] += 1
        by_t = [round(float(s / c), 4) if c else None for s, c in zip(sums, counts, strict=True)]
        return {"mean_distance": float(np.mean(np.concatenate(dists))), "distance_by_t": by_t,
                "alive_by_t": counts.astype(int).tolist()}


class Lab:
    """The task, its demonstrations and the shared test protocol."""

    def __init__(self, design: Design, root: Path) -> None:
        self.design, self.root = design, root
        kwargs = {"privileged_state": True}
        self.env = envs.make(design.env_id, **kwargs)
        self.horizon = int(getattr(self.env.unwrapped, "horizon", None) or self.env.spec.max_episode_steps)
        writer = DatasetWriter(root / "demos", env_id=design.env_id, env_kwargs=kwargs, fps=20)
        collect(self.env, Relabelled(make_expert(design.env_id)), range(max(design.bc_demos)), writer,
                progress=None)
        self.demos = DemoDataset(root / "demos")
        states = np.concatenate([self.demos.episode(i).observations["state"] for i in range(len(self.demos))])
        self.distance = DemoDistance(states)

    def subset(self, n: int) -> DemoDataset:
        """The first ``n`` demonstrations (seeds 0..n-1)."""
        folder = self.root / f"demos_{n}"
        if not folder.exists():
            copy_episodes(self.demos, range(n), folder)
        return DemoDataset(folder)

    def perturbed_env(self, seed: int, **kwargs: Any) -> gym.Env:
        """The task with the test-time perturbation on every executed action."""
        return NoisyActions(envs.make(self.design.env_id, **kwargs), self.design.noise, seed)

    def test(self, agent: Any) -> dict:
        """Held-out success under the test-time noise, and how far the visited states are from the demos."""
        log = StateLog()
        t0 = time.perf_counter()
        noisy = Relabelled(agent, noise_std=self.design.noise, seed=self.design.noise_seed)
        summary = evaluate(self.env, noisy, evaluation_seeds(self.design.episodes), progress=None,
                           callbacks=[log])
        return {"successes": round(summary.success_rate * summary.episodes), "episodes": summary.episodes,
                "success_rate": summary.success_rate, "mean_length": summary.mean_length,
                "outcomes": summary.outcomes, **self.distance.per_step(log.episodes, self.horizon),
                "eval_seconds": round(time.perf_counter() - t0, 1)}


def run_bc(lab: Lab, n: int, seed: int) -> dict:
    """BC on the first ``n`` clean demonstrations."""
    data = lab.subset(n)
    t0 = time.perf_counter()
    agent = BCAgent.fit(lab.design.bc_config(seed), TrainingSource.from_dataset(data, progress=False))
    train_s = time.perf_counter() - t0
    return {"method": "bc", "seed": seed, "demos": n, "labels": data.num_frames,
            "train_seconds": round(train_s, 1), **lab.test(agent)}


def dagger_config(design: Design, budget: int, seed: int) -> DAggerConfig:
    """Our DAgger: rounds until the label budget is spent."""
    bc = {k: v for k, v in asdict(design.bc_config(seed)).items() if k in ("steps", "batch_size", "seed")}
    return DAggerConfig(rounds=10_000, episodes_per_round=design.episodes_per_round, label_budget=budget,
                        beta=design.beta, beta_decay=design.beta_decay,
                        bc={**bc, "hidden_sizes": list(design.hidden)}, seed=seed)


def run_dagger(lab: Lab, seed: int, budget: int) -> tuple[dict, list[dict]]:
    """Our DAgger up to ``budget`` expert labels (on top of the demos); every round's learner tested."""
    design = lab.design
    data = lab.subset(design.dagger_demos)
    run_dir = lab.root / f"dagger_{seed}"
    factory = (lambda **kw: lab.perturbed_env(seed, **kw)) if design.dagger_noise else None
    source = TrainingSource.from_dataset(data, progress=False, run_dir=run_dir, env_factory=factory)
    t0 = time.perf_counter()
    agent = DAggerAgent.fit(dagger_config(design, budget, seed), source)
    train_s = time.perf_counter() - t0
    rounds = []
    for path in sorted((run_dir / "rounds").glob("round_*.pt"), key=lambda p: int(p.stem.split("_")[1])):
        learner = load_agent(path)
        labels = data.num_frames + int(learner.meta.extra["labels"])
        rounds.append({"method": "dagger", "seed": seed, "round": int(learner.meta.extra["dagger_round"]),
                       "labels": labels, **lab.test(learner)})
        print(f"  dagger seed {seed} round {rounds[-1]['round']}: {labels} labels, "
              f"{rounds[-1]['success_rate']:.0%}", flush=True)
    # The final learner is the last saved round: its labels are the ones it was trained on (labels
    # collected in a round that exhausts the budget are not trained on: "labels_collected").
    summary = {"method": "dagger", "seed": seed, "labels": rounds[-1]["labels"],
               "labels_collected": data.num_frames + int(agent.meta.extra["labels"]), "rounds": len(rounds),
               "train_seconds": round(train_s, 1),
               "rollouts": agent.meta.extra["rounds"], **{k: v for k, v in rounds[-1].items()
                                                          if k not in ("method", "seed", "labels")}}
    return summary, rounds


def run_imitation(lab: Lab, seed: int, budget: int) -> dict:
    """The `imitation` library's SimpleDAggerTrainer on the same task, expert, demos, net and budget.

    Same schedule as ours: BC on the demonstrations first (round 0), then rounds of
    ``episodes_per_round`` learner-driven episodes (beta_i as ours), ``steps`` batches of
    ``batch_size`` per round. Unlike ours, the library keeps training one network across rounds
    (a Gaussian policy, log-likelihood loss) and finishes the episode that crosses the budget.
    """
    try:
        from imitation.algorithms import bc
        from imitation.algorithms.dagger import SimpleDAggerTrainer
        from imitation.data.types import Trajectory
        from imitation.policies.base import NormalizeFeaturesExtractor
        from imitation.util.logger import configure
        from stable_baselines3.common.policies import ActorCriticPolicy, BasePolicy
        from stable_baselines3.common.vec_env import DummyVecEnv
    except ImportError as e:
        raise SystemExit(f"the comparison needs the `imitation` library ({e}): run `make compare-deps`, "
                         "or pass --no-imitation") from e
    import datasets

    datasets.disable_progress_bars()
    warnings.filterwarnings("ignore", message="Converting a tensor with requires_grad", category=UserWarning)
    design = lab.design

    class ExpertPolicy(BasePolicy):
        """Our scripted expert as an SB3 policy (the state observation is its privileged state)."""

        def __init__(self, venv) -> None:
            super().__init__(venv.observation_space, venv.action_space)
            self.expert, self.calls = make_expert(design.env_id), 0

        def _predict(self, observation, deterministic=False):
            self.calls += len(observation)  # one expert label per env step
            obs = observation.cpu().numpy()
            return torch.as_tensor(np.stack([self.expert.act(o) for o in obs]))

    class Trajectories(Callback):
        """Loop callback: each episode as an imitation Trajectory (T + 1 observations)."""

        def __init__(self) -> None:
            self.trajs: list = []

        def on_reset(self, obs, info, seed) -> None:
            self._obs, self._acts = [obs], []

        def on_step(self, step) -> None:
            self._obs.append(step.next_obs)
            self._acts.append(step.action)

        def on_episode_end(self, result) -> None:
            self.trajs.append(Trajectory(obs=np.array(self._obs), acts=np.array(self._acts), infos=None,
                                         terminal=result.terminated))

    demos = lab.subset(design.dagger_demos)
    log = Trajectories()
    for s in demos.seeds:  # the same demonstrations, re-recorded with their final observations
        rollout(lab.env, make_expert(design.env_id), seed=s, callbacks=[log])
    for i, traj in enumerate(log.trajs):
        if not np.array_equal(traj.acts, demos.episode(i).actions):
            raise ConfigError(f"re-recording demonstration {i} (seed {s}) gave other actions than the "
                              "dataset holds; the expert or the env is not deterministic")
    kwargs = dict(demos.env_kwargs)
    venv = DummyVecEnv([lambda: lab.perturbed_env(seed, **kwargs) if design.dagger_noise
                        else envs.make(design.env_id, **kwargs)])
    venv.seed(10_000 + seed)  # training episodes: training seeds, disjoint from the test seeds
    torch.manual_seed(seed)
    rng = np.random.default_rng(seed)
    quiet = configure(format_strs=[])
    policy = ActorCriticPolicy(venv.observation_space, venv.action_space, lr_schedule=lambda _: 1e-3,
                               net_arch={"pi": list(design.hidden), "vf": []}, activation_fn=torch.nn.ReLU,
                               features_extractor_class=NormalizeFeaturesExtractor)
    learner = bc.BC(observation_space=venv.observation_space, action_space=venv.action_space, rng=rng,
                    policy=policy, batch_size=min(design.batch_size, demos.num_frames),
                    optimizer_kwargs={"lr": 1e-3}, custom_logger=quiet)
    expert = ExpertPolicy(venv)
    train = {"n_batches": design.steps, "log_rollouts_venv": None, "progress_bar": False}
    with tempfile.TemporaryDirectory() as scratch:
        t0 = time.perf_counter()
        trainer = SimpleDAggerTrainer(venv=venv, scratch_dir=scratch, expert_policy=expert, rng=rng,
                                      bc_trainer=learner, expert_trajs=log.trajs, custom_logger=quiet,
                                      beta_schedule=lambda r: design.beta * design.beta_decay ** (r - 1))
        trainer.extend_and_update(train)  # round 0: BC on the demonstrations, as ours
        trainer.train(budget, rollout_round_min_episodes=design.episodes_per_round,
                      rollout_round_min_timesteps=1, bc_train_kwargs=train)
        train_s = time.perf_counter() - t0
    venv.close()

    class SB3Agent:
        """The library's final policy behind the loop's Agent protocol (deterministic: the mean)."""

        def reset(self) -> None:
            """Memoryless."""

        def act(self, obs: np.ndarray) -> np.ndarray:
            """One action (Da,)."""
            return learner.policy.predict(obs, deterministic=True)[0]

    return {"method": "imitation", "seed": seed, "labels": demos.num_frames + expert.calls,
            "rounds": trainer.round_num, "train_seconds": round(train_s, 1), **lab.test(SB3Agent())}


def pooled(cells: list[dict]) -> dict:
    """Success pooled over training seeds, with its Wilson interval."""
    return {**pooled_success(cells), "mean_distance": float(np.mean([c["mean_distance"] for c in cells]))}


def dagger_at(rounds: list[dict], budget: int) -> list[dict]:
    """Per seed, the last DAgger round trained on <= ``budget`` labels (none if even round 0 is over)."""
    cells = []
    for seed in sorted({r["seed"] for r in rounds}):
        within = [r for r in rounds if r["seed"] == seed and r["labels"] <= budget]
        if within:
            cells.append(max(within, key=lambda r: r["labels"]))
    return cells


def curve(bc: list[dict], rounds: list[dict]) -> list[dict]:
    """One row per BC budget: BC and DAgger at equal labels (DAgger: <= the budget)."""
    rows = []
    for n in sorted({c["demos"] for c in bc}):
        cells = [c for c in bc if c["demos"] == n]
        budget = cells[0]["labels"]
        row = {"demos": n, "labels": budget, "bc": pooled(cells), "bc_cells": [_cell(c) for c in cells]}
        d = dagger_at(rounds, budget)
        if len(d) == len(cells):
            row.update(dagger=pooled(d), dagger_cells=[_cell(c) for c in d])
            row["gap"] = row["dagger"]["success_rate"] - row["bc"]["success_rate"]
        rows.append(row)
    return rows


def _cell(c: dict) -> dict:
    keep = ("seed", "round", "rounds", "labels", "successes", "episodes", "success_rate", "mean_distance",
            "train_seconds")
    return {k: c[k] for k in keep if k in c}


def to_markdown(result: dict) -> str:
    """The curve at equal labels, the library comparison and the expert under the same noise."""
    d, ex = result["design"], result["expert"]
    lines = [f"Task {d['env_id']}, test-time action noise std {d['noise']}; expert under it: "
             f"{ex['success_rate']:.0%} ({ex['successes']}/{ex['episodes']}). Success pooled over "
             f"{len(d['seeds'])} training seeds x {d['episodes']} held-out episodes (95% Wilson CI); "
             "distance: mean normalized distance of visited states to the nearest demonstrated state.", "",
             "| expert labels | BC demos | BC success | 95% CI | DAgger success | 95% CI | DAgger - BC "
             "| distance BC | distance DAgger |",
             "|---:|---:|---:|---|---:|---|---:|---:|---:|"]
    for r in result["curve"]:
        b = r["bc"]
        row = (f"| {r['labels']} | {r['demos']} | {b['success_rate']:.1%} | {_ci(b)} | ")
        if "dagger" in r:
            g = r["dagger"]
            row += (f"{g['success_rate']:.1%} | {_ci(g)} | {r['gap']:+.1%} | {b['mean_distance']:.2f} | "
                    f"{g['mean_distance']:.2f} |")
        else:
            row += f"- | - | - | {b['mean_distance']:.2f} | - |"
        lines.append(row)
    if result.get("comparison"):
        lines += ["", "| DAgger implementation | expert labels (mean) | success | 95% CI | per seed "
                  "| train wall time s/seed |", "|---|---:|---:|---|---|---:|"]
        for name, cells in result["comparison"].items():
            p = pooled(cells)
            labels = np.mean([c["labels"] for c in cells])
            per_seed = ", ".join(f"{c['success_rate']:.0%}" for c in cells)
            wall = np.mean([c["train_seconds"] for c in cells])
            lines.append(f"| {name} | {labels:.0f} | {p['success_rate']:.1%} | {_ci(p)} | {per_seed} | "
                         f"{wall:.0f} |")
    return "\n".join(lines) + "\n"


def _ci(p: dict) -> str:
    lo, hi = p["success_ci95"]
    return f"{lo:.1%}-{hi:.1%}"


def plot(result: dict, path: Path) -> None:
    """Success vs expert labels (left); distance to the demonstrations over an episode (right)."""
    fig, (ax, bx) = plt.subplots(1, 2, figsize=(12, 4.5))
    rows = result["curve"]
    for key, label, marker in (("bc", "BC (clean demos)", "o"), ("dagger", "DAgger (ours)", "s")):
        sel = [r for r in rows if key in r]
        x = [r["labels"] for r in sel]
        y = [r[key]["success_rate"] for r in sel]
        err = [[yi - r[key]["success_ci95"][0] for yi, r in zip(y, sel, strict=True)],
               [r[key]["success_ci95"][1] - yi for yi, r in zip(y, sel, strict=True)]]
        line = ax.errorbar(x, y, yerr=err, marker=marker, capsize=4, label=label)
        colour = line[0].get_color()
        for r in sel:
            ax.scatter([r["labels"]] * len(r[f"{key}_cells"]), [c["success_rate"] for c in r[f"{key}_cells"]],
                       s=12, alpha=0.5, color=colour)
    rounds = result["dagger_rounds"]
    ax.scatter([r["labels"] for r in rounds], [r["success_rate"] for r in rounds], s=6, alpha=0.25,
               color="C1", label="DAgger, every round (per seed)")
    for i, (name, cells) in enumerate(result.get("comparison", {}).items()):
        p = pooled(cells)
        x = float(np.mean([c["labels"] for c in cells]))
        lo, hi = p["success_ci95"]
        ax.errorbar([x * (1.0 + 0.03 * (i - 0.5))], [p["success_rate"]],
                    yerr=[[p["success_rate"] - lo], [hi - p["success_rate"]]], marker="D^"[i % 2], capsize=4,
                    ls="none", color=f"C{i + 2}", label=f"{name} (final policy)")
    ax.axhline(result["expert"]["success_rate"], ls="--", color="grey", lw=1, label="expert under the noise")
    ax.set_xscale("log")
    ax.set_xticks([r["labels"] for r in rows], [str(r["labels"]) for r in rows])
    ax.minorticks_off()
    design = result["design"]
    ax.set(xlabel="expert labels (demo frames + DAgger labels)", ylabel="held-out success rate",
           ylim=(0, 1.02), title=f"{design['env_id']}, test-time action noise std {design['noise']}")
    ax.legend(loc="best", fontsize=7)
    focus = result["focus"]
    for key, label in (("bc", "BC"), ("dagger", "DAgger"), ("expert", "expert")):
        by_t = focus[key]["distance_by_t"]
        alive = focus[key]["alive_by_t"]
        t = [i for i, (v, a) in enumerate(zip(by_t, alive, strict=True)) if v is not None and a >= 5]
        bx.plot(t, [by_t[i] for i in t], label=f"{label} (mean {focus[key]['mean_distance']:.2f})")
    bx.set(xlabel="time step t (mean over test episodes still running; >= 5)",
           ylabel="distance to nearest demo state (demo std units)",
           title=f"Where the policies go, at {focus['labels']} labels")
    bx.legend(fontsize=8)
    fig.tight_layout()
    fig.savefig(path, dpi=120)


def merged_distance(cells: list[dict]) -> dict:
    """Distance by time step over the test episodes of several policies (the training seeds)."""
    alive = np.sum([c["alive_by_t"] for c in cells], axis=0)
    sums = np.sum([[(d or 0.0) * a for d, a in zip(c["distance_by_t"], c["alive_by_t"], strict=True)]
                   for c in cells], axis=0)
    by_t = [round(float(x / a), 4) if a else None for x, a in zip(sums, alive, strict=True)]
    return {"mean_distance": float(np.mean([c["mean_distance"] for c in cells])), "distance_by_t": by_t,
            "alive_by_t": alive.astype(int).tolist(), "policies": len(cells)}


def focus_point(rows: list[dict]) -> dict:
    """The budget where DAgger leads BC most (ties: fewer labels): the right panel's comparison."""
    with_gap = [r for r in rows if "gap" in r]
    return max(with_gap, key=lambda r: (r["gap"], -r["labels"]))


def main() -> None:
    """Run BC points, DAgger runs and the library's DAgger; write JSON, Markdown and PNG."""
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--quick", action="store_true", help="tiny budgets and nets: checks the pipeline")
    parser.add_argument("--no-imitation", action="store_true", help="skip the imitation library's DAgger")
    parser.add_argument("--noise", type=float, default=None, help="test-time action noise std")
    parser.add_argument("--clean-dagger-rollouts", action="store_true",
                        help="DAgger's rollouts without the perturbation (the noise only at test time)")
    parser.add_argument("--plot-only", action="store_true", help="redraw the PNG from the JSON in --out")
    parser.add_argument("--out", type=Path, default=OUT)
    args = parser.parse_args()
    if args.plot_only:
        plot(json.loads((args.out / f"{NAME}.json").read_text()), args.out / f"{NAME}.png")
        return
    if args.quick and args.out == OUT:
        args.out = Path("runs/experiments/covariate_shift_quick")  # a pipeline check never overwrites results
    torch.set_num_threads(1)
    design = QUICK if args.quick else Design()
    if args.noise is not None:
        design = replace(design, noise=args.noise)
    if args.clean_dagger_rollouts:
        design = replace(design, dagger_noise=False)
    t_start = time.perf_counter()
    with tempfile.TemporaryDirectory() as tmp:
        lab = Lab(design, Path(tmp))
        budget = lab.subset(max(design.bc_demos)).num_frames  # DAgger runs up to the largest BC point
        dagger_budget = budget - lab.subset(design.dagger_demos).num_frames
        expert = lab.test(make_expert(design.env_id))
        print(f"expert under noise {design.noise}: {expert['success_rate']:.0%}; label budget {budget}",
              flush=True)
        bc = []
        for n in design.bc_demos:
            for s in design.seeds:
                bc.append(run_bc(lab, n, s))
                print(f"bc {n} demos ({bc[-1]['labels']} labels) seed {s}: {bc[-1]['success_rate']:.0%} "
                      f"(fit {bc[-1]['train_seconds']} s)", flush=True)
        dagger, rounds = [], []
        for s in design.seeds:
            summary, per_round = run_dagger(lab, s, dagger_budget)
            dagger.append(summary)
            rounds += per_round
        comparison = {"roboloop DAgger": [_cell(c) for c in dagger]}
        if not args.no_imitation:
            runs = []
            for s in design.seeds:
                runs.append(run_imitation(lab, s, dagger_budget))
                print(f"imitation seed {s}: {runs[-1]['labels']} labels, {runs[-1]['success_rate']:.0%}, "
                      f"train {runs[-1]['train_seconds']} s", flush=True)
            comparison["imitation SimpleDAggerTrainer"] = [_cell(c) for c in runs]
        rows = curve(bc, rounds)
        budget_f = focus_point(rows)["labels"]
        focus_cells = {"bc": [c for c in bc if c["labels"] == budget_f],
                       "dagger": dagger_at(rounds, budget_f), "expert": [expert]}
        result = {"design": asdict(design), "eval_seeds_start": 100_000, "expert": _strip(expert),
                  "curve": rows, "bc_cells": [_strip(c) for c in bc],
                  "dagger_rounds": [_strip(c) for c in rounds],
                  "dagger_runs": [_strip(c) for c in dagger], "comparison": comparison,
                  "focus": {"labels": budget_f, **{k: merged_distance(v) for k, v in focus_cells.items()}},
                  "wall_seconds": round(time.perf_counter() - t_start)}
    args.out.mkdir(parents=True, exist_ok=True)
    atomic_write_text(args.out / f"{NAME}.json", json.dumps(result, indent=2))
    atomic_write_text(args.out / f"{NAME}.md", to_markdown(result))
    plot(result, args.out / f"{NAME}.png")
    print(to_markdown(result))


def _strip(c: dict) -> dict:
    return {k: v for k, v in c.items() if k not in ("distance_by_t", "alive_by_t")}


if __name__ == "__main__":
    main()

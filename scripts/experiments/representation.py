"""Representation study: keypoint vs pixel dynamics on PushCube from images (+ the privileged state).

    python scripts/experiments/representation.py               # seeds 0 1 2, iCEM (about 45 min on one core)
    python scripts/experiments/representation.py --setup cem --out docs/results/representation  # 1st run
    python scripts/experiments/representation.py --quick       # a pipeline check (about a minute)
    python scripts/experiments/representation.py --replot      # redraw table and plot from the JSON

One set of episodes (MuJoCo, top camera rgb + depth 96x96, episodes of at most ``HORIZON`` steps)
is collected on training seeds 0.. by the PushCube expert with Gaussian noise or, every third
episode, with held random pushes interleaved with expert segments; validation episodes on seeds
90000.. are collected the same way. From them:

- **keypoints**: the heatmap keypoint model (perception/keypoints.py) is trained once on every
  third training frame (its labels: the simulator's keypoints projected into the camera) and
  runs as the loop's ``KeypointPerception``; per seed a PETS ensemble (world_models/dynamics.py)
  is fit on the keypoint state (world_models/keypoint_dynamics.py) and plans with PushCube's reward
  computed from keypoints;
- **pixels**: per seed the recurrent latent model (world_models/pixel_dynamics.py) on the 64x64
  rgb, planning with its reward head (world_models/pixel_mpc.py);
- **state** (reference): the same ensemble on the privileged 14-d state with the task's reward.

``--setup`` picks how every arm plans (``SETUPS``): ``icem`` (default) is what solves PushCube
from state online (scripts/experiments/model_based.py's ``mpc_push_cube_icem``): iCEM over
beta-NLL ensembles, PushCube's planning reward, 150-step test episodes; ``cem`` is the first
run's CEM (horizon 10) with plain-NLL ensembles, the env's reward and 80-step test episodes.

Measured: (a) 10-step open-loop error of the cube centre in cm on the validation episodes (keypoint
and state models: their predicted cube position; pixels: a probe head trained on detached
latents), (b) MPC success on held-out seeds 100000.. with a Wilson 95% interval, all arms with
the same planner, (c) ms per plan and FLOPs (torch's FlopCounterMode) per predicted step and per plan,
with the per-step perception / encoder cost. Writes docs/results/representation/.
"""

import argparse
import json
import time
from pathlib import Path
from types import SimpleNamespace

import matplotlib
import numpy as np
import torch
from torch.utils.flop_counter import FlopCounterMode

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402

import envs  # noqa: E402
from agents.experts import PushCubeExpert  # noqa: E402
from dataset import atomic_write_text  # noqa: E402
from envs.tasks.push_cube import PushCubeTask  # noqa: E402
from loop import evaluate, rollout  # noqa: E402
from loop.evaluation import evaluation_seeds, pooled_success  # noqa: E402
from loop.protocols import Callback, Step  # noqa: E402
from perception.keypoints import HeatmapTrainConfig, KeypointPerception, fit_keypoints  # noqa: E402
from perception.targets import KEYPOINT_NAMES, project, push_cube_keypoints  # noqa: E402
from world_models.dynamics import build, fit  # noqa: E402
from world_models.keypoint_dynamics import (  # noqa: E402
    KeypointMPCAgent,
    keypoint_planning_reward,
    keypoint_reward,
    keypoint_state,
)
from world_models.mpc import MPC, state_of  # noqa: E402
from world_models.objectives import model_objective  # noqa: E402
from world_models.pixel_dynamics import (  # noqa: E402
    PixelModelConfig,
    build_pixel_model,
    fit_pixels,
    fit_probe,
    to_model_images,
)
from world_models.pixel_mpc import PixelMPCAgent, latent_objective  # noqa: E402
from world_models.planners import PlannerConfig, plan  # noqa: E402

ROOT = Path(__file__).resolve().parents[2]
OUT = ROOT / "docs" / "results" / "representation"
RUNS = ROOT / "runs" / "experiments" / "representation"
ENV_ID, HORIZON, STEPS_AHEAD, VAL_START = "roboloop/PushCube-v0", 80, 10, 90_000
IMAGE_KW = {"obs_mode": "rgb+depth", "cameras": ["top"], "horizon": HORIZON}
ENSEMBLE = {"kind": "ensemble", "members": 5, "hidden": [128, 128], "train_steps": 1500}
SETUPS = {  # how every arm plans; the pixel arm always scores its learned reward head
    "icem": {"planner": {"method": "icem", "horizon": 15, "samples": 500, "iterations": 3, "elites": 50},
             "ensemble": {"nll_beta": 0.5}, "planning_reward": True, "test_horizon": 150},
    "cem": {"planner": {"method": "cem", "horizon": 10, "samples": 300, "iterations": 3, "elites": 30},
            "ensemble": {"nll_beta": 0.0}, "planning_reward": False, "test_horizon": HORIZON},
}
PIXEL = {"learning_rate": 3e-3}  # 1e-3 had not left the mean-image plateau after 400 steps; 3e-3 had
ARMS = ("state", "keypoints", "pixels")
FULL = {"train_episodes": 60, "val_episodes": 10, "keypoint_steps": 600, "pixel_steps": 2000,
        "ensemble_steps": ENSEMBLE["train_steps"], "probe_steps": 1000, "eval_episodes": 10,
        "seeds": (0, 1, 2)}
QUICK = {"train_episodes": 6, "val_episodes": 2, "keypoint_steps": 30, "pixel_steps": 20,
         "ensemble_steps": 50, "probe_steps": 20, "eval_episodes": 2, "seeds": (0,)}


class Explorer:
    """The expert plus Gaussian noise, or held uniform pushes interleaved with expert segments."""

    def __init__(self, rng: np.random.Generator, noise: float, random_pushes: bool) -> None:
        self.rng, self.noise, self.random_pushes, self.expert = rng, noise, random_pushes, PushCubeExpert()
        self.hold, self.push = 0, None

    def reset(self) -> None:
        """Start a fresh segment."""
        self.hold = 0

    def act(self, obs: dict) -> np.ndarray:
        """The next action (2,) in [-1, 1]."""
        expert = self.expert.act(obs)
        if not self.random_pushes:
            return np.clip(expert + self.rng.normal(0, self.noise, 2), -1, 1).astype(np.float32)
        if self.hold == 0:
            self.hold = int(self.rng.integers(3, 11))
            self.push = self.rng.uniform(-1, 1, 2) if self.rng.random() < 0.5 else None
        self.hold -= 1
        return (expert if self.push is None else self.push).astype(np.float32)


class Recorder(Callback):
    """Every frame's rgb, depth, state and proprio, and every step's action and reward, per episode."""

    def __init__(self) -> None:
        self.episodes: list[dict[str, np.ndarray]] = []

    def on_reset(self, obs: dict, info: dict, seed: int | None) -> None:
        """Open an episode with its first frame."""
        self.rows = {k: [obs[k]] for k in ("top_rgb", "top_depth", "state", "proprio")}
        self.rows.update(actions=[], rewards=[])
        self.seed = seed

    def on_step(self, step: Step) -> None:
        """Store the step and the next frame."""
        for k in ("top_rgb", "top_depth", "state", "proprio"):
            self.rows[k].append(step.next_obs[k])
        self.rows["actions"].append(np.asarray(step.action, np.float32))
        self.rows["rewards"].append(np.float32(step.reward))

    def on_episode_end(self, result) -> None:  # noqa: ANN001
        """Close the episode."""
        self.episodes.append({"seed": self.seed, **{k: np.stack(v) for k, v in self.rows.items()}})


def collect(seeds: range) -> list[dict[str, np.ndarray]]:
    """Episodes of the explorer on ``seeds`` (every third with random pushes), through the loop."""
    env = envs.make(ENV_ID, privileged_state=True, **IMAGE_KW)
    recorder = Recorder()
    for i, seed in enumerate(seeds):
        rollout(env, Explorer(np.random.default_rng(seed), 0.5, i % 3 == 2), seed=seed, callbacks=[recorder])
    env.close()
    return recorder.episodes


def train_keypoints(episodes: list[dict], val: list[dict], steps: int, path: Path) -> dict:
    """The heatmap keypoint model on every third training frame, saved as a perception checkpoint."""
    env = envs.make(ENV_ID, **IMAGE_KW)
    env.reset(seed=0)  # the scene's camera is placed on reset
    params = env.unwrapped.camera_params("top")
    env.close()

    def scenes(eps: list[dict], every: int) -> dict[str, np.ndarray]:
        frames = [(e, t) for e in eps for t in range(0, len(e["state"]), every)]
        return {"image_rgb": np.stack([e["top_rgb"][t] for e, t in frames]),
                "image_depth": np.stack([e["top_depth"][t] for e, t in frames]),
                "keypoints_px": np.stack([project(push_cube_keypoints(e["state"][t]), params.intrinsics,
                                                  params.extrinsics) for e, t in frames])}

    train = scenes(episodes, 3)
    t0 = time.perf_counter()
    model, history = fit_keypoints(KEYPOINT_NAMES, train, scenes(val, 5), HeatmapTrainConfig(
        steps=steps, batch_size=8, eval_every=steps), progress=False)
    camera = {"intrinsics": params.intrinsics.tolist(), "extrinsics": params.extrinsics.tolist(),
              "width": params.width, "height": params.height, "near": params.near, "far": params.far}
    extra = {"image_size": 96, "env_id": ENV_ID, "camera": "top", "camera_params": camera}
    torch.save(model.checkpoint(extra), path)
    return {"scenes": len(train["image_rgb"]), "steps": steps, "seconds": round(time.perf_counter() - t0, 1),
            "validation": history[-1]}


def keypoint_states(perception: KeypointPerception, episodes: list[dict]) -> None:
    """Add each frame's keypoint state (L + 1, 12) to the episodes, as the loop's perception sees it."""
    for e in episodes:
        perception.reset()
        rows = []
        for t in range(len(e["state"])):
            f = perception({k: e[k][t] for k in ("top_rgb", "top_depth", "proprio")})
            rows.append(keypoint_state(f["keypoints_world"], perception.model.names, f["proprio"]))
        e["keypoints"] = np.stack(rows)


def transitions(episodes: list[dict], key: str) -> dict[str, torch.Tensor]:
    """(s, a, s', r) of every step, states from ``key``."""
    cat = lambda xs: torch.from_numpy(np.concatenate(xs).astype(np.float32))  # noqa: E731
    return {"states": cat([e[key][:-1] for e in episodes]),
            "next_states": cat([e[key][1:] for e in episodes]),
            "actions": cat([e["actions"] for e in episodes]),
            "rewards": cat([e["rewards"] for e in episodes])}


def pixel_episodes(episodes: list[dict], size: int) -> list[dict[str, torch.Tensor]]:
    """Model images and per-frame actions / rewards (padded by one zero) and the true cube position."""
    pad = lambda x: torch.from_numpy(np.concatenate([x, np.zeros_like(x[:1])]).astype(np.float32))  # noqa: E731
    return [{"images": to_model_images(e["top_rgb"], size), "actions": pad(e["actions"]),
             "rewards": pad(e["rewards"]), "cube": torch.from_numpy(e["state"][:, 4:6].copy())}
            for e in episodes]


def starts(episodes: list[dict], context: int) -> list[tuple[int, int]]:
    """(episode, t0) pairs with ``context - 1 <= t0`` and ``STEPS_AHEAD`` recorded steps after t0."""
    return [(i, t) for i, e in enumerate(episodes)
            for t in range(context - 1, len(e["actions"]) - STEPS_AHEAD + 1, 2)]


@torch.no_grad()
def open_loop_errors(models: dict, val: list[dict], pix_val: list[dict], context: int) -> dict:
    """Mean cube-centre error (cm) after k = 0..STEPS_AHEAD open-loop steps, per arm and no motion.

    Every other frame of every validation episode with ``STEPS_AHEAD`` recorded steps after it is a
    start; the recorded actions are replayed through each model from it.
    """
    pairs = starts(val, context)
    truth = torch.from_numpy(np.stack([val[i]["state"][t:t + STEPS_AHEAD + 1, 4:6] for i, t in pairs]))
    acts = torch.from_numpy(np.stack([val[i]["actions"][t:t + STEPS_AHEAD] for i, t in pairs]))
    preds = {"no motion": truth[:, :1].expand_as(truth)}
    for arm, key in (("state", "state"), ("keypoints", "keypoints")):
        model = models[arm]
        s = torch.from_numpy(np.stack([val[i][key][t] for i, t in pairs])).expand(model.members, -1, -1)
        cube = [s.mean(0)[:, 4:6] if arm == "state" else s.mean(0)[:, 0:2]]
        for k in range(STEPS_AHEAD):
            s, _ = model.predict(s, acts[:, k].expand(model.members, -1, -1))
            cube.append(s.mean(0)[:, 4:6] if arm == "state" else s.mean(0)[:, 0:2])
        preds[arm] = torch.stack(cube, 1)
    pix = models["pixels"]
    embeds = torch.stack([pix.encode(pix_val[i]["images"][t - context + 1:t + 1]) for i, t in pairs])
    window = torch.stack([pix_val[i]["actions"][t - context + 1:t + 1] for i, t in pairs])
    latents, _ = pix.observe(embeds, window)
    dream = pix.imagine(latents[-1], acts)
    preds["pixels"] = torch.stack([pix.probe(x) for x in [latents[-1], *dream]], 1)
    moved = (truth[:, -1] - truth[:, 0]).norm(dim=-1) > 0.01
    out = {}
    for arm, p in preds.items():
        err = (p - truth).norm(dim=-1) * 100  # (B, k) cm
        out[arm] = err.mean(0).tolist()
        out[f"{arm} (cube moved > 1 cm)"] = err[moved].mean(0).tolist() if moved.any() else []
    out["starts"], out["moved_starts"] = len(pairs), int(moved.sum())
    return out


class GoalDistance(Callback):
    """The cube-goal distance (m) after each episode's first and last step, from the reward terms."""

    def __init__(self) -> None:
        self.pairs: list[tuple[float, float]] = []

    def on_reset(self, obs: dict, info: dict, seed: int | None) -> None:
        """Forget the last episode's distances."""
        self.first = None

    def on_step(self, step: Step) -> None:
        """The push term is -2 x the distance."""
        self.last = -step.info["reward_terms"]["push"] / 2
        self.first = self.last if self.first is None else self.first

    def on_episode_end(self, result) -> None:  # noqa: ANN001
        """Keep (first, last)."""
        self.pairs.append((self.first, self.last))

    def summary(self) -> dict[str, float]:
        """Mean distances (cm) and the share of episodes that ended with the cube >= 1 cm closer."""
        first, last = np.array(self.pairs).T * 100
        return {"goal_cm_first": float(first.mean()), "goal_cm_last": float(last.mean()),
                "closer_by_1cm": float(np.mean(last < first - 1))}


class StateMPC:
    """MPC over the state ensemble with PushCube's batched (planning) reward: the privileged reference arm."""

    def __init__(self, model, planner: PlannerConfig, seed: int,  # noqa: ANN001
                 planning_reward: bool) -> None:
        task = PushCubeTask()
        self.model = model.eval()
        self.reward = task.batch_planning_reward if planning_reward else task.batch_reward
        self.mpc = MPC(lambda s: model_objective(model, s, self.reward), planner, model.action_dim, seed)

    def reset(self) -> None:
        """Clear the warm start."""
        self.mpc.reset()

    def state(self, features) -> np.ndarray:  # noqa: ANN001
        """The privileged state vector (14,)."""
        return state_of(features)

    def act(self, features) -> np.ndarray:  # noqa: ANN001
        """Plan from the state vector."""
        return self.mpc.act(self.state(features))


class Timed:
    """Wraps an agent's ``act`` or a perception's ``__call__`` and accumulates its wall time."""

    def __init__(self, inner, method: str) -> None:  # noqa: ANN001
        self.inner, self.method, self.seconds, self.calls = inner, method, 0.0, 0

    def reset(self) -> None:
        """Reset the wrapped object."""
        self.inner.reset()

    def _timed(self, x):  # noqa: ANN001, ANN202
        t0 = time.perf_counter()
        out = getattr(self.inner, self.method)(x)
        self.seconds, self.calls = self.seconds + time.perf_counter() - t0, self.calls + 1
        return out

    act = _timed
    __call__ = _timed

    @property
    def ms(self) -> float:
        """Mean milliseconds per call."""
        return 1000 * self.seconds / max(self.calls, 1)


def flops(fn, *args) -> int:  # noqa: ANN001
    """FLOPs torch counts for ``fn(*args)`` (matrix products and convolutions)."""
    with FlopCounterMode(display=False) as counter:
        fn(*args)
    return int(counter.get_total_flops())


def compute_costs(arm: str, agent, perception, obs: dict, planner: PlannerConfig) -> dict:  # noqa: ANN001
    """FLOPs per predicted step and per plan, and per env step for perception / the encoder."""
    gen, mean = torch.Generator().manual_seed(0), torch.zeros(planner.horizon, 2)
    if arm == "pixels":
        per_step = flops(agent.latent, obs)
        objective = latent_objective(agent.model, agent.latent(obs))
        used = agent.model.gru, agent.model.prior_net, agent.model.reward_head
        step_params = sum(p.numel() for m in used for p in m.parameters())
        total_params = sum(p.numel() for p in agent.model.parameters())
    else:
        features = perception(obs) if perception is not None else obs
        per_step = flops(perception, obs) if perception is not None else 0
        model = agent.model
        objective = model_objective(model, agent.state(features), agent.reward)
        total_params = sum(p.numel() for p in model.parameters() if p.dim() == 3)
        step_params = total_params // model.members  # propagation "one": a sequence uses one member
    plan_flops = flops(plan, objective, mean, planner, gen)
    calls = planner.samples * planner.horizon * planner.iterations
    return {"flops_per_predicted_step": plan_flops / calls, "flops_per_plan": plan_flops,
            "flops_per_env_step_perception": per_step, "params_per_predicted_step": step_params,
            "model_params": total_params}


def run_seed(seed: int, data: dict, kp_ckpt: Path, sizes: dict, run_dir: Path, setup: dict) -> dict:
    """Fit the three models on one seed, measure open-loop error, plan on held-out episodes."""
    planner = PlannerConfig(**setup["planner"])
    models, fit_s = {}, {}
    for arm, key in (("state", "state"), ("keypoints", "keypoints")):
        t0 = time.perf_counter()
        config = {**ENSEMBLE, **setup["ensemble"], "train_steps": sizes["ensemble_steps"], "seed": seed}
        models[arm] = build(len(data["train"][0][key][0]), 2, config)
        fit(models[arm], transitions(data["train"], key), torch.Generator().manual_seed(seed))
        models[arm].eval()
        fit_s[arm] = round(time.perf_counter() - t0, 1)
    cfg = PixelModelConfig(**PIXEL, train_steps=sizes["pixel_steps"], seed=seed)
    t0 = time.perf_counter()
    models["pixels"] = build_pixel_model(2, cfg)
    history = fit_pixels(models["pixels"], data["pix_train"], log_every=max(cfg.train_steps // 8, 1))
    probe_cm = fit_probe(models["pixels"], data["pix_train"], steps=sizes["probe_steps"], seed=seed)
    fit_s["pixels"] = round(time.perf_counter() - t0, 1)
    torch.save(models["pixels"].checkpoint({"env_id": ENV_ID, "camera": "top", "seed": seed}),
               run_dir / f"pixels_seed{seed}.pt")
    errors = open_loop_errors(models, data["val"], data["pix_val"], cfg.context)
    cells = {}
    for arm in ARMS:
        if arm == "state":
            agent = StateMPC(models[arm], planner, seed, setup["planning_reward"])
            perception, kwargs = None, {"obs_mode": "state"}
        elif arm == "keypoints":
            perception = KeypointPerception(str(kp_ckpt))
            reward = keypoint_planning_reward if setup["planning_reward"] else keypoint_reward
            agent, kwargs = KeypointMPCAgent(models[arm], perception.model.names, planner, seed, reward), {}
        else:
            agent, perception, kwargs = PixelMPCAgent(models[arm], planner, seed=seed), None, {}
        env = envs.make(ENV_ID, **{**IMAGE_KW, "horizon": setup["test_horizon"], **kwargs})
        obs, _ = env.reset(seed=VAL_START)
        costs = compute_costs(arm, agent, perception, obs, planner)
        timed_agent = Timed(agent, "act")
        timed_perception = Timed(perception, "__call__") if perception is not None else None
        if arm == "pixels":  # the encoder and filter run inside the agent: time them apart from planning
            encoder = Timed(SimpleNamespace(latent=agent.latent), "latent")
            agent.latent = encoder._timed
        distance = GoalDistance()
        summary = evaluate(env, timed_agent, evaluation_seeds(sizes["eval_episodes"]),
                           perception=timed_perception, callbacks=[distance], progress=None)
        env.close()
        cells[arm] = {"seed": seed, "successes": round(summary.success_rate * summary.episodes),
                      "episodes": summary.episodes, "success_rate": summary.success_rate,
                      "success_ci95": list(summary.success_ci95), "mean_return": summary.mean_return,
                      "ms_per_plan": round(timed_agent.ms - (encoder.ms if arm == "pixels" else 0), 2),
                      "ms_perception": round((encoder if arm == "pixels" else timed_perception).ms, 2)
                      if arm != "state" else 0.0,
                      "fit_seconds": fit_s[arm], "outcomes": summary.outcomes, **distance.summary(), **costs}
        print(f"seed {seed} {arm}: success {summary.success_rate:.0%}, {timed_agent.ms:.1f} ms/plan "
              f"(+{cells[arm]['ms_perception']:.1f} ms perception), open-loop error at {STEPS_AHEAD} steps "
              f"{errors[arm][-1]:.2f} cm", flush=True)
    return {"seed": seed, "cells": cells, "open_loop_cm": errors, "pixel_history": history,
            "pixel_probe_train_rms_cm": probe_cm}


MEANS = ("ms_per_plan", "ms_perception", "flops_per_predicted_step", "flops_per_plan",
         "flops_per_env_step_perception", "params_per_predicted_step", "model_params", "fit_seconds",
         "goal_cm_first", "goal_cm_last", "closer_by_1cm")


def mean_curve(runs: list[dict], key: str) -> list[float]:
    """The open-loop error curve ``key`` averaged over seeds (empty if no seed has it)."""
    curves = [r["open_loop_cm"][key] for r in runs if r["open_loop_cm"][key]]
    return np.mean(curves, 0).tolist() if curves else []


def summarize(runs: list[dict]) -> list[dict]:
    """One row per arm: pooled success (Wilson 95%), mean error curves, mean costs; then no motion."""
    rows = []
    for arm in ARMS:
        cells = [r["cells"][arm] for r in runs]
        rows.append({"arm": arm, "pooled": pooled_success(cells),
                     "per_seed": [c["success_rate"] for c in cells],
                     "open_loop_cm": mean_curve(runs, arm),
                     "open_loop_cm_moving": mean_curve(runs, f"{arm} (cube moved > 1 cm)"),
                     **{k: float(np.mean([c[k] for c in cells])) for k in MEANS}})
    rows.append({"arm": "no motion", "open_loop_cm": mean_curve(runs, "no motion"),
                 "open_loop_cm_moving": mean_curve(runs, "no motion (cube moved > 1 cm)")})
    return rows


def to_markdown(rows: list[dict]) -> str:
    """Two tables: open-loop prediction error; planning success and compute."""
    k = STEPS_AHEAD
    lines = [f"| model | cube error now, cm | after {k // 2} steps | after {k} steps | after {k} steps, "
             "cube moved > 1 cm |", "|---|---:|---:|---:|---:|"]
    for r in rows:
        c, m = r["open_loop_cm"], r["open_loop_cm_moving"]
        lines.append(f"| {r['arm']} | {c[0]:.2f} | {c[k // 2]:.2f} | {c[k]:.2f} | "
                     f"{f'{m[k]:.2f}' if m else '-'} |")
    lines += ["", "| model | MPC success (pooled) | 95% CI | per seed | cube-goal cm, start -> end "
              "| ms per plan | + perception ms per step | MFLOPs per predicted step | MFLOPs per plan "
              "| + perception MFLOPs per step | params per predicted step |",
              "|---|---:|---|---|---|---:|---:|---:|---:|---:|---:|"]
    for r in rows[:-1]:
        p = r["pooled"]
        lines.append(f"| {r['arm']} | {p['success_rate']:.1%} | {p['success_ci95'][0]:.1%}-"
                     f"{p['success_ci95'][1]:.1%} | {', '.join(f'{s:.0%}' for s in r['per_seed'])} | "
                     f"{r['goal_cm_first']:.1f} -> {r['goal_cm_last']:.1f} | {r['ms_per_plan']:.1f} | "
                     f"{r['ms_perception']:.1f} | {r['flops_per_predicted_step'] / 1e6:.3f} | "
                     f"{r['flops_per_plan'] / 1e6:.0f} | {r['flops_per_env_step_perception'] / 1e6:.1f} | "
                     f"{r['params_per_predicted_step']:,.0f} |")
    return "\n".join(lines) + "\n"


def plot(rows: list[dict], path: Path) -> None:
    """Open-loop error vs steps ahead; success with its interval; ms per plan."""
    fig, axes = plt.subplots(1, 3, figsize=(14, 3.6))
    for i, r in enumerate(rows):
        axes[0].plot(range(len(r["open_loop_cm"])), r["open_loop_cm"], marker=".", color=f"C{i}",
                     label=r["arm"])
        if r["open_loop_cm_moving"]:
            axes[0].plot(range(len(r["open_loop_cm_moving"])), r["open_loop_cm_moving"], ls="--",
                         color=f"C{i}")
    axes[0].set_yscale("symlog", linthresh=1.0)  # an off-data rollout can be off by metres
    axes[0].set(xlabel="steps predicted open-loop", ylabel="cube centre error (cm)",
                title="validation episodes (dashed: cube moved > 1 cm)")
    axes[0].legend(fontsize=8)
    arms = [r for r in rows if "pooled" in r]
    for i, r in enumerate(arms):
        y, (lo, hi) = r["pooled"]["success_rate"], r["pooled"]["success_ci95"]
        axes[1].bar(i, y, color=f"C{i}", alpha=0.7)
        axes[1].errorbar(i, y, yerr=[[y - lo], [hi - y]], color="k", capsize=5)
        axes[2].bar(i, r["ms_per_plan"] + r["ms_perception"], color=f"C{i}", alpha=0.7)
    for ax in axes[1:]:
        ax.set_xticks(range(len(arms)), [r["arm"] for r in arms])
    axes[1].set(ylabel="MPC success, held-out", ylim=(0, 1.02), title="planning success (95% CI)")
    axes[2].set(ylabel="ms per env step", yscale="log", title="plan + perception time per step")
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)


def main() -> None:
    """Collect once, train keypoint perception once, then per seed the three models; write results."""
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--quick", action="store_true", help="tiny run to check the pipeline")
    parser.add_argument("--seeds", type=int, nargs="+", help="default: 0 1 2 (quick: 0)")
    parser.add_argument("--out", type=Path, help=f"default {OUT} (quick: under {RUNS})")
    parser.add_argument("--pixel-steps", type=int, help="the pixel model's Adam steps (default 2000)")
    parser.add_argument("--setup", choices=list(SETUPS), default="icem", help="how every arm plans")
    parser.add_argument("--replot", action="store_true", help="only redraw the table and plot from the JSON")
    args = parser.parse_args()
    if args.replot:
        out = args.out or OUT
        rows = json.loads((out / "representation.json").read_text())["rows"]
        atomic_write_text(out / "representation.md", to_markdown(rows))
        plot(rows, out / "representation.png")
        return
    torch.set_num_threads(1)
    sizes = {**(QUICK if args.quick else FULL)}
    if args.pixel_steps:
        sizes["pixel_steps"] = args.pixel_steps
    seeds = tuple(args.seeds or sizes["seeds"])
    out = args.out or (RUNS / "quick" if args.quick else OUT / args.setup)
    run_dir = RUNS / ("quick" if args.quick else f"{args.setup}_pixel_steps_{sizes['pixel_steps']}")
    run_dir.mkdir(parents=True, exist_ok=True)
    started = time.perf_counter()
    data = {"train": collect(range(sizes["train_episodes"])),
            "val": collect(range(VAL_START, VAL_START + sizes["val_episodes"]))}
    frames = sum(len(e["actions"]) for e in data["train"])
    print(f"collected {len(data['train'])} + {len(data['val'])} episodes ({frames} training steps) in "
          f"{time.perf_counter() - started:.0f} s", flush=True)
    kp_ckpt = run_dir / "keypoints.pt"
    keypoint_training = train_keypoints(data["train"], data["val"], sizes["keypoint_steps"], kp_ckpt)
    print(f"keypoints: {keypoint_training}", flush=True)
    perception = KeypointPerception(str(kp_ckpt))
    for split in ("train", "val"):
        keypoint_states(perception, data[split])
        data[f"pix_{split}"] = pixel_episodes(data[split], PixelModelConfig().image_size)
    runs = [run_seed(s, data, kp_ckpt, sizes, run_dir, SETUPS[args.setup]) for s in seeds]
    rows = summarize(runs)
    setup = SETUPS[args.setup]
    config = {"env_id": ENV_ID, "env_kwargs": IMAGE_KW, "setup": args.setup, "planner": setup["planner"],
              "ensemble": {**ENSEMBLE, **setup["ensemble"]}, "planning_reward": setup["planning_reward"],
              "test_horizon": setup["test_horizon"],
              "pixel_model": vars(PixelModelConfig(**PIXEL, train_steps=sizes["pixel_steps"])),
              "sizes": sizes,
              "seeds": list(seeds), "training_seeds": [0, sizes["train_episodes"]],
              "validation_seeds": [VAL_START, VAL_START + sizes["val_episodes"]], "eval_seeds_start": 100_000,
              "training_steps": frames, "keypoint_training": keypoint_training,
              "total_seconds": round(time.perf_counter() - started, 1)}
    out.mkdir(parents=True, exist_ok=True)
    atomic_write_text(out / "representation.json", json.dumps({"config": config, "rows": rows, "runs": runs},
                                                               indent=2))
    atomic_write_text(out / "representation.md", to_markdown(rows))
    plot(rows, out / "representation.png")
    print(to_markdown(rows))
    print(f"total {config['total_seconds']:.0f} s; wrote {out}")


if __name__ == "__main__":
    main()

"""What every script shares: run directories, resolved configs, metrics files, held-out evaluation.

Scripts are thin Hydra apps; they import this module as a sibling (``python scripts/<name>.py``).
"""

import dataclasses
import functools
import json
import logging
from pathlib import Path
from typing import Any

import gymnasium as gym
from hydra.core.hydra_config import HydraConfig
from omegaconf import DictConfig, OmegaConf

import envs
from agents import AgentMeta, Learner, load_agent
from agents.portable import CheckpointAgents
from dataset.atomic import atomic_write_text
from loop.evaluation import EvalSummary, check_disjoint, evaluation_seeds
from loop.protocols import Callback, Perception
from loop.recorders import VideoRecorder
from loop.runners import EpisodeJob, LocalRunner, RayRunner, Rollout
from perception import make_perception
from perception.registry import perception_spec

log = logging.getLogger("roboloop")


def start_run(cfg: DictConfig) -> Path:
    """The Hydra run directory, with the fully resolved config saved as ``config.yaml``."""
    out = Path(HydraConfig.get().runtime.output_dir)
    out.mkdir(parents=True, exist_ok=True)
    atomic_write_text(out / "config.yaml", OmegaConf.to_yaml(cfg, resolve=True))
    return out


def write_json(path: Path, data: Any) -> Path:
    """Atomic, human-readable JSON."""
    atomic_write_text(path, json.dumps(data, indent=2, sort_keys=False) + "\n")
    return path


def write_collection_metrics(results: list, writer: Any, root: Path, out: Path, episodes: int,
                             what: str) -> float:
    """After ``loop.collect``: metrics.json beside the run, a log line; the rollouts' success rate.

    With no new episodes (every seed already in the dataset) it says so and returns 1.0.
    """
    if not results:
        log.info("all %d seeds already in %s; nothing to do", episodes, root)
        return 1.0
    summary = EvalSummary.from_results(results)
    write_json(out / "metrics.json", {"dataset": str(root), "dataset_episodes": writer.num_episodes,
                                      **summary.to_dict()})
    log.info("%s: %s", what, summary.headline())
    log.info("dataset: %s (%d episodes saved)", root, writer.num_episodes)
    return summary.success_rate


def plain(cfg: DictConfig | dict) -> dict:
    """A Hydra node as plain Python containers."""
    return OmegaConf.to_container(cfg, resolve=True) if isinstance(cfg, DictConfig) else dict(cfg)


def load_trained(path: str | Path) -> tuple[Learner, Perception]:
    """A trained agent and the perception it was trained with, from its checkpoint."""
    agent = load_agent(path)
    return agent, make_perception(agent.meta.perception)


def evaluate_to_dir(
    agent: Learner,
    meta: AgentMeta,
    eval_cfg: DictConfig,
    out: Path,
    *,
    perception: Perception | None = None,
    env_overrides: dict | None = None,
    runner: LocalRunner | RayRunner | None = None,
) -> EvalSummary:
    """Held-out evaluation through the shared loop; writes ``metrics.json`` and rollout MP4s.

    The env is the one the agent was trained on (``meta``), with ``env_overrides`` applied. Every
    episode gets a fresh copy of the agent (from its checkpoint bytes), so the per-seed results are
    the same on any runner. The first ``eval_cfg.videos`` episodes run here, filmed; the rest on ``runner``.
    """
    seeds = evaluation_seeds(eval_cfg.episodes, eval_cfg.start_seed)
    check_disjoint(seeds, meta.train_seeds)
    env_kwargs = {**meta.env_kwargs, **(env_overrides or {})}
    runner = runner or LocalRunner()
    job = EpisodeJob(functools.partial(envs.make, meta.env_id, **env_kwargs), CheckpointAgents.of(agent),
                     perception=perception_spec(perception) if perception is not None else None)
    filmed, paths = film(job, seeds[:eval_cfg.videos], out / "videos")
    rest = runner.run(job, seeds[len(filmed):], progress="evaluate")
    summary = EvalSummary.from_results([r.result for r in [*filmed, *rest]])
    write_json(out / "metrics.json", {
        "method": meta.method, "env_id": meta.env_id, "env_kwargs": env_kwargs,
        "perception": meta.perception, **summary.to_dict(), "videos": [str(p) for p in paths],
    })
    log.info("%s", summary.headline())
    return summary


def film(job: EpisodeJob, seeds: list[int], folder: Path) -> tuple[list[Rollout], list[Path]]:
    """Run ``seeds`` in this process in a rendering copy of the job's env, one MP4 per episode."""
    if not seeds:
        return [], []
    render = dataclasses.replace(job, make_env=functools.partial(job.make_env, render_mode="rgb_array"))
    recorders: list[VideoRecorder] = []

    def video(env: gym.Env) -> list[Callback]:
        recorders.append(VideoRecorder(env, folder, max_videos=len(seeds)))
        return recorders[-1:]

    rollouts = LocalRunner().run(render, seeds, make_callbacks=video)
    return rollouts, [p for r in recorders for p in r.paths]

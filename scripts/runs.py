"""What every script shares: run directories, resolved configs, metrics files, held-out evaluation.

Scripts are thin Hydra apps; they import this module as a sibling (``python scripts/<name>.py``).
"""

import json
import logging
from pathlib import Path
from typing import Any

from hydra.core.hydra_config import HydraConfig
from omegaconf import DictConfig, OmegaConf

import envs
from agents import AgentMeta, Learner, load_agent
from dataset.atomic import atomic_write_text
from loop.evaluation import EvalSummary, check_disjoint, evaluate, evaluation_seeds
from loop.protocols import Perception
from loop.recorders import VideoRecorder
from perception import make_perception

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
) -> EvalSummary:
    """Held-out evaluation through the shared loop; writes ``metrics.json`` and rollout MP4s.

    The env is the one the agent was trained on (``meta``), with ``env_overrides`` applied.
    """
    seeds = evaluation_seeds(eval_cfg.episodes, eval_cfg.start_seed)
    check_disjoint(seeds, meta.train_seeds)
    env_kwargs = {**meta.env_kwargs, **(env_overrides or {})}
    render = {"render_mode": "rgb_array"} if eval_cfg.videos else {}  # not every env renders
    env = envs.make(meta.env_id, **env_kwargs, **render)
    videos = [VideoRecorder(env, out / "videos", max_videos=eval_cfg.videos)] if eval_cfg.videos else []
    try:
        summary = evaluate(env, agent, seeds, perception=perception, callbacks=videos,
                           progress="evaluate")
    finally:
        env.close()
    write_json(out / "metrics.json", {
        "method": meta.method, "env_id": meta.env_id, "env_kwargs": env_kwargs,
        "perception": meta.perception, **summary.to_dict(),
        "videos": [str(p) for v in videos for p in v.paths],
    })
    log.info("%s", summary.headline())
    return summary

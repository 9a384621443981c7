"""Collect scripted-expert demonstrations into a dataset (see docs/dataset.md).

python scripts/collect_demos.py episodes=100 env.kwargs.obs_mode=rgb
"""

import logging

import hydra
from omegaconf import DictConfig

import envs
from agents.experts import make_expert
from dataset import DatasetWriter
from loop.collect import collect
from loop.evaluation import EvalSummary
from loop.relabel import Relabelled
from runs import plain, start_run, write_json

log = logging.getLogger("roboloop")


@hydra.main(config_path="../configs", config_name="collect_demos", version_base="1.3")
def main(cfg: DictConfig) -> float:
    """Run the expert on seeds ``start_seed ..`` and record every episode; returns success rate."""
    out = start_run(cfg)
    env_kwargs = plain(cfg.env.kwargs)
    root = cfg.dataset_dir or out / "dataset"
    writer = DatasetWriter(root, env_id=cfg.env.id, env_kwargs=env_kwargs,
                           fps=20.0, resume=cfg.resume)
    seeds = [s for s in range(cfg.start_seed, cfg.start_seed + cfg.episodes)
             if s not in writer.seeds]
    env = envs.make(cfg.env.id, **env_kwargs)
    # The expert labels every step once; DART noise perturbs only the executed action.
    agent = Relabelled(make_expert(cfg.env.id), noise_std=cfg.action_noise, seed=cfg.start_seed)
    try:
        results = collect(env, agent, seeds, writer, success_only=cfg.success_only,
                          extra={"action_noise": cfg.action_noise, "noise_seed": cfg.start_seed,
                                 "actions": "clean expert labels"})
    finally:
        env.close()
    if not results:
        log.info("all %d seeds already in %s; nothing to do", cfg.episodes, root)
        return 1.0
    summary = EvalSummary.from_results(results)
    write_json(out / "metrics.json", {"dataset": str(root), "dataset_episodes": writer.num_episodes,
                                      **summary.to_dict()})
    log.info("collection rollouts (expert, action noise std %s): %s", cfg.action_noise,
             summary.headline())
    log.info("dataset: %s (%d episodes saved)", root, writer.num_episodes)
    return summary.success_rate


if __name__ == "__main__":
    main()

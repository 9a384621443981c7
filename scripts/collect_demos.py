"""Collect expert demonstrations into a dataset (see docs/dataset.md).

python scripts/collect_demos.py episodes=100 env.kwargs.obs_mode=rgb
python scripts/collect_demos.py expert=planner env=reach episodes=20   # MPC on the simulator, any task
python scripts/collect_demos.py expert=keyboard episodes=5              # a person drives (a terminal)
"""

import logging

import hydra
from omegaconf import DictConfig

import envs
from agents.experts import make_expert
from dataset import DatasetWriter
from loop.collect import collect
from loop.relabel import Relabelled
from runs import plain, start_run, write_collection_metrics

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
    expert = make_expert(cfg.env.id, cfg.expert, env, **plain(cfg.expert_options))
    # A person's demonstrations are recorded as driven; automated experts get DART noise.
    noise = 0.0 if cfg.expert == "keyboard" else cfg.action_noise
    # The expert labels every step once; DART noise perturbs only the executed action.
    agent = Relabelled(expert, noise_std=noise, seed=cfg.start_seed)
    try:
        results = collect(env, agent, seeds, writer, success_only=cfg.success_only,
                          extra={"expert": cfg.expert, "action_noise": noise, "noise_seed": cfg.start_seed,
                                 "actions": "clean expert labels"})
    finally:
        env.close()
    return write_collection_metrics(results, writer, root, out, cfg.episodes,
                                    f"collection rollouts ({cfg.expert} expert, action noise std {noise})")


if __name__ == "__main__":
    main()

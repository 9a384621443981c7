"""Collect expert demonstrations into a dataset (see docs/dataset.md).

python scripts/collect_demos.py episodes=100 env.kwargs.obs_mode=rgb
python scripts/collect_demos.py expert=planner env=reach episodes=20   # MPC on the simulator, any task
python scripts/collect_demos.py expert=keyboard episodes=5              # a person drives (a terminal)
python scripts/collect_demos.py episodes=1000 runner=ray runner.workers=8  # episodes on Ray workers

Episodes run where ``runner=`` says (configs/runner/); each comes back to this process, which alone
writes the dataset, in seed order.
"""

import functools
import logging

import hydra
from omegaconf import DictConfig

import envs
from agents.portable import ExpertDemos
from dataset import DatasetWriter
from envs.errors import ConfigError
from loop.runners import EpisodeJob, make_runner
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
    runner = make_runner(plain(cfg.runner))
    if cfg.expert == "keyboard" and runner.config.kind != "local":
        raise ConfigError(f"expert=keyboard needs a person at this terminal; use runner=local, not "
                          f"runner={runner.config.kind}")
    # A person's demonstrations are recorded as driven; automated experts get DART noise.
    noise = 0.0 if cfg.expert == "keyboard" else cfg.action_noise
    # The expert labels every step once; DART noise (seeded per episode) perturbs only the executed action.
    job = EpisodeJob(functools.partial(envs.make, cfg.env.id, **env_kwargs),
                     ExpertDemos(cfg.env.id, cfg.expert, plain(cfg.expert_options), noise, cfg.start_seed),
                     record=True, success_only=cfg.success_only,
                     extra={"expert": cfg.expert, "action_noise": noise, "noise_seed": cfg.start_seed,
                            "actions": "clean expert labels"})
    rollouts = runner.run(job, seeds, progress="collect demos")
    for r in rollouts:  # only this process writes, in seed order
        for episode in r.episodes:
            writer.add_episode(episode)
    results = [r.result for r in rollouts]
    return write_collection_metrics(results, writer, root, out, cfg.episodes,
                                    f"collection rollouts ({cfg.expert} expert, action noise std {noise})")


if __name__ == "__main__":
    main()

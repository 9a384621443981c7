"""Evaluate a trained checkpoint on held-out seeds: metrics.json (Wilson 95% CI) and MP4s.

python scripts/evaluate.py checkpoint=runs/train/<stamp>/checkpoint.pt eval.episodes=100
"""

import hydra
from omegaconf import DictConfig

from agents import load_agent
from runs import evaluate_to_dir, plain, start_run


@hydra.main(config_path="../configs", config_name="evaluate", version_base="1.3")
def main(cfg: DictConfig) -> float:
    """Load, evaluate on the env the agent was trained on; returns the success rate."""
    out = start_run(cfg)
    agent = load_agent(cfg.checkpoint)
    meta = agent.meta
    env_kwargs = {**meta["env_kwargs"], **plain(cfg.env_kwargs)}
    summary = evaluate_to_dir(agent, meta["env_id"], env_kwargs, cfg.eval, out,
                              train_seeds=meta["train_seeds"])
    print(f"{summary.headline()}\nmetrics: {out / 'metrics.json'}")
    return summary.success_rate


if __name__ == "__main__":
    main()

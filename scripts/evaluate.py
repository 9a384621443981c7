"""Evaluate a trained checkpoint on held-out seeds: metrics.json (Wilson 95% CI) and MP4s.

python scripts/evaluate.py checkpoint=runs/train/<stamp>/checkpoint.pt eval.episodes=100
python scripts/evaluate.py checkpoint=... eval.episodes=1000 runner=ray runner.workers=8   # on Ray workers

The env, its options and the perception come from the checkpoint; ``env_kwargs`` overrides options.
"""

import hydra
from omegaconf import DictConfig

from loop.runners import make_runner
from runs import evaluate_to_dir, load_trained, plain, start_run


@hydra.main(config_path="../configs", config_name="evaluate", version_base="1.3")
def main(cfg: DictConfig) -> float:
    """Load, evaluate on the env the agent was trained on; returns the success rate."""
    out = start_run(cfg)
    agent, perception = load_trained(cfg.checkpoint)
    summary = evaluate_to_dir(agent, agent.meta, cfg.eval, out, perception=perception,
                              env_overrides=plain(cfg.env_kwargs), runner=make_runner(plain(cfg.runner)))
    print(f"{summary.headline()}\nmetrics: {out / 'metrics.json'}")
    return summary.success_rate


if __name__ == "__main__":
    main()

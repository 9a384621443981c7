"""Train an agent on a demonstration dataset, then evaluate it on held-out seeds.

    python scripts/train.py dataset=runs/collect/<stamp>/dataset agent=bc agent.steps=5000

Writes to the run directory: config.yaml, checkpoint.pt, tb/ (TensorBoard), metrics.json, videos/.
"""

import logging

import hydra
from omegaconf import DictConfig
from torch.utils.tensorboard import SummaryWriter

from agents import agent_spec, make_config
from dataset import DemoDataset
from runs import evaluate_to_dir, plain, start_run

log = logging.getLogger("roboloop")


@hydra.main(config_path="../configs", config_name="train", version_base="1.3")
def main(cfg: DictConfig) -> float:
    """Train, save ``checkpoint.pt``, evaluate; returns the held-out success rate."""
    out = start_run(cfg)
    values = plain(cfg.agent)
    name = values.pop("name")
    agent_cfg = make_config(name, values)
    data = DemoDataset(cfg.dataset, success_only=getattr(agent_cfg, "success_only", False))
    log.info("dataset %s: %d episodes, %d frames, env %s", cfg.dataset, len(data),
             data.num_frames, data.env_id)
    with SummaryWriter(str(out / "tb")) as tb:
        def log_scalars(step: int, scalars: dict[str, float]) -> None:
            for key, value in scalars.items():
                tb.add_scalar(f"train/{key}", value, step)

        agent = agent_spec(name).train(data, agent_cfg, log=log_scalars)
    path = agent.save(out / "checkpoint.pt")
    log.info("checkpoint: %s", path)
    summary = evaluate_to_dir(agent, data.env_id, data.env_kwargs, cfg.eval, out,
                              train_seeds=list(data.seeds))
    print(f"\n{name} on {data.env_id}: {summary.headline()}\n"
          f"  run dir:    {out}\n  checkpoint: {path}\n  metrics:    {out / 'metrics.json'}\n"
          f"  videos:     {out / 'videos'}\n  tensorboard: {out / 'tb'}")
    return summary.success_rate


if __name__ == "__main__":
    main()

"""Train any registered method, then evaluate it on held-out seeds.

    python scripts/train.py dataset=runs/collect/<stamp>/dataset          # agent=bc: offline
    python scripts/train.py agent=knn dataset=runs/collect/<stamp>/dataset
    python scripts/train.py agent=random_search env=cart_pole             # online: no dataset
    python scripts/train.py agent=dqn env=cart_pole                       # SB3's DQN, online
    python scripts/train.py agent=dqn env=gym env.id=CartPole-v1          # any Gymnasium id
    python scripts/train.py agent=dqn env=cart_pole hydra.run.dir=<run> resume=true  # continue
    torchrun --standalone --nproc_per_node 2 scripts/train.py dataset=...   # BC / diffusion, data-parallel

The method says what it learns from (``Learner.sources``): a dataset, an env, or both. The env is
``env=`` when given, else the dataset's. Writes to the run directory: config.yaml, checkpoint.pt,
tb/ (TensorBoard), metrics.json, videos/; online learners also best.pt, last.pt and
learning_curve.{json,png} as they train.

Under torchrun (BC and diffusion) every process trains on its shard of each global batch
(``agent.batch_size`` is the global batch); rank 0 alone writes the run directory, logs and
evaluates. ``resume=true`` continues from ``train_state.pt`` at any number of processes.
"""

import contextlib
import logging
import sys

import hydra
from omegaconf import DictConfig
from torch.utils.tensorboard import SummaryWriter

from agents import TrainingSource, distributed, find_method, make_config
from dataset import DemoDataset
from envs.errors import ConfigError
from loop.runners import make_runner
from perception import make_perception
from runs import evaluate_to_dir, plain, start_run

log = logging.getLogger("roboloop")


def training_env(cfg: DictConfig, data: DemoDataset | None) -> tuple[str, dict]:
    """The env to train in: ``env=`` if given (it must be the dataset's), else the dataset's."""
    if cfg.get("env") is not None:
        env_id, kwargs = cfg.env.id, plain(cfg.env.kwargs)
        if data is not None and data.env_id != env_id:
            raise ConfigError(f"env={env_id} but the dataset was recorded in {data.env_id}; drop "
                              "env= to use the dataset's env")
        return env_id, kwargs
    if data is None:
        raise ConfigError("nothing to train on: pass env=<name> (configs/env/) for an online method "
                          "or dataset=<folder> for an offline one")
    return data.env_id, dict(data.env_kwargs)


@hydra.main(config_path="../configs", config_name="train", version_base="1.3")
def main(cfg: DictConfig) -> float:
    """Fit, save ``checkpoint.pt``, evaluate; returns the held-out success rate (rank 0)."""
    values = plain(cfg.agent)
    name = values.pop("name")
    method, agent_cfg = find_method(name), make_config(name, values)
    if distributed.init_from_env() and not method.data_parallel:
        raise ConfigError(f"{name} does not train under torchrun; data-parallel methods: bc, diffusion, mpc. "
                          "Run it as one process (python scripts/train.py ...)")
    rank0 = distributed.is_rank0()
    out = distributed.broadcast_object(start_run(cfg) if rank0 else None)  # rank 0's run dir everywhere
    perception = make_perception(plain(cfg.perception))
    data = DemoDataset(cfg.dataset) if cfg.dataset else None
    if data is not None and rank0:
        log.info("dataset %s: %d episodes, %d frames, env %s", cfg.dataset, len(data),
                 data.num_frames, data.env_id)
    env_id, env_kwargs = training_env(cfg, data)
    if cfg.resume and not method.resumable:
        raise ConfigError(f"{name} cannot resume an interrupted run; drop resume=true")
    with SummaryWriter(str(out / "tb")) if rank0 else contextlib.nullcontext() as tb:
        def log_scalars(step: int, scalars: dict[str, float]) -> None:
            for key, value in scalars.items():
                tb.add_scalar(f"train/{key}", value, step)

        runner = make_runner(plain(cfg.runner))  # where rollouts run: evaluation, DAgger's rounds
        source = TrainingSource(env_id, env_kwargs, dataset=data, perception=perception,
                                log=log_scalars if rank0 else lambda step, scalars: None, run_dir=out,
                                resume=cfg.resume, progress=rank0, runner=runner)
        agent = method.fit(agent_cfg, source)
    distributed.shutdown()
    if not rank0:
        return float("nan")  # rank 0 saves and evaluates
    path = agent.save(out / "checkpoint.pt")
    log.info("checkpoint: %s", path)
    summary = evaluate_to_dir(agent, agent.meta, cfg.eval, out, perception=perception, runner=runner)
    print(f"\n{name} on {env_id}: {summary.headline()}\n"
          f"  run dir:    {out}\n  checkpoint: {path}\n  metrics:    {out / 'metrics.json'}\n"
          f"  videos:     {out / 'videos'}\n  tensorboard: {out / 'tb'}")
    return summary.success_rate


if __name__ == "__main__":
    sys.argv += distributed.other_rank_overrides()  # under torchrun, ranks > 0 write nothing
    main()

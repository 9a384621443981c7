"""Behaviour-cloning training: fit normalizers on the demos, then minibatch MSE regression."""

from collections.abc import Callable

import numpy as np
import torch
from tqdm.auto import tqdm

from agents.bc.config import BCConfig
from agents.bc.policy import BCAgent, BCPolicy
from agents.normalizer import Normalizer
from dataset import DemoDataset


def demo_arrays(data: DemoDataset, obs_keys: list[str]) -> tuple[np.ndarray, np.ndarray]:
    """All (observation, action) frames: obs (N, Do) float32, actions (N, Da) float32."""
    windows = data.windows(obs_horizon=1, action_horizon=1, keys=obs_keys)
    n = len(windows)
    obs = np.concatenate([windows.current_obs(k).reshape(n, -1) for k in obs_keys], axis=1)
    return obs.astype(np.float32), windows.actions.astype(np.float32)


def train_bc(
    data: DemoDataset,
    cfg: BCConfig,
    *,
    log: Callable[[int, dict[str, float]], None] | None = None,
    progress: bool = True,
) -> BCAgent:
    """Train a BC agent on every frame of ``data``; ``log(step, scalars)`` sees the loss."""
    torch.manual_seed(cfg.seed)
    if cfg.success_only and not data.success_only:
        data = DemoDataset(data.root, success_only=True, load_videos=data.load_videos)
    obs, actions = demo_arrays(data, cfg.obs_keys)
    if len(obs) == 0:
        raise ValueError("the dataset has no frames to train on (check success_only and its path)")
    policy = BCPolicy(obs.shape[1], actions.shape[1], cfg,
                      Normalizer.fit(obs), Normalizer.fit(actions))
    opt = torch.optim.AdamW(policy.net.parameters(), lr=cfg.lr, weight_decay=cfg.weight_decay)
    sched = torch.optim.lr_scheduler.CosineAnnealingLR(opt, T_max=cfg.steps)
    obs_t, act_t = torch.from_numpy(obs), torch.from_numpy(actions)
    gen = torch.Generator().manual_seed(cfg.seed)
    bar = tqdm(range(cfg.steps), desc="train bc", disable=not progress, dynamic_ncols=True)
    for step in bar:
        idx = torch.randint(len(obs_t), (cfg.batch_size,), generator=gen)
        loss = policy.loss(obs_t[idx], act_t[idx])
        opt.zero_grad(set_to_none=True)
        loss.backward()
        opt.step()
        sched.step()
        if step % 100 == 0 or step == cfg.steps - 1:
            bar.set_postfix(loss=f"{loss.item():.4f}")
            if log is not None:
                log(step, {"loss": loss.item(), "lr": sched.get_last_lr()[0]})
    meta = {"env_id": data.env_id, "env_kwargs": data.env_kwargs, "obs_keys": list(cfg.obs_keys),
            "train_seeds": [int(s) for s in data.seeds], "frames": int(len(obs))}
    return BCAgent(policy, cfg, meta)

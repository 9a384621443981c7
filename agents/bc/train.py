"""Behaviour-cloning training: normalizers fitted on the demos, then minibatch regression."""

from collections.abc import Callable

import numpy as np
import torch
from tqdm.auto import tqdm

from agents.bc.config import BCConfig
from agents.bc.policy import BCPolicy
from agents.normalizer import Normalizer


def fit_policy(obs: np.ndarray, actions: np.ndarray, cfg: BCConfig, num_discrete: int | None, *,
               log: Callable[[int, dict[str, float]], None], progress: bool) -> BCPolicy:
    """Train on every frame: obs (N, Do), actions (N, Da) (discrete: (N, 1) indices)."""
    torch.manual_seed(cfg.seed)
    out_dim = num_discrete or actions.shape[1]
    action_norm = None if num_discrete else Normalizer.fit(actions)
    policy = BCPolicy(obs.shape[1], out_dim, cfg.hidden_sizes, Normalizer.fit(obs), action_norm)
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
            log(step, {"loss": loss.item(), "lr": sched.get_last_lr()[0]})
    return policy.eval()

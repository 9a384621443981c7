"""Behaviour-cloning training: normalizers fitted on the demos, then minibatch regression.

``fit_policy`` trains the plain MLP on flat per-frame features (all in memory, the fast path);
``fit_network`` trains :class:`BCNetwork` on observation windows and action chunks gathered per
batch (images, histories, chunks, the mixture head).
"""

from collections.abc import Callable

import numpy as np
import torch
from tqdm.auto import tqdm

from agents.bc.config import BCConfig
from agents.bc.network import BCNetwork
from agents.bc.policy import BCPolicy
from agents.normalizer import Normalizer
from dataset import Windows


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


def fit_network(windows: Windows, cfg: BCConfig, num_discrete: int | None, *,
                log: Callable[[int, dict[str, float]], None], progress: bool) -> BCNetwork:
    """Train on observation windows (To) and action chunks (Tp) gathered batch by batch."""
    torch.manual_seed(cfg.seed)
    shapes = {k: tuple(windows.frames[k].shape[1:]) for k in cfg.obs_keys}
    dtypes = {k: str(windows.frames[k].dtype) for k in cfg.obs_keys}
    net = BCNetwork(shapes, dtypes, cfg, windows.action_dim, num_discrete)
    for key in net.vectors:  # statistics of every frame, each counted once
        net.norms[key] = Normalizer.fit(windows.current_obs(key).reshape(len(windows), -1))
    if net.action_norm is not None:
        net.action_norm = Normalizer.fit(windows.actions)
    opt = torch.optim.AdamW(net.parameters(), lr=cfg.lr, weight_decay=cfg.weight_decay)
    sched = torch.optim.lr_scheduler.CosineAnnealingLR(opt, T_max=cfg.steps)
    gen = torch.Generator().manual_seed(cfg.seed)
    bar = tqdm(range(cfg.steps), desc="train bc", disable=not progress, dynamic_ncols=True)
    net.train()
    for step in bar:
        batch = windows.batch(torch.randint(len(windows), (cfg.batch_size,), generator=gen).numpy())
        obs = {k: torch.from_numpy(batch.observations[k]) for k in cfg.obs_keys}
        loss = net.loss(obs, torch.from_numpy(batch.actions), torch.from_numpy(batch.action_is_pad), gen)
        opt.zero_grad(set_to_none=True)
        loss.backward()
        opt.step()
        sched.step()
        if step % 100 == 0 or step == cfg.steps - 1:
            bar.set_postfix(loss=f"{loss.item():.4f}")
            log(step, {"loss": loss.item(), "lr": sched.get_last_lr()[0]})
    return net.eval()

"""Behaviour-cloning training: normalizers fitted on the demos, then minibatch regression.

``fit_policy`` trains the plain MLP on flat per-frame features (all in memory, the fast path);
``fit_network`` trains :class:`BCNetwork` on observation windows and action chunks gathered per
batch (images, histories, chunks, the mixture head).

Under ``torchrun`` every rank draws the same global batch of indices and trains on its shard
(``agents.distributed``); with ``run_dir`` the training state is saved to ``train_state.pt`` as it
goes and ``resume`` continues from it, at any number of processes.
"""

import copy
from collections.abc import Callable
from pathlib import Path

import numpy as np
import torch

from agents import distributed
from agents.bc.config import BCConfig
from agents.bc.network import BCNetwork
from agents.bc.policy import BCPolicy
from agents.minimize import TrainState, minimize
from agents.normalizer import Normalizer
from dataset import Windows


def fit_policy(obs: np.ndarray, actions: np.ndarray, cfg: BCConfig, num_discrete: int | None, *,
               log: Callable[[int, dict[str, float]], None], progress: bool,
               init: BCPolicy | None = None, run_dir: Path | None = None, resume: bool = False) -> BCPolicy:
    """Train on every frame: obs (N, Do), actions (N, Da) (discrete: (N, 1) indices).

    With ``init`` training continues from a copy of that policy: its weights, its action normalizer,
    and its observation normalizer refitted to ``obs`` with the first layer rewritten to match.
    """
    torch.manual_seed(cfg.seed)
    out_dim = num_discrete or actions.shape[1]
    if init is not None:  # its observation statistics refitted to these frames, its function kept
        policy = copy.deepcopy(init).train()
        policy.obs_norm.refit_into(obs, policy.net[0], torch.arange(obs.shape[1]))
    else:
        action_norm = None if num_discrete else Normalizer.fit(actions)
        policy = BCPolicy(obs.shape[1], out_dim, cfg.hidden_sizes, Normalizer.fit(obs), action_norm)
    obs_t, act_t = torch.from_numpy(obs), torch.from_numpy(actions)
    gen = torch.Generator().manual_seed(cfg.seed)
    shard_loss = distributed.data_parallel(policy, policy.loss)

    def loss_at(step: int) -> torch.Tensor:
        idx = distributed.shard(torch.randint(len(obs_t), (cfg.batch_size,), generator=gen))
        return shard_loss(obs_t[idx], act_t[idx])

    minimize(policy.net.parameters(), loss_at, steps=cfg.steps, lr=cfg.lr, weight_decay=cfg.weight_decay,
             log=log, progress=progress, desc="train bc", state=_state(run_dir, resume, policy, gen))
    return policy.eval()


def _state(run_dir: Path | None, resume: bool, model: torch.nn.Module, batches: torch.Generator,
           noise: torch.Generator | None = None) -> TrainState | None:
    """The run's resumable training state, kept in ``run_dir/train_state.pt``."""
    if run_dir is None:
        return None
    gens = {"batches": batches, **({"noise": noise} if noise is not None and noise is not batches else {})}
    return TrainState(Path(run_dir) / "train_state.pt", {"model": model}, gens, resume=resume)


def fit_network(windows: Windows, cfg: BCConfig, num_discrete: int | None, *,
                log: Callable[[int, dict[str, float]], None], progress: bool,
                init: BCNetwork | None = None, run_dir: Path | None = None,
                resume: bool = False) -> BCNetwork:
    """Train on observation windows (To) and action chunks (Tp) gathered batch by batch.

    With ``init`` training continues from a copy of that network, its vector normalizers refitted
    to ``windows`` with the trunk's first layer rewritten to match.
    """
    torch.manual_seed(cfg.seed)
    if init is not None:  # its vector statistics refitted to these frames, its function kept
        net = copy.deepcopy(init)
        net.refit_normalizers({k: windows.current_obs(k) for k in net.vectors})
    else:
        shapes = {k: tuple(windows.frames[k].shape[1:]) for k in cfg.obs_keys}
        dtypes = {k: str(windows.frames[k].dtype) for k in cfg.obs_keys}
        net = BCNetwork(shapes, dtypes, cfg, windows.action_dim, num_discrete)
        for key in net.vectors:  # statistics of every frame, each counted once
            net.norms[key] = Normalizer.fit(windows.current_obs(key).reshape(len(windows), -1))
        if net.action_norm is not None:
            net.action_norm = Normalizer.fit(windows.actions)
    gen = torch.Generator().manual_seed(cfg.seed)
    noise = distributed.rank_generator(gen, cfg.seed)  # in-loss randomness: gen itself in one process
    shard_loss = distributed.data_parallel(net, net.loss, unused_parameters=True)

    def loss_at(step: int) -> torch.Tensor:
        idx = distributed.shard(torch.randint(len(windows), (cfg.batch_size,), generator=gen))
        batch = windows.batch(idx.numpy())  # this rank's shard only is gathered
        obs = {k: torch.from_numpy(batch.observations[k]) for k in cfg.obs_keys}
        return shard_loss(obs, torch.from_numpy(batch.actions), torch.from_numpy(batch.action_is_pad), noise)

    net.train()
    minimize(net.parameters(), loss_at, steps=cfg.steps, lr=cfg.lr, weight_decay=cfg.weight_decay, log=log,
             progress=progress, desc="train bc", state=_state(run_dir, resume, net, gen, noise))
    return net.eval()

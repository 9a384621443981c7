"""The energy model E(o, a), its InfoNCE training and its derivative-free argmin.

Training (Florence et al. 2021, "Implicit Behavioral Cloning"): for each demonstrated pair
(o, a*), draw counter-example actions uniformly in the action box and classify which of the
candidates is the demonstrated one with a softmax over -E (InfoNCE). Acting: sample candidate
actions uniformly, then ``iterations`` times resample them in proportion to exp(-E) and perturb
them with shrinking Gaussian noise; return the lowest-energy candidate. A mapping with several
valid actions gets several low-energy basins, and the argmin picks one instead of their average.
"""

from collections.abc import Callable

import numpy as np
import torch
from torch import nn
from torch.nn import functional as F

from agents.bc.policy import mlp
from agents.ibc.config import IBCConfig
from agents.minimize import minimize
from agents.normalizer import Normalizer


class EnergyModel(nn.Module):
    """Normalized observation (B, Do) and candidate actions (B, K, Da) -> energies (B, K)."""

    def __init__(self, obs_dim: int, action_dim: int, hidden_sizes: list[int], obs_norm: Normalizer,
                 low: torch.Tensor, high: torch.Tensor) -> None:
        super().__init__()
        self.net = mlp([obs_dim + action_dim, *hidden_sizes, 1])
        self.obs_norm = obs_norm
        self.register_buffer("low", low.float())  # the action box candidates are drawn from
        self.register_buffer("high", high.float())

    def forward(self, obs: torch.Tensor, actions: torch.Tensor) -> torch.Tensor:
        """Energies (B, K) of K candidate actions per observation; lower is better."""
        o = self.obs_norm.normalize(obs)[:, None].expand(-1, actions.shape[1], -1)
        a = (actions - self.low) / (self.high - self.low) * 2 - 1  # the box mapped to [-1, 1]
        return self.net(torch.cat([o, a], dim=-1))[..., 0]

    def uniform(self, shape: tuple[int, ...], gen: torch.Generator) -> torch.Tensor:
        """Actions drawn uniformly in the box, shape (*shape, Da)."""
        u = torch.rand((*shape, self.low.numel()), generator=gen)
        return self.low + u * (self.high - self.low)

    @torch.no_grad()
    def argmin(self, obs: torch.Tensor, cfg: IBCConfig, gen: torch.Generator) -> torch.Tensor:
        """Derivative-free optimization: the lowest-energy action (B, Da) per observation."""
        b, k = obs.shape[0], cfg.samples
        samples = self.uniform((b, k), gen)
        scale = cfg.noise * (self.high - self.low)
        for _ in range(cfg.iterations):
            probs = torch.softmax(-self(obs, samples), dim=1)
            idx = torch.multinomial(probs, k, replacement=True, generator=gen)
            samples = torch.gather(samples, 1, idx[..., None].expand(-1, -1, samples.shape[-1]))
            samples = samples + torch.randn(samples.shape, generator=gen) * scale
            samples = torch.maximum(torch.minimum(samples, self.high), self.low)
            scale = scale * cfg.noise_shrink
        best = self(obs, samples).argmin(dim=1)
        return samples[torch.arange(b), best]


def info_nce(model: EnergyModel, obs: torch.Tensor, actions: torch.Tensor, negatives: int,
             gen: torch.Generator) -> torch.Tensor:
    """Cross-entropy of picking the demonstrated action among ``negatives`` uniform counter-examples."""
    candidates = torch.cat([actions[:, None], model.uniform((len(obs), negatives), gen)], dim=1)
    logits = -model(obs, candidates)
    return F.cross_entropy(logits, torch.zeros(len(obs), dtype=torch.long))


def action_box(actions: np.ndarray, margin: float) -> tuple[torch.Tensor, torch.Tensor]:
    """The demonstrations' per-dimension range widened by ``margin`` (of [-1, 1]), kept within it."""
    low = np.maximum(actions.min(axis=0) - margin, -1.0)
    high = np.minimum(actions.max(axis=0) + margin, 1.0)
    high = np.maximum(high, low + 1e-3)  # a constant dimension still gets a (tiny) box
    return torch.from_numpy(low).float(), torch.from_numpy(high).float()


def fit_energy(obs: np.ndarray, actions: np.ndarray, cfg: IBCConfig, *,
               log: Callable[[int, dict[str, float]], None] = lambda step, scalars: None,
               progress: bool = False) -> EnergyModel:
    """Train E on every frame: obs (N, Do), actions (N, Da) in [-1, 1]."""
    torch.manual_seed(cfg.seed)
    low, high = action_box(actions, cfg.bounds_margin)
    model = EnergyModel(obs.shape[1], actions.shape[1], cfg.hidden_sizes, Normalizer.fit(obs), low, high)
    obs_t, act_t = torch.from_numpy(obs).float(), torch.from_numpy(actions).float()
    gen = torch.Generator().manual_seed(cfg.seed)

    def loss_at(step: int) -> torch.Tensor:
        idx = torch.randint(len(obs_t), (cfg.batch_size,), generator=gen)
        return info_nce(model, obs_t[idx], act_t[idx], cfg.counter_examples, gen)

    minimize(model.net.parameters(), loss_at, steps=cfg.steps, lr=cfg.lr, weight_decay=cfg.weight_decay,
             log=log, progress=progress, desc="train ibc")
    return model.eval()

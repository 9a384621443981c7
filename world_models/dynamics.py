"""Learned dynamics p(s_{t+1} | s_t, a_t) over the task's state vector, in torch.

State representation: the env's ``obs_mode="state"`` vector (Ds,) (its layout per task in
docs/tasks.md) and the normalized action (Da,) in [-1, 1]. Both models predict the normalized
delta ``(s_{t+1} - s_t - mu) / sigma`` (and, with ``learn_reward``, the step's reward as one more
output, for tasks without a batched reward). Each output is a linear map of the normalized input
plus an MLP's correction; the linear part starts from least squares on the data it is fit on, so a
linear system is fit to float32 precision and the MLP only learns what is not linear.

- ``mlp``: one deterministic member trained on mean squared error.
- ``ensemble``: E probabilistic members (PETS, Chua et al. 2018): Gaussian heads with soft-bounded
  log-variances trained on negative log-likelihood, each on its own bootstrap resample, so their
  disagreement measures what the data does not pin down.
- ``graph``: a graph network over the pusher and the particles of PushParticles
  (``world_models/graph.py``); ``build`` and ``fit`` hand it over there.

Shapes: E members, B batch, Ds state dim, Da action dim, Dy = Ds (+1 with a learned reward).
"""

import copy
from dataclasses import dataclass, field
from typing import Any

import torch
from torch import nn

from agents import distributed
from envs.errors import ConfigError

KINDS = ("ensemble", "mlp", "graph")
PROPAGATION = ("all", "one")  # how planning rolls sequences through the members (objectives.py)
INPUT_CLIP = 10.0  # normalized inputs are clipped to +-this: a plan that leaves the data cannot explode
RIDGE = 1e-6  # per-sample ridge of the linear part's least squares (directions the data never spans)


@dataclass
class WorldModelConfig:
    """The model MPC plans over (Hydra group ``world_model``, placed at ``agent.world_model``)."""

    kind: str = "ensemble"  # ensemble (probabilistic, bootstrapped) | mlp (one member) | graph (particles)
    members: int = 5  # ensemble members (mlp: always 1)
    hidden: list[int] = field(default_factory=lambda: [64, 64])  # MLP widths (planning cost grows with them)
    learning_rate: float = 1e-3
    weight_decay: float = 1e-5
    batch_size: int = 256
    train_steps: int = 300  # gradient steps per fit (the model-based loop refits after each round)
    nll_beta: float = 0.5  # ensemble: beta-NLL, each sample weighted by var^beta (0: plain NLL, 1: MSE-like)
    learn_reward: bool = False  # predict the reward too (for tasks without a batched reward)
    propagation: str = "one"  # planning: one (sequence i -> member i mod E) | all (every member, every one)
    seed: int = 0
    radius: float = 0.04  # graph: edges join nodes closer than this (m), recomputed every step
    message_passing: int = 3  # graph: rounds of edge and node updates

    def __post_init__(self) -> None:
        """Validate values so a bad config fails before any work is done."""
        if self.kind not in KINDS:
            raise ConfigError(f"WorldModelConfig.kind must be one of {list(KINDS)}, got {self.kind!r}")
        if self.propagation not in PROPAGATION:
            raise ConfigError(f"WorldModelConfig.propagation must be one of {list(PROPAGATION)}, got "
                              f"{self.propagation!r}")
        for name in ("members", "batch_size"):
            if getattr(self, name) < 1:
                raise ConfigError(f"WorldModelConfig.{name} must be >= 1, got {getattr(self, name)}")
        if not 0 <= self.nll_beta <= 1:
            raise ConfigError(f"WorldModelConfig.nll_beta must be in [0, 1], got {self.nll_beta}")
        if self.train_steps < 0 or self.learning_rate <= 0:
            raise ConfigError(f"WorldModelConfig needs train_steps >= 0 and learning_rate > 0, got "
                              f"{self.train_steps} and {self.learning_rate}")
        if any(h < 1 for h in self.hidden):
            raise ConfigError(f"WorldModelConfig.hidden widths must be >= 1, got {self.hidden}")
        if self.radius <= 0 or self.message_passing < 1:
            raise ConfigError(f"WorldModelConfig needs radius > 0 and message_passing >= 1, got "
                              f"{self.radius} and {self.message_passing}")
        if self.kind == "graph" and self.learn_reward:
            raise ConfigError("world_model=graph predicts states only; learn_reward=true needs "
                              "kind=ensemble or mlp")

    @property
    def ensemble_size(self) -> int:
        """Members actually built: ``members`` for an ensemble, 1 for an MLP."""
        return self.members if self.kind == "ensemble" else 1  # mlp, graph: one model


class EnsembleLinear(nn.Module):
    """E independent affine maps applied at once: (E, B, in) -> (E, B, out)."""

    def __init__(self, members: int, n_in: int, n_out: int) -> None:
        super().__init__()
        self.weight = nn.Parameter(torch.randn(members, n_in, n_out) / n_in ** 0.5)
        self.bias = nn.Parameter(torch.zeros(members, 1, n_out))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """Batched matrix product per member."""
        return torch.baddbmm(self.bias, x, self.weight)


class DynamicsModel(nn.Module):
    """E members predicting normalized deltas from normalized (state, action), with statistics inside.

    The normalizer statistics are buffers, so they travel in ``state_dict`` (the checkpoint).
    """

    def __init__(self, state_dim: int, action_dim: int, config: WorldModelConfig) -> None:
        super().__init__()
        self.state_dim, self.action_dim, self.config = state_dim, action_dim, config
        self.probabilistic = config.kind == "ensemble"
        e, n_in = config.ensemble_size, state_dim + action_dim
        self.out_dim = state_dim + int(config.learn_reward)
        widths = [n_in, *config.hidden]
        self.hidden = nn.ModuleList(EnsembleLinear(e, a, b) for a, b in zip(widths, widths[1:], strict=False))
        self.head = EnsembleLinear(e, widths[-1], self.out_dim * (2 if self.probabilistic else 1))
        nn.init.zeros_(self.head.weight)  # the MLP starts as no correction to the linear part
        self.linear = EnsembleLinear(e, n_in, self.out_dim)
        self.max_logvar = nn.Parameter(torch.full((1, 1, self.out_dim), 0.5))
        self.min_logvar = nn.Parameter(torch.full((1, 1, self.out_dim), -10.0))
        for name, dim in (("in_mean", n_in), ("in_std", n_in), ("out_mean", self.out_dim),
                          ("out_std", self.out_dim)):
            self.register_buffer(name, torch.zeros(dim) if "mean" in name else torch.ones(dim))

    @property
    def members(self) -> int:
        """E."""
        return self.linear.weight.shape[0]

    def forward(self, x: torch.Tensor, variance: bool = True) -> tuple[torch.Tensor, torch.Tensor | None]:
        """Normalized inputs (E, B, Ds + Da) -> normalized mean (E, B, Dy) and log-variance (or None).

        The log-variance is None for the deterministic MLP, and when ``variance`` is False (planning
        with means only skips its cost).
        """
        h = x
        for layer in self.hidden:
            h = torch.relu(layer(h))
        out = self.head(h)
        if not self.probabilistic:
            return self.linear(x) + out, None
        mean, raw = out.split(self.out_dim, dim=-1)
        if not variance:
            return self.linear(x) + mean, None
        logvar = self.max_logvar - nn.functional.softplus(self.max_logvar - raw)
        logvar = self.min_logvar + nn.functional.softplus(logvar - self.min_logvar)
        return self.linear(x) + mean, logvar

    def predict(self, states: torch.Tensor, actions: torch.Tensor,
                sample: bool = False) -> tuple[torch.Tensor, torch.Tensor | None]:
        """Raw states (E, B, Ds) and actions (E, B, Da) -> next states (E, B, Ds), rewards (E, B) or None.

        ``sample`` draws from each member's Gaussian instead of taking its mean.
        """
        x = (torch.cat([states, actions], dim=-1) - self.in_mean) / self.in_std
        x = x.clamp(-INPUT_CLIP, INPUT_CLIP)
        mean, logvar = self(x, variance=sample)
        if sample and logvar is not None:
            mean = mean + torch.randn_like(mean) * (0.5 * logvar).exp()
        y = mean * self.out_std + self.out_mean
        reward = y[..., -1] if self.config.learn_reward else None
        return states + y[..., :self.state_dim], reward

    def loss(self, x: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
        """MSE (mlp) or Gaussian NLL with the log-variance bounds' penalty (ensemble); normalized data.

        Plain NLL lets a member explain a hard sample (a contact) by a large variance instead of a
        better mean; with ``nll_beta`` > 0 each sample's term is weighted by its (constant)
        variance^beta (Seitzer et al., 2022, "beta-NLL"), which restores the mean's gradient there.
        """
        mean, logvar = self(x)
        if logvar is None:
            return ((mean - y) ** 2).mean()
        nll = beta_nll(mean, logvar, y, self.config.nll_beta)
        return nll + 0.01 * (self.max_logvar.sum() - self.min_logvar.sum())


def beta_nll(mean: torch.Tensor, logvar: torch.Tensor, y: torch.Tensor, beta: float) -> torch.Tensor:
    """Gaussian NLL (up to constants) with each term weighted by its variance^beta, held constant.

    beta = 0 is the plain NLL; beta = 1 gives the mean the gradient of the squared error.
    """
    terms = (mean - y) ** 2 * (-logvar).exp() + logvar
    if beta > 0:
        terms = terms * (beta * logvar.detach()).exp()
    return terms.mean()


def targets(states: torch.Tensor, actions: torch.Tensor, next_states: torch.Tensor,
            rewards: torch.Tensor | None) -> tuple[torch.Tensor, torch.Tensor]:
    """Transitions (N, ...) -> model inputs (N, Ds + Da) and raw targets (N, Dy): delta (and reward)."""
    y = next_states - states
    if rewards is not None:
        y = torch.cat([y, rewards[:, None]], dim=-1)
    return torch.cat([states, actions], dim=-1), y


def fit(model: DynamicsModel, data: dict[str, torch.Tensor], generator: torch.Generator,
        optimizer: torch.optim.Optimizer | None = None) -> dict[str, float]:
    """Fit ``model`` to transitions ``data`` (states, actions, next_states[, rewards]): (N, ...) each.

    Sets the normalizer from the data, draws each member's bootstrap resample (ensembles only),
    solves the linear part by least squares per member, then takes ``train_steps`` Adam steps on
    minibatches of each member's resample, keeping them only if they lowered the training error
    (so the model is never worse than its least-squares start). Under ``torchrun`` the minibatches
    are split over the ranks (:mod:`agents.distributed`). Returns the last loss and the members'
    training MSE (normalized units).
    """
    cfg, n = model.config, len(data["states"])
    if cfg.kind == "graph":
        from world_models.graph import fit_graph

        return fit_graph(model, data, generator, optimizer)  # type: ignore[arg-type]
    if n < 2:
        raise ConfigError(f"a dynamics model needs at least 2 transitions to fit, got {n}")
    x, y = targets(data["states"], data["actions"], data["next_states"],
                   data.get("rewards") if cfg.learn_reward else None)
    with torch.no_grad():
        model.in_mean.copy_(x.mean(0)), model.in_std.copy_(x.std(0).clamp_min(1e-6))
        model.out_mean.copy_(y.mean(0)), model.out_std.copy_(y.std(0).clamp_min(1e-6))
    xn, yn = (x - model.in_mean) / model.in_std, (y - model.out_mean) / model.out_std
    e = model.members
    boot = (torch.randint(0, n, (e, n), generator=generator) if model.probabilistic
            else torch.arange(n).expand(e, n))
    _least_squares(model, xn[boot], yn[boot])
    start, start_mse = copy.deepcopy(model.state_dict()), _mse(model, xn, yn)
    optimizer = optimizer or make_optimizer(model)
    # Under torchrun every rank holds the same data and draws the same global minibatch; each takes
    # its share of it and DDP averages the gradients, so the ranks take identical steps.
    shard_loss = distributed.data_parallel(model, model.loss)
    ranks = distributed.world_size()
    batch = max(ranks, min(cfg.batch_size, n) // ranks * ranks)  # a global batch the ranks split evenly
    loss = torch.tensor(0.0)
    for _ in range(cfg.train_steps):
        pick = torch.randint(0, n, (e, batch), generator=generator)
        rows = boot.gather(1, pick[:, distributed.shard(torch.arange(batch))])
        loss = shard_loss(xn[rows], yn[rows])
        optimizer.zero_grad()
        loss.backward()
        optimizer.step()
    distributed.check_in_sync(list(model.parameters()))  # under torchrun: every rank took the same steps
    mse = _mse(model, xn, yn)
    if mse > start_mse:  # Adam's steps made the fit worse (e.g. a linear system, already exact): undo
        model.load_state_dict(start)
        mse = start_mse
    return {"model_loss": loss.item(), "model_mse": mse}


@torch.no_grad()
def _mse(model: DynamicsModel, xn: torch.Tensor, yn: torch.Tensor) -> float:
    """Mean squared error of the members' means on normalized data (N, in) -> (N, out)."""
    return ((model(xn[None].expand(model.members, -1, -1), variance=False)[0] - yn) ** 2).mean().item()


def make_optimizer(model: DynamicsModel) -> torch.optim.Optimizer:
    """Adam with weight decay on the MLP and linear weights."""
    return torch.optim.AdamW(model.parameters(), lr=model.config.learning_rate,
                             weight_decay=model.config.weight_decay)


@torch.no_grad()
def _least_squares(model: DynamicsModel, x: torch.Tensor, y: torch.Tensor) -> None:
    """Set each member's linear part to the least-squares fit of its data (E, N, in) -> (E, N, out).

    The fit is of what the MLP does not predict now, so a refit keeps the two parts consistent.
    """
    residual = (y - (model(x)[0] - model.linear(x))).double()
    a = torch.cat([x, torch.ones(*x.shape[:2], 1)], -1).double()
    gram = a.transpose(1, 2) @ a + RIDGE * x.shape[1] * torch.eye(a.shape[-1], dtype=torch.float64)
    solution = torch.linalg.solve(gram, a.transpose(1, 2) @ residual)
    model.linear.weight.copy_(solution[:, :-1].float())
    model.linear.bias.copy_(solution[:, -1:].float())


def disagreement(model: DynamicsModel, states: torch.Tensor, actions: torch.Tensor) -> torch.Tensor:
    """Std over members of the predicted next state, averaged over state dims: (B, Ds), (B, Da) -> (B,)."""
    with torch.no_grad():
        e = model.members
        nxt, _ = model.predict(states.expand(e, -1, -1), actions.expand(e, -1, -1))
    return nxt.std(0).mean(-1)


def build(state_dim: int, action_dim: int, config: WorldModelConfig | dict[str, Any]) -> DynamicsModel:
    """A fresh model for these dims (a ``GraphDynamics`` for kind=graph); seeded by ``config.seed``."""
    if isinstance(config, dict):
        config = WorldModelConfig(**config)
    with torch.random.fork_rng():  # seeded weights without touching the caller's generator
        torch.manual_seed(config.seed)
        if config.kind == "graph":
            from world_models.graph import GraphDynamics

            return GraphDynamics(state_dim, action_dim, config)  # type: ignore[return-value]
        return DynamicsModel(state_dim, action_dim, config)

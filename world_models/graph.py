"""A graph network over the pusher and the particles (interaction network / GNS style), in torch.

State representation: the PushParticles state vector (Ds = 6 + 2N: pusher x, y, vx, vy; each
particle's x, y; goal x, y; docs/tasks.md) read as a graph of n = N + 1 nodes, node 0 the pusher
and node 1 + i particle i. The goal is no body: the model copies it unchanged.

- Node features (8): type one-hot (pusher, particle); the pusher's velocity and position
  (normalized by the data's std; its position matters at the joint limits) and the action (Da = 2),
  zeros on particle nodes. No absolute particle position enters, so the model is translation
  invariant for particles and equivariant to their order.
- Edges: directed, sender j -> receiver i for every pair of nodes closer than ``radius``,
  recomputed at every step from the positions (:func:`radius_graph`, batched, brute force over
  the n^2 pairs of each graph). Edge features (3): (x_j - x_i) / radius and |x_j - x_i| / radius.
- Processor: ``message_passing`` rounds; each updates every edge, e += MLP([e, h_j, h_i]), then
  every node, h += MLP([h, sum of incoming e]) (the sum by ``index_add_``; no torch_geometric).
- Decoder: per node, the normalized delta of its position (and, on the pusher, of its velocity):
  next = s + delta * std + mean, statistics from the data, shared by all particles (buffers, so
  they travel in the checkpoint).

It offers :class:`world_models.dynamics.DynamicsModel`'s planning interface (``members`` = 1,
``predict``, ``config``), so ``model_objective``, MPC and ``agent=mpc world_model=graph`` take it
as they take the flat models. Shapes: E members (1), B batch, G = E * B graphs, n nodes, M edges.
"""

import copy
from typing import Any

import torch
from torch import nn

from envs.errors import ConfigError

PUSHER_DIMS, GOAL_DIMS = 4, 2  # pusher x, y, vx, vy first; goal x, y last
NODE_FEATURES, EDGE_FEATURES = 8, 3


def particle_count(state_dim: int) -> int:
    """N from a PushParticles-layout state size 6 + 2N; a ConfigError for any other size."""
    n2 = state_dim - PUSHER_DIMS - GOAL_DIMS
    if n2 < 2 or n2 % 2:
        raise ConfigError(f"world_model=graph reads the state as pusher (4), particles (2 each) and goal "
                          f"(2); a state of size {state_dim} is not of that form. Use it on "
                          "roboloop/PushParticles-v0, or world_model=ensemble|mlp elsewhere")
    return n2 // 2


def radius_graph(pos: torch.Tensor, radius: float) -> tuple[torch.Tensor, torch.Tensor]:
    """Directed edges between distinct nodes closer than ``radius``, batched over graphs.

    pos (G, n, 2) -> senders (M,), receivers (M,): flat node indices ``g * n + i``.
    """
    g, n, _ = pos.shape
    d2 = ((pos[:, :, None] - pos[:, None]) ** 2).sum(-1)  # (G, n_receiver, n_sender)
    near = (d2 < radius * radius) & ~torch.eye(n, dtype=torch.bool)
    graph, receiver, sender = near.nonzero(as_tuple=True)
    return graph * n + sender, graph * n + receiver


def mlp(n_in: int, width: int, n_out: int) -> nn.Sequential:
    """One hidden ReLU layer."""
    return nn.Sequential(nn.Linear(n_in, width), nn.ReLU(), nn.Linear(width, n_out))


class GraphDynamics(nn.Module):
    """Encode-process-decode over the pusher and N particles; predicts next PushParticles states."""

    probabilistic = False

    def __init__(self, state_dim: int, action_dim: int, config: Any) -> None:
        super().__init__()
        if action_dim != 2:
            raise ConfigError(f"world_model=graph drives a planar pusher (2 actions), got "
                              f"action_dim={action_dim}")
        self.n_particles = particle_count(state_dim)
        self.state_dim, self.action_dim, self.config = state_dim, action_dim, config
        self.radius, width = float(config.radius), config.hidden[-1]
        self.node_encoder = mlp(NODE_FEATURES, width, width)
        self.edge_encoder = mlp(EDGE_FEATURES, width, width)
        self.edge_updates = nn.ModuleList(mlp(3 * width, width, width) for _ in range(config.message_passing))
        self.node_updates = nn.ModuleList(mlp(2 * width, width, width) for _ in range(config.message_passing))
        self.decoder = mlp(width, width, 4)
        nn.init.zeros_(self.decoder[-1].weight)  # start by predicting the mean delta
        nn.init.zeros_(self.decoder[-1].bias)
        for name, dim in (("pusher_mean", 4), ("pusher_std", 4), ("particle_std", 2),
                          ("in_vel_std", 2), ("in_pos_std", 2)):
            self.register_buffer(name, torch.zeros(dim) if "mean" in name else torch.ones(dim))

    @property
    def members(self) -> int:
        """E = 1: one deterministic model."""
        return 1

    def positions(self, states: torch.Tensor) -> torch.Tensor:
        """States (..., Ds) -> node positions (..., n, 2): the pusher, then the particles."""
        flat = states[..., :2], states[..., PUSHER_DIMS:PUSHER_DIMS + 2 * self.n_particles]
        return torch.cat(flat, -1).reshape(*states.shape[:-1], self.n_particles + 1, 2)

    def forward(self, states: torch.Tensor, actions: torch.Tensor) -> torch.Tensor:
        """Raw states (G, Ds) and actions (G, Da) -> normalized per-node outputs (G, n, 4)."""
        g, n = states.shape[0], self.n_particles + 1
        pos = self.positions(states)
        nodes = states.new_zeros(g, n, NODE_FEATURES)
        nodes[:, 0, 0], nodes[:, 1:, 1] = 1.0, 1.0
        nodes[:, 0, 2:4] = states[:, 2:4] / self.in_vel_std
        nodes[:, 0, 4:6] = states[:, 0:2] / self.in_pos_std
        nodes[:, 0, 6:8] = actions
        senders, receivers = radius_graph(pos, self.radius)
        flat_pos = pos.reshape(g * n, 2)
        rel = (flat_pos[senders] - flat_pos[receivers]) / self.radius
        h = self.node_encoder(nodes.reshape(g * n, NODE_FEATURES))
        e = self.edge_encoder(torch.cat([rel, rel.norm(dim=-1, keepdim=True)], -1))
        for edge_update, node_update in zip(self.edge_updates, self.node_updates, strict=True):
            e = e + edge_update(torch.cat([e, h[senders], h[receivers]], -1))
            incoming = torch.zeros_like(h).index_add_(0, receivers, e)
            h = h + node_update(torch.cat([h, incoming], -1))
        return self.decoder(h).reshape(g, n, 4)

    def predict(self, states: torch.Tensor, actions: torch.Tensor,
                sample: bool = False) -> tuple[torch.Tensor, None]:
        """Raw states (E, B, Ds) and actions (E, B, Da) -> next states (E, B, Ds) and None (no reward).

        ``sample`` is accepted for the planners' sake; the model is deterministic.
        """
        lead = states.shape[:-1]
        out = self(states.reshape(-1, self.state_dim), actions.reshape(-1, self.action_dim))
        return (states + self.decode(out).reshape(*lead, self.state_dim)), None

    def decode(self, out: torch.Tensor) -> torch.Tensor:
        """Normalized per-node outputs (G, n, 4) -> raw state deltas (G, Ds); the goal's is 0."""
        pusher = out[:, 0] * self.pusher_std + self.pusher_mean
        particles = (out[:, 1:, :2] * self.particle_std).reshape(out.shape[0], -1)
        return torch.cat([pusher, particles, out.new_zeros(out.shape[0], GOAL_DIMS)], -1)

    def targets(self, states: torch.Tensor, next_states: torch.Tensor) -> torch.Tensor:
        """Transitions (G, Ds) -> normalized per-node targets (G, n, 4) (particles' last two: 0)."""
        delta = next_states - states
        y = delta.new_zeros(len(delta), self.n_particles + 1, 4)
        y[:, 0] = (delta[:, :4] - self.pusher_mean) / self.pusher_std
        xy = delta[:, PUSHER_DIMS:PUSHER_DIMS + 2 * self.n_particles].reshape(len(delta), -1, 2)
        y[:, 1:, :2] = xy / self.particle_std
        return y

    def loss(self, states: torch.Tensor, actions: torch.Tensor, next_states: torch.Tensor) -> torch.Tensor:
        """Mean squared error of the normalized outputs that exist (pusher 4, particles 2 each)."""
        err = (self(states, actions) - self.targets(states, next_states)) ** 2
        return (err[:, 0].sum(-1) + err[:, 1:, :2].sum((-1, -2))).mean() / (4 + 2 * self.n_particles)

    @torch.no_grad()
    def set_statistics(self, states: torch.Tensor, next_states: torch.Tensor) -> None:
        """Normalizers from transitions (N, Ds); particle deltas share one std per axis (mean 0)."""
        delta = next_states - states
        self.pusher_mean.copy_(delta[:, :4].mean(0))
        self.pusher_std.copy_(delta[:, :4].std(0).clamp_min(1e-6))
        xy = delta[:, PUSHER_DIMS:PUSHER_DIMS + 2 * self.n_particles].reshape(-1, 2)
        self.particle_std.copy_(xy.pow(2).mean(0).sqrt().clamp_min(1e-6))
        self.in_vel_std.copy_(states[:, 2:4].std(0).clamp_min(1e-3))
        self.in_pos_std.copy_(states[:, 0:2].std(0).clamp_min(1e-3))


def check_particles(model: Any, env_particles: int | None) -> None:
    """A ConfigError unless a graph model has as many particle nodes as the env has particles."""
    ours = getattr(model, "n_particles", None)
    if ours is not None and ours != env_particles:
        raise ConfigError(f"the graph world model has {ours} particle nodes, but the env has "
                          f"{'no particles' if env_particles is None else f'{env_particles} particles'}; "
                          "train the graph model on this env (its state size fixes the particle count)")


def fit_graph(model: GraphDynamics, data: dict[str, torch.Tensor], generator: torch.Generator,
              optimizer: torch.optim.Optimizer | None = None) -> dict[str, float]:
    """Fit to transitions ``data`` (states, actions, next_states): (N, ...) each; as ``dynamics.fit``.

    Sets the normalizers from the data, takes ``train_steps`` Adam steps on minibatches of
    ``batch_size`` transitions, and keeps them only if they lowered the training error. Returns the
    last minibatch loss and the training MSE (normalized units).
    """
    s, a, s2 = data["states"], data["actions"], data["next_states"]
    n = len(s)
    if n < 2:
        raise ConfigError(f"a dynamics model needs at least 2 transitions to fit, got {n}")
    model.set_statistics(s, s2)
    start, start_mse = copy.deepcopy(model.state_dict()), _mse(model, s, a, s2)
    optimizer = optimizer or torch.optim.AdamW(model.parameters(), lr=model.config.learning_rate,
                                               weight_decay=model.config.weight_decay)
    loss = torch.tensor(0.0)
    for _ in range(model.config.train_steps):
        rows = torch.randint(0, n, (min(model.config.batch_size, n),), generator=generator)
        loss = model.loss(s[rows], a[rows], s2[rows])
        optimizer.zero_grad()
        loss.backward()
        optimizer.step()
    mse = _mse(model, s, a, s2)
    if mse > start_mse:
        model.load_state_dict(start)
        mse = start_mse
    return {"model_loss": loss.item(), "model_mse": mse}


@torch.no_grad()
def _mse(model: GraphDynamics, s: torch.Tensor, a: torch.Tensor, s2: torch.Tensor) -> float:
    """Training error on up to 4096 transitions (the first ones: deterministic and cheap)."""
    k = min(len(s), 4096)
    return model.loss(s[:k], a[:k], s2[:k]).item()

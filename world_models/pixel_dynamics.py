"""Pixel dynamics: a recurrent latent model of camera images (PlaNet / Dreamer's RSSM, small).

State representation: one camera's rgb image, resized to ``image_size`` (64x64), is encoded by
a 4-layer strided CNN to an embedding. The latent state is ``(h, z)``: ``h`` (``deter``) a GRU's
deterministic state, ``z`` (``stoch``) a diagonal Gaussian. Filtering (``observe``) reads every
frame: ``h_t = GRU(h_{t-1}, [z_{t-1}, a_{t-1}])``, ``z_t ~ q(z | h_t, e_t)``; imagining reads none:
``z_t ~ p(z | h_t)``. Heads read ``[h, z]``: a transposed-CNN decoder of the frame, the step's
reward (the reward of the action that led to the frame) and, for measuring only, a probe of the
cube's position trained on detached latents (it never shapes them).

Training (``sequence_loss``) is multi-step: over a chunk of T frames, the posterior
reconstructs the first ``context`` frames and predicts every reward, a KL keeps the prior near
the posterior at every frame, and from the posterior at frame ``context - 1`` the model imagines
the rest of the chunk open-loop through the GRU (overshooting) and must reconstruct those frames
and predict those rewards too. (Decoding only these frames halves the decoder's cost on CPU; the
later posteriors still shape the prior through the KL.)
With ``sample=False`` everything uses the Gaussians' means, so a latent rollout is deterministic.

Shapes: B batch, T frames, Da action dim, image ``(B, T, 3, S, S)`` float in [-0.5, 0.5].
"""

from dataclasses import asdict, dataclass, field
from typing import Any

import numpy as np
import torch
from torch import nn
from torch.nn import functional as F

from envs.errors import ConfigError

CHECKPOINT_FORMAT = "roboloop.world_models.pixel"


@dataclass
class PixelModelConfig:
    """The pixel world model and its training."""

    image_size: int = 64  # S: the model's input images are S x S (``to_model_images`` resizes)
    channels: list[int] = field(default_factory=lambda: [8, 16, 32, 32])  # 4 encoder widths; decoder mirrors
    embed: int = 128  # encoder output size
    deter: int = 128  # GRU state size (deterministic part of the latent)
    stoch: int = 16  # Gaussian part of the latent (its mean is used when not sampling)
    hidden: int = 128  # width of the prior / posterior / reward / probe MLPs
    chunk: int = 12  # T: frames per training sequence
    context: int = 2  # frames filtered before the open-loop part of a chunk (and when acting)
    batch_size: int = 8  # sequences per step
    train_steps: int = 2000  # Adam steps
    learning_rate: float = 1e-3
    kl_weight: float = 1.0
    free_nats: float = 1.0  # KL below this (per step, summed over z) is not penalized
    reward_weight: float = 10.0  # on the reward's squared error (the images' is summed over pixels)
    sample: bool = True  # train with sampled z (False: means only, a deterministic model)
    seed: int = 0

    def __post_init__(self) -> None:
        """Validate values so a bad config fails before any work is done."""
        self.channels = list(self.channels)
        if len(self.channels) != 4 or min(self.channels) < 1:
            raise ConfigError(f"PixelModelConfig.channels must be 4 widths >= 1, got {self.channels}")
        if self.image_size % 16 or self.image_size < 16:
            raise ConfigError(f"PixelModelConfig.image_size must be a multiple of 16 (4 stride-2 layers), "
                              f"got {self.image_size}")
        for name in ("embed", "deter", "hidden", "chunk", "context", "batch_size"):
            if getattr(self, name) < 1:
                raise ConfigError(f"PixelModelConfig.{name} must be >= 1, got {getattr(self, name)}")
        if not 1 <= self.context < self.chunk:
            raise ConfigError(f"PixelModelConfig.context must be in [1, chunk={self.chunk}), got "
                              f"{self.context}")
        if self.stoch < 0 or self.train_steps < 0 or self.learning_rate <= 0:
            raise ConfigError(f"PixelModelConfig needs stoch >= 0, train_steps >= 0, learning_rate > 0, got "
                              f"{self.stoch}, {self.train_steps}, {self.learning_rate}")


def mlp(n_in: int, hidden: int, n_out: int) -> nn.Sequential:
    """One hidden ELU layer."""
    return nn.Sequential(nn.Linear(n_in, hidden), nn.ELU(), nn.Linear(hidden, n_out))


class Latent(dict):
    """``{"h": (..., deter), "z": (..., stoch)}``; ``feat`` is their concatenation."""

    @property
    def feat(self) -> torch.Tensor:
        """(..., deter + stoch)."""
        return torch.cat([self["h"], self["z"]], -1)


class PixelDynamics(nn.Module):
    """Encoder, GRU transition with Gaussian prior / posterior, decoder, reward and probe heads."""

    def __init__(self, action_dim: int, config: PixelModelConfig) -> None:
        super().__init__()
        self.action_dim, self.config = action_dim, config
        c, s = config, config.image_size // 16
        widths = (3, *c.channels)
        self.encoder = nn.Sequential(*[layer for a, b in zip(widths, widths[1:], strict=False)
                                       for layer in (nn.Conv2d(a, b, 4, 2, 1), nn.ELU())],
                                     nn.Flatten(), nn.Linear(c.channels[-1] * s * s, c.embed))
        self.gru = nn.GRUCell(c.stoch + action_dim, c.deter)
        self.prior_net = mlp(c.deter, c.hidden, 2 * max(c.stoch, 1))
        self.post_net = mlp(c.deter + c.embed, c.hidden, 2 * max(c.stoch, 1))
        feat = c.deter + c.stoch
        self.decoder_in = nn.Linear(feat, c.channels[-1] * s * s)
        back = widths[::-1]
        layers: list[nn.Module] = []
        for a, b in zip(back, back[1:], strict=False):
            layers += [nn.ConvTranspose2d(a, b, 4, 2, 1), nn.ELU()]
        self.decoder = nn.Sequential(*layers[:-1])  # no activation on the image
        self.reward_head = mlp(feat, c.hidden, 1)
        self.probe_head = mlp(feat, c.hidden, 2)

    # ----- latent steps
    def initial(self, batch: int) -> Latent:
        """The zero latent before any frame: (B, deter), (B, stoch)."""
        return Latent(h=torch.zeros(batch, self.config.deter), z=torch.zeros(batch, self.config.stoch))

    def _gaussian(self, stats: torch.Tensor, sample: bool) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
        mean, raw = stats[..., :self.config.stoch], stats[..., self.config.stoch:2 * self.config.stoch]
        std = F.softplus(raw) + 0.1
        z = mean + std * torch.randn_like(mean) if sample else mean
        return z, mean, std

    def transition(self, latent: Latent, action: torch.Tensor) -> torch.Tensor:
        """Next deterministic state h (B, deter) from the latent and the action (B, Da)."""
        return self.gru(torch.cat([latent["z"], action], -1), latent["h"])

    def prior(self, h: torch.Tensor, sample: bool = False) -> tuple[Latent, torch.Tensor, torch.Tensor]:
        """The imagined latent at h, and p(z | h)'s mean and std."""
        z, mean, std = self._gaussian(self.prior_net(h), sample)
        return Latent(h=h, z=z), mean, std

    def posterior(self, h: torch.Tensor, embed: torch.Tensor,
                  sample: bool = False) -> tuple[Latent, torch.Tensor, torch.Tensor]:
        """The filtered latent at h given the frame's embedding, and q(z | h, e)'s mean and std."""
        z, mean, std = self._gaussian(self.post_net(torch.cat([h, embed], -1)), sample)
        return Latent(h=h, z=z), mean, std

    # ----- images
    def check_images(self, images: torch.Tensor) -> None:
        """A ConfigError unless ``images`` are (..., 3, S, S) with the model's S."""
        s = self.config.image_size
        if images.dim() < 4 or tuple(images.shape[-3:]) != (3, s, s):
            raise ConfigError(f"the pixel model takes images (..., 3, {s}, {s}), got {tuple(images.shape)}; "
                              f"resize with to_model_images(rgb, {s})")

    def encode(self, images: torch.Tensor) -> torch.Tensor:
        """Images (..., 3, S, S) -> embeddings (..., embed)."""
        self.check_images(images)
        lead = images.shape[:-3]
        return self.encoder(images.reshape(-1, *images.shape[-3:])).reshape(*lead, -1)

    def decode(self, feat: torch.Tensor) -> torch.Tensor:
        """Latent features (..., F) -> images (..., 3, S, S)."""
        s = self.config.image_size // 16
        lead = feat.shape[:-1]
        x = self.decoder_in(feat.reshape(-1, feat.shape[-1])).view(-1, self.config.channels[-1], s, s)
        return self.decoder(x).reshape(*lead, 3, self.config.image_size, self.config.image_size)

    def reward(self, latent: Latent) -> torch.Tensor:
        """Predicted reward of the step that led to ``latent``: (...)."""
        return self.reward_head(latent.feat)[..., 0]

    def probe(self, latent: Latent) -> torch.Tensor:
        """The cube's (x, y) in metres read from the latent (a measuring head): (..., 2)."""
        return self.probe_head(latent.feat)

    # ----- sequences
    def observe(self, embeds: torch.Tensor, actions: torch.Tensor, sample: bool = False,
                latent: Latent | None = None) -> tuple[list[Latent], list[tuple]]:
        """Filter frames' embeddings (B, T, E) with the actions taken at them (B, T, Da).

        Frame 0 is read from ``latent`` (default: the zero latent); frame t >= 1 after
        ``actions[:, t - 1]``. Returns the T posterior latents and their (prior, posterior)
        (mean, std) pairs (the prior of frame 0 is None).
        """
        b, t = embeds.shape[:2]
        latent = self.initial(b) if latent is None else latent
        latents, stats = [], []
        for i in range(t):
            h, prior = latent["h"], None
            if i > 0:
                h = self.transition(latent, actions[:, i - 1])
                _, pm, ps = self.prior(h)
                prior = (pm, ps)
            latent, qm, qs = self.posterior(h, embeds[:, i], sample)
            latents.append(latent)
            stats.append((prior, (qm, qs)))
        return latents, stats

    def imagine(self, latent: Latent, actions: torch.Tensor, sample: bool = False) -> list[Latent]:
        """Open-loop: the H latents after each of ``actions`` (B, H, Da), no frames read."""
        out = []
        for i in range(actions.shape[1]):
            latent, _, _ = self.prior(self.transition(latent, actions[:, i]), sample)
            out.append(latent)
        return out

    def checkpoint(self, extra: dict[str, Any] | None = None) -> dict[str, Any]:
        """A ``torch.save``-able dict that loads with ``weights_only=True`` (:func:`load_pixel_model`)."""
        return {"format": CHECKPOINT_FORMAT, "version": 1, "action_dim": self.action_dim,
                "config": asdict(self.config), "extra": dict(extra or {}), "state_dict": self.state_dict()}


def stack(latents: list[Latent]) -> Latent:
    """A list of T latents (B, ...) -> one latent (B, T, ...)."""
    return Latent(h=torch.stack([x["h"] for x in latents], 1), z=torch.stack([x["z"] for x in latents], 1))


def kl(prior: tuple[torch.Tensor, torch.Tensor], post: tuple[torch.Tensor, torch.Tensor]) -> torch.Tensor:
    """KL(post || prior) of diagonal Gaussians, summed over z: (B,)."""
    (pm, ps), (qm, qs) = prior, post
    return (torch.log(ps / qs) + (qs ** 2 + (qm - pm) ** 2) / (2 * ps ** 2) - 0.5).sum(-1)


def sequence_loss(model: PixelDynamics,
                  batch: dict[str, torch.Tensor]) -> tuple[torch.Tensor, dict[str, float]]:
    """The multi-step loss on a batch of chunks.

    ``batch``: images (B, T, 3, S, S), actions (B, T, Da), rewards (B, T) (the reward of action t),
    cube (B, T, 2) (the cube's true position, for the probe only).
    """
    cfg = model.config
    images, actions, rewards, cube = batch["images"], batch["actions"], batch["rewards"], batch["cube"]
    c = cfg.context
    latents, stats = model.observe(model.encode(images), actions, sample=cfg.sample)
    post = stack(latents)
    recon = 0.5 * ((model.decode(post.feat[:, :c]) - images[:, :c]) ** 2).sum((-3, -2, -1)).mean()
    reward = ((model.reward(post)[:, 1:] - rewards[:, :-1]) ** 2).mean()
    kl_terms = torch.stack([kl(p, q) for p, q in stats[1:]], 1)  # (B, T - 1)
    kl_loss = kl_terms.clamp_min(cfg.free_nats).mean() if cfg.stoch else kl_terms.mean() * 0
    dream = stack(model.imagine(latents[c - 1], actions[:, c - 1:-1], sample=cfg.sample))
    open_recon = 0.5 * ((model.decode(dream.feat) - images[:, c:]) ** 2).sum((-3, -2, -1)).mean()
    open_reward = ((model.reward(dream) - rewards[:, c - 1:-1]) ** 2).mean()
    probe = ((model.probe(Latent(h=post["h"].detach(), z=post["z"].detach())) - cube) ** 2).sum(-1).mean()
    total = (recon + open_recon + cfg.reward_weight * (reward + open_reward) + cfg.kl_weight * kl_loss
             + 100 * probe)
    parts = {"recon": recon, "open_recon": open_recon, "reward": reward, "open_reward": open_reward,
             "kl": kl_terms.mean(), "probe_cm": probe.sqrt() * 100}
    return total, {k: float(v.detach()) for k, v in parts.items()}


def to_model_images(rgb: np.ndarray, size: int) -> torch.Tensor:
    """Rgb uint8 (..., H, W, 3) -> float (..., 3, size, size) in [-0.5, 0.5] (area-averaged resize)."""
    x = torch.as_tensor(np.asarray(rgb)).float().div(255.0).sub(0.5)
    lead = x.shape[:-3]
    x = x.reshape(-1, *x.shape[-3:]).permute(0, 3, 1, 2)
    if x.shape[-1] != size or x.shape[-2] != size:
        x = F.adaptive_avg_pool2d(x, size)
    return x.reshape(*lead, 3, size, size).contiguous()


def sample_chunks(episodes: list[dict[str, torch.Tensor]], cfg: PixelModelConfig, batch: int,
                  generator: torch.Generator) -> dict[str, torch.Tensor]:
    """``batch`` random chunks of ``cfg.chunk`` frames from episodes at least that long."""
    long = [e for e in episodes if len(e["actions"]) >= cfg.chunk]
    if not long:
        raise ConfigError(f"no episode has the {cfg.chunk} frames a training chunk needs")
    picks = torch.randint(0, len(long), (batch,), generator=generator).tolist()
    out: dict[str, list[torch.Tensor]] = {k: [] for k in ("images", "actions", "rewards", "cube")}
    for i in picks:
        start = int(torch.randint(0, len(long[i]["actions"]) - cfg.chunk + 1, (1,), generator=generator))
        for k in out:
            out[k].append(long[i][k][start:start + cfg.chunk])
    return {k: torch.stack(v) for k, v in out.items()}


def fit_pixels(model: PixelDynamics, episodes: list[dict[str, torch.Tensor]],
               log_every: int = 0) -> list[dict[str, float]]:
    """Adam on random chunks of ``episodes`` for ``config.train_steps`` steps.

    Each episode: images (L, 3, S, S), actions (L, Da), rewards (L,), cube (L, 2). Returns the loss
    parts every ``log_every`` steps (and of the last step).
    """
    cfg = model.config
    generator = torch.Generator().manual_seed(cfg.seed)
    opt = torch.optim.Adam(model.parameters(), lr=cfg.learning_rate)
    history = []
    model.train()
    for step in range(1, cfg.train_steps + 1):
        loss, parts = sequence_loss(model, sample_chunks(episodes, cfg, cfg.batch_size, generator))
        opt.zero_grad()
        loss.backward()
        nn.utils.clip_grad_norm_(model.parameters(), 100.0)
        opt.step()
        if (log_every and step % log_every == 0) or step == cfg.train_steps:
            history.append({"step": step, "loss": float(loss.detach()), **parts})
    model.eval()
    return history


@torch.no_grad()
def window_latents(model: PixelDynamics, episode: dict[str, torch.Tensor]) -> tuple[Latent, torch.Tensor]:
    """The filtered latent at every frame t >= context - 1 from the window of its last ``context`` frames.

    The same filtering an acting agent does; returns latents (N, ...) and the frames' indices (N,).
    """
    c, n = model.config.context, len(episode["images"])
    embeds = model.encode(episode["images"])
    ts = torch.arange(c - 1, n)
    window = ts[:, None] - c + 1 + torch.arange(c)  # (N, c) frame indices
    latents, _ = model.observe(embeds[window], episode["actions"][window])
    return latents[-1], ts


def fit_probe(model: PixelDynamics, episodes: list[dict[str, torch.Tensor]], steps: int = 1000,
              seed: int = 0) -> float:
    """Refit the probe head alone on the frozen model's filtered latents (a measuring head only).

    The head is trained during ``fit_pixels`` too, but on latents that keep moving; this fits it
    to the final ones, full batch. Returns its training RMS error in cm.
    """
    pairs = [window_latents(model, e) for e in episodes]
    feat = torch.cat([lat.feat for lat, _ in pairs])
    cube = torch.cat([e["cube"][ts] for e, (_, ts) in zip(episodes, pairs, strict=True)])
    with torch.random.fork_rng():
        torch.manual_seed(seed)
        for layer in model.probe_head:
            if isinstance(layer, nn.Linear):
                layer.reset_parameters()
    opt = torch.optim.Adam(model.probe_head.parameters(), lr=3e-3)
    for _ in range(steps):
        loss = ((model.probe_head(feat) - cube) ** 2).sum(-1).mean()
        opt.zero_grad()
        loss.backward()
        opt.step()
    return float(loss.detach().sqrt()) * 100


def build_pixel_model(action_dim: int, config: PixelModelConfig | dict[str, Any]) -> PixelDynamics:
    """A fresh model, seeded by ``config.seed``."""
    if isinstance(config, dict):
        config = PixelModelConfig(**config)
    with torch.random.fork_rng():
        torch.manual_seed(config.seed)
        return PixelDynamics(action_dim, config)


def load_pixel_model(path: str) -> tuple[PixelDynamics, dict[str, Any]]:
    """A pixel model and its checkpoint's ``extra`` from ``path`` (``weights_only=True``)."""
    ckpt = torch.load(path, map_location="cpu", weights_only=True)
    if not isinstance(ckpt, dict) or ckpt.get("format") != CHECKPOINT_FORMAT:
        raise ConfigError(f"{path} is not a pixel world model (expected format {CHECKPOINT_FORMAT!r})")
    model = build_pixel_model(ckpt["action_dim"], ckpt["config"])
    model.load_state_dict(ckpt["state_dict"])
    return model.eval(), ckpt["extra"]

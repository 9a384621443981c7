"""The diffusion policy's network: observation encoders, a denoiser, normalizers, loss and sampler.

Shapes (the project's notation): observations come as a dict of (B, To, ...) windows, one per
``obs_keys`` entry. Vector keys are normalized (mean / std); camera images (uint8 (H, W, 3))
go through one ResNet-style encoder per key, randomly cropped while training and centre-cropped
when acting. The features of the To frames are concatenated into the condition (B, To * F).
Actions are chunks (B, Tp, Da), normalized to [-1, 1] per dimension by the demonstrations' range
(the range the sampler clips its clean-chunk estimate to).

Training noises a demonstrated chunk and regresses the denoiser's target (DDPM: epsilon or x_0 at
a random step; flow: the velocity at a random time). Sampling starts from Gaussian noise and runs
:func:`denoise_chunk` over any ``denoise(x, t, cond)`` callable: the torch module, or the same
network exported to ONNX.
"""

from collections.abc import Callable
from typing import Any

import numpy as np
import torch
from torch import nn

from agents.bc.network import is_image_shape
from agents.diffusion.config import DiffusionConfig
from agents.diffusion.schedules import NoiseSchedule, flow_interpolate, flow_times
from agents.diffusion.transformer import TransformerDenoiser
from agents.diffusion.unet import ConditionalUnet1D
from agents.nets.vision import ResNetEncoder, center_crop, random_crop
from agents.normalizer import Normalizer

Denoise = Callable[[torch.Tensor, torch.Tensor, torch.Tensor], torch.Tensor]
FLOW_TIME_SCALE = 100.0  # flow times s in [0, 1] are embedded as s * 100, like DDPM's step indices


class DiffusionModel(nn.Module):
    """Encoders, denoiser and normalizers of one policy; see the module docstring for shapes."""

    def __init__(self, frame_shapes: dict[str, tuple[int, ...]], frame_dtypes: dict[str, str],
                 cfg: DiffusionConfig, action_dim: int) -> None:
        super().__init__()
        self.cfg, self.action_dim = cfg, action_dim
        self.frame_shapes = {k: list(v) for k, v in frame_shapes.items()}  # kept for the checkpoint
        self.frame_dtypes = dict(frame_dtypes)
        self.images = [k for k in cfg.obs_keys if is_image_shape(frame_shapes[k], frame_dtypes[k])]
        self.vectors = [k for k in cfg.obs_keys if k not in self.images]
        self.encoders = nn.ModuleDict({k: ResNetEncoder(cfg.image_keypoints, cfg.image_channels)
                                       for k in self.images})
        self.norms = nn.ModuleDict({k: Normalizer.empty(int(np.prod(frame_shapes[k]))) for k in self.vectors})
        self.action_norm = Normalizer.empty(action_dim)
        width = sum(int(np.prod(frame_shapes[k])) for k in self.vectors)
        width += sum(e.out_dim for e in self.encoders.values())
        goal_width = sum(int(np.prod(frame_shapes[k])) for k in cfg.goal_keys)
        self.goal_norms = nn.ModuleDict({k: Normalizer.empty(int(np.prod(frame_shapes[k])))
                                         for k in cfg.goal_keys})
        self.null_goal = nn.Parameter(torch.zeros(goal_width))  # the learned "no goal" (guidance)
        self.cond_dim = width * cfg.obs_horizon + goal_width
        if cfg.denoiser == "unet":
            self.denoiser: nn.Module = ConditionalUnet1D(action_dim, self.cond_dim, list(cfg.down_dims),
                                                         cfg.kernel_size, cfg.step_embed_dim)
        else:
            self.denoiser = TransformerDenoiser(action_dim, self.cond_dim, cfg.action_horizon,
                                                cfg.transformer_dim, cfg.transformer_layers,
                                                cfg.transformer_heads, cfg.step_embed_dim)
        self.schedule = NoiseSchedule(cfg.schedule, cfg.train_timesteps, cfg.prediction, cfg.clip_sample)

    def fit_normalizers(self, frames: dict[str, np.ndarray], actions: np.ndarray) -> None:
        """Statistics of every vector key's frames (N, ...) and of the actions (N, Da)."""
        for key in [*self.vectors, *self.cfg.goal_keys]:
            norms = self.goal_norms if key in self.goal_norms else self.norms
            norms[key] = Normalizer.fit(frames[key].reshape(len(frames[key]), -1))
        self.action_norm = Normalizer.fit_range(actions)

    def encode(self, obs: dict[str, torch.Tensor], generator: torch.Generator | None = None,
               no_goal: torch.Tensor | bool = False) -> torch.Tensor:
        """(B, To, ...) per key -> the condition (B, To * F + G); random crops while training.

        The goal (``goal_keys``, G numbers) is read at the last of the To frames; where ``no_goal``
        (a (B,) mask, or True for all) it is replaced by the learned "no goal" vector.
        """
        parts = []
        for key in self.cfg.obs_keys:
            x = obs[key]
            b, t = x.shape[:2]
            if key in self.encoders:
                frames = x.reshape(b * t, *x.shape[2:])
                frames = random_crop(frames, self.cfg.crop, generator) if self.training \
                    else center_crop(frames, self.cfg.crop)
                parts.append(self.encoders[key](frames).reshape(b, t, -1))
            else:
                parts.append(self.norms[key].normalize(x.reshape(b, t, -1).float()))
        cond = torch.cat(parts, dim=-1).reshape(b, -1)
        if not self.cfg.goal_keys:
            return cond
        goal = torch.cat([self.goal_norms[k].normalize(obs[k][:, -1].reshape(b, -1).float())
                          for k in self.cfg.goal_keys], dim=-1)
        drop = torch.as_tensor(no_goal).reshape(-1, 1)
        return torch.cat([cond, torch.where(drop, self.null_goal.expand_as(goal), goal)], dim=-1)

    def loss(self, obs: dict[str, torch.Tensor], actions: torch.Tensor, is_pad: torch.Tensor,
             generator: torch.Generator | None = None) -> torch.Tensor:
        """The denoising loss on a batch: actions (B, Tp, Da) raw, is_pad (B, Tp) excluded."""
        no_goal = torch.rand(len(actions), generator=generator) < self.cfg.goal_dropout
        cond = self.encode(obs, generator, no_goal)
        x0 = self.action_norm.normalize(actions)
        noise = torch.randn(x0.shape, generator=generator)
        b = len(x0)
        if self.cfg.objective == "flow":
            s = torch.rand(b, generator=generator)
            xs, target = flow_interpolate(x0, noise, s)
            out = self.denoiser(xs, s * FLOW_TIME_SCALE, cond)
        else:
            t = torch.randint(0, self.schedule.steps, (b,), generator=generator)
            out = self.denoiser(self.schedule.add_noise(x0, noise, t), t, cond)
            target = self.schedule.target(x0, noise)
        error = (out - target).square().mean(-1)  # (B, Tp)
        keep = (~is_pad).float()
        return (error * keep).sum() / keep.sum().clamp(min=1.0)

    def sample(self, cond: torch.Tensor, denoise: Denoise | None = None,
               generator: torch.Generator | None = None, sampling: DiffusionConfig | None = None,
               unconditional: torch.Tensor | None = None) -> torch.Tensor:
        """Raw action chunks (B, Tp, Da) for conditions (B, F).

        ``denoise`` defaults to this denoiser; ``sampling`` (default: the training config) chooses
        the sampler, its step count, eta and guidance scale, so one trained policy can be sampled
        several ways. With ``unconditional`` (the same conditions without the goal) and a guidance
        scale w != 1, each step uses classifier-free guidance: u + w (c - u).
        """
        sampling = sampling or self.cfg
        network = self.denoiser if denoise is None else denoise  # (a compiled module has no truth value)
        if unconditional is not None and sampling.guidance_scale != 1.0:
            network = guided(network, unconditional, sampling.guidance_scale)
        x = denoise_chunk(sampling, self.schedule, network, cond,
                          (len(cond), self.cfg.action_horizon, self.action_dim), generator)
        return self.action_norm.unnormalize(x)

    def describe(self) -> dict[str, Any]:
        """What rebuilds the network (saved in the checkpoint beside the weights)."""
        return {"frame_shapes": self.frame_shapes, "frame_dtypes": self.frame_dtypes,
                "action_dim": self.action_dim}


def guided(denoise: Denoise, unconditional: torch.Tensor, scale: float) -> Denoise:
    """Classifier-free guidance (Ho and Salimans, 2022): one batched call on both conditions.

    Epsilon, x_0 and flow velocity are all linear in the network's output, so the same
    extrapolation u + w (c - u) serves every objective.
    """
    def denoise_guided(x: torch.Tensor, t: torch.Tensor, cond: torch.Tensor) -> torch.Tensor:
        out = denoise(torch.cat([x, x]), torch.cat([t, t]), torch.cat([cond, unconditional]))
        c, u = out.chunk(2)
        return u + scale * (c - u)

    return denoise_guided


def denoise_chunk(cfg: DiffusionConfig, schedule: NoiseSchedule, denoise: Denoise, cond: torch.Tensor,
                  shape: tuple[int, int, int], generator: torch.Generator | None) -> torch.Tensor:
    """The sampling loop: Gaussian noise -> a normalized chunk, in ``cfg.inference_steps`` steps."""
    x = torch.randn(shape, generator=generator)
    if cfg.objective == "flow":  # Euler steps of the learned velocity from s = 1 to s = 0
        grid = flow_times(cfg.inference_steps)
        for s, s_next in zip(grid[:-1], grid[1:], strict=True):
            v = denoise(x, torch.full((len(x),), s * FLOW_TIME_SCALE), cond)
            x = x + (s_next - s) * v
        return x.clamp(-1.0, 1.0) if cfg.clip_sample else x
    stride = schedule.steps // cfg.inference_steps
    for t in schedule.timesteps(cfg.inference_steps):
        out = denoise(x, torch.full((len(x),), t, dtype=torch.long), cond)
        if cfg.sampler == "ddpm":
            x = schedule.ddpm_step(x, out, t, t - stride, generator)
        else:
            x = schedule.ddim_step(x, out, t, t - stride, cfg.eta, generator)
    return x

"""The BC network for any observation: per-key encoders, an MLP trunk, an action-chunk head.

Shapes (the project's notation): observations come as a dict of (B, To, ...) windows, one per
``obs_keys`` entry; vector keys are normalized with statistics kept in the checkpoint, camera
images (uint8 (H, W, 3)) go through one :class:`ImageEncoder` per key, shared by the To frames.
All features are concatenated into (B, F) for the trunk. Continuous actions come out as chunks
(B, Tp, Da) in raw units (normalized inside); discrete ones as logits (B, n) (Tp = 1).
"""

from typing import Any

import numpy as np
import torch
from torch import nn

from agents.bc.policy import mlp
from agents.nets.heads import MixtureHead, MSEHead
from agents.nets.vision import ImageEncoder, random_shift
from agents.normalizer import Normalizer


def is_image_shape(shape: tuple[int, ...], dtype: Any) -> bool:
    """One camera frame: uint8 (H, W, 3)."""
    return len(shape) == 3 and shape[-1] == 3 and str(dtype) == "uint8"


class BCNetwork(nn.Module):
    """Observation windows -> action chunk (or logits); see the module docstring for shapes."""

    def __init__(self, frame_shapes: dict[str, tuple[int, ...]], frame_dtypes: dict[str, str], cfg: Any,
                 action_dim: int, num_discrete: int | None) -> None:
        super().__init__()
        self.cfg, self.discrete = cfg, num_discrete is not None
        self.frame_shapes = {k: list(v) for k, v in frame_shapes.items()}  # kept for the checkpoint
        self.frame_dtypes = dict(frame_dtypes)
        self.action_dim, self.num_discrete = action_dim, num_discrete
        self.images = [k for k in cfg.obs_keys if is_image_shape(frame_shapes[k], frame_dtypes[k])]
        self.vectors = [k for k in cfg.obs_keys if k not in self.images]
        self.encoders = nn.ModuleDict({k: ImageEncoder(cfg.image_keypoints, cfg.image_channels,
                                                       cfg.spatial_transformer) for k in self.images})
        self.norms = nn.ModuleDict({k: Normalizer.empty(_numel(frame_shapes[k])) for k in self.vectors})
        self.action_norm = None if self.discrete else Normalizer.empty(action_dim)
        width = sum(_numel(frame_shapes[k]) for k in self.vectors)
        width += sum(e.out_dim for e in self.encoders.values())
        self.trunk = mlp([width * cfg.obs_horizon, *cfg.hidden_sizes])
        hidden = cfg.hidden_sizes[-1]
        if self.discrete:
            self.head: nn.Module = nn.Linear(hidden, num_discrete)
        elif cfg.head == "mixture":
            self.head = MixtureHead(hidden, cfg.action_horizon, action_dim, cfg.mixture_components)
        else:
            self.head = MSEHead(hidden, cfg.action_horizon, action_dim)

    def refit_normalizers(self, current_obs: dict[str, np.ndarray]) -> None:
        """Refit each vector key's normalizer on (N, ...) frames, keeping the network's function.

        The trunk's first layer sees every key's features once per history frame, at the columns
        computed here; :meth:`Normalizer.refit_into` rewrites those weights.
        """
        widths = {k: self.encoders[k].out_dim if k in self.encoders else _numel(self.frame_shapes[k])
                  for k in self.cfg.obs_keys}
        total, offset = sum(widths.values()), 0
        for key in self.cfg.obs_keys:
            if key in self.norms:
                frames = torch.arange(self.cfg.obs_horizon)[:, None]
                cols = torch.arange(widths[key])[None] + offset + total * frames
                data = current_obs[key].reshape(len(current_obs[key]), -1)
                self.norms[key].refit_into(data, self.trunk[0], cols)
            offset += widths[key]

    def encode(self, obs: dict[str, torch.Tensor], shift: int = 0,
               generator: torch.Generator | None = None) -> torch.Tensor:
        """(B, To, ...) per key -> (B, F); images randomly shifted by up to ``shift`` pixels."""
        parts = []
        for key in self.cfg.obs_keys:
            x = obs[key]
            b, t = x.shape[:2]
            if key in self.encoders:
                frames = random_shift(x.reshape(b * t, *x.shape[2:]), shift, generator)
                parts.append(self.encoders[key](frames).reshape(b, t, -1))
            else:
                parts.append(self.norms[key].normalize(x.reshape(b, t, -1).float()))
        return torch.relu(self.trunk(torch.cat(parts, dim=-1).reshape(b, -1)))

    def loss(self, obs: dict[str, torch.Tensor], actions: torch.Tensor, is_pad: torch.Tensor,
             generator: torch.Generator | None = None) -> torch.Tensor:
        """The head's loss on a batch: actions (B, Tp, Da) raw (discrete: indices), is_pad (B, Tp)."""
        features = self.encode(obs, self.cfg.shift, generator)
        if self.discrete:
            return nn.functional.cross_entropy(self.head(features), actions[:, 0, 0].long())
        return self.head.loss(features, self.action_norm.normalize(actions), is_pad)

    def forward(self, obs: dict[str, torch.Tensor]) -> torch.Tensor:
        """Raw action chunks (B, Tp, Da), or logits (B, n) for discrete actions."""
        features = self.encode(obs)
        if self.discrete:
            return self.head(features)
        return self.action_norm.unnormalize(self.head.predict(features))


def _numel(shape: tuple[int, ...]) -> int:
    n = 1
    for s in shape:
        n *= int(s)
    return n

"""An optional denoiser: a small transformer over the chunk's time steps.

Each of the Tp noisy actions becomes a token (plus a learned position); one more token carries
the condition (the diffusion step's embedding and the observation features). A pre-norm
transformer encoder mixes them, and each action token is read back out as one action.
"""

import torch
from torch import nn

from agents.diffusion.unet import StepEmbedding


class TransformerDenoiser(nn.Module):
    """(noisy chunk (B, Tp, Da), step (B,), observation features (B, F)) -> (B, Tp, Da)."""

    def __init__(self, action_dim: int, cond_dim: int, horizon: int, dim: int = 128, layers: int = 4,
                 heads: int = 4, step_embed_dim: int = 64) -> None:
        super().__init__()
        self.step_embedding = StepEmbedding(step_embed_dim)
        self.cond = nn.Linear(step_embed_dim + cond_dim, dim)
        self.action_in = nn.Linear(action_dim, dim)
        self.position = nn.Parameter(torch.zeros(1, horizon + 1, dim))
        nn.init.normal_(self.position, std=0.02)
        layer = nn.TransformerEncoderLayer(dim, heads, 4 * dim, dropout=0.0, activation="gelu",
                                           batch_first=True, norm_first=True)
        self.encoder = nn.TransformerEncoder(layer, layers, enable_nested_tensor=False)
        self.norm = nn.LayerNorm(dim)
        self.action_out = nn.Linear(dim, action_dim)

    def forward(self, x: torch.Tensor, t: torch.Tensor, cond: torch.Tensor) -> torch.Tensor:
        """The denoiser's output for every chunk of the batch."""
        c = self.cond(torch.cat([self.step_embedding(t), cond], dim=-1)).unsqueeze(1)
        tokens = torch.cat([c, self.action_in(x)], dim=1) + self.position
        return self.action_out(self.norm(self.encoder(tokens))[:, 1:])

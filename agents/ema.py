"""An exponential moving average of a network's weights, the weights a diffusion policy acts with."""

import copy

import torch
from torch import nn


class EMA:
    """``shadow = decay * shadow + (1 - decay) * weights`` after every step.

    The decay warms up as 1 - (1 + step)^-0.75, capped at ``max_decay`` (Diffusion Policy's
    ``EMAModel``), so early steps are not averaged with the random initialization. Buffers
    (normalizer statistics) are copied, not averaged.
    """

    def __init__(self, model: nn.Module, max_decay: float) -> None:
        self.model, self.max_decay = model, max_decay
        self.shadow = copy.deepcopy(model).eval().requires_grad_(False)

    @torch.no_grad()
    def update(self, step: int) -> None:
        """Fold the model's current weights into the average."""
        decay = min(self.max_decay, 1.0 - (1.0 + step) ** -0.75)
        for avg, p in zip(self.shadow.parameters(), self.model.parameters(), strict=True):
            avg.lerp_(p, 1.0 - decay)
        for avg, b in zip(self.shadow.buffers(), self.model.buffers(), strict=True):
            avg.copy_(b)

"""MPC over the pixel world model: filter the last frames into a latent, plan in latent space.

The objective of a sequence is the sum of the reward head's predictions along the latent rollout
(prior means, no frame decoded), so planning never touches pixels: one encoder pass per env step
for the new frame, then ``samples x horizon x iterations`` GRU steps and reward-head calls.
"""

from typing import Any

import numpy as np
import torch

from envs.errors import ConfigError
from loop.protocols import Features
from world_models.mpc import MPC
from world_models.pixel_dynamics import Latent, PixelDynamics, to_model_images
from world_models.planners import Objective, PlannerConfig


def latent_objective(model: PixelDynamics, latent: Latent) -> Objective:
    """Returns of sequences (N, H, Da) from ``latent`` (1, ...): summed predicted rewards, means only."""

    @torch.no_grad()
    def objective(actions: torch.Tensor) -> torch.Tensor:
        n = actions.shape[0]
        start = Latent(h=latent["h"].expand(n, -1), z=latent["z"].expand(n, -1))
        return torch.stack([model.reward(x) for x in model.imagine(start, actions)], 1).sum(1)

    return objective


class PixelMPCAgent:
    """An Agent: the camera's rgb -> latent (the last ``context`` frames filtered from zero) -> CEM.

    Filtering only the last ``context`` frames, from the zero latent, is what the model was
    trained on (every training chunk starts there), so the latent never drifts off its data.
    """

    def __init__(self, model: PixelDynamics, planner: PlannerConfig, camera: str = "top",
                 seed: int = 0) -> None:
        self.model, self.key = model.eval(), f"{camera}_rgb"
        self.mpc = MPC(lambda latent: latent_objective(model, latent), planner, model.action_dim, seed)
        self.reset()

    def reset(self) -> None:
        """Forget the frames and the warm start."""
        self.embeds: list[torch.Tensor] = []
        self.actions: list[torch.Tensor] = []
        self.mpc.reset()

    @torch.no_grad()
    def latent(self, features: Features) -> Latent:
        """Encode this step's frame and filter the window: the current latent (1, ...)."""
        if not isinstance(features, dict) or self.key not in features:
            have = sorted(features) if isinstance(features, dict) else type(features).__name__
            raise ConfigError(f"PixelMPCAgent needs the observation key {self.key!r}, got {have}; make the "
                              "env with obs_mode containing rgb and this camera")
        image = to_model_images(features[self.key], self.model.config.image_size)
        self.embeds = [*self.embeds, self.model.encode(image[None])][-self.model.config.context:]
        w = len(self.embeds)
        past = self.actions[len(self.actions) - (w - 1):] if w > 1 else []  # actions at the window's frames
        actions = torch.stack([*past, torch.zeros(self.model.action_dim)])  # the last frame's: not taken yet
        latents, _ = self.model.observe(torch.stack(self.embeds, 1), actions[None])
        return latents[-1]

    def act(self, features: Features) -> np.ndarray:
        """Plan from the current latent; the plan's first action (Da,) float32."""
        action = self.mpc.act(self.latent(features))
        self.actions.append(torch.as_tensor(action))
        return action

    def spec(self) -> dict[str, Any]:
        """What this agent is, for a results file."""
        return {"agent": "pixel_mpc", "planner": vars(self.mpc.planner), "model": vars(self.model.config)}

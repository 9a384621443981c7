"""Noise schedules and samplers: DDPM (Ho et al. 2020), DDIM (Song et al. 2021), rectified flow.

Every function is plain batched torch over (B, Tp, Da) action chunks, so the sampling loop is one
readable function and runs the same over a torch or an ONNX Runtime denoiser. The DDPM and DDIM
updates follow diffusers' ``DDPMScheduler`` / ``DDIMScheduler`` (``fixed_small`` variance,
``set_alpha_to_one``, ``steps_offset=0``, "leading" timestep spacing, optional clipping of the
predicted x_0); tests/test_diffusion_schedules.py checks them against diffusers step by step.

Notation: x_0 the clean (normalized) chunk, eps ~ N(0, I), abar_t the cumulative product of
alpha_t = 1 - beta_t, x_t = sqrt(abar_t) x_0 + sqrt(1 - abar_t) eps. The denoiser predicts eps
("epsilon") or x_0 ("sample"). Rectified flow: x_s = (1 - s) x_0 + s eps for s in [0, 1], the
network predicts the velocity eps - x_0, and Euler steps integrate from s = 1 (noise) to 0.
"""

import math

import torch

from envs.errors import ConfigError

SCHEDULES = ("cosine", "linear")
PREDICTIONS = ("epsilon", "sample")


def betas_for(schedule: str, steps: int) -> torch.Tensor:
    """beta_t for t = 0..steps-1: "linear" (1e-4 to 0.02) or "cosine" (Nichol & Dhariwal 2021)."""
    if schedule == "linear":
        return torch.linspace(1e-4, 0.02, steps, dtype=torch.float64)
    if schedule == "cosine":  # diffusers' "squaredcos_cap_v2"
        def abar(t: float) -> float:
            return math.cos((t + 0.008) / 1.008 * math.pi / 2) ** 2
        return torch.tensor([min(1 - abar((i + 1) / steps) / abar(i / steps), 0.999) for i in range(steps)],
                            dtype=torch.float64)
    raise ConfigError(f"unknown noise schedule {schedule!r}; expected one of {SCHEDULES}")


class NoiseSchedule:
    """The discrete DDPM schedule: abar_t and the updates that use it."""

    def __init__(self, schedule: str, steps: int, prediction: str, clip_sample: bool = True) -> None:
        if prediction not in PREDICTIONS:
            raise ConfigError(f"unknown prediction {prediction!r}; expected one of {PREDICTIONS}")
        self.steps, self.prediction, self.clip_sample = steps, prediction, clip_sample
        self.betas = betas_for(schedule, steps)
        self.alphas_cumprod = torch.cumprod(1.0 - self.betas, dim=0)

    def add_noise(self, x0: torch.Tensor, noise: torch.Tensor, t: torch.Tensor) -> torch.Tensor:
        """Forward process q(x_t | x_0) for per-sample timesteps t (B,)."""
        abar = self.alphas_cumprod.to(x0.dtype)[t].reshape(-1, *([1] * (x0.dim() - 1)))
        return abar.sqrt() * x0 + (1 - abar).sqrt() * noise

    def target(self, x0: torch.Tensor, noise: torch.Tensor) -> torch.Tensor:
        """What the denoiser regresses: eps or x_0."""
        return noise if self.prediction == "epsilon" else x0

    def timesteps(self, inference_steps: int) -> list[int]:
        """The timesteps a sampler visits, high to low ("leading" spacing, as diffusers)."""
        if not 1 <= inference_steps <= self.steps:
            raise ConfigError(f"inference steps must be in [1, {self.steps}], got {inference_steps}")
        ratio = self.steps // inference_steps
        return [i * ratio for i in reversed(range(inference_steps))]

    def _x0_eps(self, x: torch.Tensor, out: torch.Tensor, abar: float) -> tuple[torch.Tensor, torch.Tensor]:
        """The predicted clean sample (clipped if asked) and noise from the network output at x_t."""
        if self.prediction == "epsilon":
            x0, eps = (x - math.sqrt(1 - abar) * out) / math.sqrt(abar), out
        else:
            x0, eps = out, (x - math.sqrt(abar) * out) / math.sqrt(1 - abar)
        return (x0.clamp(-1.0, 1.0) if self.clip_sample else x0), eps

    def ddpm_step(self, x: torch.Tensor, out: torch.Tensor, t: int, prev_t: int,
                  generator: torch.Generator | None) -> torch.Tensor:
        """One ancestral step x_t -> x_prev (posterior mean plus ``fixed_small`` noise)."""
        abar_t = float(self.alphas_cumprod[t])
        abar_prev = float(self.alphas_cumprod[prev_t]) if prev_t >= 0 else 1.0
        alpha_t = abar_t / abar_prev
        x0, _ = self._x0_eps(x, out, abar_t)
        mean = (math.sqrt(abar_prev) * (1 - alpha_t) * x0
                + math.sqrt(alpha_t) * (1 - abar_prev) * x) / (1 - abar_t)
        if t == 0:
            return mean
        variance = max((1 - abar_prev) / (1 - abar_t) * (1 - alpha_t), 1e-20)
        noise = torch.randn(x.shape, generator=generator, dtype=x.dtype)
        return mean + math.sqrt(variance) * noise

    def ddim_step(self, x: torch.Tensor, out: torch.Tensor, t: int, prev_t: int, eta: float,
                  generator: torch.Generator | None) -> torch.Tensor:
        """One DDIM step x_t -> x_prev; deterministic for eta = 0."""
        abar_t = float(self.alphas_cumprod[t])
        abar_prev = float(self.alphas_cumprod[prev_t]) if prev_t >= 0 else 1.0
        x0, eps = self._x0_eps(x, out, abar_t)
        sigma = eta * math.sqrt((1 - abar_prev) / (1 - abar_t) * (1 - abar_t / abar_prev))
        x_prev = math.sqrt(abar_prev) * x0 + math.sqrt(max(1 - abar_prev - sigma ** 2, 0.0)) * eps
        if eta > 0:
            x_prev = x_prev + sigma * torch.randn(x.shape, generator=generator, dtype=x.dtype)
        return x_prev


def flow_interpolate(x0: torch.Tensor, noise: torch.Tensor,
                     s: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """Rectified flow: x_s = (1 - s) x_0 + s eps for per-sample s (B,), and the velocity target eps - x_0."""
    s = s.reshape(-1, *([1] * (x0.dim() - 1))).to(x0.dtype)
    return (1 - s) * x0 + s * noise, noise - x0


def flow_times(steps: int) -> list[float]:
    """The Euler grid from s = 1 (noise) to 0 (data), ``steps`` equal steps."""
    if steps < 1:
        raise ConfigError(f"flow sampling needs >= 1 step, got {steps}")
    return [1 - i / steps for i in range(steps + 1)]

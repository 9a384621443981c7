"""Planners over action sequences, batched in torch: random shooting, CEM, iCEM and MPPI.

Each is one function that maximizes ``objective(actions (N, H, Da)) -> returns (N,)`` over
sequences in the normalized action box [-1, 1]. ``mean`` (H, Da) is where the search starts (MPC
passes its shifted previous plan); each returns the plan (H, Da). ``objective`` is a model's
predicted return (``world_models.objectives``) or the simulator's own, whichever MPC plans over.
"""

from collections.abc import Callable
from dataclasses import dataclass

import torch

from envs.errors import ConfigError

Objective = Callable[[torch.Tensor], torch.Tensor]  # (N, H, Da) -> (N,), higher is better
METHODS = ("cem", "icem", "mppi", "random_shooting")


class PlanningError(ConfigError):
    """The objective returned something a planner cannot rank (NaN, infinities, the wrong shape)."""


@dataclass
class PlannerConfig:
    """How MPC searches (``agent.planner``): the method, horizon H and sample budget."""

    method: str = "icem"  # icem | cem | mppi | random_shooting
    horizon: int = 15  # H, steps planned ahead
    samples: int = 500  # N sequences per iteration
    iterations: int = 3  # refinements per plan (random shooting: samples are drawn once)
    elites: int = 50  # CEM: best sequences that set the next mean and std
    init_std: float = 0.5  # starting std of the sampling distribution (actions span [-1, 1])
    momentum: float = 0.1  # CEM: weight of the old mean and std in each update
    temperature: float = 0.5  # MPPI: lambda, scale of return differences in the weights
    noise_beta: float = 2.0  # iCEM: exponent of the noise's 1/f^beta spectrum over time (0 = white, CEM's)
    keep_elites: float = 0.3  # iCEM: fraction of the elites carried into the next iteration's samples

    def __post_init__(self) -> None:
        """Validate values so a bad config fails before any planning is done."""
        if self.method not in METHODS:
            raise ConfigError(f"PlannerConfig.method must be one of {list(METHODS)}, got {self.method!r}")
        for name in ("horizon", "samples", "iterations", "elites"):
            if getattr(self, name) < 1:
                raise ConfigError(f"PlannerConfig.{name} must be >= 1, got {getattr(self, name)}")
        if self.elites > self.samples:
            raise ConfigError(f"PlannerConfig.elites ({self.elites}) cannot exceed samples ({self.samples})")
        if self.noise_beta < 0 or not 0 <= self.keep_elites <= 1:
            raise ConfigError(f"PlannerConfig needs noise_beta >= 0 and 0 <= keep_elites <= 1, got "
                              f"{self.noise_beta}, {self.keep_elites}")
        if self.init_std <= 0 or self.temperature <= 0 or not 0 <= self.momentum < 1:
            raise ConfigError(f"PlannerConfig needs init_std > 0, temperature > 0 and 0 <= momentum < 1, "
                              f"got {self.init_std}, {self.temperature}, {self.momentum}")


def random_shooting(objective: Objective, mean: torch.Tensor, cfg: PlannerConfig,
                    generator: torch.Generator) -> torch.Tensor:
    """The best of ``samples`` sequences drawn uniformly in [-1, 1] (``mean`` itself is one of them)."""
    h, da = mean.shape
    actions = torch.rand(cfg.samples, h, da, generator=generator) * 2 - 1
    actions[0] = mean
    return actions[checked(objective(actions), cfg.samples).argmax()]


def cem(objective: Objective, mean: torch.Tensor, cfg: PlannerConfig,
        generator: torch.Generator) -> torch.Tensor:
    """Cross-entropy method: fit a diagonal Gaussian to the ``elites`` best samples, ``iterations`` times."""
    std = torch.full_like(mean, cfg.init_std)
    for _ in range(cfg.iterations):
        noise = torch.randn(cfg.samples, *mean.shape, generator=generator)
        actions = (mean + std * noise).clamp(-1, 1)
        returns = checked(objective(actions), cfg.samples)
        elite = actions[returns.topk(cfg.elites).indices]
        a = cfg.momentum
        mean = a * mean + (1 - a) * elite.mean(0)
        std = a * std + (1 - a) * elite.std(0, unbiased=False)
    return mean


def colored_noise(samples: int, horizon: int, dim: int, beta: float,
                  generator: torch.Generator) -> torch.Tensor:
    """Unit-variance Gaussian noise (samples, horizon, dim) whose power over time falls as 1/f^beta.

    beta = 0 is white noise; larger beta gives smoother sequences (iCEM uses 2-4 for manipulation):
    Gaussian spectra scaled by f^(-beta/2) and transformed back to time, divided by the resulting
    per-step standard deviation (the same at every step).
    """
    if beta == 0 or horizon == 1:  # one step has no spectrum to shape
        return torch.randn(samples, horizon, dim, generator=generator)
    freqs = torch.fft.rfftfreq(horizon)
    freqs[0] = freqs[1]  # the constant term gets the lowest frequency's power
    scale = freqs ** (-beta / 2)
    spectrum = torch.complex(torch.randn(samples, dim, len(freqs), generator=generator),
                             torch.randn(samples, dim, len(freqs), generator=generator)) * scale
    noise = torch.fft.irfft(spectrum, n=horizon, dim=-1)
    # each step's variance: the constant (and, for even horizons, the Nyquist) term counts once,
    # every other frequency's real and imaginary parts twice each
    weights = torch.full_like(scale, 4.0)
    weights[0] = 1.0
    if horizon % 2 == 0:
        weights[-1] = 1.0
    noise = noise / ((weights * scale ** 2).sum().sqrt() / horizon)
    return noise.transpose(1, 2).contiguous()


def icem(objective: Objective, mean: torch.Tensor, cfg: PlannerConfig,
         generator: torch.Generator) -> torch.Tensor:
    """Improved CEM (Pinneri et al., 2020): CEM with temporally correlated noise and elite reuse.

    Samples are ``mean + std * colored_noise`` (smooth sequences explore further than white noise
    at the same std); a ``keep_elites`` fraction of each iteration's elites joins the next
    iteration's samples, and the final iteration also tries the mean itself. Returns the best
    sequence seen, not the mean, so a rare good sample is never averaged away.
    """
    std = torch.full_like(mean, cfg.init_std)
    kept = mean.new_zeros(0, *mean.shape)
    best, best_return = mean, -torch.inf
    for it in range(cfg.iterations):
        noise = colored_noise(cfg.samples - len(kept), *mean.shape, cfg.noise_beta, generator)
        actions = torch.cat([kept, (mean + std * noise).clamp(-1, 1)])
        if it == cfg.iterations - 1:
            actions[-1] = mean.clamp(-1, 1)
        returns = checked(objective(actions), cfg.samples)
        order = returns.topk(cfg.elites).indices
        elite = actions[order]
        if returns[order[0]] > best_return:
            best, best_return = actions[order[0]], returns[order[0]]
        kept = elite[:int(cfg.keep_elites * cfg.elites)]
        a = cfg.momentum
        mean = a * mean + (1 - a) * elite.mean(0)
        std = a * std + (1 - a) * elite.std(0, unbiased=False)
    return best


def mppi(objective: Objective, mean: torch.Tensor, cfg: PlannerConfig,
         generator: torch.Generator) -> torch.Tensor:
    """Model-predictive path integral: average samples weighted by ``softmax(returns / temperature)``.

    The sampling std stays ``init_std``; returns are standardized first so the temperature does not
    depend on the reward's scale.
    """
    for _ in range(cfg.iterations):
        noise = torch.randn(cfg.samples, *mean.shape, generator=generator) * cfg.init_std
        actions = (mean + noise).clamp(-1, 1)
        returns = checked(objective(actions), cfg.samples)
        scaled = (returns - returns.max()) / (returns.std() + 1e-8)
        weights = torch.softmax(scaled / cfg.temperature, dim=0)
        mean = torch.einsum("n,nhd->hd", weights, actions)
    return mean


PLANNERS: dict[str, Callable[..., torch.Tensor]] = {
    "cem": cem, "icem": icem, "mppi": mppi, "random_shooting": random_shooting}


def plan(objective: Objective, mean: torch.Tensor, cfg: PlannerConfig,
         generator: torch.Generator) -> torch.Tensor:
    """Run ``cfg.method`` from ``mean`` (H, Da); returns the plan (H, Da) in [-1, 1]."""
    if mean.shape[0] != cfg.horizon:
        raise ConfigError(f"the initial plan has {mean.shape[0]} steps, the planner's horizon is "
                          f"{cfg.horizon}; pass a (horizon, Da) mean")
    return PLANNERS[cfg.method](objective, mean, cfg, generator).clamp(-1, 1)


def checked(returns: torch.Tensor, samples: int) -> torch.Tensor:
    """``returns`` if it is (samples,) and finite, else a PlanningError that says what came."""
    if returns.shape != (samples,):
        raise PlanningError(f"the objective must return one value per sequence, shape ({samples},), "
                            f"got {tuple(returns.shape)}")
    bad = ~torch.isfinite(returns)
    if bad.any():
        raise PlanningError(f"the objective returned {int(bad.sum())} non-finite values out of {samples} "
                            f"(e.g. {returns[bad][0].item()}); check the reward function and the model "
                            "(a reward of NaN cannot be ranked)")
    return returns

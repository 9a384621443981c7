"""Typed configuration of implicit BC (Hydra group ``agent: ibc``)."""

from dataclasses import dataclass, field

from envs.errors import ConfigError


@dataclass
class IBCConfig:
    """Energy model, InfoNCE training and derivative-free inference (Florence et al. 2021)."""

    obs_keys: list[str] = field(default_factory=lambda: ["state"])  # vector observation keys, concatenated
    hidden_sizes: list[int] = field(default_factory=lambda: [256, 256, 256])  # energy MLP widths
    steps: int = 5000  # gradient steps
    batch_size: int = 128  # demonstration frames per step
    counter_examples: int = 63  # uniform negatives per frame in the InfoNCE loss
    lr: float = 1e-3  # AdamW learning rate, cosine-decayed to 0
    weight_decay: float = 1e-4  # AdamW weight decay
    bounds_margin: float = 0.05  # action sampling box: the demos' min/max widened by this, within [-1, 1]
    samples: int = 1024  # candidate actions per step at inference
    iterations: int = 3  # resample-and-perturb rounds at inference
    noise: float = 0.33  # first round's perturbation, as a fraction of the box's width
    noise_shrink: float = 0.5  # perturbation scale multiplier per round
    success_only: bool = True  # train only on demonstrations that succeeded
    seed: int = 0  # torch seed: initialization, batches, negatives and inference samples

    def __post_init__(self) -> None:
        """Validate values so a bad config fails before any work is done."""
        at_least_one = {"steps": self.steps, "batch_size": self.batch_size,
                        "counter_examples": self.counter_examples, "samples": self.samples}
        for name, value in at_least_one.items():
            if value < 1:
                raise ConfigError(f"IBCConfig.{name} must be >= 1, got {value}")
        if self.iterations < 0 or self.lr <= 0 or self.bounds_margin < 0:
            raise ConfigError(f"IBCConfig needs iterations >= 0, lr > 0 and bounds_margin >= 0; got "
                              f"{self.iterations}, {self.lr}, {self.bounds_margin}")
        if not 0 < self.noise_shrink <= 1 or self.noise < 0:
            raise ConfigError(f"IBCConfig needs noise >= 0 and 0 < noise_shrink <= 1; got {self.noise}, "
                              f"{self.noise_shrink}")
        if not self.obs_keys:
            raise ConfigError("IBCConfig.obs_keys is empty; name at least one key, e.g. ['state']")
        if not self.hidden_sizes or min(self.hidden_sizes) <= 0:
            raise ConfigError(f"IBCConfig.hidden_sizes must be positive widths, got {self.hidden_sizes}")

"""Typed configuration of behaviour cloning (Hydra group ``agent: bc``)."""

from dataclasses import dataclass, field

from envs.errors import ConfigError


@dataclass
class BCConfig:
    """Hyperparameters of the BC MLP and its training run."""

    obs_keys: list[str] = field(default_factory=lambda: ["state"])  # observation keys, concatenated
    hidden_sizes: list[int] = field(default_factory=lambda: [512, 512, 512])  # MLP widths
    steps: int = 10000  # gradient steps
    batch_size: int = 256  # samples per step
    lr: float = 1e-3  # AdamW learning rate, cosine-decayed to 0
    weight_decay: float = 1e-4  # AdamW weight decay
    success_only: bool = True  # train only on demonstrations that succeeded
    seed: int = 0  # torch seed for initialization and batch sampling

    def __post_init__(self) -> None:
        """Validate values so a bad config fails before any work is done."""
        positive = {"steps": self.steps, "batch_size": self.batch_size, "lr": self.lr}
        for name, value in positive.items():
            if value <= 0:
                raise ConfigError(f"BCConfig.{name} must be > 0, got {value}")
        if not self.obs_keys:
            raise ConfigError("BCConfig.obs_keys is empty; name at least one key, e.g. ['state']")
        if not self.hidden_sizes or min(self.hidden_sizes) <= 0:
            raise ConfigError(f"BCConfig.hidden_sizes must be positive widths, got {self.hidden_sizes}")

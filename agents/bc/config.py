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
    obs_horizon: int = 1  # To: observations the policy sees (the current one and To - 1 before)
    action_horizon: int = 1  # Tp: actions predicted at once (a chunk)
    action_steps: int = 1  # Ta: actions of each chunk executed before predicting again (<= Tp)
    head: str = "mse"  # mse (regression) | mixture (Gaussian mixture: several valid actions)
    mixture_components: int = 5  # Gaussians of the mixture head
    image_keypoints: int = 16  # spatial-softmax keypoints per camera key
    image_channels: int = 32  # width of the image encoder's convolutions
    spatial_transformer: bool = False  # a learned affine warp in front of the image encoder
    shift: int = 4  # random-shift augmentation of images while training, pixels (0: off)

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
        at_least_one = {"obs_horizon": self.obs_horizon, "action_horizon": self.action_horizon,
                        "action_steps": self.action_steps, "mixture_components": self.mixture_components,
                        "image_keypoints": self.image_keypoints, "image_channels": self.image_channels}
        for name, value in at_least_one.items():
            if value < 1:
                raise ConfigError(f"BCConfig.{name} must be >= 1, got {value}")
        if self.action_steps > self.action_horizon:
            raise ConfigError(f"action_steps ({self.action_steps}) cannot exceed action_horizon "
                              f"({self.action_horizon}): a chunk holds only that many actions")
        if self.head not in ("mse", "mixture"):
            raise ConfigError(f"BCConfig.head={self.head!r}; valid choices: ['mse', 'mixture']")
        if self.shift < 0:
            raise ConfigError(f"BCConfig.shift must be >= 0 pixels, got {self.shift}")

    @property
    def flat(self) -> bool:
        """The plain MLP on one frame's flat features (the fast path): no windows, no chunks."""
        return self.obs_horizon == self.action_horizon == 1 and self.head == "mse"

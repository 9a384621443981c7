"""Typed configs of the stable-baselines3 learners (Hydra groups ``agent: dqn | sac | ppo``).

``RLConfig`` holds what every algorithm shares: the observation the policy sees, the training
budget, vectorized envs, validation and checkpoints. Each subclass adds its algorithm's
hyperparameters and says how they map onto the SB3 constructor (``algorithm_kwargs``).
Defaults are tuned for the task named in each class's docstring (see docs/results.md).
"""

from dataclasses import dataclass, field
from typing import Any

from envs.errors import ConfigError

POLICIES = ("auto", "mlp", "cnn", "multi")


@dataclass
class RLConfig:
    """What every SB3 algorithm shares."""

    obs_keys: list[str] | None = None  # dict observations: the keys the policy sees (None: all)
    frame_stack: int = 1  # stack the last k observations (images: along channels)
    policy: str = "auto"  # auto: mlp for vectors, cnn for one image, multi for dicts
    net_arch: list[int] = field(default_factory=lambda: [256, 256])  # hidden layers
    total_steps: int = 50_000  # env steps (summed over vectorized envs)
    n_envs: int = 1  # vectorized training envs
    subprocess: bool = False  # run them in spawned worker processes (else in this one)
    learning_rate: float = 1e-3
    lr_schedule: str = "constant"  # constant | linear (decays to 0 at total_steps)
    gamma: float = 0.99  # discount
    eval_every: int = 5_000  # env steps between validation runs (0: never)
    eval_episodes: int = 10  # validation episodes per run (validation seeds, not test seeds)
    select: str = "best"  # the policy fit returns: best on validation, or the last one
    save_replay_buffer: bool = False  # off-policy: keep the buffer beside last.pt for resume
    seed: int = 0  # SB3 / torch seed

    def __post_init__(self) -> None:
        """Validate values so a bad config fails before any work is done."""
        for name in ("frame_stack", "total_steps", "n_envs", "eval_episodes"):
            if getattr(self, name) < 1:
                raise ConfigError(f"{type(self).__name__}.{name} must be >= 1, got {getattr(self, name)}")
        if self.eval_every < 0:
            raise ConfigError(f"eval_every must be >= 0 (0: no validation), got {self.eval_every}")
        choices = {"policy": POLICIES, "lr_schedule": ("constant", "linear"), "select": ("best", "last")}
        for name, allowed in choices.items():
            if getattr(self, name) not in allowed:
                raise ConfigError(f"{name}={getattr(self, name)!r}; valid choices: {list(allowed)}")
        if self.select == "best" and not self.eval_every:
            raise ConfigError("select='best' needs validation runs: set eval_every > 0 or select=last")
        if self.obs_keys is not None and not self.obs_keys:
            raise ConfigError("obs_keys=[] selects nothing; name keys or leave it null for all")

    def common_kwargs(self) -> dict[str, Any]:
        """Constructor arguments every SB3 algorithm takes."""
        lr = self.learning_rate
        schedule = (lambda progress: lr * progress) if self.lr_schedule == "linear" else lr
        return {"learning_rate": schedule, "gamma": self.gamma, "seed": self.seed,
                "policy_kwargs": {"net_arch": list(self.net_arch)}}

    def algorithm_kwargs(self) -> dict[str, Any]:
        """All constructor arguments for the algorithm."""
        return self.common_kwargs()


@dataclass
class DQNConfig(RLConfig):
    """DQN (Mnih et al. 2015): replay buffer, target network, epsilon-greedy. Tuned on CartPole."""

    learning_rate: float = 2.3e-3
    buffer_size: int = 100_000
    learning_starts: int = 1_000
    batch_size: int = 64
    train_freq: int = 256  # env steps between training phases
    gradient_steps: int = 128  # gradient steps per phase
    target_update_interval: int = 10  # env steps between target-network updates
    tau: float = 1.0  # target update rate (1: copy)
    exploration_fraction: float = 0.16  # of total_steps over which epsilon decays
    exploration_final_eps: float = 0.04

    def algorithm_kwargs(self) -> dict[str, Any]:
        """DQN's constructor arguments."""
        names = ("buffer_size", "learning_starts", "batch_size", "train_freq", "gradient_steps",
                 "target_update_interval", "tau", "exploration_fraction", "exploration_final_eps")
        return {**self.common_kwargs(), **{n: getattr(self, n) for n in names}}


@dataclass
class SACConfig(RLConfig):
    """SAC (Haarnoja et al. 2018): off-policy actor-critic with entropy tuning. Tuned on Reach."""

    learning_rate: float = 1e-3
    total_steps: int = 30_000
    buffer_size: int = 300_000
    learning_starts: int = 1_000
    batch_size: int = 256
    tau: float = 0.005
    train_freq: int = 1
    gradient_steps: int = 1
    ent_coef: str = "auto"  # "auto" (tuned towards -dim(A) entropy) or a number as a string

    def algorithm_kwargs(self) -> dict[str, Any]:
        """SAC's constructor arguments."""
        names = ("buffer_size", "learning_starts", "batch_size", "tau", "train_freq", "gradient_steps")
        ent = self.ent_coef if self.ent_coef.startswith("auto") else float(self.ent_coef)
        return {**self.common_kwargs(), "ent_coef": ent, **{n: getattr(self, n) for n in names}}


@dataclass
class PPOConfig(RLConfig):
    """PPO (Schulman et al. 2017): clipped on-policy policy gradient. Tuned on Reach."""

    learning_rate: float = 3e-4
    total_steps: int = 150_000
    n_envs: int = 4
    n_steps: int = 512  # rollout length per env between updates
    batch_size: int = 256
    n_epochs: int = 10
    gae_lambda: float = 0.95
    clip_range: float = 0.2
    ent_coef: float = 0.0
    net_arch: list[int] = field(default_factory=lambda: [128, 128])

    def algorithm_kwargs(self) -> dict[str, Any]:
        """PPO's constructor arguments."""
        names = ("n_steps", "batch_size", "n_epochs", "gae_lambda", "clip_range", "ent_coef")
        return {**self.common_kwargs(), **{n: getattr(self, n) for n in names}}

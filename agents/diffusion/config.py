"""Typed configuration of diffusion policies (Hydra group ``agent: diffusion``)."""

from dataclasses import dataclass, field

from envs.errors import ConfigError

DENOISERS = ("unet", "transformer")
OBJECTIVES = ("ddpm", "flow")  # denoising diffusion, or rectified flow (flow matching)
SAMPLERS = {"ddpm": ("ddpm", "ddim"), "flow": ("euler",)}
EXECUTIONS = ("chunk", "ensemble", "async")
BACKENDS = ("torch", "onnx")


@dataclass
class DiffusionConfig:
    """The policy's horizons, denoiser, noise process, sampler, encoders and training run."""

    obs_keys: list[str] = field(default_factory=lambda: ["state"])  # vector keys and/or <cam>_rgb keys
    goal_keys: list[str] = field(default_factory=list)  # vector keys of a goal / task condition (this step)
    goal_dropout: float = 0.1  # goal_keys: share of training windows given the learned "no goal" instead
    guidance_scale: float = 1.0  # classifier-free guidance w: 0 ignores the goal, 1 conditions, > 1 guides
    obs_horizon: int = 2  # To: observations the policy is conditioned on
    action_horizon: int = 16  # Tp: actions generated at once (a chunk)
    action_steps: int = 2  # Ta: actions executed per chunk (<= Tp); PushCube: 8 loses ~30 points to 2
    denoiser: str = "unet"  # unet (1-D temporal conv U-Net with FiLM) | transformer
    down_dims: list[int] = field(default_factory=lambda: [32, 64, 128])  # U-Net widths per level (1.1 M)
    kernel_size: int = 5  # U-Net temporal convolution width
    step_embed_dim: int = 64  # sinusoidal embedding width of the diffusion step
    transformer_dim: int = 128  # transformer denoiser: token width
    transformer_layers: int = 4  # ... encoder layers
    transformer_heads: int = 4  # ... attention heads
    objective: str = "ddpm"  # ddpm | flow
    prediction: str = "epsilon"  # ddpm: the network predicts epsilon | sample (x_0)
    schedule: str = "cosine"  # ddpm: cosine | linear beta schedule
    train_timesteps: int = 100  # ddpm: diffusion steps of the forward process
    sampler: str = "ddim"  # ddpm: ddpm | ddim; flow: euler
    inference_steps: int = 10  # denoising steps when acting (ddpm: <= train_timesteps)
    eta: float = 0.0  # ddim: 0 is deterministic given the initial noise
    clip_sample: bool = True  # clip the predicted clean chunk to the normalized action range [-1, 1]
    image_channels: int = 32  # image encoder width (ResNet-style, GroupNorm)
    image_keypoints: int = 32  # spatial-softmax keypoints per camera
    crop: int = 4  # random crop of this many pixels per side while training (centre crop when acting)
    steps: int = 6000  # gradient steps
    batch_size: int = 64  # windows per step
    lr: float = 1e-3  # AdamW learning rate, cosine-decayed to 0
    weight_decay: float = 1e-6  # AdamW weight decay
    ema_decay: float = 0.999  # EMA of the weights used to act (0: no EMA); warms up as 1 - (1 + step)^-0.75
    success_only: bool = True  # train only on demonstrations that succeeded
    checkpoint_every: int = 0  # also save the (EMA) policy every this many steps, in run_dir/checkpoints
    execution: str = "chunk"  # chunk (Ta actions, then replan) | ensemble (temporal) | async (see docs)
    ensemble_decay: float = 0.1  # ensemble: weight exp(-decay * i), i = 0 the oldest (< 0 favours the newest)
    async_lead: int = -1  # async: steps of inference latency to plan for (-1: measure it)
    control_period: float = 0.0  # async: seconds per env step (0: 1 / the dataset's fps)
    backend: str = "torch"  # torch | onnx (ONNX Runtime runs the exported denoiser)
    seed: int = 0  # torch seed: initialization, batches, and the sampler's noise

    def __post_init__(self) -> None:
        """Validate values so a bad config fails before any work is done."""
        choices = {"denoiser": DENOISERS, "objective": OBJECTIVES, "execution": EXECUTIONS,
                   "backend": BACKENDS, "prediction": ("epsilon", "sample"), "schedule": ("cosine", "linear")}
        for name, valid in choices.items():
            if getattr(self, name) not in valid:
                raise ConfigError(f"{name}={getattr(self, name)!r}; valid choices: {list(valid)}")
        if self.sampler not in SAMPLERS[self.objective]:
            raise ConfigError(f"sampler={self.sampler!r} does not go with objective={self.objective!r}; "
                              f"valid samplers for it: {list(SAMPLERS[self.objective])}")
        if not 1 <= self.action_steps <= self.action_horizon or self.obs_horizon < 1:
            raise ConfigError(f"need obs_horizon >= 1 and 1 <= action_steps (Ta) <= action_horizon (Tp), got "
                              f"To={self.obs_horizon}, Ta={self.action_steps}, Tp={self.action_horizon}")
        levels = len(self.down_dims)
        if self.denoiser == "unet" and (levels < 1 or self.action_horizon % 2 ** (levels - 1)):
            raise ConfigError(f"the U-Net halves the chunk {levels - 1} times, so action_horizon must be a "
                              f"multiple of {2 ** (levels - 1)}, got {self.action_horizon}; change "
                              "action_horizon or down_dims")
        if self.objective == "ddpm" and not 1 <= self.inference_steps <= self.train_timesteps:
            raise ConfigError(f"inference_steps must be in [1, train_timesteps={self.train_timesteps}], got "
                              f"{self.inference_steps}")
        if self.inference_steps < 1 or self.steps < 1 or self.batch_size < 1:
            raise ConfigError("inference_steps, steps and batch_size must be >= 1, got "
                              f"{self.inference_steps}, "
                              f"{self.steps}, {self.batch_size}")
        if not 0.0 <= self.ema_decay < 1.0:
            raise ConfigError(f"ema_decay must be in [0, 1), got {self.ema_decay}")
        if self.transformer_dim % self.transformer_heads:
            raise ConfigError(f"transformer_dim ({self.transformer_dim}) must be a multiple of "
                              f"transformer_heads ({self.transformer_heads})")
        if set(self.goal_keys) & set(self.obs_keys):
            raise ConfigError(f"goal_keys {self.goal_keys} and obs_keys {self.obs_keys} overlap; a key is "
                              "either an observation (To frames) or the goal (this step), not both")
        if not 0.0 <= self.goal_dropout < 1.0:
            raise ConfigError(f"goal_dropout must be in [0, 1), got {self.goal_dropout}")
        if self.guidance_scale != 1.0 and not (self.goal_keys and self.goal_dropout > 0):
            raise ConfigError(f"guidance_scale={self.guidance_scale} needs a goal to guide towards and a "
                              "learned 'no goal' to guide away from: set goal_keys and goal_dropout > 0 (or "
                              "guidance_scale=1)")
        if self.guidance_scale < 0:
            raise ConfigError(f"guidance_scale must be >= 0, got {self.guidance_scale}")
        most = min(self.action_steps, self.action_horizon - self.action_steps)
        if self.execution == "async" and not -1 <= self.async_lead <= most:
            raise ConfigError(f"async_lead={self.async_lead}: the next chunk is started async_lead "
                              "steps before the queue runs out and skips as many actions, so it must "
                              f"be in [0, min(Ta, Tp - Ta)] = [0, {most}] (or -1 to measure it); lower Ta "
                              "or raise Tp")

"""The diffusion-policy agent: trains offline on dataset windows, acts one step at a time.

The agent keeps the last To observations and an executor (``execution``: a chunk queue, temporal
ensembling, or latency-aware async chunks), so envs and the loop stay single-step. It acts with
the EMA weights; normalizers travel in the checkpoint. ``backend=onnx`` runs the exported
denoiser under ONNX Runtime inside the same sampling loop.
"""

import copy
from collections import deque
from typing import Any

import numpy as np
import torch

from agents import distributed
from agents.bc.network import is_image_shape
from agents.diffusion.config import DiffusionConfig
from agents.diffusion.execution import make_executor
from agents.diffusion.model import Denoise, DiffusionModel
from agents.ema import EMA
from agents.learner import Learner, TrainingSource
from agents.meta import AgentMeta
from agents.minimize import TrainState, minimize
from agents.spaces import is_discrete
from envs.errors import ConfigError, InvalidObservationError
from loop.protocols import Features
from loop.seeds import to_ranges
from perception.identity import ObservationKeyError
from perception.registry import perception_spec


class DiffusionAgent(Learner):
    """Diffusion policy: an action chunk by iterative denoising, conditioned on To observations."""

    method = "diffusion"
    config_class = DiffusionConfig
    sources = ("dataset",)
    resumable = True  # train_state.pt in the run dir, at any number of torchrun processes
    data_parallel = True  # torchrun: each process trains on its shard of every global batch

    def __init__(self, model: DiffusionModel, config: DiffusionConfig, meta: AgentMeta) -> None:
        super().__init__(config, meta)
        trained = (model.cfg.objective, model.cfg.action_horizon, list(model.cfg.goal_keys))
        if trained != (config.objective, config.action_horizon, list(config.goal_keys)):
            raise ConfigError(f"the policy was trained with objective={model.cfg.objective!r}, "
                              f"action_horizon={model.cfg.action_horizon}, goal_keys={model.cfg.goal_keys}; "
                              "acting may change the sampler, its steps, the guidance scale and the "
                              f"execution, not these (got {config.objective!r}, {config.action_horizon}, "
                              f"{config.goal_keys})")
        self.model = model.eval()
        self.gen = torch.Generator().manual_seed(config.seed)  # the sampler's noise
        self.denoise: Denoise = self.model.denoiser
        if config.backend == "onnx":
            from agents.diffusion.export import OnnxDenoiser  # onnxruntime is imported only when asked
            self.denoise = OnnxDenoiser.from_model(self.model)
        self._period = config.control_period or 1.0 / float(meta.extra.get("fps") or 10.0)
        self.executor = make_executor(config, self._predict, self._period)
        self._history: deque = deque(maxlen=config.obs_horizon)

    def episode_copy(self) -> "DiffusionAgent":
        """Shares the weights and the ONNX session; a fresh sampler generator, executor and history."""
        new = copy.copy(self)
        new.gen = torch.Generator().manual_seed(self.config.seed)
        new.executor = make_executor(self.config, new._predict, self._period)
        new._history = deque(maxlen=self.config.obs_horizon)
        return new

    @classmethod
    def fit(cls, config: DiffusionConfig, source: TrainingSource) -> "DiffusionAgent":
        """Denoising regression on (To observations, Tp actions) windows of the demonstrations."""
        if is_discrete(source.spaces()[1]):
            raise ConfigError("a diffusion policy generates continuous action chunks; for discrete "
                              "actions use agent=bc or agent=dqn")
        if perception_spec(source.perception)["name"] != "identity":
            raise ConfigError("the diffusion policy reads the dataset's own keys; train it with "
                              "perception=identity and name the keys in obs_keys")
        _check_horizon(config, source)
        data = source.require_dataset(cls.method)
        if config.success_only:
            data = data.filtered(success_only=True)
        if not len(data):
            raise ConfigError(f"{source.dataset.root} holds no successful episodes to learn from; collect "
                              "more demonstrations or set success_only=false")
        keys = [*config.obs_keys, *config.goal_keys]
        windows = data.windows(config.obs_horizon, config.action_horizon, keys=keys)
        torch.manual_seed(config.seed)
        shapes = {k: tuple(windows.frames[k].shape[1:]) for k in keys}
        dtypes = {k: str(windows.frames[k].dtype) for k in keys}
        images = [k for k in config.goal_keys if is_image_shape(shapes[k], dtypes[k])]
        if images:
            raise ConfigError(f"goal_keys must name vector observations (a goal position, a one-hot task), "
                              f"but {images} are images; put cameras in obs_keys")
        model = DiffusionModel(shapes, dtypes, config, windows.action_dim)
        model.fit_normalizers({k: windows.current_obs(k) for k in [*model.vectors, *config.goal_keys]},
                              windows.actions)
        ema = EMA(model, config.ema_decay) if config.ema_decay > 0 else None
        gen = torch.Generator().manual_seed(config.seed)
        noise = distributed.rank_generator(gen, config.seed)  # gen itself in one process
        shard_loss = distributed.data_parallel(model, model.loss, unused_parameters=True)

        def loss_at(step: int) -> torch.Tensor:
            idx = distributed.shard(torch.randint(len(windows), (config.batch_size,), generator=gen))
            batch = windows.batch(idx.numpy())  # this rank's shard of the global batch
            obs = {k: torch.from_numpy(batch.observations[k]) for k in keys}
            actions, is_pad = torch.from_numpy(batch.actions), torch.from_numpy(batch.action_is_pad)
            return shard_loss(obs, actions, is_pad, noise)

        def meta(step: int) -> AgentMeta:
            return source.meta(cls.method, cls.training_kind(), to_ranges(data.seeds), frames=len(windows),
                               episodes=len(data), fps=data.fps, step=step,
                               parameters=sum(p.numel() for p in model.denoiser.parameters()))

        def after_step(step: int) -> None:
            if ema is not None:
                ema.update(step)
            done = step + 1
            if (config.checkpoint_every and source.run_dir and done % config.checkpoint_every == 0
                    and distributed.is_rank0()):
                acting = copy.deepcopy(ema.shadow if ema is not None else model).eval()
                cls(acting, config, meta(done)).save(source.run_dir / "checkpoints" / f"step_{done}.pt")

        model.train()
        state = None
        if source.run_dir is not None:
            modules = {"model": model, **({"ema": ema.shadow} if ema is not None else {})}
            gens = {"batches": gen, **({"noise": noise} if noise is not gen else {})}
            state = TrainState(source.run_dir / "train_state.pt", modules, gens, resume=source.resume)
        minimize(model.parameters(), loss_at, steps=config.steps, lr=config.lr,
                 weight_decay=config.weight_decay, log=source.log, progress=source.progress,
                 desc="train diffusion", after_step=after_step, state=state)
        final = ema.shadow if ema is not None else model.eval()
        return cls(final, config, meta(config.steps))

    def reset(self) -> None:
        """Forget the observation history and the queued or pending actions."""
        self._history.clear()
        self.executor.reset()

    def act(self, features: Features) -> np.ndarray:
        """Action (Da,) float32 in [-1, 1] for this step."""
        if not isinstance(features, dict):
            features = {"state": features}
        self._history.append(self._frame(features))
        frames = list(self._history)
        frames = [frames[0]] * (self.config.obs_horizon - len(frames)) + frames  # pad the first steps
        return np.clip(self.executor.act(frames), -1.0, 1.0).astype(np.float32)

    def _frame(self, features: dict[str, Any]) -> dict[str, np.ndarray]:
        """The observation keys of this step, checked against what the policy was trained on."""
        frame = {}
        keys = [*self.config.obs_keys, *self.config.goal_keys]
        for key in keys:
            if key not in features:
                raise ObservationKeyError(f"the diffusion policy was trained on observation keys "
                                          f"{keys}, but this env gives {sorted(features)}; "
                                          "evaluate it on the env (and sensors) it was trained with")
            x = np.asarray(features[key])
            expected = tuple(self.model.frame_shapes[key])
            if x.shape != expected:
                raise ConfigError(f"observation {key!r} has shape {x.shape}, but the policy was trained on "
                                  f"{expected}; use the same camera size and task as in training")
            if x.dtype.kind == "f" and not np.isfinite(x).all():
                raise InvalidObservationError(
                    f"observation {key!r} holds non-finite values ({x}); the simulator or sensor produced "
                    "NaN/inf, which no policy can act on")
            frame[key] = x
        return frame

    @torch.inference_mode()
    def _predict(self, frames: list[dict[str, np.ndarray]]) -> np.ndarray:
        """A raw action chunk (Tp, Da) from To observation frames."""
        obs = {k: torch.from_numpy(np.stack([f[k] for f in frames]))[None] for k in frames[0]}
        cond = self.model.encode(obs)
        guide = self.config.goal_keys and self.config.guidance_scale != 1.0
        unconditional = self.model.encode(obs, no_goal=True) if guide else None
        return self.model.sample(cond, self.denoise, self.gen, self.config, unconditional)[0].numpy()

    def state(self) -> dict[str, Any]:
        """The (EMA) weights with their normalizers, and what rebuilds the network."""
        return {"model": self.model.state_dict(), **self.model.describe()}

    @classmethod
    def from_state(cls, config: DiffusionConfig, meta: AgentMeta, state: dict[str, Any]) -> "DiffusionAgent":
        """Rebuild from a checkpoint."""
        shapes = {k: tuple(v) for k, v in state["frame_shapes"].items()}
        model = DiffusionModel(shapes, state["frame_dtypes"], config, state["action_dim"])
        weights = dict(state["model"])
        weights.setdefault("null_goal", torch.zeros(0))  # saved before goals existed: no goal keys
        model.load_state_dict(weights)
        return cls(model, config, meta)


def _check_horizon(config: DiffusionConfig, source: TrainingSource) -> None:
    """A chunk longer than an episode cannot be learnt from one."""
    env = source.make_env()
    horizon = getattr(env.unwrapped, "horizon", None) or (env.spec.max_episode_steps if env.spec else None)
    env.close()
    if horizon and config.action_horizon > horizon:
        raise ConfigError(f"action_horizon (Tp={config.action_horizon}) is longer than the episode "
                          f"({horizon} steps); choose Tp <= the horizon (Diffusion Policy uses 16 for "
                          "100-300 step tasks)")

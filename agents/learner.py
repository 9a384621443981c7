"""One interface for every method that learns: offline (a dataset), online (an env) or both.

A method is a :class:`Learner` subclass with a typed config (``config_class``), the sources it
learns from (``sources``), ``fit(config, source)``, and ``state()`` / ``from_state(...)`` for its
checkpoint. ``scripts/train.py`` asks the method what it needs instead of knowing every method;
``agents.registry`` finds methods by name, importing each only when asked.
"""

import copy
from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any, ClassVar

import gymnasium as gym
import numpy as np

import envs
from agents.checkpoint import checkpoint_bytes, save_checkpoint
from agents.features import dataset_features
from agents.meta import AgentMeta
from agents.spaces import space_to_dict
from dataset import DemoDataset
from envs.errors import ConfigError
from loop.protocols import Features, Perception
from loop.seeds import TRAIN_SEEDS, SeedRanges
from perception.registry import perception_spec

SOURCES = ("dataset", "env")


def _no_log(step: int, scalars: dict[str, float]) -> None:
    """Default logger: drop the scalars."""


@dataclass
class TrainingSource:
    """What a method may learn from.

    The env (to build, or to read spaces from), a dataset of demonstrations, the perception that
    turns observations into the agent's features, the seeds online training may reset envs
    with, and where to log scalars.
    """

    env_id: str
    env_kwargs: dict[str, Any] = field(default_factory=dict)
    dataset: DemoDataset | None = None
    perception: Perception | None = None
    seeds: range = TRAIN_SEEDS
    log: Callable[[int, dict[str, float]], None] = _no_log
    progress: bool = True
    env_factory: Callable[..., gym.Env] | None = None  # builds the env (e.g. a real robot adapter)
    run_dir: Path | None = None  # where methods that checkpoint during training write (last.pt, ...)
    resume: bool = False  # continue the interrupted run in run_dir
    runner: Any = None  # a loop.runners runner for rollouts (DAgger's rounds); None: in this process

    def __post_init__(self) -> None:
        """A dataset recorded in another env cannot teach this one (DAgger would mix the two)."""
        if self.dataset is not None and self.dataset.env_id != self.env_id:
            raise ConfigError(f"the dataset {self.dataset.root} was recorded in {self.dataset.env_id}, but "
                              f"training is in {self.env_id}; train in the dataset's env "
                              "(TrainingSource.from_dataset, or drop env= in scripts/train.py)")

    @classmethod
    def from_dataset(cls, dataset: DemoDataset, **kwargs: Any) -> "TrainingSource":
        """A source whose env is the one the dataset was recorded in."""
        return cls(dataset.env_id, dict(dataset.env_kwargs), dataset=dataset, **kwargs)

    def make_env(self, **overrides: Any) -> gym.Env:
        """A fresh env of this source (``overrides`` change its kwargs, e.g. ``horizon``).

        ``env_factory(**kwargs)`` if given, else ``envs.make`` (roboloop ids and any other id
        registered with Gymnasium).
        """
        kwargs = {**self.env_kwargs, **overrides}
        if self.env_factory is not None:
            return self.env_factory(**kwargs)
        return envs.make(self.env_id, **kwargs)

    def spaces(self) -> tuple[gym.Space, gym.Space]:
        """The env's observation and action spaces (built once, then remembered)."""
        if not hasattr(self, "_spaces"):
            env = self.make_env()
            self._spaces = (env.observation_space, env.action_space)
            env.close()
        return self._spaces

    def require_dataset(self, method: str) -> DemoDataset:
        """The dataset, or an error saying how to pass one."""
        if self.dataset is None:
            raise ConfigError(f"method {method!r} learns from demonstrations: pass dataset=<folder "
                              "written by scripts/collect_demos.py>")
        return self.dataset

    def demonstrations(self, method: str, obs_keys: list[str],
                       success_only: bool) -> tuple[DemoDataset, np.ndarray, np.ndarray]:
        """The dataset (filtered) and every frame's features (N, Do) and action (N, Da), float32."""
        data = self.require_dataset(method)
        if success_only:
            data = data.filtered(success_only=True)
        if not len(data):
            raise ConfigError(f"{self.dataset.root} holds no {'successful ' if success_only else ''}episodes "
                              f"to learn from ({len(self.dataset)} in all); collect more demonstrations"
                              f"{' or set success_only=false' if success_only else ''}")
        obs, actions = dataset_features(data, obs_keys, self.perception)
        return data, obs, actions

    def meta(self, method: str, training: str, train_seeds: SeedRanges,
             **extra: Any) -> AgentMeta:
        """The trained agent's metadata: this source's env, spaces and perception."""
        obs_space, action_space = self.spaces()
        return AgentMeta(
            method=method, env_id=self.env_id, env_kwargs=dict(self.env_kwargs),
            observation_space=space_to_dict(obs_space), action_space=space_to_dict(action_space),
            perception=perception_spec(self.perception), training=training,
            train_seeds=list(train_seeds),
            dataset=str(self.dataset.root) if self.dataset is not None else None, extra=extra)


class Learner:
    """Base of trained agents: metadata, config, and checkpoint writing.

    Subclasses set ``method``, ``config_class`` and ``sources`` and implement ``fit``, ``state``,
    ``from_state`` and ``act`` (and ``reset`` if they keep per-episode state).
    """

    method: ClassVar[str]
    config_class: ClassVar[type]
    sources: ClassVar[tuple[str, ...]]  # a subset of SOURCES
    resumable: ClassVar[bool] = False  # True if fit can continue an interrupted run (source.resume)
    data_parallel: ClassVar[bool] = False  # True if fit trains under torchrun (agents.distributed)

    def __init__(self, config: Any, meta: AgentMeta) -> None:
        self.config, self.meta = config, meta

    @classmethod
    def training_kind(cls) -> str:
        """"offline", "online" or "interactive", from the sources the method learns from."""
        return {("dataset",): "offline", ("env",): "online"}.get(tuple(cls.sources), "interactive")

    @classmethod
    def fit(cls, config: Any, source: TrainingSource) -> "Learner":
        """Learn from ``source``; returns the trained agent."""
        raise NotImplementedError

    def state(self) -> dict[str, Any]:
        """Tensors and plain values that :meth:`from_state` rebuilds the agent from."""
        raise NotImplementedError

    @classmethod
    def from_state(cls, config: Any, meta: AgentMeta, state: dict[str, Any]) -> "Learner":
        """Rebuild a trained agent from its checkpoint's sections."""
        raise NotImplementedError

    def reset(self) -> None:
        """Clear per-episode state (none by default)."""

    def episode_copy(self) -> "Learner":
        """An independent copy to drive one episode (runners make one per seed): a deep copy by default.

        Override to share what is costly to copy and never changes (weights, an ONNX session) while
        every random stream and per-episode state starts afresh.
        """
        return copy.deepcopy(self)

    def act(self, features: Features) -> np.ndarray:
        """One action for the current step."""
        raise NotImplementedError

    def save(self, path: str | Path) -> Path:
        """Write the checkpoint atomically (weights-only loadable)."""
        return save_checkpoint(path, self.meta.to_dict(), asdict(self.config), self.state())

    def to_bytes(self) -> bytes:
        """The checkpoint as bytes (what :meth:`save` writes), to rebuild the agent in another process."""
        return checkpoint_bytes(self.meta.to_dict(), asdict(self.config), self.state())
